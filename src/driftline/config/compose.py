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

CONF_DIR = "conf"
PIPELINES_DIR = "pipelines"


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


def _defaults_groups(own: dict[str, Any]) -> dict[str, str]:
    groups: dict[str, str] = {}
    for entry in own.get("defaults") or []:
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
    try:
        own = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ComposeError(ConfigProblem(name, "", f"not valid YAML: {exc}", pipeline_file)) from exc
    if not isinstance(own, dict):
        raise ComposeError(ConfigProblem(name, "", "must be a mapping of keys", pipeline_file))

    search = f"hydra.searchpath=[file://{(root / CONF_DIR).resolve()}]"
    try:
        with initialize_config_dir(config_dir=str((root / PIPELINES_DIR).resolve()), version_base="1.3"):
            cfg = compose(config_name=name, overrides=[search, *overrides])
        data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except (HydraException, OmegaConfBaseException, yaml.YAMLError) as exc:
        message = " ".join(str(exc).split()).replace(f"{root.resolve()}/", "")
        key = getattr(exc, "full_key", "") or ""
        raise ComposeError(ConfigProblem(name, str(key), message, pipeline_file)) from exc
    own = {k: v for k, v in own.items() if k != "defaults"}
    return ComposedPipeline(name, data, pipeline_file, own, _defaults_groups(yaml.safe_load(path.read_text()) or {}))


def source_fingerprint(root: Path) -> str:
    """SHA-256 over every YAML file under conf/ and pipelines/: what `compile` rendered from."""
    import hashlib

    digest = hashlib.sha256()
    for folder in (CONF_DIR, PIPELINES_DIR):
        base = root / folder
        if not base.is_dir():
            continue
        for file in sorted(base.rglob("*.yaml")) + sorted(base.rglob("*.yml")):
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(b"\0")
            digest.update(file.read_bytes().replace(b"\r\n", b"\n"))
            digest.update(b"\0")
    return digest.hexdigest()


class ComposeError(Exception):
    def __init__(self, problem: ConfigProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))
