"""Ground truth that arrives after the decision, joined to the prediction log by request id.

`import_labels_csv` backs `driftline labels import <p> labels.csv` (columns request_id,label):
every row is checked first — a bad label or a missing id stops the import with every problem
listed and nothing written — then the labels of decisions found in the log are stored in one
transaction. Ids that are not in the log are counted and reported, not stored.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from driftline.serve.log import PredictionLog, PredictionLogError, log_path, parse_label

REQUIRED = ("request_id", "label")
MAX_PROBLEMS_SHOWN = 20


class LabelImportError(Exception):
    """The labels file cannot be imported; `problems` lists every reason."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class LabelImport:
    stored: int
    unknown: list[str] = field(default_factory=list)


def _task_and_classes(root: Path, pipeline: str) -> tuple[str, list | None]:
    from driftline.registry.store import Registry
    from driftline.stages.context import load_context

    task = load_context(pipeline, root).cfg.task
    champion = Registry(root, pipeline).champion()
    classes = None
    if champion is not None and "model.json" in champion.files:
        classes = json.loads((champion.path / "model.json").read_text(encoding="utf-8")).get("classes")
    return task, classes


def import_labels_csv(root: Path, pipeline: str, path: Path) -> LabelImport:
    """Read, check and store labels; raises LabelImportError (nothing written) on any bad row."""
    task, classes = _task_and_classes(root, pipeline)
    db = log_path(root, pipeline)
    if not db.is_file():
        raise LabelImportError(f"no prediction log at {db}: labels join served decisions, so run `driftline serve {pipeline}` first")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise LabelImportError(f"{path}: missing column(s) {', '.join(missing)}; expected a header row with request_id,label")
            rows = [{(k or "").strip(): v for k, v in row.items()} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelImportError(f"cannot read {path}: {exc}") from exc

    problems: list[str] = []
    labels: dict[str, object] = {}
    for line, row in enumerate(rows, start=2):
        request_id = (row.get("request_id") or "").strip()
        if not request_id:
            problems.append(f"{path}:{line}: request_id is empty")
            continue
        try:
            labels[request_id] = parse_label(row.get("label"), task, classes)
        except ValueError as exc:
            problems.append(f"{path}:{line}: {exc}")
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN] + ([f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more"] if len(problems) > MAX_PROBLEMS_SHOWN else [])
        raise LabelImportError(f"{len(problems)} bad row(s) in {path}; nothing was imported", shown)

    try:
        log = PredictionLog(db)
    except PredictionLogError as exc:
        raise LabelImportError(str(exc)) from None
    try:
        known = log.known(labels)
        log.add_labels([(rid, label) for rid, label in labels.items() if rid in known], source=f"import:{Path(path).name}")
    finally:
        log.close()
    return LabelImport(stored=len(known), unknown=[rid for rid in labels if rid not in known])
