"""Whole-program checks on a typed pipeline config: the mistakes a type checker cannot see.

Pure: file existence comes in as a predicate, so the checks run on data alone.
"""

from __future__ import annotations

from collections.abc import Callable

from driftline.config.groups import NUMERIC_KINDS, ColumnLabel, JoinLabel, RuleLabel, glob_folder, paired_test
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


def check_pipeline(cfg: PipelineConfig, file_exists: Callable[..., bool]) -> list[Problem]:
    """Every problem of one pipeline, as (key path, message) pairs.

    `file_exists(path)` says whether a project file exists; `file_exists(path, folder=True)`, a file or folder.
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
    if ds.source.kind == "parquet" and source_path is not None:  # a file, a folder of files, or a glob
        if not file_exists(glob_folder(source_path), folder=True):
            problems.append((("dataset", "source", "path"), f"source file or folder '{glob_folder(source_path)}' does not exist"))
    elif source_path is not None and not file_exists(source_path):
        problems.append((("dataset", "source", "path"), f"source file '{source_path}' does not exist"))
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
        if not file_exists(label.path):
            problems.append((("label", "path"), f"labels file '{label.path}' does not exist"))
        need_column(("label", "on"), label.on, "join key")
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
