"""Typed schemas of the config groups under conf/ (dataset, schema, label, split).

The `features` group is declared next to the code that runs it, the `model` group in its own module
(`driftline.features.pipeline.FeaturePlan`, `driftline.config.model.ModelSpec`).
Every model forbids unknown keys, so a misspelt key is an error, never silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftline.config.cluster import ClusterSpec
from driftline.config.errors import KeyedErrors


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- dataset ---------------------------------------------------------------------------------


class GeneratorSource(Strict):
    kind: Literal["generator"]
    generator: Literal["loans"] = "loans"
    rows: int = Field(50_000, ge=1)
    seed: int = Field(7, ge=0, le=2**32 - 1)  # numpy's seeds
    start: str = "2024-01-01"
    end: str = "2025-12-31"
    drift: Literal["none", "covariate", "concept"] = "none"
    strength: float = Field(1.0, ge=0)
    batch: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _window(self) -> GeneratorSource:
        time_window(self.start, self.end)
        return self


def time_window(start: str, end: str) -> tuple[datetime, datetime]:
    """The generator's time window [start, end) as naive datetimes: compile and the generator's one rule.

    Each bound is an ISO 8601 date or date and time without a time zone, and start comes before end;
    otherwise KeyedErrors (a ValueError) naming `start` or `end`.
    """
    errors: list[tuple[str, str]] = []
    bounds: list[datetime] = []
    for key, value in (("start", start), ("end", end)):
        try:
            stamp = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            stamp = None
        if stamp is None:
            errors.append((key, f"{value!r} is not a date; write it as YYYY-MM-DD (or an ISO 8601 date and time, "
                                "such as 2024-01-01T12:00)"))
        elif stamp.tzinfo is not None:
            errors.append((key, f"{value!r} has a time zone; write a naive date/time (the generator's clock has none)"))
        else:
            bounds.append(stamp)
    if not errors and bounds[1] <= bounds[0]:
        errors.append(("start", f"start ({start}) must be before end ({end}): the generator draws times in [start, end)"))
    if errors:
        raise KeyedErrors(errors)
    return bounds[0], bounds[1]


class CsvSource(Strict):
    kind: Literal["csv"]
    path: str
    delimiter: str = ","
    parse_dates: list[str] = []


class ParquetSource(Strict):
    """A Parquet file, a folder of Parquet files (`data/parts`), or a glob (`data/parts/2026-*.parquet`)."""

    kind: Literal["parquet"]
    path: str


_WILDCARDS = "*?["


def is_glob(path: str) -> bool:
    """Whether a source path is a glob pattern (`*`, `?` or `[` in it)."""
    return any(char in path for char in _WILDCARDS)


def glob_folder(path: str) -> str:
    """The folder a glob searches (its parts before the first wildcard); `path` itself when it is no glob."""
    if not is_glob(path):
        return path
    parts = PurePosixPath(path.replace("\\", "/")).parts
    static = parts[:next(i for i, part in enumerate(parts) if is_glob(part))]
    return PurePosixPath(*static).as_posix() if static else "."


def glob_searches_root(path: str) -> bool:
    """Whether a glob searches the project root itself (`*.parquet`, `./*.parquet`): its dep would be the whole
    project, the stages' own outputs included. Compile refuses it; so does `driftline.data.sources`."""
    import posixpath

    return is_glob(path) and posixpath.normpath(glob_folder(path)) == "."


class SqlSource(Strict):
    kind: Literal["sql"]
    query: str
    params: dict[str, Any] = {}
    url: str | None = None
    path: str | None = None
    parse_dates: list[str] = []

    @model_validator(mode="after")
    def _one_location(self) -> SqlSource:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of 'url' (a SQLAlchemy URL) or 'path' (a SQLite file)")
        return self


Source = Annotated[
    GeneratorSource | CsvSource | ParquetSource | SqlSource, Field(discriminator="kind")
]


class DatasetSpec(Strict):
    source: Source
    timestamp: str | None = None
    id: str | None = None


# --- schema ----------------------------------------------------------------------------------

ColumnKind = Literal["float", "int", "binary", "bool", "category", "string", "datetime"]
NUMERIC_KINDS = ("float", "int", "binary", "bool")


class ColumnSpec(Strict):
    dtype: ColumnKind
    nullable: bool = False
    ge: float | None = None
    le: float | None = None
    isin: list[str | int | float] | None = None
    unique: bool = False

    @model_validator(mode="after")
    def _satisfiable(self) -> ColumnSpec:
        """A rule no value can pass would quarantine every row: refuse it here, at compile."""
        errors: list[tuple[str, str]] = []
        if self.ge is not None and self.le is not None and self.ge > self.le:
            errors.append(("ge", f"ge ({self.ge:g}) is above le ({self.le:g}), so no value can pass; swap them"))
        if self.isin is not None and not self.isin:
            errors.append(("isin", "isin is empty, so no value can pass; list the allowed values, or remove isin to allow any"))
        if errors:
            raise KeyedErrors(errors)
        return self


class SchemaSpec(Strict):
    columns: dict[str, ColumnSpec]
    max_bad_share: float = Field(0.01, ge=0, le=1)
    extra_columns: Literal["keep", "drop", "error"] = "drop"


# --- label -----------------------------------------------------------------------------------


class ColumnLabel(Strict):
    kind: Literal["column"]
    column: str


class RuleLabel(Strict):
    kind: Literal["rule"]
    column: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float | int | str


class JoinLabel(Strict):
    kind: Literal["join"]
    path: str
    on: str
    column: str


LabelSpec = Annotated[ColumnLabel | RuleLabel | JoinLabel, Field(discriminator="kind")]


# --- split -----------------------------------------------------------------------------------


class SplitSpec(Strict):
    kind: Literal["random", "time", "group"] = "random"
    valid: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.15, gt=0, lt=1)
    seed: int = Field(0, ge=0, le=2**32 - 1)  # numpy's RandomState takes 0 .. 2**32 - 1
    stratify: bool = True
    group: str | None = None

    @model_validator(mode="after")
    def _shares(self) -> SplitSpec:
        if self.valid + self.test >= 0.9:
            raise ValueError("valid + test must leave at least 10% of rows for training")
        if self.kind == "group" and not self.group:
            raise ValueError("a group split needs 'group': the column whose values stay together")
        return self


# --- monitor ---------------------------------------------------------------------------------

Signal = Literal["dataset_drift", "prediction_drift", "performance", "multivariate", "estimated_performance"]
#: What the monitor does after the gate refused the challenger a drift retrain produced.
OnRefusal = Literal["rebaseline", "cooldown", "keep"]
DriftTestName = Literal["ks", "wasserstein", "psi", "chi2", "jensen_shannon", "z_binary"]


class ColumnPolicy(Strict):
    """Per-column override of the monitor's defaults."""

    test: DriftTestName | None = None
    threshold: float | None = Field(None, gt=0)
    ignore: bool = False


class ChunkSpec(Strict):
    """Chunks inside a batch: by time (`period`, a pandas offset such as 1D, 1W, 1M) or by `rows`."""

    period: str | None = None
    rows: int | None = Field(None, ge=50)

    @model_validator(mode="after")
    def _one(self) -> ChunkSpec:
        if (self.period is None) == (self.rows is None):
            raise ValueError("give exactly one of 'period' (e.g. 1W) or 'rows' (e.g. 5000)")
        if self.period is not None:
            import pandas as pd

            try:
                pd.tseries.frequencies.to_offset(self.period)
            except ValueError:
                raise ValueError(f"period '{self.period}' is not a pandas offset such as 1D, 1W or 1M") from None
        return self


class MonitorSpec(Strict):
    """When new data counts as drift, and when drift is worth a retrain."""

    columns: list[str] | None = None  # default: every schema column but the id, timestamp and target
    prediction_log: bool = False  # endpoint monitoring: also watch what `driftline serve` decided
    min_batch_rows: int = Field(200, ge=1)
    drift_share: float = Field(0.3, gt=0, le=1)
    retrain_on: list[Signal] = ["dataset_drift", "prediction_drift", "performance"]
    prediction_threshold: float = Field(0.2, gt=0)
    performance_drop: float = Field(0.03, gt=0)
    min_labelled_rows: int = Field(200, ge=0)
    cooldown_batches: int = Field(0, ge=0)
    multiple_testing: Literal["none", "bonferroni", "benjamini_hochberg"] = "benjamini_hochberg"
    domain_classifier: bool = True
    domain_auc_threshold: float = Field(0.6, gt=0.5, lt=1)
    overrides: dict[str, ColumnPolicy] = {}
    #: A new batch with more than this share of rows failing the schema is rejected, not absorbed
    #: (None: the schema's own `max_bad_share`).
    max_bad_share: float | None = Field(None, ge=0, le=1)
    #: Time or row chunks inside each batch, each with its own statistics in the drift history.
    chunk: ChunkSpec | None = None
    #: After the gate refuses a drift retrain's challenger: compare new data with what the
    #: challenger saw (rebaseline), wait `refusal_cooldown_batches` batches (cooldown), or keep firing.
    on_refusal: OnRefusal = "rebaseline"
    refusal_cooldown_batches: int = Field(3, ge=1)
    #: Dataset, prediction and multivariate drift fire only when the estimated (or realised)
    #: performance also drops by `performance_drop`: drift that does not hurt causes no retrain.
    ignore_harmless_drift: bool = False
    #: How the reference profile holds a numeric column: every value (exact) or a KLL quantile
    #: sketch of `sketch_k` items per level (mergeable across partitions; rank error 1.33% at k=200).
    sketch: Literal["exact", "kll"] = "exact"
    sketch_k: int = Field(200, ge=8, le=65535)
    #: The dask.distributed cluster that profiles partitioned data (a folder or glob source, a folder
    #: batch) partition by partition; None: a local cluster on 127.0.0.1, started only for such data.
    cluster: ClusterSpec | None = None


# --- gate ------------------------------------------------------------------------------------


GateTest = Literal["auto", "delong", "bootstrap", "none"]


class GateSpec(Strict):
    """When a challenger may replace the champion (both scored on the same held-out rows)."""

    metric: str | None = None  # default: roc_auc (binary), rmse (regression), log_loss (multiclass)
    #: An extra floor on the point improvement, on top of the paired test.
    min_improvement: float = Field(0.0, ge=0)
    minimum: float | None = None  # an absolute bar the challenger's metric must clear (a ceiling for losses)
    #: The paired test on the held-out rows: auto is DeLong for roc_auc and a paired bootstrap over
    #: rows for any other metric; none keeps only the point rule (improvement >= min_improvement).
    test: GateTest = "auto"
    #: The challenger passes when the lower end of this one-sided interval of its improvement is above 0.
    confidence: float = Field(0.95, gt=0.5, lt=1)
    bootstrap_rounds: int = Field(1000, ge=100)

    @model_validator(mode="after")
    def _delong_is_for_auc(self) -> GateSpec:
        if self.metric is not None:  # the task's default metric is checked with the task (config.checks)
            paired_test(self.test, self.metric)
        return self


def paired_test(test: str, metric: str) -> str:
    """The paired test the gate runs for `metric`: `auto` is DeLong for roc_auc, else the bootstrap.

    ValueError for DeLong on any other metric (DeLong compares areas under ROC curves only).
    """
    if test == "auto":
        return "delong" if metric == "roc_auc" else "bootstrap"
    if test == "delong" and metric != "roc_auc":
        raise ValueError(f"delong compares roc_auc only, and the gate's metric is {metric}; "
                         "use auto or bootstrap (or gate.metric: roc_auc)")
    return test


# --- card ------------------------------------------------------------------------------------


class CardSpec(Strict):
    """What each registered version's model card says beyond the numbers."""

    intended_use: str = ""
    limitations: str = ""
    slices: list[str] = []  # columns whose values get their own metrics (e.g. employment, region)
    min_slice_rows: int = Field(30, ge=1)
