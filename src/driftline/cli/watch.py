"""`driftline watch`: run the drift loop on a schedule, one line per cycle.

A cycle is `dvc repro <pipeline>-promote`: the monitor looks at new batches, and when its policy
fires the same run retrains, gates and promotes. Exit codes (for cron and CI):
0 every cycle ran (whatever it decided); 1 a `dvc repro` failed; 2 bad arguments.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    match = DURATION.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise typer.BadParameter(f"'{text}' is not a duration like 30s, 10m, 1h or 1d")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


def audit_mark(root: Path) -> int:
    """How many records the audit trail holds now: a cycle's own records come after this mark."""
    from driftline.audit.log import read

    return len(read(root))


def cycle_summary(root: Path, pipeline: str, mark: int) -> dict[str, Any]:
    """What this cycle did, from the audit records its own stage runs appended (after `mark`).

    Never from the report files: they hold the last cycle that had new data, not this one.
    """
    from driftline.audit.log import read
    from driftline.registry.store import Registry

    records = [r for r in read(root)[mark:] if r["payload"].get("pipeline") == pipeline]
    decision = next((r["payload"] for r in reversed(records) if r["kind"] == "drift_decision"), None)
    verdict = next((r for r in reversed(records) if r["kind"] in ("promotion", "refusal")), None)
    trained = any(r["kind"] == "stage_run" and r["payload"].get("stage") == f"{pipeline}-train" for r in records)
    promotion = None
    if verdict is not None:
        promotion = "promoted" if verdict["kind"] == "promotion" else "refused"
    elif trained:  # promote runs on every repro; it only has news when a model was trained
        promotion = "unchanged"
    champion = Registry(root, pipeline).champion()
    return {
        "pipeline": pipeline,
        "new_batches": len(decision["batches"]) if decision else 0,
        "rejected_batches": [b["file"] for b in decision.get("rejected", [])] if decision else [],
        "evaluated": bool(decision.get("evaluated", True)) if decision else False,
        "drifted_columns": list(decision["drifted_columns"]) if decision else [],
        "retrain": bool(decision["retrain"]) if decision else False,
        "reasons": list(decision["reasons"]) if decision else ["no new batches"],
        "stages_run": [r["payload"]["stage"] for r in records if r["kind"] == "stage_run"],
        "promotion": promotion,
        "champion": champion.version if champion else None,
    }


def describe(summary: dict[str, Any]) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    drifted = summary["drifted_columns"]
    parts = [f"{stamp} {summary['pipeline']}: {summary['new_batches']} new batch(es)"]
    if summary["rejected_batches"]:
        parts.append(f"rejected: {', '.join(b.rsplit('/', 1)[-1] for b in summary['rejected_batches'])}")
    if drifted:
        parts.append(f"drifted: {', '.join(drifted[:5])}{'…' if len(drifted) > 5 else ''}")
    if summary["retrain"]:
        parts.append(f"retrained -> {summary['promotion'] or 'no promotion'}")
    elif summary["promotion"]:  # the training chain reran for another reason (a config change)
        parts.append(f"no drift retrain; promote ran -> {summary['promotion']}")
    else:
        parts.append("no retrain" + (f" ({summary['reasons'][0]})" if summary["reasons"] else ""))
    parts.append(f"champion {summary['champion'] or 'none'}")
    return "; ".join(parts)


def watch(
    pipeline: Annotated[str, typer.Argument(help="The pipeline to keep alive.")],
    every: Annotated[str, typer.Option(help="Time between cycles: 30s, 10m, 1h, 1d.")] = "10m",
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (for cron or a CI job).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each cycle as one JSON line.")] = False,
) -> None:
    """Run the drift loop: `dvc repro` on a schedule, printing one line per cycle.

    Each cycle runs the monitor; if the drift policy fires, the same run retrains, gates and
    promotes. Exit codes: **0** every cycle ran, **1** `dvc repro` failed, **2** bad arguments.
    """
    from driftline.cli.pipelines import require_pipeline
    from driftline.project import find_root

    interval = parse_duration(every)
    root = find_root()
    require_pipeline(root, pipeline)  # before `dvc repro`, whose "stage not found" names no pipeline
    dvc = str(Path(sys.executable).with_name("dvc"))
    dvc = dvc if Path(dvc).exists() else "dvc"
    while True:
        started = time.monotonic()
        mark = audit_mark(root)
        proc = subprocess.run([dvc, "repro", f"{pipeline}-promote"], cwd=root, capture_output=True, text=True)
        if proc.returncode != 0:
            typer.echo(f"driftline watch: dvc repro failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}", err=True)
            raise typer.Exit(1)
        summary = cycle_summary(root, pipeline, mark)
        typer.echo(json.dumps(summary, sort_keys=True) if as_json else describe(summary))
        if once:
            return
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
