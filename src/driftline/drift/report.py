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

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from driftline.config.groups import MonitorSpec

ColumnKind = Literal["numeric", "categorical", "binary"]
#: A fraction of rows, in [0, 1].
Share = Annotated[float, Field(ge=0, le=1)]
#: A bin edge; the outer edges of an open-ended bin may be ±inf (never in drift.json, which is finite).
Edge = Annotated[float, Field(allow_inf_nan=True)]


class _Part(BaseModel):
    """A piece of the report: unknown keys and NaN/inf are errors, and the model is read-only once built.

    (drift.json is strict JSON, which has no NaN: a value that could not be written is refused here.)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
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

    edges: list[Edge] = Field(min_length=2)
    reference: list[Share]
    current: list[Share]

    @model_validator(mode="after")
    def _bins_match(self) -> NumericHistogram:
        if not len(self.reference) == len(self.current) == len(self.edges) - 1:
            raise ValueError(f"{len(self.edges)} edges need {len(self.edges) - 1} shares a side, "
                             f"got {len(self.reference)} and {len(self.current)}")
        return self


class CategoricalHistogram(_Part):
    """Reference and current shares per category, most frequent reference category first."""

    categories: list[str]
    reference: list[Share]
    current: list[Share]

    @model_validator(mode="after")
    def _one_share_per_category(self) -> CategoricalHistogram:
        if not len(self.reference) == len(self.current) == len(self.categories):
            raise ValueError(f"{len(self.categories)} categories need as many shares a side, "
                             f"got {len(self.reference)} and {len(self.current)}")
        return self


Histogram = NumericHistogram | CategoricalHistogram


class MissingShare(_Part):
    reference: Share
    current: Share
    drifted: bool


class TestOutcome(_Part):
    """An informative test beside the deciding one."""

    __test__ = False  # not a pytest class

    statistic: float | None
    p_value: float | None
    drifted: bool


class SketchBound(_Part):
    """A column whose reference is a KLL sketch (`monitor.sketch: kll`): how far its statistic can be off."""

    method: Literal["kll"]
    k: int
    #: The sketch's normalised rank error (0 when it still holds every value).
    rank_error: float
    #: How far the deciding statistic can be from the exact reference's.
    statistic_error_bound: float | None
    #: The statistic is within that bound of the threshold: the exact reference might decide otherwise.
    within_error_bound: bool


class ColumnDrift(_Part):
    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"note", "sketch"})

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
    #: Only for a sketched reference column.
    sketch: SketchBound | None = None


class PredictionDrift(_Part):
    test: str
    statistic: float | None
    threshold: float
    drifted: bool
    histogram: NumericHistogram | None
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


class MetricEstimate(_Part):
    """One metric estimated without labels, with its sampling band; `realised` once labels are in."""

    metric: str
    #: The champion's registered value on its held-out rows.
    reference: float | None
    estimate: float | None
    low: float | None
    high: float | None
    realised: float | None = None


class EstimatedPerformance(_Part):
    """Performance before the labels arrive: CBPE for binary classifiers, DLE for regression."""

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"note"})

    method: Literal["cbpe", "dle"]
    rows: int
    #: The band's coverage (e.g. 0.9 for a 5-95% band).
    confidence: float
    metrics: list[MetricEstimate]
    #: The metric whose estimated drop is the `estimated_performance` signal.
    headline: str
    drop: float | None
    threshold: float
    drifted: bool
    note: str | None = None


class BatchQuality(_Part):
    """One new batch checked against the schema: how many rows fail, why, and whether it is absorbed."""

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"reason"})

    file: str
    rows: int
    bad_rows: int
    bad_share: Share
    max_bad_share: Share
    #: Failed rule (as the schema engine words it) -> rows failing it.
    reasons: dict[str, int]
    rejected: bool
    reason: str | None = None


class ChunkColumn(_Part):
    name: str
    statistic: float | None
    threshold: float
    drifted: bool


class ChunkDrift(_Part):
    """The deciding statistics on one batch, or one chunk of it (`monitor.chunk`)."""

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"chunk"})

    batch: str
    chunk: str | None = None
    rows: int
    columns: list[ChunkColumn]
    share_drifted: Share
    prediction_psi: float | None
    estimated: float | None
    realised: float | None


class Decision(_Part):
    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"baseline"})

    retrain: bool
    #: False when there was nothing to judge (no champion, no new rows, fewer than min_batch_rows):
    #: the report then shows no verdicts, only why.
    evaluated: bool
    reasons: list[str]
    signals: list[str]
    policy: MonitorSpec
    #: What the drift was measured against when not the champion's own training data
    #: (after a refused challenger, `monitor.on_refusal: rebaseline`).
    baseline: str | None = None


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
    share_drifted: Share
    dataset_drift: bool
    prediction: PredictionDrift | None
    multivariate: MultivariateDrift | None
    performance: Performance | None
    estimated: EstimatedPerformance | None
    quality: list[BatchQuality]
    #: Per batch (and chunk) statistics: what the drift history appends.
    chunks: list[ChunkDrift]
    decision: Decision

    def to_json(self) -> dict[str, Any]:
        """The drift.json document (JSON-ready: plain dicts, lists, str, numbers, bool, None)."""
        return self.model_dump(mode="json")

    @property
    def drifted_columns(self) -> list[str]:
        """The columns judged drifted: none when the run was not evaluated (statistics for information only)."""
        return [c.name for c in self.columns if c.drifted] if self.decision.evaluated else []
