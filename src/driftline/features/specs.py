"""The feature transforms as declared in YAML: one pydantic model per `kind`.

These models are the config schema only; the code that fits and applies each transform lives in
`driftline.features.transforms`, keyed by the same `kind`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

DatePart = Literal["weekday", "is_weekend", "hour", "month", "day", "dayofyear", "year"]

ColumnList = Annotated[list[str], Field(min_length=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


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

    @model_validator(mode="after")
    def _unique_parts(self) -> DatePartsSpec:
        if len(set(self.parts)) != len(self.parts):
            raise ValueError("parts must not repeat")
        return self


class Log1pSpec(_Spec):
    """Replace each column by log(1 + x); negative values are clipped to 0 first."""

    kind: Literal["log1p"]
    columns: ColumnList


class ClipSpec(_Spec):
    """Clip columns in place, at fixed bounds or at quantiles learned on the train split."""

    kind: Literal["clip"]
    columns: ColumnList
    lower: float | None = None
    upper: float | None = None
    lower_quantile: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    upper_quantile: Annotated[float, Field(ge=0.0, le=1.0)] | None = None

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


class BucketizeSpec(_Spec):
    """Replace a numeric column by its bucket index (0 .. len(edges)); NaN stays NaN.

    Bucket i holds edges[i-1] <= x < edges[i]. With `n_bins` the edges are train-split quantiles
    (duplicates removed, so a skewed column can get fewer buckets).
    """

    kind: Literal["bucketize"]
    column: str
    edges: Annotated[list[float], Field(min_length=1)] | None = None
    n_bins: Annotated[int, Field(ge=2)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BucketizeSpec:
        if (self.edges is None) == (self.n_bins is None):
            raise ValueError("give exactly one of edges, n_bins")
        if self.edges is not None and any(a >= b for a, b in zip(self.edges, self.edges[1:])):
            raise ValueError("edges must be strictly increasing")
        return self


class MissingIndicatorSpec(_Spec):
    """Add `<column>_missing` = 1 where the value is missing, else 0."""

    kind: Literal["missing_indicator"]
    columns: ColumnList


class ImputeSpec(_Spec):
    """Fill missing values in place with a value learned on the train split (or a constant).

    A column that is entirely missing on train has nothing to learn from and is left as is.
    """

    kind: Literal["impute"]
    columns: ColumnList
    strategy: Literal["median", "mean", "constant", "most_frequent"] = "median"
    value: float | str | None = None

    @model_validator(mode="after")
    def _value_iff_constant(self) -> ImputeSpec:
        if self.strategy == "constant" and self.value is None:
            raise ValueError("strategy 'constant' needs a value")
        if self.strategy != "constant" and self.value is not None:
            raise ValueError("value is only used with strategy 'constant'")
        return self


class CategoricalSpec(_Spec):
    """Turn columns into pandas `category` with levels learned on the train split.

    Levels seen fewer than `min_frequency` times, and levels beyond the `max_categories` most
    frequent ones, are merged into "__other__" (which is then not counted in `max_categories`).
    At apply time an unseen level becomes "__other__" if that level exists, else missing.
    """

    kind: Literal["categorical"]
    columns: ColumnList
    min_frequency: Annotated[int, Field(ge=1)] = 1
    max_categories: Annotated[int, Field(ge=1)] | None = None


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


class DropSpec(_Spec):
    """Remove columns (columns absent at apply time, e.g. in a serving request, are ignored)."""

    kind: Literal["drop"]
    columns: ColumnList


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
    Union[
        DatePartsSpec,
        Log1pSpec,
        ClipSpec,
        RatioSpec,
        BucketizeSpec,
        MissingIndicatorSpec,
        ImputeSpec,
        CategoricalSpec,
        TargetEncodeSpec,
        DropSpec,
    ],
    Field(discriminator="kind"),
]
