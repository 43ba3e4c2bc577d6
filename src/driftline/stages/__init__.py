"""One module per stage. Each exposes `run(ctx: StageContext) -> str` returning a one-line summary.

Modules are imported by name only when their stage runs, so a stage pays only for what it uses
(`validate` never imports LightGBM).
"""

from __future__ import annotations

STAGE_MODULES = {
    "monitor": "driftline.stages.monitor",
    "ingest": "driftline.stages.ingest",
    "validate": "driftline.stages.validate",
    "label": "driftline.stages.label",
    "split": "driftline.stages.split",
    "featurize": "driftline.stages.featurize",
    "train": "driftline.stages.train",
    "evaluate": "driftline.stages.evaluate",
    "promote": "driftline.stages.promote",
}
