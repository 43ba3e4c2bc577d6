"""Turn a pydantic error location into a readable key path, and find the YAML file behind it."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

Loc = Sequence[str | int]


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated / Optional wrappers down to the interesting type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return []


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field.annotation
    return None


def clean_loc(root: type[BaseModel], loc: Loc) -> tuple[list[str | int], type[BaseModel] | None]:
    """Drop the discriminator tags pydantic inserts into locations of tagged unions.

    Returns the cleaned path and the model that owns the last key (for suggestions).
    """
    path: list[str | int] = []
    current: Any = root
    owner: type[BaseModel] | None = root
    items = list(loc)
    i = 0
    while i < len(items):
        item = items[i]
        current = _unwrap(current)
        members = _union_members(current)
        if members:
            # a tagged union: the next item is the tag value; pick the member it names
            chosen = None
            for member in members:
                kind = member.model_fields.get("kind")
                if kind is not None and item in typing.get_args(kind.annotation):
                    chosen = member
            if chosen is not None:
                current = chosen
                i += 1
                continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            owner = current
            path.append(item)
            current = _field_by_key(current, str(item))
        elif typing.get_origin(current) in (list, tuple) and isinstance(item, int):
            path.append(item)
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) in (dict, Mapping):
            path.append(item)
            current = typing.get_args(current)[1]
        else:
            path.append(item)
            current = None
        i += 1
    return path, owner


def validation_messages(root: type[BaseModel], prefix: str, error: Any) -> list[str]:
    """`<prefix>.<key path>: <message>` for each problem of a pydantic ValidationError on `root`."""
    return [f"{prefix}.{dotted(clean_loc(root, item['loc'])[0])}: {item['msg']}" for item in error.errors(include_url=False)]


def dotted(path: Loc) -> str:
    out = ""
    for item in path:
        out += f"[{item}]" if isinstance(item, int) else (f".{item}" if out else str(item))
    return out


def suggest(owner: type[BaseModel] | None, key: str) -> str:
    if owner is None:
        return ""
    names = [f.alias or n for n, f in owner.model_fields.items()]
    close = difflib.get_close_matches(key, names, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(sorted(names))


def contains(data: Any, path: Loc) -> bool:
    """True when `data` (plain YAML data) has a value at `path`."""
    for item in path:
        if isinstance(data, Mapping) and item in data:
            data = data[item]
        elif isinstance(data, list) and isinstance(item, int) and 0 <= item < len(data):
            data = data[item]
        else:
            return False
    return True


def value_at(data: Any, dotted: str, default: Any = None) -> Any:
    """The value at a dotted key path ('credit.model.params.num_leaves') of nested mappings."""
    node = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node
