"""The `features` config group: one pydantic model per transform `kind`, the plan, and its
compile-time column check.

These models are the config schema and each transform's column metadata (which columns it reads,
which it adds, what kind they have after it): enough for `check_columns` to check a plan against
the dataset schema without data, pandas or numpy. The code that fits and applies each transform
lives in `driftline.features.transforms`, keyed by the same `kind`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Column kinds as declared in the dataset schema (see `check_columns`).
NUMERIC_KINDS = frozenset({"float", "int", "binary", "bool"})
NON_DATETIME_KINDS = frozenset({"float", "int", "binary", "bool", "category", "string"})

DatePart = Literal["weekday", "is_weekend", "hour", "month", "day", "dayofyear", "year"]


class _Spec(BaseModel):
    """Base: reads nothing, adds nothing, keeps column kinds."""

    model_config = ConfigDict(extra="forbid")

    removes_reads: ClassVar[bool] = False  # True: the columns read are gone afterwards (drop)

    def reads(self) -> list[tuple[str, str]]:
        """(config key, column) for every column the transform reads."""
        return []

    def accepts(self) -> frozenset[str] | None:
        """Schema kinds the read columns may have (None: any)."""
        return None

    def adds(self) -> list[tuple[str, str, str]]:
        """(config key, new column, kind) for every column the transform adds."""
        return []

    def kind_after(self, kind: str) -> str:
        """Kind of a read column after an in-place transform."""
        return kind


ColumnList = Annotated[list[str], Field(min_length=1)]


class _ColumnsSpec(_Spec):
    """A transform over a list of `columns` (each subclass declares the field after `kind`, so
    the dumped config keeps its key order)."""

    def reads(self) -> list[tuple[str, str]]:
        columns: list[str] = getattr(self, "columns")  # noqa: B009 - declared by each subclass
        return [(f"columns[{i}]", c) for i, c in enumerate(columns)]


class DatePartsSpec(_Spec):
    """Add `<column>_<part>` integer columns taken from a datetime column (NaT gives NaN)."""

    kind: Literal["date_parts"]
    column: str
    parts: Annotated[list[DatePart], Field(min_length=1)] = [
        "weekday",
        "is_weekend",
        "hour",
        "month",
    ]

    def reads(self) -> list[tuple[str, str]]:
        return [("column", self.column)]

    def accepts(self) -> frozenset[str]:
        return frozenset({"datetime"})

    def adds(self) -> list[tuple[str, str, str]]:
        return [(f"parts[{i}]", f"{self.column}_{part}", "int") for i, part in enumerate(self.parts)]

    @model_validator(mode="after")
    def _unique_parts(self) -> DatePartsSpec:
        if len(set(self.parts)) != len(self.parts):
            raise ValueError("parts must not repeat")
        return self


class Log1pSpec(_ColumnsSpec):
    """Replace each column by log(1 + x); negative values are clipped to 0 first."""

    kind: Literal["log1p"]
    columns: ColumnList

    def accepts(self) -> frozenset[str]:
        return NUMERIC_KINDS

    def kind_after(self, kind: str) -> str:
        return "float"


class ClipSpec(_ColumnsSpec):
    """Clip columns in place, at fixed bounds or at quantiles learned on the train split."""

    kind: Literal["clip"]
    columns: ColumnList
    lower: float | None = None
    upper: float | None = None
    lower_quantile: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    upper_quantile: Annotated[float, Field(ge=0.0, le=1.0)] | None = None

    def accepts(self) -> frozenset[str]:
        return NUMERIC_KINDS

    def kind_after(self, kind: str) -> str:
        return "float"

    @model_validator(mode="after")
    def _one_bound_per_side(self) -> ClipSpec:
        if self.lower is not None and self.lower_quantile is not None:
            raise ValueError("give lower or lower_quantile, not both")
        if self.upper is not None and self.upper_quantile is not None:
            raise ValueError("give upper or upper_quantile, not both")
        bounds = (self.lower, self.upper, self.lower_quantile, self.upper_quantile)
        if all(v is None for v in bounds):
            raise ValueError("give at least one of lower, upper, lower_quantile, upper_quantile")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError("lower must not exceed upper")
        if (
            self.lower_quantile is not None
            and self.upper_quantile is not None
            and self.lower_quantile > self.upper_quantile
        ):
            raise ValueError("lower_quantile must not exceed upper_quantile")
        return self


class RatioSpec(_Spec):
    """Add column `name` = numerator / denominator; a zero denominator gives NaN."""

    kind: Literal["ratio"]
    numerator: str
    denominator: str
    name: Annotated[str, Field(min_length=1)]

    def reads(self) -> list[tuple[str, str]]:
        return [("numerator", self.numerator), ("denominator", self.denominator)]

    def accepts(self) -> frozenset[str]:
        return NUMERIC_KINDS

    def adds(self) -> list[tuple[str, str, str]]:
        return [("name", self.name, "float")]


class BucketizeSpec(_Spec):
    """Replace a numeric column by its bucket index (0 .. len(edges)); NaN stays NaN.

    Bucket i holds edges[i-1] <= x < edges[i]. With `n_bins` the edges are train-split quantiles
    (duplicates removed, so a skewed column can get fewer buckets).
    """

    kind: Literal["bucketize"]
    column: str
    edges: Annotated[list[float], Field(min_length=1)] | None = None
    n_bins: Annotated[int, Field(ge=2)] | None = None

    def reads(self) -> list[tuple[str, str]]:
        return [("column", self.column)]

    def accepts(self) -> frozenset[str]:
        return NUMERIC_KINDS

    def kind_after(self, kind: str) -> str:
        return "int"

    @model_validator(mode="after")
    def _exactly_one(self) -> BucketizeSpec:
        if (self.edges is None) == (self.n_bins is None):
            raise ValueError("give exactly one of edges, n_bins")
        if self.edges is not None and any(a >= b for a, b in zip(self.edges, self.edges[1:])):
            raise ValueError("edges must be strictly increasing")
        return self


class MissingIndicatorSpec(_ColumnsSpec):
    """Add `<column>_missing` = 1 where the value is missing, else 0."""

    kind: Literal["missing_indicator"]
    columns: ColumnList

    def adds(self) -> list[tuple[str, str, str]]:
        return [(f"columns[{i}]", f"{c}_missing", "int") for i, c in enumerate(self.columns)]


class ImputeSpec(_ColumnsSpec):
    """Fill missing values in place with a value learned on the train split (or a constant).

    A column that is entirely missing on train has nothing to learn from and is left as is.
    """

    kind: Literal["impute"]
    columns: ColumnList
    strategy: Literal["median", "mean", "constant", "most_frequent"] = "median"
    value: float | str | None = None

    def accepts(self) -> frozenset[str] | None:
        if self.strategy in ("median", "mean"):
            return NUMERIC_KINDS
        if self.strategy == "constant":
            if isinstance(self.value, str):
                return frozenset({"string", "category"})
            return NUMERIC_KINDS | {"category"}
        return None

    def kind_after(self, kind: str) -> str:
        return "float" if self.strategy in ("median", "mean") else kind

    @model_validator(mode="after")
    def _value_iff_constant(self) -> ImputeSpec:
        if self.strategy == "constant" and self.value is None:
            raise ValueError("strategy 'constant' needs a value")
        if self.strategy != "constant" and self.value is not None:
            raise ValueError("value is only used with strategy 'constant'")
        return self


class CategoricalSpec(_ColumnsSpec):
    """Turn columns into pandas `category` with levels learned on the train split.

    Levels seen fewer than `min_frequency` times, and levels beyond the `max_categories` most
    frequent ones, are merged into "__other__" (which is then not counted in `max_categories`).
    At apply time an unseen level becomes "__other__" if that level exists, else missing.
    """

    kind: Literal["categorical"]
    columns: ColumnList
    min_frequency: Annotated[int, Field(ge=1)] = 1
    max_categories: Annotated[int, Field(ge=1)] | None = None

    def accepts(self) -> frozenset[str]:
        return NON_DATETIME_KINDS

    def kind_after(self, kind: str) -> str:
        return "category"


class TargetEncodeSpec(_Spec):
    """Add `<column>_te` (or `name`): the smoothed mean target per level of `column`.

    The m-estimate (sum + smoothing * prior) / (count + smoothing) shrinks rare levels toward
    the global mean. Train rows get out-of-fold values (`folds` seeded folds) so a row's own
    target never feeds its encoding. Missing values are a level of their own; levels unseen
    on train get the prior. Multiclass targets give one column per class, `<name>_<class>`.
    """

    kind: Literal["target_encode"]
    column: str
    smoothing: Annotated[float, Field(ge=0.0)] = 20.0
    folds: Annotated[int, Field(ge=2)] = 5
    seed: int = 0
    name: Annotated[str, Field(min_length=1)] | None = None

    def reads(self) -> list[tuple[str, str]]:
        return [("column", self.column)]

    def accepts(self) -> frozenset[str]:
        return NON_DATETIME_KINDS

    def adds(self) -> list[tuple[str, str, str]]:
        # Multiclass targets add one column per class; the classes are only known at fit time.
        key = "name" if self.name else "column"
        return [(key, self.name or f"{self.column}_te", "float")]


class DropSpec(_ColumnsSpec):
    """Remove columns (columns absent at apply time, e.g. in a serving request, are ignored)."""

    kind: Literal["drop"]
    columns: ColumnList
    removes_reads: ClassVar[bool] = True


TRANSFORM_SPECS: dict[str, type[BaseModel]] = {
    "date_parts": DatePartsSpec,
    "log1p": Log1pSpec,
    "clip": ClipSpec,
    "ratio": RatioSpec,
    "bucketize": BucketizeSpec,
    "missing_indicator": MissingIndicatorSpec,
    "impute": ImputeSpec,
    "categorical": CategoricalSpec,
    "target_encode": TargetEncodeSpec,
    "drop": DropSpec,
}

TransformSpec = Annotated[
    DatePartsSpec | Log1pSpec | ClipSpec | RatioSpec | BucketizeSpec | MissingIndicatorSpec | ImputeSpec | CategoricalSpec | TargetEncodeSpec | DropSpec,
    Field(discriminator="kind"),
]


class FeaturePlan(BaseModel):
    """The `features` config group: ordered transforms, and columns kept out of the model."""

    model_config = ConfigDict(extra="forbid")

    transforms: list[TransformSpec] = []
    exclude: list[str] = []  # columns never used as features (ids, etc.)


def check_columns(plan: FeaturePlan, columns: Mapping[str, str]) -> list[tuple[str, str]]:
    """Check a plan against the schema's columns without data; every problem is returned at once.

    `columns` maps each input column to its kind ("float", "int", "category", "string",
    "datetime", "binary", "bool"). Returns (key_path, message) pairs such as
    ("features.transforms[2].column", "..."); an empty list means the plan fits the schema.
    Kinds are tracked through the transforms, so `log1p` after `categorical` on the same column
    is reported, and a column dropped by an earlier transform counts as gone.
    """
    kinds = dict(columns)
    seen = set(kinds)
    dropped_by: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for i, spec in enumerate(plan.transforms):
        base = f"features.transforms[{i}]"
        allowed = spec.accepts()
        reads = spec.reads()
        for key, column in reads:
            if column not in kinds:
                if column in dropped_by:
                    why = f"it was dropped by features.transforms[{dropped_by[column]}]"
                else:
                    why = "neither the schema nor an earlier transform provides it"
                problems.append((f"{base}.{key}", f"unknown column '{column}': {why}"))
            elif allowed is not None and kinds[column] not in allowed:
                problems.append(
                    (
                        f"{base}.{key}",
                        f"{spec.kind} needs a column of kind {_one_of(allowed)}; "
                        f"'{column}' is {kinds[column]}",
                    )
                )
        for key, column, kind in spec.adds():
            if column in kinds:
                problems.append(
                    (f"{base}.{key}", f"{spec.kind} would overwrite existing column '{column}'")
                )
            kinds[column] = kind
            seen.add(column)
        for _, column in reads:
            if column not in kinds:
                continue
            if spec.removes_reads:
                del kinds[column]
                dropped_by[column] = i
            else:
                kinds[column] = spec.kind_after(kinds[column])
    for j, column in enumerate(plan.exclude):
        if column not in seen:
            problems.append((f"features.exclude[{j}]", f"unknown column '{column}'"))
    return problems


def _one_of(kinds: frozenset[str]) -> str:
    ordered = sorted(kinds)
    return ordered[0] if len(ordered) == 1 else "one of " + ", ".join(ordered)
