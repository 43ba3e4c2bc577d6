"""Whole-program checks on a typed pipeline config: the mistakes a type checker cannot see.

Pure: file existence (and the tables of a local SQLite file) come in as functions, so the checks run
on data alone. The read-only SQL rule and the literal-secret rule live here because both compile and
the stage that reads the source apply them (`driftline.data.sources` imports them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from driftline.config.groups import NUMERIC_KINDS, ColumnLabel, JoinLabel, RuleLabel, glob_folder, glob_searches_root, paired_test
from driftline.config.metrics import UnknownMetricError, headline, ranking_metric
from driftline.config.pipeline import PipelineConfig

Problem = tuple[tuple[str | int, ...], str]  # (key path, message)

TARGET_KINDS = {
    "binary": ("binary", "bool"),
    "regression": ("float", "int"),
    "multiclass": ("category", "int", "string"),
}


def column_kinds(cfg: PipelineConfig) -> dict[str, str]:
    return {name: col.dtype for name, col in cfg.schema_.columns.items()}


def check_pipeline(
    cfg: PipelineConfig,
    file_exists: Callable[..., bool],
    *,
    outside: Callable[[str], str | None] | None = None,
    sqlite_tables: Callable[[str], set[str] | None] | None = None,
) -> list[Problem]:
    """Every problem of one pipeline, as (key path, message) pairs.

    `file_exists(path)` says whether a project file exists; `file_exists(path, folder=True)`, a file or folder.
    `outside(path)` is the message when a configured path (for a folder or glob: or a file in it) leads outside
    the project (else None), so that is said instead of "does not exist"; `sqlite_tables(path)` the tables of a SQLite file (None: unreadable).
    """
    problems: list[Problem] = []
    kinds = column_kinds(cfg)
    known = ", ".join(sorted(kinds)) or "(none)"

    def need_column(path: tuple[str | int, ...], column: str, role: str) -> bool:
        if column not in kinds:
            problems.append((path, f"{role} '{column}' is not a column of the schema (columns: {known})"))
            return False
        return True

    # dataset
    ds = cfg.dataset
    if ds.timestamp is not None and need_column(("dataset", "timestamp"), ds.timestamp, "timestamp column"):
        if kinds[ds.timestamp] != "datetime":
            problems.append(
                (("dataset", "timestamp"), f"timestamp column '{ds.timestamp}' has dtype {kinds[ds.timestamp]}, expected datetime")
            )
    if ds.id is not None:
        need_column(("dataset", "id"), ds.id, "id column")
    source_path = getattr(ds.source, "path", None)
    escaping = outside(source_path) if outside is not None and source_path is not None else None
    if escaping is not None:
        problems.append((("dataset", "source", "path"), escaping))
    elif ds.source.kind == "parquet" and source_path is not None:  # a file, a folder of files, or a glob
        if glob_searches_root(source_path):
            problems.append((("dataset", "source", "path"), f"the glob '{source_path}' searches the project root, whose "
                             "files include the stages' own outputs; keep the Parquet files in a folder and name it: data/parts/*.parquet"))
        elif not file_exists(glob_folder(source_path), folder=True):
            problems.append((("dataset", "source", "path"), f"source file or folder '{glob_folder(source_path)}' does not exist"))
    elif source_path is not None and not file_exists(source_path):
        problems.append((("dataset", "source", "path"), f"source file '{source_path}' does not exist"))
    if ds.source.kind == "sql" and ds.source.url is not None and (url_problem := sql_url_problem(ds.source.url)):
        problems.append((("dataset", "source", "url"), url_problem))
    if ds.source.kind == "sql":
        problems.extend(_sql_problems(ds.source, escaping is None and source_path is not None
                                      and file_exists(source_path), sqlite_tables))
    for i, col in enumerate(getattr(ds.source, "parse_dates", [])):
        need_column(("dataset", "source", "parse_dates", i), col, "date column")

    # label and target
    label = cfg.label
    if isinstance(label, ColumnLabel):
        if need_column(("label", "column"), label.column, "label column"):
            kind = kinds[label.column]
            allowed = TARGET_KINDS[cfg.task]
            if kind not in allowed and not _binary_ints(cfg, label.column):
                problems.append(
                    (("label", "column"), f"label column '{label.column}' has dtype {kind}; a {cfg.task} task needs one of: {', '.join(allowed)}")
                )
    elif isinstance(label, RuleLabel):
        if cfg.task != "binary":
            problems.append((("label", "kind"), f"a rule label gives a binary target, but the task is {cfg.task}"))
        if need_column(("label", "column"), label.column, "rule column") and label.op not in ("==", "!="):
            if kinds[label.column] not in NUMERIC_KINDS + ("datetime",):
                problems.append((("label", "op"), f"'{label.op}' needs a numeric column; '{label.column}' is {kinds[label.column]}"))
    elif isinstance(label, JoinLabel):
        escaping = outside(label.path) if outside is not None else None
        if escaping is not None:
            problems.append((("label", "path"), escaping))
        elif not file_exists(label.path):
            problems.append((("label", "path"), f"labels file '{label.path}' does not exist"))
        need_column(("label", "on"), label.on, "join key")
    if isinstance(label, ColumnLabel) and cfg.target not in kinds and label.column in kinds:
        problems.append((("target",), f"target '{cfg.target}' is not a column of the schema; with a column label the target "
                         f"is that column: write target: {label.column} (the monitor reads new labels under the target's name)"))
    if cfg.target in kinds and not (isinstance(label, ColumnLabel) and label.column == cfg.target):
        problems.append((("target",), f"target '{cfg.target}' would overwrite the input column of the same name"))

    # split
    split = cfg.split
    if split.kind == "time":
        if ds.timestamp is None:
            problems.append((("split", "kind"), "a time split needs dataset.timestamp, and this dataset has none"))
    if split.kind == "group" and split.group is not None:
        need_column(("split", "group"), split.group, "group column")

    # monitor and gate
    if cfg.monitor is not None:
        for i, column in enumerate(cfg.monitor.columns or []):
            need_column(("monitor", "columns", i), column, "monitored column")
        for column in cfg.monitor.overrides:
            need_column(("monitor", "overrides", column), column, "override for column")
    for i, column in enumerate(cfg.card.slices):
        if need_column(("card", "slices", i), column, "slice column") and kinds[column] in ("float", "datetime"):
            problems.append((("card", "slices", i), f"slice column '{column}' is {kinds[column]}; slice by a category, string, int or binary column"))
    if cfg.gate.metric is not None:
        try:
            ranking_metric(cfg.gate.metric, cfg.task)
        except UnknownMetricError as exc:
            problems.append((("gate", "metric"), str(exc)))
    else:
        try:
            paired_test(cfg.gate.test, headline(cfg.task))
        except ValueError as exc:
            problems.append((("gate", "test"), str(exc)))

    # features
    from driftline.config.features import check_columns

    feature_columns = dict(kinds)
    for path, message in check_columns(cfg.features, feature_columns):
        problems.append((_split_path(path), message))
    label_source = label.column if isinstance(label, (ColumnLabel, RuleLabel)) else None
    for i, transform in enumerate(cfg.features.transforms):
        named = _named_columns(transform)
        for leaked in sorted(named & {cfg.target, label_source} - {None}):
            problems.append(
                (("features", "transforms", i), f"transform '{transform.kind}' reads '{leaked}', the label: that leaks the answer into the features")
            )
    return problems


def _binary_ints(cfg: PipelineConfig, column: str) -> bool:
    spec = cfg.schema_.columns[column]
    return cfg.task == "binary" and spec.dtype == "int" and spec.isin is not None and set(spec.isin) <= {0, 1}


def _named_columns(transform: object) -> set[str]:
    names: set[str] = set()
    for attr in ("column", "numerator", "denominator"):
        value = getattr(transform, attr, None)
        if isinstance(value, str):
            names.add(value)
    names.update(getattr(transform, "columns", None) or [])
    return names


def _split_path(path: str) -> tuple[str | int, ...]:
    """'features.transforms[2].column' -> ('features', 'transforms', 2, 'column')."""
    out: list[str | int] = []
    for part in path.replace("]", "").split("."):
        head, *indices = part.split("[")
        if head:
            out.append(head)
        out.extend(int(i) for i in indices)
    return tuple(out)


# ----------------------------------------------------------------------------- SQL sources

# sqlglot's dialect for a SQLAlchemy URL's backend (`postgresql+psycopg://` -> postgres).
SQL_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}
_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mysql": "MySQL"}
# Statements and clauses with no place in a read query; sqlglot parses what it does not know as a Command.
_REFUSED = ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command", "Into",
            "Pragma", "Attach", "Detach", "Copy", "Lock", "Set", "Transaction", "Commit", "Rollback", "Grant",
            "Revoke", "LoadData", "Use", "Kill", "Cache", "Uncache", "Refresh", "Comment", "Analyze")


def sql_dialect(url: str | None) -> str | None:
    """The sqlglot dialect of a SQL source: its URL's scheme, sqlite for a `path`; None when the URL says none
    (an `${oc.env:...}` reference, resolved only when the stage runs)."""
    if url is None:
        return "sqlite"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return SQL_DIALECTS.get(scheme.split("+", 1)[0].lower())


_SQLALCHEMY_URL = re.compile(r"^[\w+]+://")  # what sqlalchemy.make_url requires: dialect[+driver]://...


def sql_url_problem(url: str) -> str | None:
    """Why `url` is no SQLAlchemy URL (`dialect[+driver]://...`), or None; an `${oc.env:...}` reference for the
    whole URL is resolved (and checked) only when the stage runs. Compile and `driftline.data.sources` apply it."""
    if ENV_REFERENCE.match(url) or _SQLALCHEMY_URL.match(url):
        return None
    shown = url if "@" not in url else "(not shown: it may hold a password)"
    return (f"not a SQLAlchemy URL: {shown}; write dialect+driver://user:${{oc.env:DB_PASSWORD}}@host/database "
            "(sqlite:///data/x.sqlite for a file, or use `path`)")


def read_only_query_problem(query: str, dialect: str | None) -> str | None:
    """Why `query` is not exactly one read query (SELECT, WITH ... SELECT, UNION), or None when it is.

    The query is parsed with sqlglot as `dialect` reads it, and must be one SELECT or set operation with no
    write anywhere inside (a data-modifying CTE, SELECT ... INTO, FOR UPDATE) and no MySQL executable
    comment (`/*! ... */`, which MySQL runs). It is also read as the other dialects read it, and refused
    when any of them sees a second statement or a write there (PostgreSQL's `$$` strings, `E'...'`
    escapes): a string that hides a statement from one parser does not hide it from all.
    """
    from sqlglot import exp

    refused = tuple(getattr(exp, name) for name in _REFUSED if hasattr(exp, name))
    primary = [dialect] if dialect is not None else ["sqlite", "postgres", "mysql"]
    parsed_any = False
    first_error = None
    for name in dict.fromkeys([*primary, "sqlite", "postgres", "mysql"]):
        statements, error = _parse_sql(query, name)
        label = _NAMES[name]
        if error == _EXECUTABLE_COMMENT:
            return f"the query {error}"
        if error is not None:
            if name in primary and dialect is not None:
                return f"not valid {label} SQL: {error}"
            first_error = first_error or f"not valid SQL: {error}"
            continue
        parsed_any = True
        if not statements:
            return "the query is empty; give one SELECT"
        if len(statements) > 1:
            return (f"the query holds {len(statements)} statements as {label} reads it; give exactly one read query "
                    "(SELECT, WITH ... SELECT or UNION)")
        root = statements[0]
        if not isinstance(root, (exp.Select, getattr(exp, "SetOperation", exp.Union), exp.Subquery)):
            return f"only a read query (SELECT, WITH ... SELECT or UNION) is allowed, got {_statement_name(root)}"
        bad = next((node for node in root.walk() if isinstance(node, refused)), None)
        if bad is not None:
            return f"refusing a query that writes or locks: {_statement_name(bad)} inside the SELECT (as {label} reads it)"
    if not parsed_any:
        return first_error
    return None


def query_tables(query: str, dialect: str | None) -> set[str]:
    """The tables a read query reads (CTE names excepted), lower-cased; empty when it does not parse."""
    from sqlglot import exp

    statements, error = _parse_sql(query, dialect or "sqlite")
    if error is not None:
        return set()
    tables: set[str] = set()
    for statement in statements:
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        tables |= {t.name.lower() for t in statement.find_all(exp.Table) if t.name and not t.db} - ctes
    return tables


_EXECUTABLE_COMMENT = "holds a MySQL executable comment (/*! ... */), whose text MySQL runs; remove it"


def _parse_sql(query: str, dialect: str) -> tuple[list[Any], str | None]:
    """The statements of `query` (empty ones dropped), or the parse error; MySQL executable comments refused."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        tokens = sqlglot.tokenize(query, read=dialect)
        if any(comment.lstrip().startswith("!") for token in tokens for comment in token.comments):
            return [], _EXECUTABLE_COMMENT
        parsed = sqlglot.parse(query, read=dialect)
    except SqlglotError as exc:
        return [], " ".join(str(exc).split())[:200]
    from sqlglot import exp

    return [s for s in parsed if s is not None and not isinstance(s, getattr(exp, "Semicolon", ()))], None


def _statement_name(node: Any) -> str:
    key = getattr(node, "key", type(node).__name__)
    return "SELECT ... INTO" if key == "into" else key.upper()


def _sql_problems(source: Any, local_file: bool, sqlite_tables: Callable[[str], set[str] | None] | None) -> list[Problem]:
    dialect = sql_dialect(source.url)
    problem = read_only_query_problem(source.query, dialect)
    if problem is not None:
        return [(("dataset", "source", "query"), problem)]
    if source.path is None or not local_file or sqlite_tables is None:
        return []
    present = sqlite_tables(source.path)
    if present is None:
        return []
    missing = sorted(query_tables(source.query, "sqlite") - {name.lower() for name in present})
    if not missing:
        return []
    known = ", ".join(sorted(present)) or "none"
    return [(("dataset", "source", "query"),
             f"the query reads table(s) {', '.join(missing)}, which {source.path} does not have (tables: {known})")]


# ----------------------------------------------------------------------------- secrets

ENV_REFERENCE = re.compile(r"^\$\{oc\.env:[A-Za-z_][A-Za-z0-9_]*(,[^}]*)?\}$")
_URL_WITH_USER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<userinfo>[^/?#]*)@")


def literal_secrets(data: Any) -> list[Problem]:
    """A URL anywhere in the config that carries a password in clear, as (key path, message) pairs.

    A password may only be an `${oc.env:VAR}` reference (kept unresolved in params.yaml, resolved when a
    stage runs), or the whole URL may be one.
    """
    problems: list[Problem] = []
    for path, value in _strings(data, ()):
        match = _URL_WITH_USER.match(value)
        if match is None or ":" not in match["userinfo"]:
            continue
        password = match["userinfo"].split(":", 1)[1]
        if password and not ENV_REFERENCE.match(password):
            user = match["userinfo"].split(":", 1)[0]
            problems.append((path, "the URL holds a password in clear, which would be written to params.yaml, dvc.lock "
                             f"and the audit log; write it as {user}:${{oc.env:DB_PASSWORD}}@... and set DB_PASSWORD "
                             "in the environment that runs the stages (or make the whole URL ${oc.env:DATABASE_URL})"))
    return problems


def _strings(data: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, Mapping):
        for key, value in data.items():
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _strings(value, (*path, i))
