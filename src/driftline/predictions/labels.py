"""Ground truth that arrives after the decision, joined to the prediction log by request id.

`import_labels_csv` backs `driftline labels import <p> labels.csv` (columns request_id,label):
every row is checked first — a bad label or a missing id stops the import with every problem
listed and nothing written — then the labels of decisions found in the log are stored in one
transaction. Ids that are not in the log are counted and reported, not stored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from driftline.errors import DriftlineError
from driftline.predictions.log import Location, is_server, open_log, parse_label

REQUIRED = ("request_id", "label")
MAX_PROBLEMS_SHOWN = 20


class LabelImportError(DriftlineError):
    """The labels file cannot be imported; `problems` lists every reason."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def lines(self) -> list[str]:
        return [*super().lines(), *(f"  error: {problem}" for problem in self.problems)]


@dataclass
class LabelImport:
    stored: int
    unknown: list[str] = field(default_factory=list)


def import_labels_csv(db: Location, path: Path, task: str, classes: list | None) -> LabelImport:
    """Read, check and store labels in the prediction log `db` (a SQLite file or a PostgreSQL URL);
    raises LabelImportError (nothing written) on any bad row. `task` and the champion's `classes` say
    what a valid label is."""
    if not is_server(db) and not Path(db).is_file():
        db = Path(db)
        raise LabelImportError(f"no prediction log at {db}: labels join served decisions, "
                               f"so run `driftline serve {db.parent.name}` first")
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

    log = open_log(db)
    try:
        known = log.known(labels)
        log.add_labels([(rid, label) for rid, label in labels.items() if rid in known], source=f"import:{Path(path).name}")
    finally:
        log.close()
    return LabelImport(stored=len(known), unknown=[rid for rid in labels if rid not in known])
