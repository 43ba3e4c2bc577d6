"""Load pipelines: compose, type-check, then run the whole-program checks; collect every problem."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import ValidationError

from driftline.config.compose import ComposedPipeline, ComposeError, compose_pipeline, pipeline_names, stray_pipeline_files
from driftline.config.errors import ConfigError, ConfigProblem, KeyedErrors
from driftline.config.locate import clean_loc, dotted, suggest
from driftline.config.pipeline import PIPELINE_NAME, PipelineConfig

RESERVED_NAMES = {"driftline", "stages", "vars", "plots", "metrics"}


def _pydantic_problems(composed: ComposedPipeline, error: ValidationError) -> list[ConfigProblem]:
    problems = []
    for item in error.errors(include_url=False):
        path, owner = clean_loc(PipelineConfig, item["loc"])
        kind = item["type"]
        keyed = (item.get("ctx") or {}).get("error")
        if isinstance(keyed, KeyedErrors):
            for key, message in keyed.errors:
                keyed_path = [*path, key]
                problems.append(ConfigProblem(composed.name, dotted(keyed_path), message, composed.file_for(keyed_path)))
            continue
        if kind == "extra_forbidden":
            key = str(path[-1]) if path else ""
            message = f"unknown key '{key}'"
            hint = suggest(owner, key)
            message += f"; {hint}" if hint else ""
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = item["msg"]
            if kind not in ("value_error",) and "input" in item and not isinstance(item["input"], (dict, list)):
                message += f" (got {item['input']!r})"
        message = message.removeprefix("Value error, ")
        problems.append(ConfigProblem(composed.name, dotted(path), message, composed.file_for(path)))
    return problems


def load_pipeline(root: Path, name: str) -> PipelineConfig:
    """Compose and check one pipeline; raise ConfigError listing every problem."""
    if not PIPELINE_NAME.match(name) or name in RESERVED_NAMES:
        raise ConfigError(
            [ConfigProblem(name, "", "a pipeline name must start with a letter and use only letters, digits and '_' "
                           "(and not be a reserved word)", f"pipelines/{name}.yaml")]
        )
    try:
        composed = compose_pipeline(root, name)
    except ComposeError as exc:
        raise ConfigError([exc.problem]) from exc
    try:
        cfg = PipelineConfig.model_validate(composed.data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_problems(composed, exc)) from None

    from driftline.config.checks import check_pipeline, literal_secrets
    from driftline.project import project_file_exists

    found = check_pipeline(cfg, functools.partial(project_file_exists, root),
                           outside=functools.partial(outside_reason, root),
                           sqlite_tables=functools.partial(_sqlite_tables, root))
    problems = [ConfigProblem(name, dotted(path), message, composed.file_for(path))
                for path, message in [*found, *literal_secrets(composed.data)]]
    if problems:
        raise ConfigError(problems)
    return cfg


def outside_reason(root: Path, rel: str) -> str | None:
    """Why the configured path `rel` leads outside the project: itself, the folder a glob searches, or a file
    of that folder or glob that is a symlink to elsewhere (what the stage would read); None when all stay inside."""
    from driftline.config.groups import glob_folder, is_glob
    from driftline.project import inside_project, outside_project

    problem = outside_project(root, glob_folder(rel))
    if problem is not None or not isinstance(rel, str):
        return problem
    folder = inside_project(root, glob_folder(rel))
    if is_glob(rel):
        try:
            matches = [p for p in Path(root).glob(rel) if p.is_file()]
        except (ValueError, NotImplementedError):
            return None  # the stage names an unusable glob
    elif folder is not None and folder.is_dir():
        matches = [p for p in folder.rglob("*.parquet") if p.is_file()]
    else:
        return None
    for path in sorted(matches):
        problem = outside_project(root, path)
        if problem is not None:
            return problem
    return None


def _sqlite_tables(root: Path, rel: str) -> set[str] | None:
    """The tables and views of the project's SQLite file `rel`, opened read-only; None when it cannot be read."""
    import sqlite3

    from driftline.project import inside_project

    path = inside_project(root, rel)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # not a database, or locked: the ingest stage says so when it reads it
    return {str(name) for (name,) in rows}


def load_all(root: Path) -> dict[str, PipelineConfig]:
    """Every pipeline under pipelines/, or one ConfigError with the problems of all of them."""
    names = pipeline_names(root)
    if not names:
        raise ConfigError([ConfigProblem("(project)", "", "no pipelines found: add pipelines/<name>.yaml", "pipelines/")])
    configs: dict[str, PipelineConfig] = {}
    problems = [ConfigProblem("(project)", "", f"{rel} is not compiled: a pipeline is pipelines/<name>.yaml; "
                              "rename it so, or move it out of pipelines/ if it is no pipeline", rel)
                for rel in stray_pipeline_files(root)]
    for name in names:
        try:
            configs[name] = load_pipeline(root, name)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return configs
