"""The promotion gate: may the challenger replace the champion? Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from driftline.config.groups import GateSpec

PRIMARY = {"binary": "roc_auc", "regression": "rmse", "multiclass": "log_loss"}
LOWER_IS_BETTER = {"log_loss", "brier", "rmse", "mae", "mape"}


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
    return spec.metric or PRIMARY[task]


def decide(challenger: float, champion: float | None, spec: GateSpec, task: str) -> GateResult:
    metric = gate_metric(spec, task)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
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
