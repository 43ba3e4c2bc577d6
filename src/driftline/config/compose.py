"""Compose `pipelines/<name>.yaml` against the groups in `conf/` with Hydra's compose API.

This is the only place that reads conf/ and pipelines/. Everything after it works on data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from driftline.config.errors import ConfigProblem
from driftline.errors import UserConfigError
from driftline.project import CONF_DIR, PIPELINES_DIR


@dataclass
class ComposedPipeline:
    """A pipeline's composed config as plain data, and which file each top-level part came from."""

    name: str
    data: dict[str, Any]
    pipeline_file: str
    own_data: dict[str, Any]
    group_files: dict[str, str] = field(default_factory=dict)  # "model" -> "conf/model/lgbm.yaml"

    def file_for(self, path: Sequence[str | int]) -> str:
        """The YAML file that sets the value at `path` (the pipeline file wins over a group file)."""
        from driftline.config.locate import contains

        if contains(self.own_data, path) or not path:
            return self.pipeline_file
        for group in sorted(self.group_files, key=lambda g: -g.count(".")):
            parts = group.split(".")
            if [str(p) for p in path[: len(parts)]] == parts:
                return self.group_files[group]
        return self.pipeline_file


def pipeline_names(root: Path) -> list[str]:
    folder = root / PIPELINES_DIR
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def stray_pipeline_files(root: Path) -> list[str]:
    """YAML files under pipelines/ that are no pipeline: `*.yml`, and any YAML in a subfolder.

    A pipeline is exactly `pipelines/<name>.yaml`; these would be silently skipped otherwise.
    """
    folder = root / PIPELINES_DIR
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*.y*ml") if p.suffix in (".yaml", ".yml") and p.is_file()]
    return sorted(p.relative_to(root).as_posix() for p in found if p.parent != folder or p.suffix != ".yaml")


def _defaults_groups(own: dict[str, Any]) -> dict[str, str]:
    groups: dict[str, str] = {}
    entries = own.get("defaults")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        for key, option in entry.items():
            group = str(key).replace("override ", "").strip().lstrip("/")
            if option is None or group.startswith("hydra"):
                continue
            groups[group.replace("/", ".")] = f"{CONF_DIR}/{group}/{option}.yaml"
    return groups


def compose_pipeline(root: Path, name: str, overrides: Sequence[str] = ()) -> ComposedPipeline:
    """Compose one pipeline. Raises ConfigProblem-carrying ComposeError on Hydra/YAML failures."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    pipeline_file = f"{PIPELINES_DIR}/{name}.yaml"
    path = root / pipeline_file
    if not path.is_file():
        raise ComposeError(ConfigProblem(name, "", "no such pipeline", pipeline_file))
    hostile = _hostile_file(root, [path, *sorted((root / CONF_DIR).rglob("*.y*ml"))])
    if hostile is not None:
        raise ComposeError(ConfigProblem(name, "", hostile[1], hostile[0]))
    try:
        own = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ComposeError(ConfigProblem(name, "", f"not valid YAML: {exc}", pipeline_file)) from exc
    if not isinstance(own, dict):
        raise ComposeError(ConfigProblem(name, "", "must be a mapping of keys", pipeline_file))

    groups = _defaults_groups(own)
    empty = _empty_group_file(root, groups)
    if empty is not None:
        raise ComposeError(ConfigProblem(name, empty[0], f"{empty[1]} is empty, so every key of it would silently take its "
                                         "default; write the keys, or `{}` to take every default on purpose", empty[1]))

    search = f"hydra.searchpath=[file://{(root / CONF_DIR).resolve()}]"
    try:
        with initialize_config_dir(config_dir=str((root / PIPELINES_DIR).resolve()), version_base="1.3"):
            cfg = compose(config_name=name, overrides=[search, *overrides])
        keep_env_references(cfg)
        data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except (HydraException, OmegaConfBaseException, yaml.YAMLError, ValueError, TypeError) as exc:
        # Hydra raises plain ValueError/TypeError for some malformed files (`defaults: 5`, for one).
        key, message = _compose_failure(exc)
        message = message.replace(f"{root.resolve()}/", "")
        key, file = _unparsable_file(root, pipeline_file, groups) or (key, pipeline_file)
        raise ComposeError(ConfigProblem(name, key, message, file)) from exc
    own = {k: v for k, v in own.items() if k != "defaults"}
    return ComposedPipeline(name, data, pipeline_file, own, groups)


def _compose_failure(exc: BaseException) -> tuple[str, str]:
    """(dotted key, message) of a composition failure. Hydra wraps some errors in an exception with no text
    (an unterminated `${...}` in a file it loads): the key and the text come from the causes it wraps."""
    from omegaconf.errors import GrammarParseError

    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__
    key = next((str(e.full_key) for e in chain if getattr(e, "full_key", None)), "")
    grammar = next((e for e in chain if isinstance(e, GrammarParseError)), None)
    if grammar is not None:
        detail = " ".join(str(grammar).split("\n", 1)[0].split())
        return key, (f"cannot parse the interpolation ({detail}); write it as ${{other.key}} or ${{resolver:argument}}, "
                     "closed by '}', or escape a literal as \\${")
    text = next((" ".join(str(e).split()) for e in chain if str(e).strip()), type(exc).__name__)
    return key, text


def _unparsable_file(root: Path, pipeline_file: str, groups: dict[str, str]) -> tuple[str, str] | None:
    """(dotted key in the composed config, file) of the first value holding an interpolation OmegaConf cannot parse.

    Hydra loads each file alone, so its error names the key inside that file and not the file: load them
    here one by one to tell which. None when each file parses (the failure is elsewhere)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import GrammarParseError, OmegaConfBaseException

    for prefix, rel in [("", pipeline_file), *((f"{group}.", file) for group, file in sorted(groups.items()))]:
        try:
            OmegaConf.load(root / rel)
        except GrammarParseError as exc:
            return prefix + str(getattr(exc, "full_key", "") or "").lstrip("."), rel
        except (OmegaConfBaseException, OSError, yaml.YAMLError, ValueError, TypeError):
            continue
    return None


def _empty_group_file(root: Path, groups: dict[str, str]) -> tuple[str, str] | None:
    """(group, file) of the first config group file the pipeline composes that holds nothing (no bytes, only comments, `null`)."""
    for group, rel in sorted(groups.items()):
        path = root / rel
        if not path.is_file():
            continue  # Hydra names a missing option
        try:
            if yaml.safe_load(path.read_text(encoding="utf-8")) is None:
                return group, rel
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue  # Hydra names the file and the error
    return None


#: Keys whose `${oc.env:VAR}` references stay unresolved in params.yaml: the stage that reads the key resolves
#: them (`driftline.config.params.resolve_env`), so a password from the environment is never written down.
ENV_RESOLVED_AT_RUN = ("dataset.source.url",)


def keep_env_references(cfg: Any) -> None:
    """Escape the `${oc.env:...}` interpolations of `ENV_RESOLVED_AT_RUN`, so resolving the config keeps them as text."""
    from omegaconf import DictConfig, OmegaConf, open_dict, read_write

    for dotted in ENV_RESOLVED_AT_RUN:
        parent, _, key = dotted.rpartition(".")
        node = OmegaConf.select(cfg, parent, default=None)
        if not isinstance(node, DictConfig) or key not in node:
            continue
        raw = node._get_node(key)._value()  # the text as written, interpolations unresolved
        if isinstance(raw, str) and "${oc.env:" in raw:
            with read_write(node), open_dict(node):
                node[key] = raw.replace("\\${oc.env:", "${oc.env:").replace("${oc.env:", "\\${oc.env:")


def _hostile_file(root: Path, files: Sequence[Path]) -> tuple[str, str] | None:
    """(file, message) for the first of `files` no YAML library should build: too large, not UTF-8,
    nested too deep or expanding too far through aliases (`driftline.yamlguard`)."""
    from driftline.yamlguard import check_yaml_file

    for file in files:
        problem = check_yaml_file(file) if file.is_file() else None
        if problem is not None:
            rel = file.relative_to(root).as_posix()
            return rel, f"{rel} {problem}"
    return None


class ComposeError(UserConfigError):
    def __init__(self, problem: ConfigProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))
