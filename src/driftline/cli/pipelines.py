"""The CLI's checks of its arguments that name the project or a pipeline, before any work starts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from driftline.errors import UserConfigError

if TYPE_CHECKING:
    from driftline.registry.store import Registry

PIPELINES_DIR = "pipelines"


def project_folder(project: Path) -> Path:
    """`--project`, resolved: refused unless it is an existing folder (named as given)."""
    root = project.resolve()
    if not root.exists():
        raise UserConfigError(f"--project {project}: no such folder", hint="give the project root (the folder holding conf/ and pipelines/)")
    if not root.is_dir():
        raise UserConfigError(f"--project {project}: is a file, not a folder",
                              hint="give the project root (the folder holding conf/ and pipelines/)")
    return root


def known_pipelines(root: Path) -> list[str]:
    """The project's pipelines: the files in pipelines/ and the pipelines params.yaml was compiled with."""
    from driftline.project import ProjectError, read_params

    names = {path.stem for path in (root / PIPELINES_DIR).glob("*.yaml")}
    try:
        names.update(key for key in read_params(root) if not key.startswith("_"))
    except ProjectError:  # not compiled yet, or damaged: the files in pipelines/ are the answer
        pass
    return sorted(names)


def require_pipeline(root: Path, pipeline: str, *, kept: Path | None = None) -> None:
    """Refuse a pipeline name the project does not know, naming the ones it does.

    `kept`: a folder the pipeline left behind (its registry), which makes the name known even
    after its file was removed from pipelines/.
    """
    if kept is not None and kept.is_dir():
        return
    known = known_pipelines(root)
    if pipeline in known:
        return
    raise UserConfigError(f"no pipeline '{pipeline}' in this project (pipelines: {', '.join(known) or 'none'})",
                          hint="check the name, or add pipelines/<name>.yaml and run `driftline compile`")


def known_registry(registry: Registry) -> Registry:
    """`registry`, when its pipeline is in the project or left a registry behind; else a clear refusal."""
    require_pipeline(registry.root, registry.pipeline, kept=registry.dir)
    return registry
