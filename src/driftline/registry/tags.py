"""GTO tags that mirror the registry: `credit@v0.0.3` per registered version, `credit#prod#N` per champion.

GTO, DVC Studio and `dvc artifacts get` read a model registry from git tags. driftline's registry
(registry/<p>/: versions, champion pointer, history) stays the source of truth the endpoint
hot-swaps on; this module writes the same events as GTO tags through gto's API, so `gto show`
lists every version and the champion.

A version is registered inside `dvc repro`, before you commit. Its tag therefore points at a
snapshot commit: HEAD's tree plus the workspace's dvc.yaml, dvc.lock, params.yaml and
registry/<p>/ (manifests, `.dvc` pointers, champion, history), with HEAD as parent and on no
branch, like DVC's own experiment commits. At that commit dvc.lock records the trained model, so
`dvc artifacts get . credit --version v0.0.3` fetches exactly that version's model.txt.

Tags mirror the registry; if one cannot be written (no git, no commits to parent on, a gto
error), the registry event stands and a warning names the `gto` command to run by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from driftline.paths import PipelinePaths
from driftline.registry.binaries import pointer_md5
from driftline.registry.store import EventListener, parse_version
from driftline.snapshot import DRIFTLINE_IDENTITY, git, has_identity, snapshot

CHAMPION_STAGE = "prod"
SNAPSHOT_FILES = ("dvc.yaml", "dvc.lock", "params.yaml")


class TagError(Exception):
    """Why a tag was not written (shown in the warning, never raised to the user)."""


def gto_version(version: str) -> str:
    """driftline's v0003 as a GTO (semver) version: v0.0.3."""
    return f"v0.0.{parse_version(version)}"


def snapshot_commit(root: Path, pipeline: str, message: str) -> str:
    """A commit of HEAD plus the workspace's pipeline files and registry/<pipeline>/, on no branch."""
    if Path(git(root, "rev-parse", "--show-toplevel")).resolve() != Path(root).resolve():
        raise TagError("the project is not at the root of its git repository")
    paths = [p for p in (*SNAPSHOT_FILES, f"registry/{pipeline}") if (Path(root) / p).exists()]
    return snapshot(root, message, paths=paths)


def _author(root: Path) -> dict[str, str]:
    """gto's author arguments: none (git's own identity) or driftline's when git has none."""
    if has_identity(root):
        return {}
    return {"author": DRIFTLINE_IDENTITY["GIT_AUTHOR_NAME"], "author_email": DRIFTLINE_IDENTITY["GIT_AUTHOR_EMAIL"]}


def _locked_md5(root: Path, path: str) -> str | None:
    """The md5 dvc.lock records for an output path, or None."""
    import yaml

    try:
        stages = (yaml.safe_load((Path(root) / "dvc.lock").read_text(encoding="utf-8")) or {}).get("stages", {})
    except (OSError, AttributeError, yaml.YAMLError):
        return None
    return next((out.get("md5") for stage in stages.values() for out in stage.get("outs", []) if out.get("path") == path), None)


def tag_registered(root: Path, pipeline: str, version: str) -> str:
    """`<artifact>@v0.0.N` on a snapshot commit holding the version; returns the tag's name.

    Only when dvc.lock pins the artifact path to this version's model (as it does when promote
    registers what train just wrote): a tag must fetch the model it names.
    """
    from gto.api import register

    name, semver = PipelinePaths(pipeline).artifact, gto_version(version)
    registered = pointer_md5(Path(root) / "registry" / pipeline / "versions" / version / "model.txt")
    if registered is None or registered != _locked_md5(root, PipelinePaths(pipeline).model):
        raise TagError(f"dvc.lock does not pin {PipelinePaths(pipeline).model} to {version}'s model "
                       "(registered outside `dvc repro`, or not a DVC project)")
    commit = snapshot_commit(root, pipeline, f"driftline: register {pipeline} {version} ({name}@{semver})")
    register(str(root), name, ref=commit, version=semver, message=f"driftline registered {pipeline} {version}",
             **_author(root))
    return f"{name}@{semver}"


def tag_champion(root: Path, pipeline: str, version: str) -> str:
    """`<artifact>#prod#N` on the version's tag: GTO's "this version is in prod" (the champion)."""
    from gto.api import assign

    name, semver = PipelinePaths(pipeline).artifact, gto_version(version)
    assign(str(root), name, CHAMPION_STAGE, version=semver, message=f"driftline: {pipeline} champion is {version}",
           skip_registration=True, force=True, **_author(root))  # force: a rollback re-assigns a version prod had before
    return f"{name}#{CHAMPION_STAGE}"


def tagger(root: Path) -> EventListener:
    """A registry event listener that mirrors registered / promoted / rollback events as GTO tags."""

    def on_event(pipeline: str, event: dict[str, Any]) -> None:
        kind, version = event.get("event"), event.get("version")
        if not version or kind not in ("registered", "promoted", "rollback"):
            return
        name, semver = PipelinePaths(pipeline).artifact, gto_version(version)
        try:
            if kind == "registered":
                tag_registered(root, pipeline, version)
            else:
                tag_champion(root, pipeline, version)
        except Exception as exc:  # gto and scmrepo raise many types; the registry event stands either way
            command = (f"gto register {name} <commit> --version {semver}" if kind == "registered"
                       else f"gto assign {name} --version {semver} --stage {CHAMPION_STAGE}")
            print(f"{pipeline}: {version} {kind} in the registry, but no GTO tag was written ({exc}); "
                  f"to mirror it, run `{command}`", file=sys.stderr)

    return on_event
