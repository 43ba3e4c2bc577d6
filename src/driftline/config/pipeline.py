"""The typed schema of one pipeline: what `pipelines/<name>.yaml` composes to."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from driftline.config.features import FeaturePlan
from driftline.config.groups import CardSpec, DatasetSpec, GateSpec, LabelSpec, MonitorSpec, SchemaSpec, SplitSpec, Strict
from driftline.config.model import ModelSpec
from driftline.config.serve import ServeSpec

Task = Literal["binary", "regression", "multiclass"]
PIPELINE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class PipelineConfig(Strict):
    """One pipeline, fully composed: the value of `params.yaml[<pipeline>]`."""

    task: Task
    target: str
    description: str = ""
    dataset: DatasetSpec
    schema_: SchemaSpec = Field(alias="schema")
    label: LabelSpec
    split: SplitSpec = SplitSpec()
    features: FeaturePlan = FeaturePlan()
    model: ModelSpec
    gate: GateSpec = GateSpec()
    card: CardSpec = CardSpec()
    monitor: MonitorSpec | None = None
    serve: ServeSpec = ServeSpec()

    def to_params(self) -> dict:
        """Plain data for params.yaml: defaults filled in, unset optionals left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
