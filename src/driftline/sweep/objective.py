"""Which metric a sweep optimises, and in which direction. Pure."""

from __future__ import annotations

from driftline.config import metrics
from driftline.config.pipeline import PipelineConfig
from driftline.registry.gate import gate_metric

MAXIMIZE = "maximize"
MINIMIZE = "minimize"


def primary_metric(cfg: PipelineConfig) -> str:
    """The pipeline's primary metric: `gate.metric`, else roc_auc / rmse / log_loss by task."""
    return gate_metric(cfg.gate, cfg.task)


def direction(metric: str) -> str:
    """`maximize` for scores (roc_auc, r2, ...), `minimize` for losses (rmse, log_loss, ...)."""
    return MINIMIZE if metrics.METRICS[metric].direction == metrics.LOWER else MAXIMIZE
