"""The project on disk: its root, its generated params.yaml, and path confinement."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PARAMS_FILE = "params.yaml"
DVC_FILE = "dvc.yaml"
META_KEY = "_driftline"


class ProjectError(Exception):
    """A problem with the project on disk; the message says what to do next."""


def find_root(start: Path | None = None) -> Path:
    """The nearest folder upwards that holds pipelines/ (or a dvc.yaml)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pipelines").is_dir() or (folder / DVC_FILE).is_file():
            return folder
    raise ProjectError(f"no driftline project here ({here}): expected a pipelines/ folder; run from the project root")


def inside_project(root: Path, rel: str | os.PathLike[str]) -> Path | None:
    """Resolve a project-relative path; None when it would leave the project."""
    base = root.resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        return None
    return target


def read_params(root: Path) -> dict[str, Any]:
    import yaml

    path = root / PARAMS_FILE
    if not path.is_file():
        raise ProjectError(f"{PARAMS_FILE} is missing: run `driftline compile` first")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ProjectError(f"{PARAMS_FILE} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProjectError(f"{PARAMS_FILE} must be a mapping; run `driftline compile` to regenerate it")
    return data


def check_compiled(root: Path, params: dict[str, Any]) -> None:
    """Refuse to run stages when conf/ or pipelines/ changed after the last compile."""
    from driftline.config.compose import source_fingerprint

    recorded = (params.get(META_KEY) or {}).get("sources")
    if recorded != source_fingerprint(root):
        raise ProjectError(
            "conf/ or pipelines/ changed after the last compile, so params.yaml and dvc.yaml are stale: "
            "run `driftline compile`, then `dvc repro`"
        )
