"""The promotion gate: may the challenger replace the champion? Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from driftline.config import metrics
from driftline.config.groups import GateSpec


@dataclass(frozen=True)
class GateResult:
    passed: bool
    metric: str
    challenger: float
    champion: float | None
    improvement: float | None  # positive = better, whatever the metric's direction
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def gate_metric(spec: GateSpec, task: str) -> str:
    """The metric the gate compares: `gate.metric`, else the task's headline.

    Raises `UnknownMetricError`, naming the choices, for a metric the task does not have or one with
    no better direction (say, a `dvc exp run -S` that bypassed `driftline compile`'s checks).
    """
    return metrics.ranking_metric(spec.metric, task).name if spec.metric else metrics.headline(task)


def decide(challenger: float, champion: float | None, spec: GateSpec, task: str) -> GateResult:
    metric = gate_metric(spec, task)
    sign = metrics.METRICS[metric].sign
    if spec.minimum is not None and sign * challenger < sign * spec.minimum:
        bar = "at most" if sign < 0 else "at least"
        return GateResult(False, metric, challenger, champion, None,
                          f"{metric} {challenger:.4f} misses the bar: gate.minimum asks {bar} {spec.minimum}")
    if champion is None:
        return GateResult(True, metric, challenger, None, None, f"first model: {metric} {challenger:.4f}")
    improvement = round(sign * (challenger - champion), 12)
    passed = improvement >= spec.min_improvement
    verb = "beats" if improvement > 0 else ("ties" if improvement == 0 else "trails")
    reason = (f"challenger {metric} {challenger:.4f} {verb} champion {champion:.4f} "
              f"(improvement {improvement:+.4f}, required {spec.min_improvement:+.4f})")
    return GateResult(passed, metric, challenger, champion, improvement, reason)
