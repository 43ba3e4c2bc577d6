"""The reference profile: what the monitor needs to know about the training data.

A profile is computed once, when a model is trained, and stored beside it, so monitoring a
new batch costs only the new data:

- a numeric column keeps its values sorted (NaN and ±inf removed), its mean, std, IQR and
  the PSI bins (deduplicated reference deciles with the reference count in each bin);
- a categorical or binary column keeps its category counts. A binary column's true/false values
  are counted under "0" and "1" whether they arrive as booleans, 0/1 numbers or strings such as
  "True"/"false", so a reference and a batch that encode them differently show two categories.

With ``monitor.sketch: kll`` a numeric column is summarised by a KLL quantile sketch instead
(`SketchProfile`, built and merged in `driftline.drift.sketch`): its serialised bytes go to the
``.npz`` as a uint8 array and its rank-error bound to the JSON.

Storage is a deterministic JSON file plus an ``.npz`` holding the sorted arrays (read back
with ``allow_pickle=False``). `profile_frame` and the dict conversions are pure; only
`save_profile` and `load_profile` touch files.

"Missing" means NaN, None, pd.NA and, for numeric columns, ±inf and values that cannot be
read as numbers: none of them can be placed on a distribution, and a rise in their share is
reported by the ``missing_share`` drift test instead of being silently dropped.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from driftline.drift.ecdf import ecdf_distances
from driftline.errors import DriftlineError

if TYPE_CHECKING:
    from driftline.config.pipeline import PipelineConfig

PROFILE_FORMAT = "driftline.drift-profile"
PROFILE_VERSION = 1

#: Interior cut points of the PSI bins, as reference quantiles (deciles).
PSI_QUANTILE_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

ColumnKind = Literal["numeric", "categorical", "binary"]
COLUMN_KINDS: tuple[str, ...] = ("numeric", "categorical", "binary")


class ProfileError(DriftlineError, ValueError):
    """A profile is malformed, or its JSON and .npz halves do not belong together."""


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Reference summary of a numeric column.

    `sorted_values` holds every finite reference value, sorted, unless the profile was built
    with `max_values`: then it holds `max_values` evenly spaced order statistics and
    `approximation` records, computed exactly at profiling time, how far the KS statistic and
    the Wasserstein distance can move because of it (see `profile_frame`).
    """

    name: str
    n: int
    n_missing: int
    sorted_values: np.ndarray
    mean: float | None
    std: float | None
    quantiles: tuple[float, ...]
    psi_bin_counts: tuple[int, ...]
    iqr: float | None = None
    approximation: Mapping[str, float] | None = None
    kind: str = field(default="numeric", init=False)

    @property
    def n_values(self) -> int:
        """Number of non-missing reference values (not the number stored)."""
        return self.n - self.n_missing


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """Reference summary of a categorical (or binary) column: counts per category label."""

    name: str
    n: int
    n_missing: int
    counts: Mapping[str, int]
    kind: str = "categorical"

    @property
    def n_values(self) -> int:
        return self.n - self.n_missing


@dataclass(frozen=True, eq=False)
class SketchProfile:
    """Reference summary of a numeric column as an Apache DataSketches KLL sketch (`monitor.sketch: kll`).

    Built and merged by `driftline.drift.sketch`; this is the record only. `sketch` holds the
    serialised ``kll_doubles_sketch`` (uint8). `error_bound` is the library's normalised rank error
    for k (single query, 99% confidence), 0.0 when the sketch still holds every value. `mean`,
    `std` and `m2` (the sum of squared deviations) are exact, from streaming sums; `quantiles`,
    `psi_bin_counts` and `iqr` come from the sketch. The column kind stays "numeric": the tests
    that apply and the report's kind do not change, only how the reference is read.
    """

    name: str
    n: int
    n_missing: int
    sketch: np.ndarray
    k: int
    error_bound: float
    mean: float | None
    std: float | None
    m2: float | None
    minimum: float | None
    maximum: float | None
    quantiles: tuple[float, ...]
    psi_bin_counts: tuple[int, ...]
    iqr: float | None = None
    kind: str = field(default="numeric", init=False)

    @property
    def n_values(self) -> int:
        return self.n - self.n_missing


Profile = NumericProfile | CategoricalProfile | SketchProfile
#: JSON kind of a sketched numeric column (its `kind` attribute stays "numeric").
SKETCH_KIND = "numeric_kll"


# --------------------------------------------------------------------------- column readers


def finite_sorted(values: Any) -> tuple[np.ndarray, int, int]:
    """Return (sorted finite float64 values, number of rows, number missing).

    NaN/None/pd.NA, ±inf and unparseable values count as missing. The finite values are a
    view into one sorted copy: NaN sorts last and ±inf sit at the ends, so no mask is built.
    -0.0 becomes 0.0: the sort leaves the two zeros in an order that depends on the input's, so
    without this, equal data cut into partitions could store different bytes (`merge_numeric`).
    """
    array = _as_float_array(values)
    ordered = np.sort(array)
    numbers = ordered[:int(ordered.searchsorted(np.nan, side="left"))]
    lo = int(numbers.searchsorted(-np.inf, side="right"))
    hi = int(numbers.searchsorted(np.inf, side="left"))
    numbers[int(numbers.searchsorted(0.0, side="left")):int(numbers.searchsorted(0.0, side="right"))] = 0.0
    n = int(array.size)
    return ordered[lo:hi], n, n - (hi - lo)


def category_counts(values: Any, *, binary: bool = False) -> tuple[dict[str, int], int, int]:
    """Return (counts per category label, number of rows, number missing).

    Labels are normalised so that one category has one label whatever the dtype it arrives
    in: booleans become "1"/"0", integral floats lose their ".0" (an int column read back with
    NaN becomes float), other values use `str`. With `binary`, true/false strings in any case
    ("true", "False", "1.0", ...) become "1"/"0" too (see `binary_label`). Only the distinct
    values are converted.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(_as_1d_object(values))
    tallies = series.value_counts(dropna=False, sort=False)
    counts: dict[str, int] = {}
    n_missing = 0
    for value, count in zip(tallies.index, tallies.to_numpy(), strict=True):
        if count == 0:  # a categorical dtype lists unused categories
            continue
        if _is_missing(value):
            n_missing += int(count)
            continue
        label = category_label(value)
        if binary:
            label = binary_label(label)
        counts[label] = counts.get(label, 0) + int(count)
    return dict(sorted(counts.items())), int(len(series)), n_missing


def category_label(value: Any) -> str:
    """The label a category value is stored under (see `category_counts`)."""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number.is_integer():
            return str(int(number))
        return repr(number)
    return str(value)


_BINARY_LABELS = {"1": "1", "1.0": "1", "true": "1", "0": "0", "0.0": "0", "false": "0"}


def binary_label(label: str) -> str:
    """One encoding for a binary column's levels, the one booleans and 0/1 numbers already get:
    "1"/"0" for true/false strings in any case too; any other label (say, "M"/"F") is kept."""
    return _BINARY_LABELS.get(label.strip().lower(), label)


def binary_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts per label with the labels of a binary column normalised (see `binary_label`)."""
    merged: dict[str, int] = {}
    for label, count in counts.items():
        merged[binary_label(label)] = merged.get(binary_label(label), 0) + int(count)
    return dict(sorted(merged.items()))


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like values are not missing scalars
        return False


def _as_1d_object(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    return array.reshape(-1) if array.ndim != 1 else array


def _as_float_array(values: Any) -> np.ndarray:
    """float64 view/copy of a column; values that are not numbers become NaN."""
    if isinstance(values, pd.Series):
        if values.dtype == np.float64:  # NaN is already the missing marker: no copy
            return values.to_numpy()
        if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
            values.dtype
        ):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        try:
            coerced = pd.to_numeric(values, errors="coerce")
        except (TypeError, ValueError):  # e.g. a categorical dtype
            coerced = pd.to_numeric(values.astype(object), errors="coerce")
        return coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        coerced = pd.to_numeric(pd.Series(_as_1d_object(values)), errors="coerce")
        return coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    return array.reshape(-1) if array.ndim != 1 else array


# ------------------------------------------------------------------------------ profiling


def profile_numeric(values: Any, name: str = "", *, max_values: int | None = None) -> NumericProfile:
    """Profile one numeric column (see `profile_frame` for `max_values`)."""
    ordered, n, n_missing = finite_sorted(values)
    return numeric_from_sorted(ordered, n, n_missing, name, max_values=max_values)


def numeric_from_sorted(ordered: np.ndarray, n: int, n_missing: int, name: str = "", *,
                        max_values: int | None = None) -> NumericProfile:
    """The profile of a column whose finite values, sorted, are `ordered` (see `finite_sorted`).

    The one place a numeric profile's statistics are computed: from one column in memory
    (`profile_numeric`) or from partitions merged (`merge_numeric`), so both give the same floats.
    """
    if ordered.size == 0:
        return NumericProfile(
            name=name, n=n, n_missing=n_missing, sorted_values=np.empty(0, dtype=np.float64),
            mean=None, std=None, quantiles=(), psi_bin_counts=(), iqr=None,
        )
    quantiles = tuple(float(q) for q in np.unique(sorted_quantile(ordered, PSI_QUANTILE_LEVELS)))
    bin_counts = psi_bin_counts(ordered, quantiles)
    q25, q75 = sorted_quantile(ordered, (0.25, 0.75))
    with np.errstate(over="ignore"):
        iqr = q75 - q25
    stored, approximation = _maybe_sketch(ordered, max_values)
    return NumericProfile(
        name=name,
        n=n,
        n_missing=n_missing,
        sorted_values=np.array(stored, dtype=np.float64, copy=True),
        mean=finite_or_none(_safe_mean(ordered)),
        std=finite_or_none(_safe_std(ordered)),
        quantiles=quantiles,
        psi_bin_counts=bin_counts,
        iqr=finite_or_none(iqr),
        approximation=approximation,
    )


def profile_categorical(values: Any, name: str = "", *, kind: str = "categorical") -> CategoricalProfile:
    """Profile one categorical or binary column."""
    if kind not in ("categorical", "binary"):
        raise ProfileError(f"column {name!r}: kind {kind!r} is not categorical or binary")
    counts, n, n_missing = category_counts(values, binary=kind == "binary")
    return CategoricalProfile(name=name, n=n, n_missing=n_missing, counts=counts, kind=kind)


def profile_frame(
    df: pd.DataFrame, kinds: Mapping[str, str], *, max_values: int | None = None
) -> dict[str, Profile]:
    """Profile every column named in `kinds` ("numeric" | "categorical" | "binary").

    With `max_values`, a numeric column with more finite values than that stores only
    `max_values` order statistics (ranks (i + ½)·n/max_values) instead of every value. The
    KS statistic computed from the sketch is then within `approximation["ks"]` of the exact
    one and the raw Wasserstein distance within `approximation["wasserstein"]` (both are the
    distance between the full sample and its sketch, so they bound the error by the triangle
    inequality); PSI stays exact because the bin counts are taken from the full column.
    Roughly, both bounds shrink like 1/max_values.

    Raises `ProfileError` for a column missing from `df` or an unknown kind, listing all.
    """
    problems = [f"column {c!r} is not in the frame" for c in kinds if c not in df.columns]
    problems += [
        f"column {c!r}: kind {k!r} is not one of {', '.join(COLUMN_KINDS)}"
        for c, k in kinds.items()
        if k not in COLUMN_KINDS
    ]
    if problems:
        raise ProfileError("; ".join(problems))
    profiles: dict[str, Profile] = {}
    for column in sorted(kinds):
        kind = kinds[column]
        if kind == "numeric":
            profiles[column] = profile_numeric(df[column], column, max_values=max_values)
        else:
            profiles[column] = profile_categorical(df[column], column, kind=kind)
    return profiles


# ------------------------------------------------------------------------- merging (pure)


def merge_numeric(parts: Sequence[NumericProfile], *, max_values: int | None = None) -> NumericProfile:
    """The exact profile of the rows of every part together, from the parts' full sorted values.

    Bit for bit the profile `profile_numeric` gives on the concatenated column: the merged sorted
    array is the same array, and mean, std, quantiles and PSI bins are computed from it by
    `numeric_from_sorted`, never combined from the parts' own (their float sums would round
    differently). A part stored as a sketch (`max_values`) has lost values: refused.
    """
    sketched = [p.name for p in parts if p.approximation is not None]
    if sketched:
        raise ProfileError(f"column {sketched[0]!r}: a part stores a sketch of its values, so it cannot be merged exactly",
                           hint="profile partitions without max_values, and apply it to the merged profile")
    # stable (timsort) finds the parts' sorted runs and merges them, about twice as fast as a fresh sort;
    # the values are totally ordered (no NaN, one zero), so any sort gives the same array
    ordered = np.sort(np.concatenate([p.sorted_values for p in parts]), kind="stable") if parts else np.empty(0, dtype=np.float64)
    return numeric_from_sorted(ordered, sum(p.n for p in parts), sum(p.n_missing for p in parts),
                               parts[0].name if parts else "", max_values=max_values)


def merge_categorical(parts: Sequence[CategoricalProfile]) -> CategoricalProfile:
    """The profile of the rows of every part together: counts, rows and missing values added up."""
    counts: dict[str, int] = {}
    for part in parts:
        for label, count in part.counts.items():
            counts[label] = counts.get(label, 0) + int(count)
    first = parts[0]
    return CategoricalProfile(name=first.name, n=sum(p.n for p in parts), n_missing=sum(p.n_missing for p in parts),
                              counts=dict(sorted(counts.items())), kind=first.kind)


def merge_profiles(parts: Sequence[Mapping[str, Profile]], *, max_values: int | None = None,
                   merge_sketched: Callable[[list[SketchProfile]], SketchProfile] | None = None) -> dict[str, Profile]:
    """Merge per-partition profiles (one dict per partition, the same columns in each) column by column.

    Dispatches on the profile type: `merge_numeric` for exact numeric profiles, `merge_categorical`
    for categorical and binary ones, `merge_sketched` (`driftline.drift.sketch.merge_sketches`,
    which builds on this module) for KLL-sketched ones. `max_values` applies to the merged exact
    numeric profiles, as in `profile_frame`. Raises `ProfileError` when the parts disagree on
    columns or kinds.
    """
    if not parts:
        raise ProfileError("no partitions to merge", hint="check that the data source lists at least one file")
    columns = sorted(parts[0])
    problems = [f"partition {i} has columns {sorted(p)}, partition 0 has {columns}" for i, p in enumerate(parts) if sorted(p) != columns]
    merged: dict[str, Profile] = {}
    for column in columns if not problems else ():
        column_parts = [p[column] for p in parts]
        kinds = {(type(p), p.kind) for p in column_parts}
        if len(kinds) > 1:
            problems.append(f"column {column!r}: partitions disagree on its kind ({', '.join(sorted(k for _, k in kinds))})")
        elif isinstance(column_parts[0], NumericProfile):
            merged[column] = merge_numeric(column_parts, max_values=max_values)  # type: ignore[arg-type]
        elif isinstance(column_parts[0], CategoricalProfile):
            merged[column] = merge_categorical(column_parts)  # type: ignore[arg-type]
        elif isinstance(column_parts[0], SketchProfile) and merge_sketched is not None:
            merged[column] = merge_sketched(column_parts)  # type: ignore[arg-type]
        else:
            problems.append(f"column {column!r}: no merge for a {type(column_parts[0]).__name__}")
    if problems:
        raise ProfileError("; ".join(problems))
    return merged


def sorted_quantile(ordered: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """``np.quantile(ordered, levels)`` (numpy's default "linear" method) of a sorted, NaN-free,
    non-empty array, read by index in O(len(levels)) instead of partitioning all n values.

    The one quantile rule of the sorted profile (PSI cut points, IQR, the report's histogram span).
    The steps are numpy's own (numpy 2: `_get_indexes` and `_lerp` in `numpy.lib._function_base_impl`),
    so the floats are bit-identical to np.quantile's (tests/unit/test_monitor_quantile.py).
    """
    n = int(ordered.size)
    virtual = (n - 1) * np.asarray(levels, dtype=np.float64)
    previous = np.floor(virtual)
    following = previous + 1.0
    at_end = virtual >= n - 1  # numpy takes the last value (index -1) for both neighbours
    previous[at_end] = -1.0
    following[at_end] = -1.0
    at_start = virtual < 0
    previous[at_start] = 0.0
    following[at_start] = 0.0
    gamma = virtual - previous
    below, above = ordered[previous.astype(np.intp)], ordered[following.astype(np.intp)]
    step = above - below
    result = np.add(below, step * gamma)
    np.subtract(above, step * (1.0 - gamma), out=result, where=gamma >= 0.5)
    return result


def psi_bin_counts(sorted_values: np.ndarray, edges: Iterable[float]) -> tuple[int, ...]:
    """Counts in the bins (-inf, e0], (e0, e1], …, (e_last, +inf) of a sorted array."""
    cuts = sorted_values.searchsorted(np.asarray(tuple(edges), dtype=np.float64), side="right")
    bounds = np.concatenate(([0], cuts, [sorted_values.size]))
    return tuple(int(c) for c in np.diff(bounds))


def _maybe_sketch(
    ordered: np.ndarray, max_values: int | None
) -> tuple[np.ndarray, dict[str, float] | None]:
    if max_values is None or ordered.size <= max_values:
        return ordered, None
    if max_values < 2:
        raise ProfileError(f"max_values must be at least 2, got {max_values}")
    ranks = ((np.arange(max_values) + 0.5) * (ordered.size / max_values)).astype(np.int64)
    sketch = ordered[np.minimum(ranks, ordered.size - 1)]
    gap = ecdf_distances(ordered, sketch)
    return sketch, {"ks": gap.ks_statistic, "wasserstein": gap.wasserstein}


def _safe_mean(ordered: np.ndarray) -> float:
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: inf becomes None
        return float(np.mean(ordered))


def _safe_std(ordered: np.ndarray) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.std(ordered))


def finite_or_none(value: Any) -> float | None:
    """`value` as a float, or None when it is None, NaN or ±inf (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# ----------------------------------------------------------------- serialisation (pure)


def profiles_to_dict(profiles: Mapping[str, Profile]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Split profiles into a JSON-ready dict and the arrays for the .npz (keyed "v0000"…)."""
    columns: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for index, name in enumerate(sorted(profiles)):
        profile = profiles[name]
        if isinstance(profile, NumericProfile):
            key = f"v{index:04d}"
            arrays[key] = profile.sorted_values
            entry: dict[str, Any] = {
                "kind": "numeric",
                "n": profile.n,
                "n_missing": profile.n_missing,
                "mean": profile.mean,
                "std": profile.std,
                "iqr": profile.iqr,
                "quantiles": list(profile.quantiles),
                "psi_bin_counts": list(profile.psi_bin_counts),
                "values_key": key,
                "values_stored": int(profile.sorted_values.size),
                "min": float(profile.sorted_values[0]) if profile.sorted_values.size else None,
                "max": float(profile.sorted_values[-1]) if profile.sorted_values.size else None,
            }
            if profile.approximation is not None:
                entry["approximation"] = dict(sorted(profile.approximation.items()))
        elif isinstance(profile, SketchProfile):
            key = f"s{index:04d}"
            arrays[key] = profile.sketch
            entry = {
                "kind": SKETCH_KIND,
                "n": profile.n,
                "n_missing": profile.n_missing,
                "mean": profile.mean,
                "std": profile.std,
                "m2": profile.m2,
                "iqr": profile.iqr,
                "min": profile.minimum,
                "max": profile.maximum,
                "quantiles": list(profile.quantiles),
                "psi_bin_counts": list(profile.psi_bin_counts),
                "sketch_key": key,
                "sketch_bytes": int(profile.sketch.size),
                "k": profile.k,
                "error_bound": profile.error_bound,
            }
        else:
            entry = {
                "kind": profile.kind,
                "n": profile.n,
                "n_missing": profile.n_missing,
                "counts": dict(sorted(profile.counts.items())),
            }
        columns[name] = {k: v for k, v in entry.items() if v is not None}
    document = {"format": PROFILE_FORMAT, "version": PROFILE_VERSION, "columns": columns}
    return document, arrays


def profiles_from_dict(
    document: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> dict[str, Profile]:
    """Inverse of `profiles_to_dict`; checks that the arrays match the JSON (size, min, max)."""
    if document.get("format") != PROFILE_FORMAT or document.get("version") != PROFILE_VERSION:
        raise ProfileError(
            f"not a {PROFILE_FORMAT} v{PROFILE_VERSION} document "
            f"(format={document.get('format')!r}, version={document.get('version')!r})"
        )
    profiles: dict[str, Profile] = {}
    problems: list[str] = []
    for name, entry in document["columns"].items():
        kind = entry.get("kind")
        if kind == "numeric":
            key = entry["values_key"]
            values = arrays.get(key)
            if values is None:
                problems.append(f"column {name!r}: array {key!r} missing from the .npz")
                continue
            problem = _array_mismatch(values, entry)
            if problem:
                problems.append(f"column {name!r}: {problem}")
                continue
            approximation = entry.get("approximation")
            profiles[name] = NumericProfile(
                name=name,
                n=int(entry["n"]),
                n_missing=int(entry["n_missing"]),
                sorted_values=values,
                mean=entry.get("mean"),
                std=entry.get("std"),
                quantiles=tuple(float(q) for q in entry["quantiles"]),
                psi_bin_counts=tuple(int(c) for c in entry["psi_bin_counts"]),
                iqr=entry.get("iqr"),
                approximation=dict(approximation) if approximation is not None else None,
            )
        elif kind == SKETCH_KIND:
            key = entry["sketch_key"]
            sketch = arrays.get(key)
            if sketch is None:
                problems.append(f"column {name!r}: sketch {key!r} missing from the .npz")
                continue
            if sketch.dtype != np.uint8 or sketch.ndim != 1 or sketch.size != entry["sketch_bytes"]:
                problems.append(f"column {name!r}: stored sketch is {sketch.dtype} with {sketch.size} values, "
                                f"the JSON says {entry['sketch_bytes']} bytes: JSON and .npz are from different runs")
                continue
            profiles[name] = SketchProfile(
                name=name,
                n=int(entry["n"]),
                n_missing=int(entry["n_missing"]),
                sketch=sketch,
                k=int(entry["k"]),
                error_bound=float(entry["error_bound"]),
                mean=entry.get("mean"),
                std=entry.get("std"),
                m2=entry.get("m2"),
                minimum=entry.get("min"),
                maximum=entry.get("max"),
                quantiles=tuple(float(q) for q in entry["quantiles"]),
                psi_bin_counts=tuple(int(c) for c in entry["psi_bin_counts"]),
                iqr=entry.get("iqr"),
            )
        elif kind in ("categorical", "binary"):
            profiles[name] = CategoricalProfile(
                name=name,
                n=int(entry["n"]),
                n_missing=int(entry["n_missing"]),
                # profiles stored before binary levels had one encoding may count "True"/"False" strings
                counts=(binary_counts if kind == "binary" else dict)({str(k): int(v) for k, v in entry["counts"].items()}),
                kind=kind,
            )
        else:
            problems.append(f"column {name!r}: unknown kind {kind!r}")
    if problems:
        raise ProfileError("; ".join(problems))
    return profiles


def _array_mismatch(values: np.ndarray, entry: Mapping[str, Any]) -> str | None:
    if values.dtype != np.float64 or values.ndim != 1:
        return f"stored array is {values.dtype} with {values.ndim} dimensions, not 1-D float64"
    if values.size != entry["values_stored"]:
        return f"stored array has {values.size} values, the JSON says {entry['values_stored']}"
    if values.size and (float(values[0]) != entry["min"] or float(values[-1]) != entry["max"]):
        return "stored array does not match the JSON's min/max: JSON and .npz are from different runs"
    return None


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An .npz archive of `arrays` with fixed timestamps, so equal arrays give equal bytes.

    (`np.savez` stamps the current time into the zip, which would make DVC see a change on
    every run.)
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(
                    member, np.ascontiguousarray(arrays[key]), allow_pickle=False
                )
    return buffer.getvalue()


# ------------------------------------------------------------------------------- file edge


def save_profile(
    profiles: Mapping[str, Profile],
    path_json: str | os.PathLike[str],
    path_npz: str | os.PathLike[str],
) -> None:
    """Write the profile as deterministic JSON plus an .npz of the sorted arrays (atomically)."""
    from driftline.atomic import write_bytes, write_json

    document, arrays = profiles_to_dict(profiles)
    write_bytes(path_npz, npz_bytes(arrays))
    write_json(path_json, document)


def load_profile(
    path_json: str | os.PathLike[str], path_npz: str | os.PathLike[str]
) -> dict[str, Profile]:
    """Read a profile written by `save_profile` (no pickle: `allow_pickle=False`)."""
    import json

    try:
        with open(path_json, encoding="utf-8") as fh:
            document = json.load(fh)
        with np.load(path_npz, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        return profiles_from_dict(document, arrays)
    except ProfileError as exc:
        raise ProfileError(f"{os.fspath(path_json)}: {exc}", hint=_RESTORE_PROFILE) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable JSON or .npz, or the wrong shape
        raise ProfileError(f"the reference profile {os.fspath(path_json)} (with {os.path.basename(path_npz)}) "
                           f"cannot be read: {type(exc).__name__}: {exc}", hint=_RESTORE_PROFILE) from None


_RESTORE_PROFILE = "registry versions are immutable: restore the version folder from git (`git checkout -- registry/`)"


# ------------------------------------------------------------------------ what is monitored

#: Profile kind of each schema dtype a monitor can watch.
_KIND_OF_DTYPE = {"float": "numeric", "int": "numeric", "binary": "binary", "bool": "binary",
                  "category": "categorical", "string": "categorical"}


def monitored_kinds(cfg: PipelineConfig) -> dict[str, str]:
    """Drift-profile kind of every input column a monitor can watch (not id, time, target or unique keys).

    The promote stage profiles exactly these columns and the monitor compares exactly these, so
    the rule lives here, once.
    """
    skip = {cfg.dataset.id, cfg.dataset.timestamp, cfg.target}
    if cfg.label.kind in ("column", "rule"):
        skip.add(cfg.label.column)
    return {name: _KIND_OF_DTYPE[col.dtype] for name, col in cfg.schema_.columns.items()
            if name not in skip and col.dtype in _KIND_OF_DTYPE and not col.unique}
