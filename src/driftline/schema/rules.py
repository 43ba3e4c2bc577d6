"""The schema's rules, declared once: what each column must hold, and what to tell a person when it does not.

`rules_for(spec)` turns the `schema:` config into `SchemaRules`: per column its kind, nullability,
bounds, allowed values and uniqueness, each rule carrying the message a user reads. Two backends
execute them and take their messages from here, never from their own names for a check:

- `driftline.schema.validate` — pandera, for the validate stage (quarantine with reasons);
- `driftline.schema.columnar` — numpy, column-wise, for the serving endpoint.

Both read values into the column's type with the same function (`driftline.schema.read`): the
type rule is code, written once; the other rules are data, checked by both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from driftline.config.groups import SchemaSpec

# One name per rule, in the order a value is checked (at most one reason per value and rule).
RuleName = Literal["type", "not_null", "ge", "le", "isin", "unique"]
RULE_ORDER: tuple[RuleName, ...] = ("type", "not_null", "ge", "le", "isin", "unique")
NUMBER_KINDS = ("float", "int", "binary")

REQUIRED = "field required"
UNEXPECTED = "unexpected field (the schema does not allow extra fields: its extra_columns is error)"
NOT_A_SINGLE_VALUE = "must be a single value, not an object or array"

_TYPE_HINTS = {
    "int": " (a whole number within ±2^63)",
    "binary": " (0 or 1)",
    "bool": " (true or false)",
    "datetime": " (ISO 8601 without a time zone, e.g. 2024-05-01T12:30:00)",
}


@dataclass(frozen=True)
class ColumnRules:
    """Everything one column must satisfy. `allowed` holds the values in the column's own type
    (text for category and string columns), `levels` a category's declared levels."""

    name: str
    kind: str
    nullable: bool
    unique: bool
    ge: float | None
    le: float | None
    allowed: tuple[object, ...] | None

    @property
    def levels(self) -> tuple[str, ...] | None:
        return self.allowed if self.kind == "category" else None  # type: ignore[return-value]

    @property
    def rules(self) -> tuple[RuleName, ...]:
        """The rules this column has, in checking order (`type` always)."""
        present = {"type": True, "not_null": not self.nullable, "ge": self.ge is not None, "le": self.le is not None,
                   "isin": self.allowed is not None, "unique": self.unique}
        return tuple(rule for rule in RULE_ORDER if present[rule])

    def describe(self) -> str:
        """What a value must be, in words (the endpoint's OpenAPI document shows it per field)."""
        parts = [f"{self.kind}{_TYPE_HINTS.get(self.kind, '')}"]
        if self.ge is not None:
            parts.append(f">= {self.ge:g}")
        if self.le is not None:
            parts.append(f"<= {self.le:g}")
        if self.allowed is not None and self.kind != "binary":
            parts.append("one of " + ", ".join(str(v) for v in self.allowed))
        parts.append("may be null" if self.nullable else "not null")
        return "; ".join(parts)

    def message(self, rule: RuleName) -> str:
        """What a person reads when a value of this column breaks `rule`."""
        if rule == "type":
            return f"not a valid {self.kind}{_TYPE_HINTS.get(self.kind, '')}"
        if rule == "not_null":
            return "must not be null"
        if rule == "ge":
            return f"must be >= {self.ge:g}"
        if rule == "le":
            return f"must be <= {self.le:g}"
        if rule == "isin":
            return "must be one of " + ", ".join(str(v) for v in self.allowed or ())
        if rule == "unique":
            return "must be unique (the same value appears more than once)"
        raise ValueError(f"unknown rule {rule!r}")


@dataclass(frozen=True)
class SchemaRules:
    columns: dict[str, ColumnRules]
    extra_columns: str  # keep | drop | error

    def reason(self, column: str, rule: RuleName) -> str:
        """'<column>: <message>', the form of a quarantine reason."""
        return f"{column}: {self.columns[column].message(rule)}"


def column_rules(name: str, kind: str, *, nullable: bool = False, unique: bool = False, ge: float | None = None,
                 le: float | None = None, isin: list[str | int | float] | None = None) -> ColumnRules:
    numeric = kind in NUMBER_KINDS
    if isin is not None:
        # A value is compared in the column's type: text for text columns; for number columns
        # the numbers only (a text level there can never match a number).
        allowed: tuple[object, ...] | None = (
            tuple(str(v) for v in isin) if kind in ("category", "string")
            else tuple(v for v in isin if isinstance(v, (int, float)) and not isinstance(v, bool)) if numeric
            else tuple(isin)
        )
    else:
        allowed = (0, 1) if kind == "binary" else None
    # Bounds are rules on numbers: the config allows them elsewhere, and nothing ever checked them there.
    return ColumnRules(name=name, kind=kind, nullable=nullable, unique=unique,
                       ge=ge if numeric else None, le=le if numeric else None, allowed=allowed)


def rules_for(spec: SchemaSpec) -> SchemaRules:
    """The rules of a `schema:` config."""
    columns = {name: column_rules(name, col.dtype, nullable=col.nullable, unique=col.unique, ge=col.ge, le=col.le,
                                  isin=col.isin)
               for name, col in spec.columns.items()}
    return SchemaRules(columns=columns, extra_columns=spec.extra_columns)
