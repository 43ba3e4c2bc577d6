"""The drift report (reports/<p>/drift.json) as a typed model: the contract, nothing else.

`driftline.drift.monitor.build_report` is the one function that makes a `DriftReport`; the
monitor stage writes it as drift.json and the HTML page renders it. Both only read it.

Serialised with ``report.to_json()``; the keys and values are the drift.json contract the README
describes ("drift.json"), pinned by tests/unit/fixtures/drift_report/. Two keys appear only
when they mean something: a column's ``note`` (why a test did not run) and the reference's
``rows`` (absent when there is no champion yet). Every other optional value is written as null.

No numpy or pandas here: the HTML renderer and anything that reads a report import only this.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from driftline.config.groups import MonitorSpec

ColumnKind = Literal["numeric", "categorical", "binary"]


class _Part(BaseModel):
    """A piece of the report: unknown keys are an error, and the model is read-only once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Fields written only when they hold a value (all others are written, null or not).
    _omit_when_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for key in self._omit_when_none:
            if data.get(key) is None:
                data.pop(key, None)
        return data


class NumericHistogram(_Part):
    """Reference and current shares on shared bins; `edges` has one more entry than each share list."""

    edges: list[float]
    reference: list[float]
    current: list[float]


class CategoricalHistogram(_Part):
    """Reference and current shares per category, most frequent reference category first."""

    categories: list[str]
    reference: list[float]
    current: list[float]


Histogram = NumericHistogram | CategoricalHistogram


class MissingShare(_Part):
    reference: float
    current: float
    drifted: bool


class TestOutcome(_Part):
    """An informative test beside the deciding one."""

    __test__ = False  # not a pytest class

    statistic: float | None
    p_value: float | None
    drifted: bool


class ColumnDrift(_Part):
    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"note"})

    name: str
    kind: ColumnKind
    test: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    #: How far past its threshold the worst signal is: 1.0 at the threshold.
    severity: float
    missing: MissingShare
    unseen_categories: list[str]
    other_tests: dict[str, TestOutcome]
    histogram: Histogram | None
    note: str | None = None


class PredictionDrift(_Part):
    test: str
    statistic: float | None
    threshold: float
    drifted: bool
    histogram: Histogram | None
    reference_mean: float | None
    current_mean: float | None


class DomainRows(_Part):
    reference: int
    current: int


class MultivariateDrift(_Part):
    test: str
    auc: float
    threshold: float
    drifted: bool
    rows: DomainRows


class Performance(_Part):
    metric: str
    reference: float
    current: float
    drop: float
    threshold: float
    rows: int
    drifted: bool


class Decision(_Part):
    retrain: bool
    reasons: list[str]
    signals: list[str]
    policy: MonitorSpec


class ReferenceInfo(_Part):
    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"rows"})

    version: str | None
    rows: int | None = None


class CurrentInfo(_Part):
    rows: int
    batches: list[str]
    labelled_rows: int
    pending_batches: int


class DriftReport(_Part):
    pipeline: str
    generated_for: str | None
    reference: ReferenceInfo
    current: CurrentInfo
    columns: list[ColumnDrift]
    share_drifted: float
    dataset_drift: bool
    prediction: PredictionDrift | None
    multivariate: MultivariateDrift | None
    performance: Performance | None
    decision: Decision

    def to_json(self) -> dict[str, Any]:
        """The drift.json document (JSON-ready: plain dicts, lists, str, numbers, bool, None)."""
        return self.model_dump(mode="json")

    @property
    def drifted_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.drifted]
