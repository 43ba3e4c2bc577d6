"""Registry of data sources: a ``kind`` in the dataset config maps to one small reader function.

Each reader takes the (already validated) source spec and the project root and returns a
DataFrame. Files must live inside the project so DVC can track them; `source_files` lists them
for a stage's ``deps``. Adding a source is one function here, one entry in `SOURCES` and one test.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from driftline.config.groups import glob_folder, glob_searches_root, is_glob
from driftline.data.generator import generate_loans
from driftline.errors import DriftlineError

if TYPE_CHECKING:
    import pandas as pd

SourceReader = Callable[[Mapping[str, Any], Path], "pd.DataFrame"]

GENERATORS: dict[str, Callable[..., pd.DataFrame]] = {"loans": generate_loans}

_GENERATOR_ARGS = ("rows", "seed", "start", "end", "drift", "strength", "batch")

class SourceError(DriftlineError):
    """A source cannot be read: missing or escaping file, bad key, refused or failing query."""


def resolve_inside(root: Path, rel: str, what: str) -> Path:
    """Return the absolute path of project-relative `rel`; it must stay inside `root` and exist.

    The project's one path rule (`driftline.project.confine`): symlinks are followed, and the file
    they lead to must be inside the project too, so a source swapped for a link to elsewhere is refused.
    """
    from driftline.project import OutsideProjectError, confine

    try:
        path = confine(root, rel, what)
    except OutsideProjectError as exc:
        raise SourceError(str(exc), hint=exc.hint) from None
    if not path.exists():
        raise SourceError(f"{what}: file not found: {rel!r} (looked for {path})")
    return path


def read_source(spec: Mapping[str, Any], root: Path) -> pd.DataFrame:
    """Read the source described by `spec` (dispatch on ``spec["kind"]``)."""
    return _reader(spec)(spec, Path(root))


def source_files(spec: Mapping[str, Any]) -> list[str]:
    """Project-relative files the source reads, for DVC ``deps``; [] for generators and URLs.

    A folder is one dep (DVC hashes its content). A glob's dep is the folder it searches (the part
    before the first wildcard), so a file added there reruns ingest without a recompile; a file that
    does not match reruns it too, which is harmless (ingest reads the matches only).
    """
    kind = spec.get("kind")
    _reader(spec)  # unknown kinds fail here too
    if kind in ("csv", "parquet") or (kind == "sql" and spec.get("url") is None):
        path = _required(spec, "path")
        rel = posixpath.normpath(PurePath(glob_folder(path) if kind == "parquet" else path).as_posix())
        if rel == ".." or rel.startswith("../"):
            raise SourceError(f"{kind} source: path {spec['path']!r} is outside the project root")
        if kind == "parquet" and glob_searches_root(path):  # the whole project as a dep would hold the stages' own outputs
            raise SourceError(f"{kind} source: the glob {path!r} searches the project root",
                              hint="keep the Parquet files in a folder and name it: data/parts/*.parquet")
        return [rel]
    return []


# ------------------------------------------------------------------- partitioned Parquet data

def parquet_folder_files(folder: Path) -> list[Path]:
    """The Parquet files of a dataset folder, in name order, subfolders included; names starting with
    "_" or "." (`_SUCCESS`, `.part.tmp`) are skipped, as pyarrow skips them."""
    return sorted((p for p in folder.rglob("*.parquet") if p.is_file()
                   and not any(part.startswith(("_", ".")) for part in p.relative_to(folder).parts)),
                  key=lambda p: p.relative_to(folder).as_posix())


def parquet_files(root: Path, rel: str, what: str) -> list[Path]:
    """Every Parquet file a `path` names: the file itself, the files of a folder, or a glob's matches.

    Each file must be inside the project (symlinks followed). Raises `SourceError` naming `what`
    and the path when nothing matches.
    """
    from driftline.project import OutsideProjectError, confine

    root = Path(root)
    if is_glob(rel):
        base = resolve_inside(root, glob_folder(rel), what)
        try:
            matches = sorted(p for p in root.glob(rel) if p.is_file())
        except (ValueError, NotImplementedError) as exc:  # an absolute or otherwise unusable pattern
            raise SourceError(f"{what}: path {rel!r} is not a usable glob ({exc})") from None
        hint = f"the glob searches {glob_folder(rel)}/; check the pattern and that the files are there"
    else:
        base = resolve_inside(root, rel, what)
        if base.is_file():
            return [base]
        matches = parquet_folder_files(root / rel)
        hint = "put the Parquet files (*.parquet) in that folder, or point `path` at one file"
    try:
        files = [confine(root, p, what) for p in matches]  # a symlink out of the project is refused
    except OutsideProjectError as exc:
        raise SourceError(str(exc), hint=exc.hint) from None
    if not files:
        raise SourceError(f"{what}: path {rel!r} matches no Parquet file", hint=hint)
    return files


def read_parquet_files(files: list[Path], label: str) -> pd.DataFrame:
    """The rows of every file, in order, in one frame; one file is read as it is.

    Files of one schema are read as one dataset, so a category column keeps the union of the files'
    categories; files whose schemas differ (an int column in one, float in another) are concatenated.
    """
    import pandas as pd

    if len(files) == 1:
        return _read_parquet_file(files[0], label)
    try:
        return pd.read_parquet([str(f) for f in files], engine="pyarrow")
    except (OSError, ValueError, TypeError):  # schemas differ (pyarrow's errors derive from these), or a file is damaged
        frames = [_read_parquet_file(path, f"{label} ({path.name})") for path in files]
        return pd.concat(frames, ignore_index=True)


def read_generator(spec: Mapping[str, Any], root: Path) -> pd.DataFrame:
    """Generate a demo data set in memory: ``{kind: generator, generator: loans, rows: 1000}``."""
    name = spec.get("generator", "loans")
    if name not in GENERATORS:
        known = ", ".join(sorted(GENERATORS))
        raise SourceError(f"generator source: unknown generator {name!r}; known: {known}")
    kwargs = {key: spec[key] for key in _GENERATOR_ARGS if key in spec}
    try:
        return GENERATORS[name](**kwargs)
    except ValueError as exc:
        raise SourceError(f"generator source {name!r}: {exc}") from exc


def read_csv(spec: Mapping[str, Any], root: Path) -> pd.DataFrame:
    """Read a CSV file inside the project; ``parse_dates`` columns become datetimes (one with only some
    ISO 8601 dates stays text, for the schema's cast to read value by value)."""

    rel = _required(spec, "path")
    return _read_csv_file(resolve_inside(root, rel, "csv source"), spec, f"csv source {rel!r}")


def read_parquet(spec: Mapping[str, Any], root: Path) -> pd.DataFrame:
    """Read a Parquet file, a folder of them, or a glob's matches, inside the project (see `parquet_files`)."""

    rel = _required(spec, "path")
    return read_parquet_files(parquet_files(root, rel, "parquet source"), f"parquet source {rel!r}")


def is_partitioned(spec: Mapping[str, Any], root: Path) -> bool:
    """Whether the source is partitioned data: a parquet source whose path is a glob or a folder."""
    if spec.get("kind") != "parquet" or spec.get("path") is None:
        return False
    return is_glob(spec["path"]) or (Path(root) / spec["path"]).is_dir()


def read_file(path: Path, spec: Mapping[str, Any], label: str) -> pd.DataFrame:
    """A CSV or Parquet file anywhere (its suffix says which), read with a source's read options:
    the delimiter of a csv source and the `parse_dates` of any source. For files that should read
    like the dataset (`driftline batch add`); `label` names the file in errors."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame = _read_parquet_file(path, label)
    elif suffix in (".csv", ".tsv", ".txt"):
        delimiter = spec.get("delimiter") if spec.get("kind") == "csv" else None
        frame = _read_csv_file(path, {"delimiter": delimiter or ("\t" if suffix == ".tsv" else ",")}, label)
    else:
        raise SourceError(f"{label}: expected a .csv or .parquet file, got {suffix or 'a name without a suffix'}")
    # A column missing here is the schema check's to name; one already of dates needs no parsing.
    dates = [c for c in spec.get("parse_dates") or [] if c in frame.columns and frame[c].dtype.kind != "M"]
    return _parse_dates(frame, dates, label)


def _read_csv_file(path: Path, spec: Mapping[str, Any], label: str) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep=spec.get("delimiter") or ",")
    except (OSError, ValueError) as exc:
        raise SourceError(f"{label}: cannot read file: {exc}") from exc
    return _parse_dates(frame, spec.get("parse_dates") or [], label)


def _read_parquet_file(path: Path, label: str) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as exc:
        raise SourceError(f"{label}: cannot read file: {exc}") from exc


def read_sql(spec: Mapping[str, Any], root: Path) -> pd.DataFrame:
    """Run one read-only, parameterised SELECT against a SQLite file or a SQLAlchemy URL.

    The query is parsed (sqlglot, in the database's dialect) and refused unless it is exactly one read
    query (`check_read_only_query`); it runs in a transaction that is always rolled back, on a read-only
    connection where the database allows. These are guards, not a sandbox: give server sources a read-only
    database user. `${oc.env:VAR}` references in `url` are resolved here, from the environment, and only here.
    """
    import pandas as pd
    import sqlalchemy as sa

    query = _required(spec, "query")
    params = spec.get("params") or {}
    url, rel = spec.get("url"), spec.get("path")
    if (url is None) == (rel is None):
        raise SourceError("sql source: set exactly one of 'url' (a SQLAlchemy URL) or 'path'")
    if not isinstance(params, Mapping):
        raise SourceError(f"sql source: 'params' must be a mapping, got {type(params).__name__}")
    if not isinstance(query, str):
        raise SourceError(f"sql source: 'query' must be a string, got {type(query).__name__}")

    if rel is not None:
        check_read_only_query(query, "sqlite")
        database = resolve_inside(root, rel, "sql source")
        target = sa.URL.create(
            "sqlite",
            database=f"file:{quote(str(database), safe='/')}",
            query={"mode": "ro", "uri": "true"},
        )
        label = f"sql source {rel!r}"
    else:
        from driftline.config.checks import sql_dialect, sql_url_problem
        from driftline.config.params import ParamsError, resolve_env

        try:
            resolved = resolve_env(url, "dataset.source.url")
            if sql_url_problem(resolved) is not None:  # compile's rule, for a URL the environment gave
                raise sa.exc.ArgumentError(resolved)
            target = sa.make_url(resolved)
        except ParamsError as exc:
            raise SourceError(str(exc), hint=exc.hint) from None
        except sa.exc.ArgumentError:  # its message would quote the URL, password and all
            raise SourceError(f"sql source: 'url' is not a SQLAlchemy URL: {url!r}",
                              hint="write dialect+driver://user:${oc.env:DB_PASSWORD}@host/database") from None
        label = f"sql source {target.render_as_string(hide_password=True)!r}"
        check_read_only_query(query, sql_dialect(target.drivername + "://"))

    try:
        engine = sa.create_engine(target, hide_parameters=True)
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        raise SourceError(f"{label}: cannot create engine: {exc}") from exc
    try:
        with engine.connect() as conn:
            try:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA query_only = ON")
                elif engine.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                result = conn.execute(sa.text(query), dict(params))
                columns = list(result.keys())
                rows = result.fetchall()
            finally:
                conn.rollback()
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"{label}: query failed: {exc}") from exc
    finally:
        engine.dispose()
    frame = pd.DataFrame.from_records([tuple(row) for row in rows], columns=columns)
    return _parse_dates(frame, spec.get("parse_dates") or [], label)


SOURCES: dict[str, SourceReader] = {
    "generator": read_generator,
    "csv": read_csv,
    "parquet": read_parquet,
    "sql": read_sql,
}


def check_read_only_query(query: str, dialect: str | None = None) -> None:
    """Raise SourceError unless `query` is exactly one read query, as the database `dialect` reads it.

    The same rule compile applies (`driftline.config.checks.read_only_query_problem`: parsed with sqlglot).
    """
    from driftline.config.checks import read_only_query_problem

    problem = read_only_query_problem(query, dialect)
    if problem is not None:
        raise SourceError(f"sql source: query refused: {problem}",
                          hint="give one SELECT (or WITH ... SELECT, or a UNION of SELECTs) that only reads")


def _parse_dates(frame: pd.DataFrame, columns: list[str] | str, label: str) -> pd.DataFrame:
    import warnings

    import pandas as pd

    if isinstance(columns, str):
        columns = [columns]
    for column in columns:
        if column not in frame.columns:
            raise SourceError(f"{label}: parse_dates column {column!r} not found")
        try:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        except (TypeError, ValueError):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    frame[column] = pd.to_datetime(frame[column])
            except (TypeError, ValueError, UserWarning) as exc:
                if _some_iso_dates(frame[column]):  # a few bad values: kept as text for the schema's cast, which
                    continue  # reads each value, so validate quarantines just those rows (and `batch add` names them)
                raise SourceError(
                    f"{label}: cannot parse column {column!r} as dates"
                    f" (ISO 8601 is always understood): {exc}"
                ) from exc
    return frame


def _some_iso_dates(values: pd.Series) -> bool:
    """Whether any value is an ISO 8601 date (a column of dates with some bad values, not a column of something else)."""
    import pandas as pd

    try:
        return bool(pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True).notna().any())
    except (TypeError, ValueError, OverflowError):
        return False


def _reader(spec: Mapping[str, Any]) -> SourceReader:
    kind = spec.get("kind")
    if kind not in SOURCES:
        raise SourceError(f"unknown source kind {kind!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[kind]


def _required(spec: Mapping[str, Any], key: str) -> Any:
    if spec.get(key) is None:
        raise SourceError(f"{spec.get('kind')} source: missing required key {key!r}")
    return spec[key]

