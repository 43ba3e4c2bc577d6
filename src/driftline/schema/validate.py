"""The pandera backend: validate a frame against the schema's rules; split good rows from quarantined ones.

Every value is first read into its column's type (`driftline.schema.read`, the type rule the
endpoint shares), so a value that cannot be read is a row-level failure with a reason, not a
crash. pandera then checks the other rules (`driftline.schema.rules`) lazily, reporting every
failing row at once. Each check is named for its rule and carries the rule's own message, and
the quarantine reasons are "<column>: <message>" — the same words the endpoint answers with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftline.config.groups import SchemaSpec
from driftline.errors import DriftlineError
from driftline.schema.read import Read, has_text_levels, read_column
from driftline.schema.rules import REQUIRED, UNEXPECTED, ColumnRules, SchemaRules, rules_for

REASON = "_reasons"


class SchemaViolation(DriftlineError):
    """The frame as a whole does not fit the schema (missing or unexpected columns).

    `problems` holds (column, message) pairs, in the words the endpoint uses for a field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems),
                         hint="set schema.extra_columns to drop or keep to allow extra columns"
                         if any(message == UNEXPECTED for _, message in problems) else None)


@dataclass
class ValidationOutcome:
    valid: pd.DataFrame
    quarantine: pd.DataFrame
    failures: dict[str, int] = field(default_factory=dict)  # "column: message" -> rows
    bad_rows: np.ndarray | None = None  # per input row (in order): True where it went to quarantine

    @property
    def bad_share(self) -> float:
        total = len(self.valid) + len(self.quarantine)
        return len(self.quarantine) / total if total else 0.0


def pandera_schema(rules: SchemaRules) -> Any:  # -> pandera.pandas.DataFrameSchema
    """The pandera schema for columns already read into their types: one named check per rule,
    each with the rule's message as its error (nulls and uniqueness included, so no reason ever
    comes from pandera's own names for a check)."""
    import pandera.pandas as pa

    columns = {}
    for name, col in rules.columns.items():
        checks = []
        for rule in col.rules:
            message = col.message(rule)
            if rule == "not_null":
                checks.append(pa.Check(_present, ignore_na=False, name=rule, error=message))
            elif rule == "ge":
                checks.append(pa.Check.ge(col.ge, name=rule, error=message))
            elif rule == "le":
                checks.append(pa.Check.le(col.le, name=rule, error=message))
            elif rule == "isin":
                checks.append(pa.Check.isin(list(col.allowed or ()), name=rule, error=message))
            elif rule == "unique":
                checks.append(pa.Check(_no_copies, ignore_na=False, name=rule, error=message))
        columns[name] = pa.Column(nullable=True, checks=checks, required=True)
    return pa.DataFrameSchema(columns, strict=False)


def _present(series: pd.Series) -> pd.Series:
    return series.notna()


def _no_copies(series: pd.Series) -> pd.Series:
    return ~series.duplicated(keep=False) | series.isna()


def frame_problems(columns: list[str], rules: SchemaRules) -> list[tuple[str, str]]:
    """Columns missing, and columns the schema forbids, as (column, message)."""
    problems = [(name, REQUIRED) for name in rules.columns if name not in columns]
    if rules.extra_columns == "error":
        problems += [(name, UNEXPECTED) for name in columns if name not in rules.columns]
    return problems


def validate_frame(df: pd.DataFrame, spec: SchemaSpec | SchemaRules) -> ValidationOutcome:
    """Read and check every row; never drop a row silently."""
    import pandera.errors as pa_errors

    rules = spec if isinstance(spec, SchemaRules) else rules_for(spec)
    problems = frame_problems(list(df.columns), rules)
    if problems:
        raise SchemaViolation(problems)
    extra = [c for c in df.columns if c not in rules.columns]
    frame = df.reset_index(drop=True)
    broken: dict[tuple[str, str], np.ndarray] = {}  # (column, rule) -> rows that break it
    read: dict[str, Read] = {}
    for name, col in rules.columns.items():
        read[name] = read_column(frame[name], col.kind)
        broken[name, "type"] = read[name].unreadable
    checked = pd.DataFrame({name: r.values for name, r in read.items()}, index=frame.index)
    try:
        pandera_schema(rules).validate(checked, lazy=True)
    except pa_errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        rule_of = {(name, col.message(rule)): rule for name, col in rules.columns.items() for rule in col.rules}
        for (column, message), group in cases.groupby(["column", "check"], sort=False):
            rows = np.zeros(len(frame), dtype=bool)
            rows[group["index"].astype("int64").to_numpy()] = True
            # values already refused by the type rule are nulls here: one reason per value
            broken[column, rule_of[column, message]] = rows & ~read[column].unreadable
    reasons, failures = _reasons(broken, rules, len(frame))
    bad_rows = reasons != ""
    keep = [*rules.columns, *(extra if rules.extra_columns == "keep" else [])]
    good = checked.join(frame[[c for c in keep if c not in rules.columns]])[keep]
    good = good[~bad_rows].reset_index(drop=True)
    for name, col in rules.columns.items():
        if col.kind == "category":
            good[name] = _categorical(good[name], col, frame[name][~bad_rows].reset_index(drop=True))
    quarantine = frame[bad_rows].copy()
    quarantine = quarantine.astype({c: "string" for c in quarantine.columns if quarantine[c].dtype == object})
    quarantine[REASON] = pd.array(reasons[bad_rows], dtype="string")
    return ValidationOutcome(good, quarantine.reset_index(drop=True), failures, bad_rows)


def _categorical(values: pd.Series, col: ColumnRules, given: pd.Series) -> pd.Categorical:
    """The declared levels, or (none declared) those of the good rows: a bad row's value is no level.

    `given`: the same rows as they came; a category column with text levels is recoded by its
    codes (its levels are the text `values` holds), without hashing every value again."""
    levels = list(col.levels) if col.levels is not None else sorted(values.dropna().unique())
    if has_text_levels(given.dtype):
        return pd.Categorical(given).set_categories(levels)
    return pd.Categorical(values, categories=levels)


def _reasons(broken: dict[tuple[str, str], np.ndarray], rules: SchemaRules, n: int) -> tuple[np.ndarray, dict[str, int]]:
    """Each row's reasons ('; '-joined, "" for a good row) and the rows per reason, in the
    schema's column order and each column's rule order, as the endpoint lists its errors."""
    parts: dict[int, list[str]] = {}
    failures: dict[str, int] = {}
    for name, col in rules.columns.items():
        for rule in col.rules:
            rows = broken.get((name, rule))
            if rows is None or not rows.any():
                continue
            reason = f"{name}: {col.message(rule)}"
            failures[reason] = int(rows.sum())
            for i in np.flatnonzero(rows).tolist():
                parts.setdefault(i, []).append(reason)
    out = np.full(n, "", dtype=object)
    for i, reasons in parts.items():
        out[i] = "; ".join(reasons)
    return out, failures
