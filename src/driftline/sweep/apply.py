"""Write a sweep's winning values into the pipeline's YAML as a minimal diff.

Round-trips the file with ruamel.yaml, so comments, key order and flow style survive; only keys
whose composed value differs from the winner's are written, under the pipeline file's own keys
(which override the groups it composes, as `_self_` comes last in its defaults list).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from driftline.config.locate import value_at
from driftline.errors import DriftlineError

MISSING = object()


class ApplyError(DriftlineError):
    """The winner cannot be written into the pipeline file; the message says why."""


def lookup(data: Mapping[str, Any], key: str) -> Any:
    return value_at(data, key, MISSING)


def changes(values: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The winner's values that differ from the currently composed config."""
    return {key: value for key, value in values.items() if lookup(current, key) != value}


def apply_values(text: str, values: Mapping[str, Any]) -> str:
    """`text` (a pipeline YAML) with each dotted key set to its value; everything else unchanged."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.util import load_yaml_guess_indent

    # Keep the file's own sequence style (`  - item` vs `- item`); mappings are indented by 2.
    _, _, block_seq_indent = load_yaml_guess_indent(text)
    offset = block_seq_indent or 0
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2 + offset, offset=offset)
    data = yaml.load(text) or CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ApplyError("the pipeline file must be a mapping of keys")
    for key, value in values.items():
        parts = key.split(".")
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = CommentedMap()
                node[part] = child
            elif not isinstance(child, dict):
                raise ApplyError(f"cannot set {key}: '{part}' is not a mapping in the pipeline file")
            node = child
        node[parts[-1]] = value
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
