"""The metrics registry: every metric and evaluation plot driftline knows, written once.

One entry per metric says which tasks it applies to, which way is better, and where it is shown
(the task's headline, the evaluate stage's summary line, the model card's per-slice tables). The
gate, the config checks, the evaluate stage, the model card, the sweep and the compiler all read
it; none keeps a list of its own. This is metadata only: `driftline.models.evaluate` computes the
numbers, one function per name listed here.

The config checks and the compiler import this module, so it imports no pandas or numpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from driftline.errors import UserConfigError

Task = Literal["binary", "regression", "multiclass"]
TASKS: tuple[Task, ...] = ("binary", "regression", "multiclass")

Direction = Literal["higher", "lower"]
HIGHER: Direction = "higher"
LOWER: Direction = "lower"

Role = Literal["headline", "summary", "slices"]
HEADLINE: Role = "headline"  # the task's one primary metric: the default of gate.metric and the sweep's objective
SUMMARY: Role = "summary"  # printed in the evaluate stage's one-line summary
SLICES: Role = "slices"  # a column of the model card's per-slice tables


@dataclass(frozen=True)
class Metric:
    """One metric: its name in metrics.json and YAML, which way is better, and where it is shown per task."""

    name: str
    direction: Direction | None  # None: it describes the data (a rate, a count), so no value is "better"
    roles: Mapping[str, frozenset[str]]  # the tasks it applies to -> where it is shown for that task

    @property
    def tasks(self) -> tuple[Task, ...]:
        return tuple(task for task in TASKS if task in self.roles)

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is: `sign * (a - b) > 0` means a is better than b."""
        if self.direction is None:
            raise ValueError(f"metric '{self.name}' has no better direction")
        return 1.0 if self.direction == HIGHER else -1.0


def _metric(name: str, direction: Direction | None, **roles: tuple[Role, ...]) -> Metric:
    return Metric(name, direction, {task: frozenset(shown) for task, shown in roles.items()})


# In display order: the order of the choices in error messages, the summary line and the card.
METRICS: dict[str, Metric] = {m.name: m for m in (
    _metric("roc_auc", HIGHER, binary=(HEADLINE, SUMMARY, SLICES)),
    _metric("average_precision", HIGHER, binary=(SUMMARY, SLICES)),
    _metric("log_loss", LOWER, binary=(SUMMARY,), multiclass=(HEADLINE, SUMMARY, SLICES)),
    _metric("brier", LOWER, binary=()),
    _metric("accuracy", HIGHER, binary=(), multiclass=(SUMMARY, SLICES)),
    _metric("precision", HIGHER, binary=()),
    _metric("recall", HIGHER, binary=()),
    _metric("f1", HIGHER, binary=()),
    _metric("positive_rate", None, binary=(SLICES,)),  # share of rows predicted positive
    _metric("prevalence", None, binary=(SLICES,)),  # share of rows actually positive
    _metric("rmse", LOWER, regression=(HEADLINE, SUMMARY, SLICES)),
    _metric("mae", LOWER, regression=(SUMMARY, SLICES)),
    _metric("r2", HIGHER, regression=(SUMMARY, SLICES)),
    _metric("mape", LOWER, regression=()),
    _metric("macro_f1", HIGHER, multiclass=(SUMMARY, SLICES)),
    _metric("n", None, binary=(), regression=(), multiclass=()),  # rows scored
)}

# LightGBM's own names for what it watches while training, per task. The first one drives early
# stopping and is the one the training-curves plot draws.
LIGHTGBM_METRICS: dict[Task, tuple[str, ...]] = {
    "binary": ("auc", "binary_logloss"),
    "regression": ("rmse", "l1"),
    "multiclass": ("multi_logloss", "multi_error"),
}


@dataclass(frozen=True)
class Plot:
    """One evaluation plot: a table the evaluate stage writes and the DVC plot that draws it."""

    name: str
    tasks: tuple[Task, ...]
    template: str  # DVC's plot template
    x: str
    y: str
    title: str
    x_label: str | None = None
    y_label: str | None = None


# In the order dvc.yaml lists them.
PLOTS: tuple[Plot, ...] = (
    Plot("roc", ("binary",), "simple", "fpr", "tpr", "ROC",
         x_label="false positive rate", y_label="true positive rate"),
    Plot("precision_recall", ("binary",), "simple", "recall", "precision", "precision-recall"),
    Plot("calibration", ("binary",), "simple", "mean_predicted", "fraction_positive", "calibration",
         x_label="mean predicted probability", y_label="observed default rate"),
    Plot("residuals", ("regression",), "scatter", "predicted", "residual", "residuals"),
    Plot("predicted_vs_actual", ("regression",), "scatter", "actual", "predicted", "predicted vs actual"),
    Plot("confusion", ("multiclass",), "confusion", "actual", "predicted", "confusion matrix"),
)


class UnknownMetricError(UserConfigError):
    """A metric the task does not have, or one with no better direction where models are ranked."""


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def task_metrics(task: str) -> tuple[Metric, ...]:
    """The metrics of a task, in display order."""
    check_task(task)
    return tuple(m for m in METRICS.values() if task in m.roles)


def shown(task: str, role: Role) -> tuple[str, ...]:
    """Names of the task's metrics shown in `role` (summary line, card slices), in display order."""
    return tuple(m.name for m in task_metrics(task) if role in m.roles[task])


def headline(task: str) -> str:
    """The task's primary metric: roc_auc (binary), rmse (regression), log_loss (multiclass)."""
    (name,) = shown(task, HEADLINE)
    return name


def comparable(task: str) -> tuple[str, ...]:
    """The task's metrics that have a better direction: what a gate or a sweep can rank by."""
    return tuple(m.name for m in task_metrics(task) if m.direction is not None)


def ranking_metric(name: str, task: str) -> Metric:
    """The metric `name` for ranking models of `task`; UnknownMetricError, naming the choices, if it cannot."""
    choices = ", ".join(comparable(task))
    metric = METRICS.get(name)
    if metric is None or task not in metric.roles:
        raise UnknownMetricError(f"'{name}' is not a {task} metric; choose one of: {choices}")
    if metric.direction is None:
        raise UnknownMetricError(f"'{name}' describes the data and has no better direction; choose one of: {choices}")
    return metric


def plots(task: str) -> tuple[Plot, ...]:
    """The evaluation plots of a task, in dvc.yaml order."""
    check_task(task)
    return tuple(p for p in PLOTS if task in p.tasks)


def plot_names(task: str) -> tuple[str, ...]:
    return tuple(p.name for p in plots(task))


def curve_metric(task: str) -> str:
    """The LightGBM metric early stopping watches and the training-curves plot draws."""
    check_task(task)
    return LIGHTGBM_METRICS[task][0]
