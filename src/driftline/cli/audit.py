"""`driftline audit`: read and verify the hash-chained audit trail."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from driftline.cli.handler import command_group

app = command_group(name="audit", help="The audit trail: every stage run, drift decision, retrain, gate result, promotion and rollback.")


@app.command()
def verify(
    repair: Annotated[bool, typer.Option(
        "--repair", help="Fix what a crash leaves (a torn last line, a head.json that lags or is damaged), "
                         "recording the repair in the trail; a chain that was edited is never 'repaired'.")] = False,
) -> None:
    """Walk the hash chain of audit/log.jsonl. Exit 0 when intact; 1 naming the first bad record."""
    from driftline.audit.log import log_path
    from driftline.audit.log import repair as repair_trail
    from driftline.audit.log import verify as verify_chain
    from driftline.project import find_root

    root = find_root()
    rel = log_path(root).relative_to(root)
    if repair:
        done = repair_trail(root)
        typer.echo("\n".join(f"repaired: {what}" for what in done) if done else f"{rel}: nothing to repair")
    verdict = verify_chain(root)
    if verdict.ok:
        typer.echo(f"{rel}: intact, {verdict.records} record(s)")
        for note in verdict.notes:
            typer.echo(f"  note: {note}")
        return
    seq = f" (seq {verdict.seq})" if verdict.seq is not None else ""
    typer.echo(f"{rel}: BROKEN at line {verdict.line}{seq}: {verdict.problem}. "
               f"The {verdict.records} record(s) before it are intact.", err=True)
    raise typer.Exit(1)


@app.command("log")
def show_log(
    kind: Annotated[str | None, typer.Option(
        help="Only records of this kind (stage_run, drift_decision, retrain, registered, promotion, refusal, rollback, baseline).")] = None,
    tail: Annotated[int, typer.Option(min=1, help="How many of the newest records to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON lines.")] = False,
) -> None:
    """Show the newest audit records."""
    from driftline.audit.log import read
    from driftline.project import find_root

    records = [r for r in read(find_root()) if kind is None or r["kind"] == kind][-tail:]
    for record in records:
        if as_json:
            typer.echo(json.dumps(record, sort_keys=True))
            continue
        payload = record["payload"]
        what = payload.get("stage") or payload.get("pipeline", "")
        detail = payload.get("summary") or payload.get("reason") or "; ".join(payload.get("reasons", [])[:1])
        typer.echo(f"#{record['seq']:<5} {record['time'][:19]}Z {record['kind']:<15} {what:<18} {detail}")


@app.command("trace")
def trace_decision(
    request_id: Annotated[str, typer.Argument(help="The request id the endpoint returned with the decision.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the trace as JSON.")] = False,
) -> None:
    """Trace one served decision: input, output, reason codes, model version, its training data,
    config, code commit, metrics, gate result, and the drift report that triggered its training."""
    from driftline.lineage.trace import trace, trace_text
    from driftline.project import find_root

    result = trace(find_root(), request_id)
    typer.echo(json.dumps(result, indent=2, sort_keys=True, default=str) if as_json else trace_text(result))
