"""The compiler's edge: read the project, compile, and write (or check) dvc.yaml and params.yaml."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from driftline import __version__
from driftline.atomic import write_text
from driftline.config.errors import ConfigError
from driftline.project import DVC_FILE, PARAMS_FILE


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
    return CompileResult(files, sorted(configs), len(dvc["stages"]))


def write_project(root: Path, result: CompileResult) -> list[str]:
    """Write the rendered files that differ from disk; returns the names written."""
    written = []
    for name, text in result.files.items():
        path = root / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_text(path, text)
            written.append(name)
    return written


def stale_diff(root: Path, result: CompileResult) -> str:
    """A unified diff of committed files against what compile would write ('' when current)."""
    chunks = []
    for name, text in result.files.items():
        path = root / name
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            chunks.extend(
                difflib.unified_diff(
                    current.splitlines(keepends=True), text.splitlines(keepends=True),
                    fromfile=f"{name} (on disk)", tofile=f"{name} (compiled)",
                )
            )
    return "".join(chunks)
