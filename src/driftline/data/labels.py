"""Attach ground truth to rows: from a column, a rule, or a join with a labels table. Pure."""

from __future__ import annotations

import operator

import pandas as pd

from driftline.config.groups import ColumnLabel, JoinLabel, RuleLabel
from driftline.errors import DriftlineError

OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
             "==": operator.eq, "!=": operator.ne}


class LabelError(DriftlineError):
    pass


def attach_labels(
    df: pd.DataFrame,
    spec: ColumnLabel | RuleLabel | JoinLabel,
    target: str,
    labels: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(labelled rows with a `target` column, unlabelled rows kept aside for later)."""
    frame = df.copy()
    if isinstance(spec, ColumnLabel):
        frame[target] = frame[spec.column]
        if spec.column != target:
            frame = frame.drop(columns=[spec.column])
    elif isinstance(spec, RuleLabel):
        source = frame[spec.column]
        outcome = OPERATORS[spec.op](source, spec.value)
        frame[target] = pd.array(outcome.astype("boolean"), dtype="boolean").astype("Int64")
        frame.loc[source.isna(), target] = pd.NA
        frame = frame.drop(columns=[spec.column])
    else:
        if labels is None:
            raise LabelError("a join label needs the labels table")
        missing = [c for c in (spec.on, spec.column) if c not in labels.columns]
        if missing:
            raise LabelError(f"labels file '{spec.path}' lacks column(s): {', '.join(missing)}")
        table = labels[[spec.on, spec.column]]
        dupes = table[spec.on].duplicated()
        if dupes.any():
            raise LabelError(f"labels file '{spec.path}' has {int(dupes.sum())} duplicate '{spec.on}' key(s)")
        table = table.rename(columns={spec.column: target})
        key_dtype = frame[spec.on].dtype
        table = table.astype({spec.on: key_dtype}) if str(key_dtype) != "category" else table
        frame = frame.merge(table, on=spec.on, how="left", validate="one_to_one")
    has_label = frame[target].notna()
    return frame[has_label].reset_index(drop=True), frame[~has_label].reset_index(drop=True)
