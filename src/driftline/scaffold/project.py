"""The edge of `driftline init`: read the data as `ingest` will, write the files, check the result."""

from __future__ import annotations

from pathlib import Path

from driftline.errors import DriftlineError
from driftline.scaffold.infer import infer
from driftline.scaffold.render import SHARED_GROUPS, render


class ScaffoldError(DriftlineError):
    exit_code = 2  # bad input: nothing was written
    """`init` cannot scaffold this pipeline; the message says why. Nothing was written."""


def scaffold(
    root: Path,
    data: Path,
    target: str,
    name: str,
    task: str | None = None,
    timestamp: str | None = None,
    id_column: str | None = None,
) -> list[str]:
    """Write the pipeline `name` and its groups; return the project-relative paths written."""
    from driftline.atomic import write_text
    from driftline.config.errors import ConfigError
    from driftline.config.load import RESERVED_NAMES, load_pipeline
    from driftline.config.pipeline import PIPELINE_NAME
    from driftline.data.sources import SourceError, read_source
    from driftline.project import inside_project
    from driftline.scaffold.infer import InferError

    root = root.resolve()
    if not PIPELINE_NAME.match(name) or name in RESERVED_NAMES:
        raise ScaffoldError(f"--name {name!r}: a pipeline name starts with a letter and uses only letters, digits and '_'")
    path = data if data.is_absolute() else Path.cwd() / data
    rel_path = path.resolve()
    if inside_project(root, rel_path) is None or rel_path == root:
        raise ScaffoldError(f"--data {data}: the data file must lie inside the project ({root}); copy it under data/")
    if not rel_path.is_file():
        raise ScaffoldError(f"--data {data}: no such file")
    rel = rel_path.relative_to(root).as_posix()
    suffix = rel_path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ScaffoldError(f"--data {data}: expected a .csv or .parquet file")
    spec = {"kind": "parquet" if suffix != ".csv" else "csv", "path": rel}
    if spec["kind"] == "csv" and timestamp:
        spec["parse_dates"] = [timestamp]
    try:
        frame = read_source(spec, root)
        inferred = infer(frame, target, task, timestamp, id_column)
    except (SourceError, InferError) as exc:
        raise ScaffoldError(str(exc)) from None

    files = render(name, rel, inferred, target, timestamp, id_column)
    existing = [p for p in files if (root / p).exists()]
    if existing:
        raise ScaffoldError(f"refusing to overwrite {', '.join(existing)}: pick another --name or remove them")
    files.update({p: text for p, text in SHARED_GROUPS.items() if not (root / p).exists()})
    written: list[str] = []
    try:
        for rel_out, text in files.items():
            write_text(root / rel_out, text)
            written.append(rel_out)
        load_pipeline(root, name)
    except ConfigError as exc:
        for rel_out in written:
            (root / rel_out).unlink(missing_ok=True)
        problems = "\n".join(f"  {p}" for p in exc.problems)
        raise ScaffoldError(f"the scaffolded pipeline does not check out (nothing was kept):\n{problems}") from None
    gitignore = root / ".gitignore"
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.is_file() else []
    if "multirun/" not in lines and "/multirun/" not in lines:
        write_text(gitignore, "\n".join([*lines, "multirun/"]) + "\n")  # where `driftline sweep` writes
        written.append(".gitignore")
    return written
