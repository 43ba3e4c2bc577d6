"""The compiler's edge: read the project, compile, and write (or check) dvc.yaml and params.yaml.

In a DVC repository whose pipelines monitor drift it also writes the drift history's plot templates
to `.dvc/plots/` (where `dvc plots show` finds a template by name), and checks them with the rest.

`--check` compares meaning, not text: each file is parsed (safe YAML, or JSON for the templates) and
compared as data, because `dvc exp apply` and `-S` re-dump params.yaml in DVC's own YAML style. A
file equal in meaning is only *reformatted*; a file whose data differs is *changed*, and the diff
names each changed key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from driftline import __version__
from driftline.atomic import write_text
from driftline.config.errors import ConfigError
from driftline.project import DVC_FILE, META_KEY, PARAMS_FILE

#: DVC's folder of custom plot templates (`dvc plots show` looks there for a template's name).
PLOT_TEMPLATES_DIR = ".dvc/plots"


@dataclass
class CompileResult:
    files: dict[str, str]  # file name -> rendered text
    pipelines: list[str]
    stages: int


def render_project(root: Path) -> CompileResult:
    """Compose, check and render everything; raise ConfigError with every problem; write nothing."""
    from driftline.compile.graph import check_graph, compile_project
    from driftline.compile.render import render_dvc_yaml, render_params_yaml
    from driftline.config.load import load_all
    from driftline.project import source_fingerprint

    configs = load_all(root)
    dvc, params = compile_project(configs)
    problems = check_graph(dvc["stages"])
    if problems:
        raise ConfigError(problems)
    files = {
        DVC_FILE: render_dvc_yaml(dvc),
        PARAMS_FILE: render_params_yaml(params, source_fingerprint(root), __version__),
    }
    # Only inside a DVC repository: creating .dvc/ here would make a later `dvc init` refuse.
    if (root / ".dvc").is_dir() and any(cfg.monitor is not None for cfg in configs.values()):
        files.update(drift_plot_templates())
    return CompileResult(files, sorted(configs), len(dvc["stages"]))


def _on_disk(root: Path, name: str) -> str:
    path = root / name
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def stale_files(root: Path, result: CompileResult) -> list[str]:
    """The rendered files whose text on disk differs from what compile would write (missing ones too)."""
    return [name for name, text in result.files.items() if not (root / name).is_file() or _on_disk(root, name) != text]


def write_project(root: Path, result: CompileResult) -> list[str]:
    """Write the rendered files that differ from disk; returns the names written."""
    written = stale_files(root, result)
    for name in written:
        write_text(root / name, result.files[name])
    return written


class _Unreadable:
    """What a file on disk that cannot be parsed compares as: equal to nothing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _as_data(name: str, text: str) -> Any:
    """The data a generated file holds: JSON for .json, safe YAML otherwise."""
    import yaml

    try:
        if name.endswith(".json"):
            return json.loads(text)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (ValueError, yaml.YAMLError) as exc:
        return _Unreadable(f"not valid {'JSON' if name.endswith('.json') else 'YAML'} ({str(exc).splitlines()[0]})")


@dataclass(frozen=True)
class Staleness:
    """How the files on disk compare with what compile would write, each file read and parsed once."""

    #: Files whose data differs (missing and unparsable ones too).
    changed: list[str]
    #: Files equal in meaning but not in text (e.g. params.yaml re-dumped by DVC).
    reformatted: list[str]
    #: One line per changed key, e.g. `credit.model.params.num_leaves: 31 -> 63 (params.yaml)`; '' when current.
    diff: str


def staleness(root: Path, result: CompileResult) -> Staleness:
    """Compare each stale file's data with the compiled data (formatting and key order are ignored)."""
    changed, reformatted, lines = [], [], []
    for name in stale_files(root, result):
        if not (root / name).is_file():
            changed.append(name)
            lines.append(f"{name}: missing")
            continue
        on_disk, compiled = _as_data(name, _on_disk(root, name)), _as_data(name, result.files[name])
        if on_disk == compiled:
            reformatted.append(name)
            continue
        changed.append(name)
        if isinstance(on_disk, _Unreadable):
            lines.append(f"{name}: {on_disk.reason}")
            continue
        changes = _key_changes(on_disk, compiled)
        # The compile fingerprint is a hash: say what its change means, after the values that matter.
        meta = [line for line in changes if line.startswith(f"{META_KEY}.")]
        lines.extend(f"{line} ({name})" for line in changes if line not in meta)
        lines.extend(f"{line.split(':')[0]}: {SOURCES_CHANGED} ({name})" if line.startswith(f"{META_KEY}.sources:")
                     else f"{line} ({name})" for line in meta)
    return Staleness(changed, reformatted, "".join(f"{line}\n" for line in lines))


_ABSENT = object()
SOURCES_CHANGED = "changed (conf/ or pipelines/ differ from the last compile)"


def _key_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """`key.path: old -> new` for every leaf that differs; mappings are walked, anything else is one value."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(old.keys() | new.keys(), key=str):
            changes.extend(_key_changes(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{path}.{key}" if path else str(key)))
        return changes
    if old == new:
        return []
    if old is _ABSENT:
        return [f"{path}: added {_shown_value(new)}"]
    if new is _ABSENT:
        return [f"{path}: removed (was {_shown_value(old)})"]
    return [f"{path or '(whole file)'}: {_shown_value(old)} -> {_shown_value(new)}"]


def _shown_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def drift_plot_templates() -> dict[str, str]:
    """Project-relative path -> text of each drift history plot template (`graph.DRIFT_PLOTS`).

    One Vega-Lite spec (compile/templates/drift_history.json) specialised per plot: the signals it
    draws go into its filter, and its legends keep only the series and verdicts that plot can show.
    Deterministic text, so `--check` can compare it.
    """
    from driftline.compile.graph import DRIFT_PLOTS, drift_plot_template

    base = json.loads(resources.files("driftline.compile").joinpath("templates/drift_history.json").read_text(encoding="utf-8"))
    texts = {}
    for plot, (signals, _) in DRIFT_PLOTS.items():
        spec = json.loads(json.dumps(base))
        (signal_filter,) = [step for step in spec["transform"] if "filter" in step]
        signal_filter["filter"]["oneOf"] = list(signals)
        for layer in spec["spec"]["layer"]:
            for channel, encoding in layer["encoding"].items():
                if "scale" in encoding and "domain" in encoding["scale"]:
                    _keep_in_scale(encoding, _shown(channel, encoding["field"], signals))
        texts[f"{PLOT_TEMPLATES_DIR}/{drift_plot_template(plot)}.json"] = json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
    return texts


def _shown(channel: str, field: str, signals: tuple[str, ...]) -> set[str]:
    """The values of a scale's field that a plot of `signals` can hold."""
    if field == "signal":
        return set(signals)
    if "decision" in signals:
        return {"drifted", "holding", "no verdict", "retrain", "no retrain", "not evaluated", "rejected"}
    return {"drifted", "holding", "no verdict"}


def _keep_in_scale(encoding: dict, shown: set[str]) -> None:
    scale = encoding["scale"]
    kept = [(value, out) for value, out in zip(scale["domain"], scale["range"]) if value in shown]
    scale["domain"], scale["range"] = [v for v, _ in kept], [o for _, o in kept]
    if len(kept) == 1:
        encoding["legend"] = None  # one series needs no key
