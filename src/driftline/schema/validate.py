"""Validate a frame against the YAML schema with pandera; split good rows from quarantined ones.

Coercion is done here column by column, so a value that cannot become the declared type is a
row-level failure with a reason (quarantined), not a crash. pandera then checks the rules
(nullability, ranges, allowed values, uniqueness) lazily, reporting every failing row at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from driftline.config.groups import ColumnSpec, SchemaSpec

REASON = "_reasons"


class SchemaViolation(Exception):
    """The frame as a whole does not fit the schema (missing or unexpected columns)."""


@dataclass
class ValidationOutcome:
    valid: pd.DataFrame
    quarantine: pd.DataFrame
    failures: dict[str, int] = field(default_factory=dict)  # "column: check" -> rows

    @property
    def bad_share(self) -> float:
        total = len(self.valid) + len(self.quarantine)
        return len(self.quarantine) / total if total else 0.0


def _coerce(series: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """(coerced series, mask of rows whose non-missing value could not be coerced)."""
    present = series.notna()
    kind = spec.dtype
    if kind in ("float", "int", "binary"):
        values = pd.to_numeric(series, errors="coerce")
        if kind == "float":
            values = values.astype("float64")
        else:
            integral = values.isna() | (values == np.floor(values))
            values = values.where(integral)
            values = values.astype("Float64").astype("Int64") if len(values) else values.astype("Int64")
    elif kind == "bool":
        mapping = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}  # 1 == True, 0 == False
        values = series.map(lambda v: mapping.get(v.lower() if isinstance(v, str) else v, pd.NA) if pd.notna(v) else pd.NA)
        values = values.astype("boolean")
    elif kind == "datetime":
        values = pd.to_datetime(series, errors="coerce").astype("datetime64[ns]")
    else:  # category, string
        values = series.astype("string")
    bad = present & values.isna()
    return values, bad


def pandera_schema(spec: SchemaSpec):  # -> pandera.pandas.DataFrameSchema
    """The pandera schema for already-coerced columns."""
    import pandera.pandas as pa

    columns = {}
    for name, col in spec.columns.items():
        checks = []
        if col.ge is not None:
            checks.append(pa.Check.ge(col.ge))
        if col.le is not None:
            checks.append(pa.Check.le(col.le))
        allowed = col.isin if col.isin is not None else ([0, 1] if col.dtype == "binary" else None)
        if allowed is not None:
            values = [str(v) for v in allowed] if col.dtype in ("category", "string") else allowed
            checks.append(pa.Check.isin(values))
        columns[name] = pa.Column(nullable=col.nullable, unique=col.unique, checks=checks, required=True)
    return pa.DataFrameSchema(columns, strict=False)


def validate_frame(df: pd.DataFrame, spec: SchemaSpec) -> ValidationOutcome:
    """Coerce and check every row; never drop a row silently."""
    import pandera.errors as pa_errors

    missing = [c for c in spec.columns if c not in df.columns]
    extra = [c for c in df.columns if c not in spec.columns]
    if missing:
        raise SchemaViolation(f"columns missing from the data: {', '.join(missing)}")
    if extra and spec.extra_columns == "error":
        raise SchemaViolation(f"columns not in the schema: {', '.join(extra)} (set schema.extra_columns: drop or keep)")
    frame = df.reset_index(drop=True)
    reasons = pd.Series("", index=frame.index, dtype="object")
    failures: dict[str, int] = {}

    def flag(mask: pd.Series, reason: str) -> None:
        if mask.any():
            reasons[mask] = reasons[mask] + reason + "; "
            failures[reason] = failures.get(reason, 0) + int(mask.sum())

    coerced = {}
    unreadable: dict[str, pd.Series] = {}
    for name, col in spec.columns.items():
        values, bad = _coerce(frame[name], col)
        flag(bad, f"{name}: not a valid {col.dtype}")
        coerced[name] = values
        unreadable[name] = bad
    checked = pd.DataFrame(coerced, index=frame.index)
    try:
        pandera_schema(spec).validate(checked, lazy=True)
    except pa_errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        for (column, check), group in cases.groupby(["column", "check"], sort=True):
            mask = pd.Series(frame.index.isin(group["index"].astype("int64")), index=frame.index)
            # values already rejected by coercion show up as nulls; keep one reason per row and column
            flag(mask & ~unreadable[column], f"{column}: {check}")
    bad_rows = reasons != ""
    keep = [*spec.columns, *(extra if spec.extra_columns == "keep" else [])]
    good = checked.join(frame[[c for c in keep if c not in spec.columns]])[keep]
    # categories only for good rows: a bad row's value is outside the levels by definition
    good = good[~bad_rows].reset_index(drop=True)
    for name, col in spec.columns.items():
        if col.dtype == "category":
            levels = [str(v) for v in col.isin] if col.isin is not None else sorted(good[name].dropna().unique())
            good[name] = pd.Categorical(good[name], categories=levels)
    quarantine = frame[bad_rows].copy()
    quarantine = quarantine.astype({c: "string" for c in quarantine.columns if quarantine[c].dtype == object})
    quarantine[REASON] = reasons[bad_rows].str.rstrip("; ").astype("string")
    return ValidationOutcome(good, quarantine.reset_index(drop=True), failures)
