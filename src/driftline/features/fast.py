"""The fitted transforms replayed on plain numpy columns: the serving fast path.

`apply_features` runs each transform on a pandas DataFrame, which costs milliseconds for a single
serving record (frame copies, index alignment, concatenation per transform). `compile_plan` turns
a `FittedFeatures` once, at model load, into a `FastFeatures` whose `matrix` replays the same
transforms on per-column numpy arrays — dict lookups for category levels and target encodings,
`np.searchsorted` for buckets, plain ufuncs for the rest — and returns the float64 matrix
LightGBM receives from `apply_features`' output: numeric features as float64, categorical
features as their category codes (NaN for missing, or unseen without "__other__").

    fast = compile_plan(fitted)
    X = fast.matrix(frame)          # a DataFrame, or any mapping of column -> array / list
    booster.predict(X)              # == booster.predict(apply_features(frame, fitted))

The numbers are the same as the pandas path's, bit for bit (tests/unit/test_features_fast.py
checks every transform kind and both real plans, including NaN, unseen levels, ISO-string
timestamps and single rows). Where a value's handling is not certain to match — a transform
kind this module does not know, an input column of an unusual dtype — the work is handed to
`apply_features` itself (for the whole plan, or the whole call), never approximated:

- `compile_plan` on a plan with a kind missing from `FAST_KINDS` gives a `FastFeatures` with
  `fallback` set: `matrix` then builds a DataFrame and calls `apply_features` (slow, but equal).
- `matrix` on input columns whose dtype it does not handle natively (see `_column`) does the same
  for that call only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from driftline.features.pipeline import FittedFeatures, apply_features
from driftline.features.transforms import OTHER, TRANSFORMS, _index_dtype

__all__ = ["FAST_KINDS", "FastFeatures", "compile_plan", "frame_codes_matrix"]

FAST_KINDS = frozenset(
    {
        "date_parts",
        "log1p",
        "clip",
        "ratio",
        "bucketize",
        "missing_indicator",
        "impute",
        "categorical",
        "target_encode",
        "drop",
    }
)
"""Transform kinds replayed natively; a plan with any other kind falls back to `apply_features`."""

SMALL = 64  # below this many rows, per-value dict lookups beat factorising first


class _Fallback(Exception):
    """This call's input is not handled natively: use apply_features for it."""


@dataclass
class _Cat:
    """A categorical column: codes into `levels` (-1 = missing)."""

    codes: np.ndarray
    levels: list
    key: Any = None  # the pandas dtype the levels came from, when shared across calls


class _Table:
    """level -> position, as `pd.Index.get_indexer` over the stored levels would answer."""

    def __init__(self, levels: list) -> None:
        self.levels = list(levels)
        # A typed pandas index (bool, int, float, str) never matches True against 1; an object
        # index (levels mixing strings with other kinds) compares with Python equality.
        strict = pd.Index(self.levels, dtype=_index_dtype(self.levels)).dtype != object
        self.key = _key if strict else _loose_key
        self.index: dict[Any, int] = {}
        for i, level in enumerate(self.levels):
            self.index.setdefault(self.key(level), i)
        self._cat_cache: tuple[Any, tuple[int, int], np.ndarray] | None = None

    def positions(self, column: Any, unseen: int, missing: int) -> np.ndarray:
        """Position of each value in the levels; `unseen` if absent, `missing` for NA."""
        index, key = self.index, self.key
        if isinstance(column, _Cat):
            cached = self._cat_cache
            if (
                cached is not None
                and column.key is not None
                and cached[0] is column.key
                and cached[1] == (unseen, missing)
            ):
                return cached[2][column.codes]
            mapped = np.fromiter(
                (index.get(key(v), unseen) for v in column.levels),
                dtype=np.intp,
                count=len(column.levels),
            )
            mapped = np.append(mapped, missing).astype(np.intp)
            if column.key is not None:
                self._cat_cache = (column.key, (unseen, missing), mapped)
            return mapped[column.codes]
        n = len(column)
        if column.dtype.kind in "fiub":
            # Numbers: NaN is the only missing value; dict lookups on Python floats/ints.
            if n <= SMALL:
                out = np.empty(n, dtype=np.intp)
                for i, v in enumerate(column.tolist()):
                    out[i] = missing if math.isnan(v) else index.get(key(v), unseen)
                return out
        elif n <= SMALL:
            values = column.tolist()
            # Booleans among other objects: pandas factorises True and 1 into one value first.
            if not any(isinstance(v, (bool, np.bool_)) for v in values):
                out = np.empty(n, dtype=np.intp)
                for i, v in enumerate(values):
                    out[i] = missing if _is_missing(v) else index.get(key(v), unseen)
                return out
        row_codes, uniques = pd.factorize(column, use_na_sentinel=True)
        mapped = np.fromiter(
            (index.get(key(v), unseen) for v in uniques.tolist()), dtype=np.intp, count=len(uniques)
        )
        return np.append(mapped, missing).astype(np.intp)[row_codes]


def _key(value: Any) -> Any:
    # Booleans are their own kind of level: pandas does not match True against the level 1.
    if isinstance(value, (bool, np.bool_)):
        return ("__bool__", bool(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


def _loose_key(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (np.floating, np.datetime64, np.timedelta64)):
        return bool(np.isnan(value)) if isinstance(value, np.floating) else bool(np.isnat(value))
    return False


# ---------------------------------------------------------------------------------------------
# Column helpers: the pandas path's semantics on numpy arrays
# ---------------------------------------------------------------------------------------------


_LEVELS: dict[int, tuple[Any, list]] = {}  # id(CategoricalDtype) -> (dtype, its levels as a list)


def _cat(codes: Any, dtype: pd.CategoricalDtype) -> _Cat:
    # Validated requests share one dtype object per column (lru-cached), so the levels are
    # listed once, not per request.
    hit = _LEVELS.get(id(dtype))
    if hit is None or hit[0] is not dtype:
        if len(_LEVELS) > 256:
            _LEVELS.clear()
        hit = _LEVELS[id(dtype)] = (dtype, list(dtype.categories))
    return _Cat(np.asarray(codes, dtype=np.intp), hit[1], dtype)


def _column(values: Any) -> Any:
    """An input column as an ndarray (or _Cat for pandas categoricals); _Fallback if unusual."""
    if isinstance(values, list):
        values = pd.Series(values)  # exactly as a DataFrame built from the same lists would hold it
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        return _cat(values.codes, dtype)
    if isinstance(values, np.ndarray):
        array = values
    elif isinstance(dtype, np.dtype):  # NumpyExtensionArray, tz-naive DatetimeArray, TimedeltaArray
        array = np.asarray(values)
    elif isinstance(dtype, pd.StringDtype):
        return values.to_numpy(dtype=object)  # missing as NaN or pd.NA: both are NA below
    elif dtype is not None and is_bool_dtype(dtype):
        # Nullable boolean: kept as True/False/None, so category levels match as in pandas.
        return values.to_numpy(dtype=object, na_value=None)
    elif dtype is not None and is_numeric_dtype(dtype):
        # Nullable Int64/Float64: as_float reads them as float64 with NaN.
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    elif dtype is not None:
        raise _Fallback(f"dtype {dtype}")
    else:
        array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"columns must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind == "U":
        return array.astype(object)
    if array.dtype.kind in "fiubmM" or array.dtype == object:
        return array
    raise _Fallback(f"dtype {array.dtype}")


class _Source:
    """Column access on the caller's input without building a pandas Series per column."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.frame = isinstance(source, pd.DataFrame) and hasattr(source, "_get_column_array")

    def __getitem__(self, name: str) -> Any:
        if self.frame:
            loc = self.source.columns.get_loc(name)  # KeyError when absent
            if isinstance(loc, (int, np.integer)):
                return self.source._get_column_array(int(loc))
        return self.source[name]


def _values(column: Any) -> np.ndarray:
    """A _Cat as an object array of its levels (NaN for missing), like `astype(object)`."""
    if not isinstance(column, _Cat):
        return column
    levels = np.empty(len(column.levels) + 1, dtype=object)
    levels[:-1] = column.levels
    levels[-1] = np.nan
    return levels[column.codes]


def _as_float(column: Any, name: str) -> np.ndarray:
    """transforms.as_float on an array."""
    column = _values(column)
    kind = column.dtype.kind
    if kind == "f":
        return column.astype(np.float64, copy=False)
    if kind in "iub":
        return column.astype(np.float64)
    if kind == "m":
        return pd.Series(column).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        parsed = pd.to_numeric(pd.Series(column, dtype=column.dtype, copy=False), errors="raise")
    except (ValueError, TypeError) as err:
        raise ValueError(f"column '{name}' is not numeric: {err}") from None
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def _isna(column: Any) -> np.ndarray:
    if isinstance(column, _Cat):
        return column.codes < 0
    kind = column.dtype.kind
    if kind == "f":
        return np.isnan(column)
    if kind in "iub":
        return np.zeros(len(column), dtype=bool)
    if kind in "mM":
        return np.isnat(column)
    return pd.isna(column)


def _is_numeric_column(column: Any) -> bool:
    return not isinstance(column, _Cat) and column.dtype.kind in "fiubm"


def _int_or_float(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    if missing.any():
        out = values.astype(np.float64)
        out[missing] = np.nan
        return out
    return values.astype(np.int64)


def _date_parts(stamps: np.ndarray, parts: list[str]) -> dict[str, np.ndarray]:
    """Naive datetime64 (any unit) -> part -> float64 values (NaT as 0, like nan_to_num)."""
    missing = np.isnat(stamps)
    days = stamps.astype("M8[D]")
    out: dict[str, np.ndarray] = {}
    for part in parts:
        source = "weekday" if part == "is_weekend" else part
        if source in out:
            continue
        if source == "weekday":
            values = np.mod(days.astype(np.int64) + 3, 7)  # 1970-01-01 was a Thursday (3)
        elif source == "hour":
            with np.errstate(invalid="ignore"):  # NaT rows: overwritten below
                values = (stamps - days) // np.timedelta64(1, "h")
        elif source == "month":
            values = np.mod(stamps.astype("M8[M]").astype(np.int64), 12) + 1
        elif source == "day":
            values = (days - stamps.astype("M8[M]").astype("M8[D]")).astype(np.int64) + 1
        elif source == "dayofyear":
            values = (days - stamps.astype("M8[Y]").astype("M8[D]")).astype(np.int64) + 1
        elif source == "year":
            values = stamps.astype("M8[Y]").astype(np.int64) + 1970
        else:  # pragma: no cover - DatePartsSpec allows no other part
            raise ValueError(f"unknown date part {part!r}")
        values = np.asarray(values, dtype=np.float64)
        values[missing] = 0.0
        out[source] = values
    return out


_PANDAS_PARTS = {
    "weekday": "day_of_week",
    "hour": "hour",
    "month": "month",
    "day": "day",
    "dayofyear": "day_of_year",
    "year": "year",
}


# ---------------------------------------------------------------------------------------------
# The compiled plan
# ---------------------------------------------------------------------------------------------


class FastFeatures:
    """A FittedFeatures compiled for numpy: build once, call `matrix` per request."""

    def __init__(self, fitted: FittedFeatures) -> None:
        self.fitted = fitted
        self.feature_columns = list(fitted.feature_columns)
        unknown = sorted({spec.kind for spec in fitted._specs} - FAST_KINDS)
        self.fallback: str | None = (
            f"transform kinds without a numpy replay: {', '.join(unknown)}" if unknown else None
        )
        self._steps: list[tuple[str, Any, Any]] = []
        if self.fallback is None:
            for spec, state in zip(fitted._specs, fitted.states):
                self._steps.append((spec.kind, spec, self._prepare(spec, state)))
        # Final encoding, as pipeline._feature_matrix: categorical columns -> codes, others float.
        self.categorical_positions: dict[int, list] = {}
        self._final: list[tuple[str, _Table | None, int]] = []
        for j, column in enumerate(self.feature_columns):
            levels = fitted.categorical.get(column)
            if levels is None:
                self._final.append((column, None, -1))
            else:
                self.categorical_positions[j] = list(levels)
                other = list(levels).index(OTHER) if OTHER in levels else -1
                self._final.append((column, _Table(levels), other))

    @staticmethod
    def _prepare(spec: Any, state: dict) -> Any:
        kind = spec.kind
        if kind == "categorical":
            return {
                c: (_Table(levels), list(levels).index(OTHER) if OTHER in levels else -1)
                for c, levels in state["levels"].items()
            }
        if kind == "target_encode":
            prepared = TRANSFORMS[kind].prepare(spec, state)
            return (_Table(state["levels"]), prepared["columns"], prepared["tables"])
        if kind == "bucketize":
            return np.asarray(state["edges"], dtype=np.float64)
        if kind == "clip":
            return {
                c: (-np.inf if lo is None else lo, np.inf if hi is None else hi)
                for c, (lo, hi) in state["bounds"].items()
            }
        return state

    # -----------------------------------------------------------------------------------------

    def matrix(self, columns: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """The model's float64 input, shape (n, len(feature_columns)).

        `columns` maps each input column to its values (ndarray, list, pandas Series; a
        DataFrame works too). Extra columns are ignored; a column a transform or the model
        needs but `columns` lacks raises KeyError, as `apply_features` does.
        """
        if self.fallback is not None:
            return self._slow(columns)
        try:
            return self._fast(columns)
        except _Fallback:
            return self._slow(columns)

    def _slow(self, columns: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        frame = columns if isinstance(columns, pd.DataFrame) else pd.DataFrame(dict(columns))
        return frame_codes_matrix(apply_features(frame, self.fitted), self.feature_columns,
                                  self.categorical_positions)

    def _fast(self, given: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        source = _Source(given)
        cols: dict[str, Any] = {}
        n_rows: list[int] = []

        def get(name: str, index: int, key: str) -> Any:
            if name not in cols:
                try:
                    raw = source[name]
                except KeyError:
                    raise KeyError(
                        f"{self.fitted._specs[index].kind} needs columns missing from the frame: "
                        f"'{name}' (features.transforms[{index}].{key})"
                    ) from None
                cols[name] = _column(raw)
                n_rows.append(len(cols[name].codes if isinstance(cols[name], _Cat) else cols[name]))
            return cols[name]

        for index, (kind, spec, prep) in enumerate(self._steps):
            if kind == "drop":
                for c in spec.columns:
                    cols[c] = _DROPPED
                continue
            reads = TRANSFORMS[kind].reads(spec)
            values = {c: get(c, index, key) for key, c in reads}
            if any(v is _DROPPED for v in values.values()):
                gone = [c for c, v in values.items() if v is _DROPPED]
                raise KeyError(f"{kind} needs columns missing from the frame: {gone!r}")
            getattr(self, f"_apply_{kind}")(cols, spec, prep, values)

        return self._encode(cols, source, n_rows)

    def _encode(self, cols: dict[str, Any], source: Any, n_rows: list[int]) -> np.ndarray:
        finals = []
        missing = []
        for column, _, _ in self._final:
            value = cols.get(column)
            if value is _DROPPED:
                missing.append(column)
                continue
            if value is None:
                try:
                    value = _column(source[column])
                except KeyError:
                    missing.append(column)
                    continue
                n_rows.append(len(value.codes if isinstance(value, _Cat) else value))
            finals.append(value)
        if missing:
            raise KeyError(f"feature columns missing from the frame: {', '.join(map(repr, missing))}")
        n = n_rows[0] if n_rows else 0
        if any(m != n for m in n_rows):
            raise ValueError(f"columns differ in length: {sorted(set(n_rows))}")
        out = np.empty((n, len(self._final)), dtype=np.float64)
        for j, ((column, table, other), value) in enumerate(zip(self._final, finals)):
            if table is None:
                out[:, j] = _as_float(value, column)
            else:
                if isinstance(value, _Cat) and value.levels is table.levels:
                    codes = value.codes
                else:
                    codes = table.positions(value, unseen=other, missing=-1)
                col = codes.astype(np.float64)
                col[codes < 0] = np.nan
                out[:, j] = col
        return out

    # --- one method per kind: update `cols` in place, as the transform updates the frame ---

    def _apply_date_parts(self, cols: dict, spec: Any, prep: Any, values: dict) -> None:
        stamps = _values(values[spec.column])
        if isinstance(stamps, np.ndarray) and stamps.dtype.kind == "M":
            naive = stamps
        else:
            parsed = pd.to_datetime(pd.Series(stamps, dtype=getattr(stamps, "dtype", None), copy=False),
                                    format="ISO8601")
            naive = parsed.to_numpy() if parsed.dt.tz is None else None
            if naive is None:  # time-zone aware: local wall-clock parts, as pandas gives
                missing = parsed.isna().to_numpy()
                parts = {}
                for part in spec.parts:
                    source = "weekday" if part == "is_weekend" else part
                    if source not in parts:
                        got = getattr(parsed.dt, _PANDAS_PARTS[source])
                        parts[source] = np.nan_to_num(got.to_numpy(dtype=np.float64, na_value=np.nan))
                self._put_parts(cols, spec, parts, missing)
                return
        self._put_parts(cols, spec, _date_parts(naive, spec.parts), np.isnat(naive))

    @staticmethod
    def _put_parts(cols: dict, spec: Any, parts: dict, missing: np.ndarray) -> None:
        for part in spec.parts:
            values = parts["weekday"] >= 5 if part == "is_weekend" else parts[part]
            cols[f"{spec.column}_{part}"] = _int_or_float(values, missing)

    def _apply_log1p(self, cols: dict, spec: Any, prep: Any, values: dict) -> None:
        for c in spec.columns:
            cols[c] = np.log1p(np.clip(_as_float(values[c], c), 0.0, None))

    def _apply_clip(self, cols: dict, spec: Any, prep: Any, values: dict) -> None:
        for c in spec.columns:
            lower, upper = prep[c]
            cols[c] = np.clip(_as_float(values[c], c), lower, upper)

    def _apply_ratio(self, cols: dict, spec: Any, prep: Any, values: dict) -> None:
        numerator = _as_float(values[spec.numerator], spec.numerator)
        denominator = _as_float(values[spec.denominator], spec.denominator)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = numerator / denominator
        ratio[denominator == 0] = np.nan
        cols[spec.name] = ratio

    def _apply_bucketize(self, cols: dict, spec: Any, edges: np.ndarray, values: dict) -> None:
        numbers = _as_float(values[spec.column], spec.column)
        buckets = np.searchsorted(edges, numbers, side="right")
        cols[spec.column] = _int_or_float(buckets, np.isnan(numbers))

    def _apply_missing_indicator(self, cols: dict, spec: Any, prep: Any, values: dict) -> None:
        for c in spec.columns:
            cols[f"{c}_missing"] = _isna(values[c]).astype(np.int64)

    def _apply_impute(self, cols: dict, spec: Any, state: dict, values: dict) -> None:
        for c in spec.columns:
            value = state["values"][c]
            if value is None:
                continue
            column = values[c]
            if spec.strategy in ("median", "mean") or (
                _is_numeric_column(column)
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                numbers = _as_float(column, c)
                cols[c] = np.where(np.isnan(numbers), float(value), numbers)
            elif isinstance(column, _Cat):
                levels = column.levels
                hit = [i for i, level in enumerate(levels) if _key(level) == _key(value)]
                if hit:
                    code = hit[0]
                else:
                    levels = [*levels, value]
                    code = len(levels) - 1
                cols[c] = _Cat(np.where(column.codes < 0, code, column.codes), levels)
            elif column.dtype.kind in "mM" or (
                column.dtype == object and any(isinstance(v, (bool, np.bool_)) for v in column.tolist())
            ):
                raise _Fallback("impute on a datetime or nullable boolean column")
            else:
                mask = _isna(column)
                if mask.any():
                    if column.dtype.kind in "iub" or (
                        column.dtype.kind == "f" and not isinstance(value, (int, float))
                    ) or isinstance(value, bool):
                        raise _Fallback("impute changing a numeric column's dtype")
                    column = column.copy()
                    column[mask] = value
                cols[c] = column

    def _apply_categorical(self, cols: dict, spec: Any, prep: dict, values: dict) -> None:
        for c in spec.columns:
            table, other = prep[c]
            cols[c] = _Cat(table.positions(values[c], unseen=other, missing=-1), table.levels)

    def _apply_target_encode(self, cols: dict, spec: Any, prep: Any, values: dict) -> None:
        table, names, tables = prep
        n_levels = len(table.levels)
        slots = table.positions(values[spec.column], unseen=n_levels, missing=n_levels + 1)
        for name, lookup in zip(names, tables):
            cols[name] = lookup[slots]

    def _apply_drop(self, cols: dict, spec: Any, prep: Any, values: dict) -> None:  # pragma: no cover
        for c in spec.columns:
            cols[c] = _DROPPED


_DROPPED = object()  # marks a column removed by `drop`


def compile_plan(fitted: FittedFeatures) -> FastFeatures:
    """Compile fitted transforms for `FastFeatures.matrix`; do it once, at model load."""
    return FastFeatures(fitted)


def frame_codes_matrix(
    X: pd.DataFrame, feature_columns: list[str], categorical_positions: Mapping[int, Any]
) -> np.ndarray:
    """`apply_features` output as the float matrix LightGBM makes of it (codes, -1 as NaN)."""
    out = np.empty((len(X), len(feature_columns)), dtype=np.float64)
    for j, name in enumerate(feature_columns):
        column = X[name]
        if j in categorical_positions:
            codes = column.cat.codes.to_numpy()
            out[:, j] = codes
            out[codes < 0, j] = np.nan
        else:
            out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return out
