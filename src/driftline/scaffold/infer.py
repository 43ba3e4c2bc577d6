"""Infer a pipeline's schema, task and features from a data frame. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_integer_dtype,
    is_numeric_dtype,
)

from driftline.errors import DriftlineError

MAX_CATEGORIES = 50          # a text column with at most this many distinct values is a category
MAX_CATEGORY_SHARE = 0.5     # ... and fewer distinct values than this share of its rows
MAX_CLASSES = 20             # an integer target with at most this many values is multiclass
TASKS = ("binary", "regression", "multiclass")


class InferError(DriftlineError, ValueError):
    """The data cannot back the requested pipeline; the message names the column."""


@dataclass
class Inferred:
    task: str
    columns: dict[str, dict[str, Any]]
    categories: list[str] = field(default_factory=list)   # low-cardinality text: categorical features
    free_text: list[str] = field(default_factory=list)    # high-cardinality text: excluded from features
    date_parts: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # column -> why it has (or lacks) its bounds


def _is_binary(values: pd.Series) -> bool:
    return is_numeric_dtype(values) and not is_bool_dtype(values) and set(values.dropna().unique()) <= {0, 1} and values.nunique() == 2


ID_NAME = re.compile(r"(^|_)id$|[a-z0-9]Id$", re.IGNORECASE)
SHARE_NAME = re.compile(r"share|prob|fraction|proportion|percentile", re.IGNORECASE)


def looks_like_id(series: pd.Series, configured: bool = False) -> bool:
    """The configured id, a column named id / *_id / *Id, or an integer column whose values are all distinct."""
    if configured or ID_NAME.search(str(series.name)):
        return True
    values = series.dropna()
    return is_integer_dtype(series) and not _is_binary(series) and len(values) > 1 and values.is_unique


def physical_bounds(series: pd.Series) -> tuple[dict[str, int | float], str]:
    """The bounds the data says are physical, never the observed extremes (new data may go beyond
    them), and the comment that says why: `ge: 0` when no value seen is negative; `le: 1` too
    when the values all lie in [0, 1] and the name says it is a share or a probability."""
    values = series.dropna()
    if not len(values):
        return {}, "no values seen: no bounds inferred"
    if values.min() < 0:
        return {}, "values of both signs seen: no bounds inferred"
    if SHARE_NAME.search(str(series.name)) and values.max() <= 1:
        return {"ge": 0, "le": 1}, "ge: 0, le: 1: a share or probability by its name, and every value seen was in [0, 1]"
    return {"ge": 0}, "ge: 0: every value seen was >= 0; no upper bound inferred (new data may go higher)"


def infer_column(series: pd.Series, *, unique: bool = False, id_like: bool = False) -> tuple[dict[str, Any], str]:
    """One column's spec (dtype, nullable, physical bounds, isin for categories, unique) and the
    comment to write beside it (why it has the bounds it has), "" for none."""
    values = series.dropna()
    spec: dict[str, Any] = {}
    note = ""
    if is_datetime64_any_dtype(series):
        spec["dtype"] = "datetime"
    elif is_bool_dtype(series):
        spec["dtype"] = "bool"
    elif _is_binary(series):
        spec["dtype"] = "binary"
    elif is_integer_dtype(series):
        spec["dtype"] = "int"  # integers with gaps come as floats from CSV and stay float: no guessing
    elif is_numeric_dtype(series):
        spec["dtype"] = "float"
    else:
        levels = values.astype(str).unique()
        is_category = not unique and len(levels) <= MAX_CATEGORIES and len(levels) < MAX_CATEGORY_SHARE * max(len(values), 1)
        spec["dtype"] = "category" if is_category else "string"
        if is_category:
            spec["isin"] = sorted(str(v) for v in levels)
    if series.isna().any():
        spec["nullable"] = True
    if spec["dtype"] in ("int", "float"):
        if id_like:
            note = "an id: no range (new rows bring new ids)"
        else:
            bounds, note = physical_bounds(series)
            spec.update(bounds)
    if unique:
        spec["unique"] = True
    return spec, note


def infer_task(target: pd.Series) -> str:
    """binary for two values, multiclass for text or a few integers, regression otherwise."""
    values = target.dropna()
    if values.nunique() == 2:
        return "binary"
    if not is_numeric_dtype(values) or is_bool_dtype(values):
        return "multiclass"
    if is_integer_dtype(values) and values.nunique() <= MAX_CLASSES:
        return "multiclass"
    return "regression"


def infer(
    frame: pd.DataFrame, target: str, task: str | None = None, timestamp: str | None = None, id_column: str | None = None
) -> Inferred:
    """Schema and feature hints for `frame`; raises InferError naming a missing or unfit column."""
    for role, column in (("target", target), ("timestamp", timestamp), ("id", id_column)):
        if column is not None and column not in frame.columns:
            raise InferError(f"{role} column '{column}' is not in the data (columns: {', '.join(map(str, frame.columns))})")
    if task is not None and task not in TASKS:
        raise InferError(f"task must be one of {', '.join(TASKS)}, not '{task}'")
    y = frame[target]
    if y.dropna().empty:
        raise InferError(f"target column '{target}' has no values")
    task = task or infer_task(y)
    if timestamp is not None and not is_datetime64_any_dtype(frame[timestamp]):
        raise InferError(f"timestamp column '{timestamp}' does not parse as dates and times")
    if id_column is not None and frame[id_column].dropna().duplicated().any():
        raise InferError(f"id column '{id_column}' has repeated values; an id must be unique")

    columns: dict[str, dict[str, Any]] = {}
    notes: dict[str, str] = {}
    for name in frame.columns:
        id_like = name != target and looks_like_id(frame[name], configured=(name == id_column))
        columns[str(name)], notes[str(name)] = infer_column(frame[name], unique=(name == id_column), id_like=id_like)
    columns[target] = _target_spec(y, task, columns[target])
    if "ge" not in columns[target] and "le" not in columns[target]:
        notes.pop(target, None)

    inferred = Inferred(task, columns, notes={k: v for k, v in notes.items() if v})
    for name, spec in columns.items():
        if name in (target, id_column, timestamp):
            continue
        if spec["dtype"] == "category":
            inferred.categories.append(name)
        elif spec["dtype"] == "string":
            inferred.free_text.append(name)
    if timestamp is not None:
        stamps = frame[timestamp].dropna()
        has_time = bool(len(stamps)) and bool((stamps.dt.hour != 0).any() or (stamps.dt.minute != 0).any())
        inferred.date_parts = ["weekday", "is_weekend", *(["hour"] if has_time else []), "month"]
    return inferred


def _target_spec(y: pd.Series, task: str, spec: dict[str, Any]) -> dict[str, Any]:
    spec = dict(spec)
    if task == "binary":
        if not (_is_binary(y) or is_bool_dtype(y)):
            raise InferError(f"a binary task needs a 0/1 or true/false target; '{y.name}' has values {sorted(map(str, y.dropna().unique()))[:5]}")
        spec = {"dtype": spec["dtype"], **({"nullable": True} if y.isna().any() else {})}
    elif task == "regression":
        if not is_numeric_dtype(y) or is_bool_dtype(y):
            raise InferError(f"a regression task needs a numeric target; '{y.name}' is {y.dtype}")
        spec.pop("isin", None)
        spec["dtype"] = "float" if spec["dtype"] == "binary" else spec["dtype"]
    else:
        if spec["dtype"] not in ("category", "int", "string"):
            spec = {"dtype": "category", "isin": sorted(str(v) for v in y.dropna().unique()), **({"nullable": True} if y.isna().any() else {})}
    return spec
