"""Bounds on a YAML file driftline reads (conf/, pipelines/, params.yaml) before any library builds it:
size, UTF-8, nesting, alias expansion.

Hydra and OmegaConf build whatever a YAML file describes. A 1 KB file of nested aliases (the
"billion laughs") expands to millions of nodes and never finishes composing; 20,000 nested lists
overflow the recursive composer. `check_yaml_file` reads the parser's event stream instead
(libyaml's C parser where PyYAML has it), which builds nothing: it counts nesting depth and the
nodes the file would expand to, each alias counting the whole subtree it names, and stops at the
first limit crossed. So a hostile file is one clear error naming it, within a second.
"""

from __future__ import annotations

from pathlib import Path

import yaml

MAX_BYTES = 1 << 20  # 1 MiB: a config file, not a data file
MAX_DEPTH = 64  # mappings and sequences inside each other
MAX_NODES = 100_000  # scalars and collections after expanding every alias

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_cache: dict[tuple[str, int, int], str | None] = {}


def yaml_problem(text: str) -> str | None:
    """Why `text` is refused before it is built (nesting, alias expansion, syntax), or None."""
    sizes: dict[str, int] = {}  # anchor -> the nodes its subtree expands to
    open_counts: list[int] = [0]  # nodes so far in each open collection
    open_anchors: list[str | None] = []
    total = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                if len(open_anchors) >= MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark else "?"
                    return f"is nested more than {MAX_DEPTH} levels deep (line {line}): flatten it"
                open_counts.append(0)
                open_anchors.append(event.anchor)
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                size = open_counts.pop() + 1
                anchor = open_anchors.pop()
                if anchor is not None:
                    sizes[anchor] = size
                open_counts[-1] += size
                added = 1
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                open_counts[-1] += 1
                added = 1
            elif isinstance(event, yaml.AliasEvent):
                added = sizes.get(event.anchor, 1)
                open_counts[-1] += added
            else:
                continue
            total += added
            if total > MAX_NODES:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                return (f"expands to more than {MAX_NODES:,} values (line {line}: aliases repeat what they name): "
                        "write the values out, or split the file")
    except yaml.YAMLError as exc:
        return f"is not valid YAML: {' '.join(str(exc).split())}"
    return None


def check_yaml_file(path: Path) -> str | None:
    """Why the file at `path` cannot be a config file (too large, not UTF-8, see `yaml_problem`), or None.

    Answers are remembered per (path, modification time, size), so a compile that composes many
    pipelines over the same group files reads each once.
    """
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _cache:
        return _cache[key]
    if stat.st_size > MAX_BYTES:
        problem: str | None = f"is {stat.st_size:,} bytes; a config file may have {MAX_BYTES:,} at most"
    else:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        else:
            problem = yaml_problem(text)
    _cache[key] = problem
    return problem
