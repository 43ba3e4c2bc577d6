"""The numpy backend: the schema's rules checked a column at a time, for the serving endpoint.

The validate stage runs the same rules through pandera (`driftline.schema.validate`); both read
values with `driftline.schema.read` and take every message from `driftline.schema.rules`. A
request of one record or of thousands costs a few numpy calls per column: pandera's own
overhead (~25 ms a call) is what the endpoint cannot pay.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from driftline.schema.read import read_column
from driftline.schema.rules import ColumnRules, RuleName

_TEXTS = frozenset({str, type(None)})
_SMALL = 64  # below this many values a set lookup beats np.isin


class Checked(NamedTuple):
    """One column checked: its values in the frame's dtype (None when any value failed), and
    each broken rule with the mask of the values that break it, in checking order."""

    values: Any
    failures: list[tuple[RuleName, np.ndarray]]


def check_column(col: ColumnRules, items: list[Any], types: set[type] | None = None) -> Checked:
    """`items` (one value per record, as JSON gives them) against `col`'s rules."""
    if types is None:
        types = set(map(type, items))
    if col.kind == "category" and col.levels is not None and types <= _TEXTS:
        return _declared_category(col, items)
    read = read_column(items, col.kind, types)
    failures: list[tuple[RuleName, np.ndarray]] = []
    if read.unreadable.any():
        failures.append(("type", read.unreadable))
    numbers = read.numbers
    values = read.values
    null = read.null if read.null is not None else np.asarray(pd.isna(values), dtype=bool)
    if not col.nullable:
        given = null & ~read.unreadable if failures else null
        if given.any():
            failures.append(("not_null", given))
    if numbers is not None:
        # Each range rule is a rule on the smallest or the largest value: two reductions, and a
        # mask only for a column that breaks one.
        some_null = bool(null.any())
        present = numbers[~null] if some_null else numbers
        if present.size and col.ge is not None and present.min() < col.ge:
            failures.append(("ge", (numbers < col.ge) & ~null if some_null else numbers < col.ge))
        if present.size and col.le is not None and present.max() > col.le:
            failures.append(("le", (numbers > col.le) & ~null if some_null else numbers > col.le))
        if col.allowed is not None and present.size:
            if len(numbers) < _SMALL:
                allowed = set(col.allowed)
                outside = np.fromiter((not missing and v not in allowed for v, missing in zip(numbers.tolist(), null.tolist())),
                                      dtype=bool, count=len(numbers))
            else:
                outside = ~np.isin(numbers, _as_array(col.allowed)) & ~null
            if outside.any():
                failures.append(("isin", outside))
    elif col.allowed is not None:
        outside = ~null & ~np.asarray(pd.Series(values).isin(list(col.allowed)), dtype=bool)  # what pandera's isin does
        if outside.any():
            failures.append(("isin", outside))
    if col.unique:
        copies = np.asarray(pd.Series(values).duplicated(keep=False), dtype=bool) & ~null
        if copies.any():
            failures.append(("unique", copies))
    if failures:
        return Checked(None, failures)
    if col.kind == "category":  # the declared levels, or those of the values seen, as the validate stage does
        levels = list(col.levels) if col.levels is not None else sorted(set(values[~null]))
        values = pd.Categorical(values, categories=levels)
    return Checked(values, failures)


def _declared_category(col: ColumnRules, items: list[Any]) -> Checked:
    """Text straight to the declared levels' codes (what pd.Categorical(values, levels) gives)."""
    dtype, lookup = _category_levels(col.levels)
    codes = np.fromiter(map(lookup.get, items, itertools.repeat(-2)), dtype=np.int64, count=len(items))
    failures: list[tuple[RuleName, np.ndarray]] = []
    if not col.nullable and (codes == -1).any():
        failures.append(("not_null", codes == -1))
    if (codes == -2).any():
        failures.append(("isin", codes == -2))
    if col.unique:
        copies = (codes >= 0) & np.asarray(pd.Series(codes).duplicated(keep=False), dtype=bool)
        if copies.any():
            failures.append(("unique", copies))
    if failures:
        return Checked(None, failures)
    # validate=False: the codes are the levels' own positions (or -1, null), nothing to check.
    return Checked(pd.Categorical.from_codes(codes, dtype=dtype, validate=False), failures)


@functools.lru_cache(maxsize=64)
def _as_array(allowed: tuple[object, ...]) -> np.ndarray:
    return np.array(allowed)


@functools.lru_cache(maxsize=64)
def _category_levels(levels: tuple[str, ...]) -> tuple[pd.CategoricalDtype, dict[str | None, int]]:
    """The dtype, and each level's code; None's code is -1, pandas' code for a missing value."""
    return pd.CategoricalDtype(categories=list(levels)), {None: -1, **{level: i for i, level in enumerate(levels)}}
