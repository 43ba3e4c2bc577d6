"""The project on disk: its root, its generated params.yaml, the compile fingerprint, path confinement."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from driftline.errors import DriftlineError

PARAMS_FILE = "params.yaml"
DVC_FILE = "dvc.yaml"
META_KEY = "_driftline"
CONF_DIR = "conf"
PIPELINES_DIR = "pipelines"


class ProjectError(DriftlineError):
    """A problem with the project on disk; the message says what to do next."""


class OutsideProjectError(ProjectError):
    """A configured path leads outside the project (by `..`, an absolute path or a symlink)."""


def find_root(start: Path | None = None) -> Path:
    """The nearest folder upwards that holds pipelines/ (or a dvc.yaml)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PIPELINES_DIR).is_dir() or (folder / DVC_FILE).is_file():
            return folder
    raise ProjectError(f"no driftline project here ({here}): expected a pipelines/ folder; run from the project root")


def confine(root: Path, rel: str | os.PathLike[str], what: str = "path") -> Path:
    """The absolute path of `rel` (relative to `root`, or absolute), which must stay inside the project.

    The one path rule: the path is resolved with every symlink followed, and the real target must lie
    inside the (real) project root. So `..`, an absolute path elsewhere, and a file swapped for a symlink
    that points outside are all refused, whenever they are checked (at compile and again when read).
    """
    if not isinstance(rel, (str, os.PathLike)) or not str(rel).strip():
        raise OutsideProjectError(f"{what}: path must be a non-empty string, got {rel!r}")
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise OutsideProjectError(
            f"{what}: {os.fspath(rel)!r} leads outside the project ({base})",
            hint="keep data inside the project folder (copy it in, or track it with `dvc add` / `dvc import`)",
        )
    return target


def inside_project(root: Path, rel: str | os.PathLike[str]) -> Path | None:
    """`confine` as a question: the resolved path, or None when it would leave the project."""
    try:
        return confine(root, rel)
    except OutsideProjectError:
        return None


def outside_project(root: Path, rel: str | os.PathLike[str]) -> str | None:
    """`confine`'s message when `rel` leads outside the project (symlinks followed), else None: for checks that
    collect problems, so a path outside is reported as outside, not as missing."""
    try:
        confine(root, rel)
    except OutsideProjectError as exc:
        return str(exc).removeprefix("path: ")
    return None


def project_file_exists(root: Path, rel: str | os.PathLike[str], *, folder: bool = False) -> bool:
    """Whether `rel` is a file (or, with `folder`, a file or folder) inside the project (the compile-time check of configured paths)."""
    target = inside_project(root, rel)
    return target is not None and (target.is_file() or (folder and target.is_dir()))


def source_fingerprint(root: Path) -> str:
    """SHA-256 over every YAML file under conf/ and pipelines/: what `compile` rendered from."""
    from driftline.hashing import fingerprint_tree

    return fingerprint_tree(root, (CONF_DIR, PIPELINES_DIR), ("*.yaml", "*.yml"))


def read_params(root: Path) -> dict[str, Any]:
    import yaml

    path = root / PARAMS_FILE
    if not path.is_file():
        raise ProjectError(f"{PARAMS_FILE} is missing", hint="run `driftline compile` first")
    from driftline.yamlguard import check_yaml_file

    problem = check_yaml_file(path)
    if problem is not None:
        raise ProjectError(f"{PARAMS_FILE} {problem}", hint="run `driftline compile` to regenerate it")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{PARAMS_FILE} is not valid YAML: {exc}", hint="run `driftline compile` to regenerate it") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{PARAMS_FILE} must be a mapping", hint="run `driftline compile` to regenerate it")
    return data


def check_compiled(root: Path, params: dict[str, Any]) -> None:
    """Refuse to run stages when conf/ or pipelines/ changed after the last compile."""
    meta = params.get(META_KEY)
    recorded = meta.get("sources") if isinstance(meta, dict) else None
    if recorded != source_fingerprint(root):
        raise ProjectError(
            "conf/ or pipelines/ changed after the last compile, so params.yaml and dvc.yaml are stale",
            hint="run `driftline compile`, then `dvc repro`",
        )
