"""The drift loop over ten batches, as a user runs it: 5 quiet batches, then 5 with covariate drift.

    python benchmarks/bench_drift_loop.py [--rows 20000] [--batch-rows 5000] [--quiet 5] [--drifted 5]

A throw-away copy of the demo project at `--rows` base rows gets its first `dvc repro`; then, per
batch, `driftline simulate` writes it and `driftline watch credit --once --json` runs one cycle
(`dvc repro`). Per batch the table records the columns flagged, the false alarms (a flagged column
the generator did not drift: any column of a quiet batch; in a covariate batch one outside the
generator's documented ground truth), the decision, the gate's verdict, the champion, and the
champion's estimated (no labels) and realised roc_auc. Results go to benchmarks/results/drift_loop.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _project import REPO, demo_project, run

# The generator's documented ground truth for drift="covariate" (driftline.data.generator).
DRIFTED_ON_PURPOSE = {"income", "credit_score", "employment", "region", "loan_amount", "debt_to_income", "interest_rate"}


def cycle(root: Path, drift: str, rows: int) -> dict[str, object]:
    run(["driftline", "simulate", "credit", "--batches", "1", "--rows", str(rows), "--drift", drift], root)
    seconds, out = run(["driftline", "watch", "credit", "--once", "--json"], root)
    summary = json.loads(out.strip().splitlines()[-1])
    report = json.loads((root / "reports/credit/drift.json").read_text())
    flagged = [c["name"] for c in report["columns"] if c["drifted"]]
    expected = DRIFTED_ON_PURPOSE if drift == "covariate" else set()
    estimated = report.get("estimated") or {}
    headline = next((m for m in estimated.get("metrics", []) if m["metric"] == estimated.get("headline")), {})
    performance = report.get("performance") or {}
    return {
        "batch": report["current"]["batches"][-1].rsplit("/", 1)[-1],
        "drift": drift,
        "flagged": flagged,
        "false_alarms": sorted(set(flagged) - expected),
        "missed": sorted(expected - set(flagged)),
        "share_drifted": report["share_drifted"],
        "decision": "retrain" if summary["retrain"] else ("no retrain" if summary["evaluated"] else "not evaluated"),
        "signals": report["decision"]["signals"],
        "reason": report["decision"]["reasons"][0],
        "promotion": summary["promotion"],
        "champion": summary["champion"],
        "estimated_roc_auc": headline.get("estimate"),
        "estimated_band": [headline.get("low"), headline.get("high")] if headline else None,
        "realised_roc_auc": performance.get("current"),
        "cycle_s": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch-rows", type=int, default=5_000)
    parser.add_argument("--quiet", type=int, default=5)
    parser.add_argument("--drifted", type=int, default=5)
    args = parser.parse_args()
    root = demo_project(args.rows, "loop")
    first, _ = run(["dvc", "repro", "credit-promote"], root)
    table = []
    for drift in ["none"] * args.quiet + ["covariate"] * args.drifted:
        table.append(cycle(root, drift, args.batch_rows))
        row = table[-1]
        print(f"{row['batch']} {drift:9} flagged {len(row['flagged']):2} false alarms {len(row['false_alarms'])} "
              f"{row['decision']:13} {row['promotion'] or '-':9} champion {row['champion']} ({row['cycle_s']} s)", flush=True)
    quiet = [r for r in table if r["drift"] == "none"]
    drifted = [r for r in table if r["drift"] == "covariate"]
    results = {
        "python": sys.version.split()[0], "cpus": os.cpu_count(), "base_rows": args.rows, "batch_rows": args.batch_rows,
        "first_repro_s": round(first, 1),
        "quiet_batches_with_a_false_alarm": sum(bool(r["false_alarms"]) for r in quiet),
        "false_alarm_columns_quiet": sum(len(r["false_alarms"]) for r in quiet),
        "false_alarm_columns_drifted": sum(len(r["false_alarms"]) for r in drifted),
        "retrains": sum(r["decision"] == "retrain" for r in table),
        "retrains_on_quiet_batches": sum(r["decision"] == "retrain" for r in quiet),
        "promotions": sum(r["promotion"] == "promoted" for r in table),
        "batches": table,
        "measured": time.strftime("%Y-%m-%d"),
    }
    out = REPO / "benchmarks" / "results" / "drift_loop.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
