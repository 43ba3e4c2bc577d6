"""What a stage gets: the project root, its pipeline's typed config (from params.yaml) and paths."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from driftline.atomic import TEMP_SUFFIX, temp_files_of
from driftline.config.params import load_pipeline
from driftline.config.pipeline import PipelineConfig
from driftline.errors import DriftlineError
from driftline.paths import PipelinePaths
from driftline.project import find_root
from driftline.stages import STAGE_MODULES

if TYPE_CHECKING:
    from driftline.registry.store import Registry


class StageError(DriftlineError):
    """A stage cannot finish; the message says why and what to do next."""


@dataclass(frozen=True)
class StageContext:
    root: Path
    pipeline: str
    cfg: PipelineConfig
    paths: PipelinePaths

    def path(self, rel: str) -> Path:
        return self.root / rel


def load_context(pipeline: str, root: Path | None = None) -> StageContext:
    """Read params.yaml (never conf/) and check that it is current."""
    root = root or find_root()
    return StageContext(root, pipeline, load_pipeline(pipeline, root), PipelinePaths(pipeline))


def run_stage(step: str, pipeline: str, root: Path | None = None) -> str:
    """Run one stage and append its audit record (inputs, outputs, params, code), pass or fail."""
    if step not in STAGE_MODULES:
        raise StageError(f"unknown step '{step}'; steps: {', '.join(STAGE_MODULES)}")
    ctx = load_context(pipeline, root)
    remove_temp_files(ctx.root, stage_outputs(ctx, step))
    try:
        module = importlib.import_module(STAGE_MODULES[step])
        summary = module.run(ctx)
    except BaseException as exc:  # every failure is audited, expected or not (KeyboardInterrupt too), then re-raised
        audit_stage_run(ctx, step, status="failed", summary=_failure_summary(exc))
        raise
    audit_stage_run(ctx, step, status="ok", summary=summary)
    return summary


def _failure_summary(exc: BaseException) -> str:
    if isinstance(exc, DriftlineError):
        return " ".join(exc.lines())
    return f"{type(exc).__name__}: {exc}"


def audit_stage_run(ctx: StageContext, step: str, *, status: str, summary: str) -> None:
    from driftline.audit.log import append
    from driftline.audit.provenance import content_hashes, git_state, package_versions
    from driftline.compile.graph import pipeline_stages, stage_name
    from driftline.config.locate import value_at

    stage = pipeline_stages(ctx.pipeline, ctx.cfg)[stage_name(ctx.pipeline, step)]
    paths = partial(_stage_paths, stage)
    params = {ctx.pipeline: ctx.cfg.to_params()}
    slice_ = {key: value_at(params, key) for key in stage.get("params", [])}
    append(ctx.root, "stage_run", {
        "stage": stage_name(ctx.pipeline, step),
        "pipeline": ctx.pipeline,
        "status": status,
        "summary": summary,
        "params": slice_,
        "inputs": content_hashes(ctx.root, paths("deps")),
        "outputs": content_hashes(ctx.root, [p for field in OUTPUT_FIELDS for p in paths(field)]),
        "git": git_state(ctx.root),
        "packages": package_versions(),
    })


OUTPUT_FIELDS = ("outs", "metrics", "plots")


def _stage_paths(stage: dict, field: str) -> list[str]:
    return [next(iter(item)) if isinstance(item, dict) else item for item in stage.get(field, [])]


def stage_outputs(ctx: StageContext, step: str) -> list[str]:
    """The files and folders a step declares in dvc.yaml (outs, metrics, plots), project-relative."""
    from driftline.compile.graph import pipeline_stages, stage_name

    stage = pipeline_stages(ctx.pipeline, ctx.cfg)[stage_name(ctx.pipeline, step)]
    return [p for field in OUTPUT_FIELDS for p in _stage_paths(stage, field)]


def remove_temp_files(root: Path, rels: list[str]) -> list[str]:
    """Delete the temporary files that a process killed mid-write left beside (or inside) these outputs.

    `atomic` writes `<folder>/.<name>.<random>.tmp` and renames it onto `<name>`; a SIGKILL between
    the two leaves it behind. The finished file, if any, is never touched. The files removed, relative
    to `root`.
    """
    removed = []
    for rel in rels:
        target = root / rel
        found = temp_files_of(target)
        if target.is_dir():
            found += target.rglob(f".*{TEMP_SUFFIX}")
        for path in found:
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path.relative_to(root).as_posix())
    return removed


def project_registry(root: Path, pipeline: str) -> Registry:
    """A pipeline's registry for writing: each event recorded in the audit trail, then mirrored as GTO tags."""
    from driftline.audit.log import recorder
    from driftline.registry.store import Registry, listeners
    from driftline.registry.tags import tagger

    return Registry(root, pipeline, on_event=listeners(recorder(root), tagger(root)))
