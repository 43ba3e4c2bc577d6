"""The transform registry: what each `kind` of feature transform does, on columns.

Each transform is a small class with
  - `fit(cols, spec, ctx) -> state`: a JSON-able dict learned from the train split ({} if stateless);
  - `prepare(spec, state)`: the state turned, once, into whatever makes `apply` fast (lookup
    tables, arrays), so a serving process does no per-request setup;
  - `apply(cols, spec, prepared) -> {name: column}`: the columns it adds or replaces, for any
    split or request;
  - `apply_train(cols, spec, state, ctx)`: the same on the train split itself (target encoding
    overrides it to encode out of fold).
`cols` maps names to columns (`driftline.features.columns`: numpy arrays or category codes);
transforms never modify a column in place. Which columns a transform reads and adds is declared
on its spec (`driftline.config.features`), where the compile-time check uses it without data.

Adding a transform: a spec model in `config/features.py`, a class here, an entry in
`TRANSFORMS`, a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import pandas as pd

from driftline.config.features import (
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
from driftline.features.columns import (
    Codes,
    Column,
    Level,
    Table,
    as_float,
    factorize,
    int_or_float,
    is_numeric,
    isna,
    learn_levels,
    level_counts,
    level_sort_key,
    same_level,
    values,
)

TASKS = ("binary", "regression", "multiclass")

Columns = Mapping[str, Column]


@dataclass(frozen=True)
class FitContext:
    """What a transform may know about the train split besides its own columns."""

    target: Column  # the train target, row-aligned with the columns being fitted
    target_name: str
    task: str  # "binary" | "regression" | "multiclass"


S = TypeVar("S")


class Transform(Generic[S]):
    """Base class: stateless, and `prepare` keeps the state as it is."""

    kind: ClassVar[str]

    def fit(self, cols: Columns, spec: S, ctx: FitContext) -> dict:
        return {}

    def prepare(self, spec: S, state: dict) -> Any:
        return state

    def apply(self, cols: Columns, spec: S, prepared: Any) -> dict[str, Column]:
        raise NotImplementedError

    def apply_train(self, cols: Columns, spec: S, state: dict, ctx: FitContext) -> dict[str, Column]:
        return self.apply(cols, spec, self.prepare(spec, state))


class DateParts(Transform[DatePartsSpec]):
    kind = "date_parts"

    def apply(self, cols: Columns, spec: DatePartsSpec, prepared: Any) -> dict[str, Column]:
        stamps = _naive_datetimes(cols[spec.column])
        missing = np.isnat(stamps)
        parts = _date_parts(stamps, spec.parts)
        return {
            f"{spec.column}_{part}": int_or_float(parts["weekday"] >= 5 if part == "is_weekend" else parts[part], missing)
            for part in spec.parts
        }


def _naive_datetimes(col: Column) -> np.ndarray:
    """datetime64 values on the local wall clock; ISO 8601 text (as requests carry it) parsed."""
    col = values(col)
    if col.dtype.kind == "M":
        return col
    parsed = pd.to_datetime(pd.Series(col, dtype=col.dtype, copy=False), format="ISO8601")
    if parsed.dt.tz is not None:  # offsets in the text: the local wall clock, as for aware columns
        parsed = parsed.dt.tz_localize(None)
    return parsed.to_numpy()


def _date_parts(stamps: np.ndarray, parts: list[str]) -> dict[str, np.ndarray]:
    """Naive datetime64 (any unit) -> part -> float64 values (0 where missing; masked later)."""
    missing = np.isnat(stamps)
    days = stamps.astype("M8[D]")
    out: dict[str, np.ndarray] = {}
    for part in parts:
        source = "weekday" if part == "is_weekend" else part
        if source in out:
            continue
        if source == "weekday":
            got = np.mod(days.astype(np.int64) + 3, 7)  # 1970-01-01 was a Thursday (3)
        elif source == "hour":
            with np.errstate(invalid="ignore"):  # NaT rows: overwritten below
                got = (stamps - days) // np.timedelta64(1, "h")
        elif source == "month":
            got = np.mod(stamps.astype("M8[M]").astype(np.int64), 12) + 1
        elif source == "day":
            got = (days - stamps.astype("M8[M]").astype("M8[D]")).astype(np.int64) + 1
        elif source == "dayofyear":
            got = (days - stamps.astype("M8[Y]").astype("M8[D]")).astype(np.int64) + 1
        elif source == "year":
            got = stamps.astype("M8[Y]").astype(np.int64) + 1970
        else:  # pragma: no cover - DatePartsSpec allows no other part
            raise ValueError(f"unknown date part {part!r}")
        got = np.asarray(got, dtype=np.float64)
        got[missing] = 0.0
        out[source] = got
    return out


class Log1p(Transform[Log1pSpec]):
    """log(1 + x) after clipping at 0: negative inputs (bad data) give 0, never NaN or -inf."""

    kind = "log1p"

    def apply(self, cols: Columns, spec: Log1pSpec, prepared: Any) -> dict[str, Column]:
        return {c: np.log1p(np.clip(as_float(cols[c], c), 0.0, None)) for c in spec.columns}


class Clip(Transform[ClipSpec]):
    kind = "clip"

    def fit(self, cols: Columns, spec: ClipSpec, ctx: FitContext) -> dict:
        bounds = {}
        for column in spec.columns:
            numbers = as_float(cols[column], column)
            numbers = numbers[~np.isnan(numbers)]
            bounds[column] = [
                _bound(spec.lower, spec.lower_quantile, numbers),
                _bound(spec.upper, spec.upper_quantile, numbers),
            ]
        return {"bounds": bounds}

    def prepare(self, spec: ClipSpec, state: dict) -> dict[str, tuple[float, float]]:
        return {
            c: (-np.inf if lower is None else lower, np.inf if upper is None else upper)
            for c, (lower, upper) in state["bounds"].items()
        }

    def apply(self, cols: Columns, spec: ClipSpec, prepared: dict) -> dict[str, Column]:
        return {c: np.clip(as_float(cols[c], c), *prepared[c]) for c in spec.columns}


def _bound(fixed: float | None, quantile: float | None, numbers: np.ndarray) -> float | None:
    if fixed is not None:
        return fixed
    if quantile is None or numbers.size == 0:
        return None
    bound = float(np.quantile(numbers, quantile))
    return bound if np.isfinite(bound) else None


class Ratio(Transform[RatioSpec]):
    kind = "ratio"

    def apply(self, cols: Columns, spec: RatioSpec, prepared: Any) -> dict[str, Column]:
        numerator = as_float(cols[spec.numerator], spec.numerator)
        denominator = as_float(cols[spec.denominator], spec.denominator)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = numerator / denominator
        ratio[denominator == 0] = np.nan
        return {spec.name: ratio}


class Bucketize(Transform[BucketizeSpec]):
    kind = "bucketize"

    def fit(self, cols: Columns, spec: BucketizeSpec, ctx: FitContext) -> dict:
        if spec.edges is not None:
            return {"edges": list(spec.edges)}
        numbers = as_float(cols[spec.column], spec.column)
        numbers = numbers[np.isfinite(numbers)]
        if numbers.size == 0:
            return {"edges": []}
        inner = np.linspace(0.0, 1.0, spec.n_bins + 1)[1:-1]
        return {"edges": [float(e) for e in np.unique(np.quantile(numbers, inner))]}

    def prepare(self, spec: BucketizeSpec, state: dict) -> np.ndarray:
        return np.asarray(state["edges"], dtype=np.float64)

    def apply(self, cols: Columns, spec: BucketizeSpec, edges: np.ndarray) -> dict[str, Column]:
        numbers = as_float(cols[spec.column], spec.column)
        buckets = np.searchsorted(edges, numbers, side="right")
        return {spec.column: int_or_float(buckets, np.isnan(numbers))}


class MissingIndicator(Transform[MissingIndicatorSpec]):
    kind = "missing_indicator"

    def apply(self, cols: Columns, spec: MissingIndicatorSpec, prepared: Any) -> dict[str, Column]:
        return {f"{c}_missing": isna(cols[c]).astype(np.int64) for c in spec.columns}


class Impute(Transform[ImputeSpec]):
    kind = "impute"

    def fit(self, cols: Columns, spec: ImputeSpec, ctx: FitContext) -> dict:
        filled: dict[str, Level | None] = {}
        for column in spec.columns:
            if spec.strategy == "constant":
                filled[column] = spec.value
            elif spec.strategy == "most_frequent":
                ranked = sorted(level_counts(cols[column]), key=lambda item: (-item[1], level_sort_key(item[0])))
                filled[column] = ranked[0][0] if ranked else None
            else:
                numbers = as_float(cols[column], column)
                numbers = numbers[~np.isnan(numbers)]
                average = np.median if spec.strategy == "median" else np.mean
                filled[column] = float(average(numbers)) if numbers.size else None
        return {"values": filled}

    def apply(self, cols: Columns, spec: ImputeSpec, state: dict) -> dict[str, Column]:
        out: dict[str, Column] = {}
        for column in spec.columns:
            value = state["values"][column]
            if value is None:  # nothing was learned (all missing on train): left as is
                continue
            col = cols[column]
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if spec.strategy in ("median", "mean") or (number and is_numeric(col)):
                numbers = as_float(col, column)
                out[column] = np.where(np.isnan(numbers), float(value), numbers)
            elif isinstance(col, Codes):
                levels = col.levels
                hit = [i for i, level in enumerate(levels) if same_level(level, value)]
                if hit:
                    code = hit[0]
                else:  # the fill value becomes a level of its own
                    levels = [*levels, value]
                    code = len(levels) - 1
                out[column] = Codes(np.where(col.codes < 0, code, col.codes), levels)
            else:
                mask = isna(col)
                if mask.any():
                    col = col.astype(object)  # a copy, holding the fill value whatever its type
                    col[mask] = value
                out[column] = col
        return out


class Categorical(Transform[CategoricalSpec]):
    kind = "categorical"

    def fit(self, cols: Columns, spec: CategoricalSpec, ctx: FitContext) -> dict:
        return {"levels": {c: learn_levels(cols[c], spec.min_frequency, spec.max_categories) for c in spec.columns}}

    def prepare(self, spec: CategoricalSpec, state: dict) -> dict[str, Table]:
        return {c: Table(levels) for c, levels in state["levels"].items()}

    def apply(self, cols: Columns, spec: CategoricalSpec, tables: dict[str, Table]) -> dict[str, Column]:
        return {c: tables[c].encode(cols[c]) for c in spec.columns}


@dataclass(frozen=True)
class _Encodings:
    columns: list[str]  # output column names, one per target column
    table: Table  # the train levels
    lookups: np.ndarray  # per output column: [value per level..., prior (unseen), missing]


class TargetEncode(Transform[TargetEncodeSpec]):
    kind = "target_encode"

    def fit(self, cols: Columns, spec: TargetEncodeSpec, ctx: FitContext) -> dict:
        targets, weight, classes = _target_columns(ctx)
        row_codes, levels = factorize(cols[spec.column])
        n_levels = len(levels)
        codes = np.where(row_codes < 0, n_levels, row_codes)  # slot n_levels: missing values
        counts = np.bincount(codes, weights=weight, minlength=n_levels + 1)
        if counts.sum() == 0:
            raise ValueError(f"target_encode on '{spec.column}': the train target is all missing")
        order = sorted(range(n_levels), key=lambda i: level_sort_key(levels[i]))
        priors, encoded_values, missing = [], [], []
        for target in targets:
            sums = np.bincount(codes, weights=target * weight, minlength=n_levels + 1)
            prior = float(sums.sum() / counts.sum())
            encoded = _m_estimate(sums, counts, prior, spec.smoothing)
            priors.append(prior)
            encoded_values.append([float(encoded[i]) for i in order])
            missing.append(float(encoded[n_levels]) if counts[n_levels] > 0 else prior)
        return {
            "columns": _te_columns(spec, classes),
            "levels": [levels[i] for i in order],
            "prior": priors,
            "values": encoded_values,
            "missing": missing,
        }

    def prepare(self, spec: TargetEncodeSpec, state: dict) -> _Encodings:
        lookups = np.column_stack(
            [np.asarray(state["values"], dtype=np.float64).reshape(len(state["prior"]), -1),
             state["prior"], state["missing"]]
        )
        return _Encodings(list(state["columns"]), Table(state["levels"]), lookups)

    def apply(self, cols: Columns, spec: TargetEncodeSpec, prepared: _Encodings) -> dict[str, Column]:
        n_levels = len(prepared.table.levels)
        slots = prepared.table.positions(cols[spec.column], unseen=n_levels, missing=n_levels + 1)
        return {name: lookup[slots] for name, lookup in zip(prepared.columns, prepared.lookups)}

    def apply_train(self, cols: Columns, spec: TargetEncodeSpec, state: dict, ctx: FitContext) -> dict[str, Column]:
        """Out-of-fold encoding: each train row is encoded from the other folds' rows only."""
        targets, weight, _ = _target_columns(ctx)
        row_codes, levels = factorize(cols[spec.column])
        n_rows, n_folds = len(row_codes), spec.folds
        n_slots = len(levels) + 1
        codes = np.where(row_codes < 0, n_slots - 1, row_codes)
        fold = np.random.default_rng(spec.seed).permutation(n_rows) % n_folds
        cell = codes * n_folds + fold

        def per_level_and_fold(w: np.ndarray) -> np.ndarray:
            return np.bincount(cell, weights=w, minlength=n_slots * n_folds).reshape(n_slots, n_folds)

        counts = per_level_and_fold(weight)
        count_out = counts.sum(axis=1)[codes] - counts[codes, fold]
        fold_count_out = counts.sum() - counts.sum(axis=0)
        out: dict[str, Column] = {}
        for name, target, full_prior in zip(state["columns"], targets, state["prior"]):
            sums = per_level_and_fold(target * weight)
            sum_out = sums.sum(axis=1)[codes] - sums[codes, fold]
            with np.errstate(divide="ignore", invalid="ignore"):
                fold_prior = (sums.sum() - sums.sum(axis=0)) / fold_count_out
            fold_prior = np.where(fold_count_out > 0, fold_prior, full_prior)
            out[name] = _m_estimate(sum_out, count_out, fold_prior[fold], spec.smoothing)
        return out


def _m_estimate(sums: np.ndarray, counts: np.ndarray, prior: float | np.ndarray, smoothing: float) -> np.ndarray:
    denominator = counts + smoothing
    with np.errstate(divide="ignore", invalid="ignore"):
        encoded = (sums + smoothing * prior) / denominator
    return np.where(denominator > 0, encoded, prior)


def _target_columns(ctx: FitContext) -> tuple[list[np.ndarray], np.ndarray, list[Level] | None]:
    """(one float target per output column, row weight 1/0 for known/missing target, classes)."""
    if ctx.task == "multiclass":
        row_codes, classes = factorize(ctx.target)
        order = sorted(range(len(classes)), key=lambda i: level_sort_key(classes[i]))
        targets = [(row_codes == i).astype(np.float64) for i in order]
        return targets, (row_codes >= 0).astype(np.float64), [classes[i] for i in order]
    if ctx.task not in TASKS:
        raise ValueError(f"unknown task '{ctx.task}' (expected one of {', '.join(TASKS)})")
    try:
        target = as_float(ctx.target, ctx.target_name)
    except ValueError:
        kind = "category" if isinstance(ctx.target, Codes) else ctx.target.dtype
        raise ValueError(
            f"target_encode needs a numeric target for task '{ctx.task}' "
            f"(0/1 for binary); '{ctx.target_name}' has dtype {kind}"
        ) from None
    known = ~np.isnan(target)
    return [np.where(known, target, 0.0)], known.astype(np.float64), None


def _te_columns(spec: TargetEncodeSpec, classes: list[Level] | None) -> list[str]:
    base = spec.name or f"{spec.column}_te"
    return [base] if classes is None else [f"{base}_{c}" for c in classes]


class Drop(Transform[DropSpec]):
    """Removes its columns; the pipeline does the removing (`DropSpec.removes_reads`)."""

    kind = "drop"

    def apply(self, cols: Columns, spec: DropSpec, prepared: Any) -> dict[str, Column]:
        return {}


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
