"""The transform registry: what each `kind` of feature transform does to a frame.

Each transform is a small class with
  - `fit(df, spec, ctx) -> state`: a JSON-able dict learned from the train split ({} if stateless);
  - `apply(df, spec, state) -> df`: the same transform for any frame (train, valid, serving);
  - column metadata (`reads`, `accepts`, `adds`, `kind_after`) that the compile-time column
    check in `driftline.features.pipeline` uses without touching data.
`apply` never modifies its input frame. It also accepts `prepare(spec, state)`'s result in place
of the raw state, so a serving process builds lookup tables once, not once per request.

Adding a transform: a spec model in `specs.py`, a class here, an entry in `TRANSFORMS`, a test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
    is_timedelta64_dtype,
)

from driftline.features.specs import (
    BucketizeSpec,
    CategoricalSpec,
    ClipSpec,
    DatePartsSpec,
    DropSpec,
    ImputeSpec,
    Log1pSpec,
    MissingIndicatorSpec,
    RatioSpec,
    TargetEncodeSpec,
)

OTHER = "__other__"
"""The level that rare and (at apply time) unseen categories are merged into."""

# Column kinds as declared in the dataset schema (see `check_columns`).
NUMERIC_KINDS = frozenset({"float", "int", "binary", "bool"})
NON_DATETIME_KINDS = frozenset({"float", "int", "binary", "bool", "category", "string"})

TASKS = ("binary", "regression", "multiclass")

Level = bool | int | float | str
"""A category level as stored in JSON state."""


@dataclass(frozen=True)
class FitContext:
    """What a transform may know about the train split besides its own columns."""

    target: pd.Series  # the train target, row-aligned with the frame being fitted
    task: str  # "binary" | "regression" | "multiclass"


# ---------------------------------------------------------------------------------------------
# Shared helpers (also used by the pipeline for its automatic categorical handling)
# ---------------------------------------------------------------------------------------------


def as_float(series: pd.Series) -> np.ndarray:
    """The column as float64 with NaN for missing (bools become 0/1, timedeltas seconds).

    Serving requests often carry numbers as object or string columns; those are parsed.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
    elif is_numeric_dtype(dtype) or is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif is_timedelta64_dtype(dtype):
        return series.dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        parsed = pd.to_numeric(series, errors="raise")
    except (ValueError, TypeError) as err:
        raise ValueError(f"column '{series.name}' is not numeric: {err}") from None
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def to_level(value: Any) -> Level:
    """A category level as a plain JSON scalar (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and np.isfinite(value):
        return value
    raise TypeError(f"category level {value!r} ({type(value).__name__}) cannot be stored as JSON")


def level_sort_key(level: Level) -> tuple[int, Any]:
    """Numbers before strings, each in natural order: a fixed order whatever the row order."""
    return (1, level) if isinstance(level, str) else (0, level)


def learn_levels(
    series: pd.Series, min_frequency: int = 1, max_categories: int | None = None
) -> list[Level]:
    """Sorted levels to keep, plus OTHER last when any level was merged away."""
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]  # a category dtype also lists unobserved categories
    observed = [(to_level(v), int(c)) for v, c in zip(counts.index, counts.to_numpy())]
    kept = [(level, n) for level, n in observed if n >= min_frequency]
    if max_categories is not None and len(kept) > max_categories:
        kept.sort(key=lambda item: (-item[1], level_sort_key(item[0])))
        kept = kept[:max_categories]
    levels = sorted((level for level, _ in kept), key=level_sort_key)
    if len(kept) < len(observed) and OTHER not in levels:
        levels.append(OTHER)
    return levels


def categorical_dtype(levels: Sequence[Level]) -> tuple[pd.CategoricalDtype, int]:
    """The category dtype for stored levels, and the code of OTHER (-1 when absent)."""
    dtype = pd.CategoricalDtype(categories=pd.Index(list(levels), dtype=_index_dtype(levels)))
    other_code = list(levels).index(OTHER) if OTHER in levels else -1
    return dtype, other_code


def encode_categorical(
    series: pd.Series, dtype: pd.CategoricalDtype, other_code: int = -1
) -> pd.Categorical:
    """Values as `dtype`; unseen levels become OTHER when `other_code` >= 0, else missing."""
    if isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.categories.equals(
        dtype.categories
    ):
        # Same levels in the same order: reuse the codes. (`==` on unordered category dtypes
        # ignores level order, and order is what fixes the codes LightGBM sees.)
        return pd.Categorical.from_codes(series.array.codes, dtype=dtype)
    codes = _lookup(series, dtype.categories, unseen=other_code, missing=-1)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def with_columns(df: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    """A new frame with `columns` replaced or appended; `df` itself is left untouched."""
    out = df.copy(deep=False)
    added: dict[str, Any] = {}
    for name, values in columns.items():
        if isinstance(values, pd.Series):
            values = values.array
        if name in out.columns:
            out[name] = values
        else:
            added[name] = values
    if added:
        # One concat instead of many inserts: inserts fragment the frame and pandas warns.
        new = pd.DataFrame(added, index=out.index)
        out = pd.concat([out, new], axis=1) if len(out.columns) else new
    return out


def _index_dtype(levels: Sequence[Level]) -> Any:
    # Strings get pandas' default string dtype; anything mixed stays object.
    if levels and all(isinstance(v, str) for v in levels):
        return None
    if levels and any(isinstance(v, str) for v in levels):
        return object
    return None


def _lookup(series: pd.Series, index: pd.Index, unseen: int, missing: int) -> np.ndarray:
    """Position of each value in `index`; `unseen` for values not in it, `missing` for NaN.

    Factorising first makes the hash lookup run once per distinct value, not once per row.
    """
    row_codes, uniques = pd.factorize(series, use_na_sentinel=True)
    positions = index.get_indexer(uniques) if len(uniques) else np.empty(0, dtype=np.intp)
    positions = np.where(positions < 0, unseen, positions)
    # row code -1 (missing) indexes the appended last slot
    return np.append(positions, missing).astype(np.intp)[row_codes]


def _int_or_float(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """int64 when nothing is missing, else float64 with NaN (pandas' own convention)."""
    if missing.any():
        out = values.astype(np.float64)
        out[missing] = np.nan
        return out
    return values.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# The transforms
# ---------------------------------------------------------------------------------------------

S = TypeVar("S")


class Transform(Generic[S]):
    """Base class: stateless, reads nothing, adds nothing, keeps column kinds."""

    kind: ClassVar[str]

    # --- column metadata for the compile-time check --------------------------------------------
    def reads(self, spec: S) -> list[tuple[str, str]]:
        """(config key, column) for every column the transform reads."""
        return []

    def accepts(self, spec: S) -> frozenset[str] | None:
        """Schema kinds the read columns may have (None: any)."""
        return None

    def adds(self, spec: S) -> list[tuple[str, str, str]]:
        """(config key, new column, kind) for every column the transform adds."""
        return []

    def kind_after(self, spec: S, kind: str) -> str:
        """Kind of a read column after an in-place transform."""
        return kind

    removes_reads: ClassVar[bool] = False

    # --- data ----------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, spec: S, ctx: FitContext) -> dict:
        return {}

    def prepare(self, spec: S, state: dict) -> Any:
        """Turn JSON state into whatever makes `apply` fast (default: the state itself)."""
        return state

    def apply(self, df: pd.DataFrame, spec: S, state: Any) -> pd.DataFrame:
        raise NotImplementedError

    def apply_train(self, df: pd.DataFrame, spec: S, state: dict, ctx: FitContext) -> pd.DataFrame:
        """The transform applied to the train split itself (target encoding overrides this)."""
        return self.apply(df, spec, self.prepare(spec, state))


_DATE_PARTS = {
    "weekday": lambda dt: dt.day_of_week,
    "hour": lambda dt: dt.hour,
    "month": lambda dt: dt.month,
    "day": lambda dt: dt.day,
    "dayofyear": lambda dt: dt.day_of_year,
    "year": lambda dt: dt.year,
}


class DateParts(Transform[DatePartsSpec]):
    kind = "date_parts"

    def reads(self, spec: DatePartsSpec) -> list[tuple[str, str]]:
        return [("column", spec.column)]

    def accepts(self, spec: DatePartsSpec) -> frozenset[str]:
        return frozenset({"datetime"})

    def adds(self, spec: DatePartsSpec) -> list[tuple[str, str, str]]:
        return [
            (f"parts[{i}]", f"{spec.column}_{part}", "int") for i, part in enumerate(spec.parts)
        ]

    def apply(self, df: pd.DataFrame, spec: DatePartsSpec, state: Any) -> pd.DataFrame:
        stamps = df[spec.column]
        if not is_datetime64_any_dtype(stamps.dtype):
            # serving requests carry timestamps as ISO 8601 strings
            stamps = pd.to_datetime(stamps, format="ISO8601")
        missing = stamps.isna().to_numpy()
        parts: dict[str, np.ndarray] = {}
        for part in spec.parts:
            source = "weekday" if part == "is_weekend" else part
            if source not in parts:
                values = _DATE_PARTS[source](stamps.dt)
                parts[source] = np.nan_to_num(values.to_numpy(dtype=np.float64, na_value=np.nan))
        return with_columns(
            df,
            {
                f"{spec.column}_{part}": _int_or_float(
                    parts["weekday"] >= 5 if part == "is_weekend" else parts[part], missing
                )
                for part in spec.parts
            },
        )


class Log1p(Transform[Log1pSpec]):
    """log(1 + x) after clipping at 0: negative inputs (bad data) give 0, never NaN or -inf."""

    kind = "log1p"

    def reads(self, spec: Log1pSpec) -> list[tuple[str, str]]:
        return [(f"columns[{i}]", c) for i, c in enumerate(spec.columns)]

    def accepts(self, spec: Log1pSpec) -> frozenset[str]:
        return NUMERIC_KINDS

    def kind_after(self, spec: Log1pSpec, kind: str) -> str:
        return "float"

    def apply(self, df: pd.DataFrame, spec: Log1pSpec, state: Any) -> pd.DataFrame:
        return with_columns(
            df, {c: np.log1p(np.clip(as_float(df[c]), 0.0, None)) for c in spec.columns}
        )


class Clip(Transform[ClipSpec]):
    kind = "clip"

    def reads(self, spec: ClipSpec) -> list[tuple[str, str]]:
        return [(f"columns[{i}]", c) for i, c in enumerate(spec.columns)]

    def accepts(self, spec: ClipSpec) -> frozenset[str]:
        return NUMERIC_KINDS

    def kind_after(self, spec: ClipSpec, kind: str) -> str:
        return "float"

    def fit(self, df: pd.DataFrame, spec: ClipSpec, ctx: FitContext) -> dict:
        bounds = {}
        for column in spec.columns:
            values = as_float(df[column])
            values = values[~np.isnan(values)]
            bounds[column] = [
                _bound(spec.lower, spec.lower_quantile, values),
                _bound(spec.upper, spec.upper_quantile, values),
            ]
        return {"bounds": bounds}

    def apply(self, df: pd.DataFrame, spec: ClipSpec, state: dict) -> pd.DataFrame:
        new = {}
        for column in spec.columns:
            lower, upper = state["bounds"][column]
            new[column] = np.clip(
                as_float(df[column]),
                -np.inf if lower is None else lower,
                np.inf if upper is None else upper,
            )
        return with_columns(df, new)


def _bound(fixed: float | None, quantile: float | None, values: np.ndarray) -> float | None:
    if fixed is not None:
        return fixed
    if quantile is None or values.size == 0:
        return None
    bound = float(np.quantile(values, quantile))
    return bound if np.isfinite(bound) else None


class Ratio(Transform[RatioSpec]):
    kind = "ratio"

    def reads(self, spec: RatioSpec) -> list[tuple[str, str]]:
        return [("numerator", spec.numerator), ("denominator", spec.denominator)]

    def accepts(self, spec: RatioSpec) -> frozenset[str]:
        return NUMERIC_KINDS

    def adds(self, spec: RatioSpec) -> list[tuple[str, str, str]]:
        return [("name", spec.name, "float")]

    def apply(self, df: pd.DataFrame, spec: RatioSpec, state: Any) -> pd.DataFrame:
        numerator = as_float(df[spec.numerator])
        denominator = as_float(df[spec.denominator])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = numerator / denominator
        ratio[denominator == 0] = np.nan
        return with_columns(df, {spec.name: ratio})


class Bucketize(Transform[BucketizeSpec]):
    kind = "bucketize"

    def reads(self, spec: BucketizeSpec) -> list[tuple[str, str]]:
        return [("column", spec.column)]

    def accepts(self, spec: BucketizeSpec) -> frozenset[str]:
        return NUMERIC_KINDS

    def kind_after(self, spec: BucketizeSpec, kind: str) -> str:
        return "int"

    def fit(self, df: pd.DataFrame, spec: BucketizeSpec, ctx: FitContext) -> dict:
        if spec.edges is not None:
            return {"edges": list(spec.edges)}
        values = as_float(df[spec.column])
        values = values[np.isfinite(values)]
        if values.size == 0:
            return {"edges": []}
        inner = np.linspace(0.0, 1.0, spec.n_bins + 1)[1:-1]
        return {"edges": [float(e) for e in np.unique(np.quantile(values, inner))]}

    def apply(self, df: pd.DataFrame, spec: BucketizeSpec, state: dict) -> pd.DataFrame:
        values = as_float(df[spec.column])
        edges = np.asarray(state["edges"], dtype=np.float64)
        buckets = np.searchsorted(edges, values, side="right")
        return with_columns(df, {spec.column: _int_or_float(buckets, np.isnan(values))})


class MissingIndicator(Transform[MissingIndicatorSpec]):
    kind = "missing_indicator"

    def reads(self, spec: MissingIndicatorSpec) -> list[tuple[str, str]]:
        return [(f"columns[{i}]", c) for i, c in enumerate(spec.columns)]

    def adds(self, spec: MissingIndicatorSpec) -> list[tuple[str, str, str]]:
        return [(f"columns[{i}]", f"{c}_missing", "int") for i, c in enumerate(spec.columns)]

    def apply(self, df: pd.DataFrame, spec: MissingIndicatorSpec, state: Any) -> pd.DataFrame:
        return with_columns(
            df, {f"{c}_missing": df[c].isna().to_numpy().astype(np.int64) for c in spec.columns}
        )


class Impute(Transform[ImputeSpec]):
    kind = "impute"

    def reads(self, spec: ImputeSpec) -> list[tuple[str, str]]:
        return [(f"columns[{i}]", c) for i, c in enumerate(spec.columns)]

    def accepts(self, spec: ImputeSpec) -> frozenset[str] | None:
        if spec.strategy in ("median", "mean"):
            return NUMERIC_KINDS
        if spec.strategy == "constant":
            if isinstance(spec.value, str):
                return frozenset({"string", "category"})
            return NUMERIC_KINDS | {"category"}
        return None

    def kind_after(self, spec: ImputeSpec, kind: str) -> str:
        return "float" if spec.strategy in ("median", "mean") else kind

    def fit(self, df: pd.DataFrame, spec: ImputeSpec, ctx: FitContext) -> dict:
        values: dict[str, Level | None] = {}
        for column in spec.columns:
            if spec.strategy == "constant":
                values[column] = spec.value
            elif spec.strategy == "most_frequent":
                counts = df[column].value_counts(dropna=True, sort=False)
                counts = counts[counts > 0]
                ranked = sorted(
                    ((int(n), to_level(v)) for v, n in zip(counts.index, counts.to_numpy())),
                    key=lambda item: (-item[0], level_sort_key(item[1])),
                )
                values[column] = ranked[0][1] if ranked else None
            else:
                numbers = as_float(df[column])
                numbers = numbers[~np.isnan(numbers)]
                average = np.median if spec.strategy == "median" else np.mean
                values[column] = float(average(numbers)) if numbers.size else None
        return {"values": values}

    def apply(self, df: pd.DataFrame, spec: ImputeSpec, state: dict) -> pd.DataFrame:
        new = {}
        for column in spec.columns:
            value = state["values"][column]
            if value is None:
                continue
            series = df[column]
            numeric_column = (
                is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype)
            ) and not isinstance(series.dtype, pd.CategoricalDtype)
            if spec.strategy in ("median", "mean") or (
                numeric_column and isinstance(value, (int, float)) and not isinstance(value, bool)
            ):
                numbers = as_float(series)
                new[column] = np.where(np.isnan(numbers), float(value), numbers)
            else:
                if (
                    isinstance(series.dtype, pd.CategoricalDtype)
                    and value not in series.dtype.categories
                ):
                    series = series.cat.add_categories([value])
                new[column] = series.fillna(value)
        return with_columns(df, new)


class Categorical(Transform[CategoricalSpec]):
    kind = "categorical"

    def reads(self, spec: CategoricalSpec) -> list[tuple[str, str]]:
        return [(f"columns[{i}]", c) for i, c in enumerate(spec.columns)]

    def accepts(self, spec: CategoricalSpec) -> frozenset[str]:
        return NON_DATETIME_KINDS

    def kind_after(self, spec: CategoricalSpec, kind: str) -> str:
        return "category"

    def fit(self, df: pd.DataFrame, spec: CategoricalSpec, ctx: FitContext) -> dict:
        return {
            "levels": {
                c: learn_levels(df[c], spec.min_frequency, spec.max_categories)
                for c in spec.columns
            }
        }

    def prepare(self, spec: CategoricalSpec, state: dict) -> dict:
        return {"dtypes": {c: categorical_dtype(levels) for c, levels in state["levels"].items()}}

    def apply(self, df: pd.DataFrame, spec: CategoricalSpec, state: dict) -> pd.DataFrame:
        if "dtypes" not in state:
            state = self.prepare(spec, state)
        return with_columns(
            df,
            {
                c: encode_categorical(df[c], *state["dtypes"][c])
                for c in spec.columns
            },
        )


class TargetEncode(Transform[TargetEncodeSpec]):
    kind = "target_encode"

    def reads(self, spec: TargetEncodeSpec) -> list[tuple[str, str]]:
        return [("column", spec.column)]

    def accepts(self, spec: TargetEncodeSpec) -> frozenset[str]:
        return NON_DATETIME_KINDS

    def adds(self, spec: TargetEncodeSpec) -> list[tuple[str, str, str]]:
        # Multiclass targets add one column per class; the classes are only known at fit time.
        key = "name" if spec.name else "column"
        return [(key, spec.name or f"{spec.column}_te", "float")]

    def fit(self, df: pd.DataFrame, spec: TargetEncodeSpec, ctx: FitContext) -> dict:
        targets, weight, classes = _target_columns(ctx)
        row_codes, uniques = pd.factorize(df[spec.column], use_na_sentinel=True)
        n_levels = len(uniques)
        codes = np.where(row_codes < 0, n_levels, row_codes)  # slot n_levels: missing values
        counts = np.bincount(codes, weights=weight, minlength=n_levels + 1)
        if counts.sum() == 0:
            raise ValueError(f"target_encode on '{spec.column}': the train target is all missing")
        levels = [to_level(v) for v in uniques]
        order = sorted(range(n_levels), key=lambda i: level_sort_key(levels[i]))
        priors, values, missing = [], [], []
        for target in targets:
            sums = np.bincount(codes, weights=target * weight, minlength=n_levels + 1)
            prior = float(sums.sum() / counts.sum())
            encoded = _m_estimate(sums, counts, prior, spec.smoothing)
            priors.append(prior)
            values.append([float(encoded[i]) for i in order])
            missing.append(float(encoded[n_levels]) if counts[n_levels] > 0 else prior)
        return {
            "columns": _te_columns(spec, classes),
            "levels": [levels[i] for i in order],
            "prior": priors,
            "values": values,
            "missing": missing,
        }

    def prepare(self, spec: TargetEncodeSpec, state: dict) -> dict:
        # One lookup table per output column: [level values..., prior (unseen), missing].
        tables = np.column_stack(
            [np.asarray(state["values"], dtype=np.float64).reshape(len(state["prior"]), -1),
             state["prior"], state["missing"]]
        )
        index = pd.Index(state["levels"], dtype=_index_dtype(state["levels"]))
        return {"columns": state["columns"], "index": index, "tables": tables}

    def apply(self, df: pd.DataFrame, spec: TargetEncodeSpec, state: dict) -> pd.DataFrame:
        if "tables" not in state:
            state = self.prepare(spec, state)
        n_levels = len(state["index"])
        slots = _lookup(df[spec.column], state["index"], unseen=n_levels, missing=n_levels + 1)
        return with_columns(
            df, {name: table[slots] for name, table in zip(state["columns"], state["tables"])}
        )

    def apply_train(
        self, df: pd.DataFrame, spec: TargetEncodeSpec, state: dict, ctx: FitContext
    ) -> pd.DataFrame:
        """Out-of-fold encoding: each train row is encoded from the other folds' rows only."""
        targets, weight, _ = _target_columns(ctx)
        n_rows, n_folds = len(df), spec.folds
        row_codes, uniques = pd.factorize(df[spec.column], use_na_sentinel=True)
        n_slots = len(uniques) + 1
        codes = np.where(row_codes < 0, n_slots - 1, row_codes)
        fold = np.random.default_rng(spec.seed).permutation(n_rows) % n_folds
        cell = codes * n_folds + fold

        def per_level_and_fold(w: np.ndarray) -> np.ndarray:
            return np.bincount(cell, weights=w, minlength=n_slots * n_folds).reshape(
                n_slots, n_folds
            )

        counts = per_level_and_fold(weight)
        count_out = counts.sum(axis=1)[codes] - counts[codes, fold]
        fold_count_out = counts.sum() - counts.sum(axis=0)
        new = {}
        for name, target, full_prior in zip(state["columns"], targets, state["prior"]):
            sums = per_level_and_fold(target * weight)
            sum_out = sums.sum(axis=1)[codes] - sums[codes, fold]
            with np.errstate(divide="ignore", invalid="ignore"):
                fold_prior = (sums.sum() - sums.sum(axis=0)) / fold_count_out
            fold_prior = np.where(fold_count_out > 0, fold_prior, full_prior)
            new[name] = _m_estimate(sum_out, count_out, fold_prior[fold], spec.smoothing)
        return with_columns(df, new)


def _m_estimate(
    sums: np.ndarray, counts: np.ndarray, prior: float | np.ndarray, smoothing: float
) -> np.ndarray:
    denominator = counts + smoothing
    with np.errstate(divide="ignore", invalid="ignore"):
        encoded = (sums + smoothing * prior) / denominator
    return np.where(denominator > 0, encoded, prior)


def _target_columns(ctx: FitContext) -> tuple[list[np.ndarray], np.ndarray, list[Level] | None]:
    """(one float target per output column, row weight 1/0 for known/missing target, classes)."""
    if ctx.task == "multiclass":
        row_codes, uniques = pd.factorize(ctx.target, use_na_sentinel=True)
        classes = [to_level(v) for v in uniques]
        order = sorted(range(len(classes)), key=lambda i: level_sort_key(classes[i]))
        targets = [(row_codes == i).astype(np.float64) for i in order]
        return targets, (row_codes >= 0).astype(np.float64), [classes[i] for i in order]
    if ctx.task not in TASKS:
        raise ValueError(f"unknown task '{ctx.task}' (expected one of {', '.join(TASKS)})")
    try:
        target = as_float(ctx.target)
    except ValueError:
        raise ValueError(
            f"target_encode needs a numeric target for task '{ctx.task}' "
            f"(0/1 for binary); '{ctx.target.name}' has dtype {ctx.target.dtype}"
        ) from None
    known = ~np.isnan(target)
    return [np.where(known, target, 0.0)], known.astype(np.float64), None


def _te_columns(spec: TargetEncodeSpec, classes: list[Level] | None) -> list[str]:
    base = spec.name or f"{spec.column}_te"
    return [base] if classes is None else [f"{base}_{c}" for c in classes]


class Drop(Transform[DropSpec]):
    kind = "drop"
    removes_reads = True

    def reads(self, spec: DropSpec) -> list[tuple[str, str]]:
        return [(f"columns[{i}]", c) for i, c in enumerate(spec.columns)]

    def apply(self, df: pd.DataFrame, spec: DropSpec, state: Any) -> pd.DataFrame:
        return df.drop(columns=[c for c in spec.columns if c in df.columns])


TRANSFORMS: dict[str, Transform[Any]] = {
    t.kind: t
    for t in (
        DateParts(),
        Log1p(),
        Clip(),
        Ratio(),
        Bucketize(),
        MissingIndicator(),
        Impute(),
        Categorical(),
        TargetEncode(),
        Drop(),
    )
}
