"""How well performance is estimated before the labels arrive (CBPE, DLE), against the realised values.

    python benchmarks/bench_estimate.py                 (50,000 rows, 20 + 20 batches of 5,000)
    python benchmarks/bench_estimate.py --rows 10000 --batches 5   (quick check)

In a throw-away copy of this project's demo: one `dvc repro` trains, gates and registers the
credit (binary) and pricing (regression) champions, each with the estimator promote stores beside
it. Then batches come from the built-in generator exactly as `driftline simulate` writes them
(the pipeline's seed, 30-day windows after the dataset's end, strength 1.0), all labelled:

- credit: `--batches` covariate batches (inputs shift, P(default | features) unchanged: CBPE's
  assumption holds) and as many concept batches (same inputs, the label mechanism changes: it does
  not); per batch the estimated roc_auc with its 90% band against the realised one;
- pricing: covariate batches and quiet ones (the generator's concept drift changes only `default`,
  so pricing has no concept case); per batch the DLE estimate of MAE (and RMSE) against realised.

Per kind: the mean absolute estimation error, the mean signed error (estimate - realised), the
share of batches whose realised value falls inside the band, and how often the estimated and the
realised drop cross the monitor's `performance_drop` (0.03 roc_auc).

Speed, in the same run: the CBPE estimate with its Monte Carlo band on 50,000 scores, against a
naive band (the same draws scored one at a time by scikit-learn's metric functions), as a ratio.

Writes benchmarks/results/estimate.json (generated; rerun the command above to refresh it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _project import REPO, demo_project, run

from driftline.config.groups import MonitorSpec
from driftline.config.params import load_pipeline
from driftline.data.generator import generate_loans
from driftline.drift.estimate import calibrate, estimate_cbpe, estimate_performance
from driftline.features.pipeline import FittedFeatures, model_matrix
from driftline.registry.score import score_version
from driftline.stages.promote import load_estimator

RESULTS = REPO / "benchmarks" / "results" / "estimate.json"
BATCH_ROWS = 5_000
CONFIDENCE = 0.9
SPEED_ROWS = 50_000


def batch_frames(root: Path, pipeline: str, drift: str, numbers: range) -> list[tuple[int, Any]]:
    """Batches as `driftline simulate` writes them (30 days each after the dataset's end)."""
    source = load_pipeline(pipeline, root).dataset.source
    end = dt.date.fromisoformat(source.end)
    frames = []
    for number in numbers:
        start = end + dt.timedelta(days=30 * (number - 1))
        frames.append((number, generate_loans(rows=BATCH_ROWS, seed=source.seed, start=start.isoformat(),
                                              end=(start + dt.timedelta(days=30)).isoformat(), drift=drift, batch=number)))
    return frames


def champion(root: Path, pipeline: str) -> tuple[Path, dict, dict, Any]:
    folder = root / "registry" / pipeline / "versions" / "v0001"
    meta = json.loads((folder / "model.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    estimator = load_estimator(folder)
    if estimator is None:
        raise SystemExit(f"{folder} holds no estimator.json")
    return folder, meta, metrics, estimator


def summarise(rows: list[dict], metric: str, drop_threshold: float, lower_is_better: bool) -> dict:
    est = np.array([r[metric]["estimate"] for r in rows])
    real = np.array([r[metric]["realised"] for r in rows])
    inside = [r[metric]["low"] <= r[metric]["realised"] <= r[metric]["high"] for r in rows]
    reference = rows[0][metric]["reference"]
    sign = -1.0 if lower_is_better else 1.0
    est_alarm, real_alarm = sign * (reference - est) >= drop_threshold, sign * (reference - real) >= drop_threshold
    return {
        "metric": metric,
        "batches": len(rows),
        "reference": reference,
        "mean_realised": round(float(real.mean()), 6),
        "mean_estimate": round(float(est.mean()), 6),
        "mean_abs_error": round(float(np.abs(est - real).mean()), 6),
        "mean_signed_error": round(float((est - real).mean()), 6),
        "max_abs_error": round(float(np.abs(est - real).max()), 6),
        "share_realised_in_band": round(float(np.mean(inside)), 3),
        "mean_band_width": round(float(np.mean([r[metric]["high"] - r[metric]["low"] for r in rows])), 6),
        "realised_drop_alarms": int(real_alarm.sum()),
        "estimated_drop_alarms": int(est_alarm.sum()),
        "alarms_missed": int((real_alarm & ~est_alarm).sum()),
        "false_alarms": int((est_alarm & ~real_alarm).sum()),
    }


def credit(root: Path, batches: int) -> tuple[dict, np.ndarray, dict]:
    cfg = load_pipeline("credit", root)
    folder, meta, metrics, estimator = champion(root, "credit")
    out: dict[str, Any] = {"reference_roc_auc": metrics["roc_auc"], "calibration_points": len(estimator.meta["calibration"]["x"]),
                           "held_out_rows": estimator.meta["rows"]}
    last_scores = None
    for kind, numbers in (("covariate", range(1, batches + 1)), ("concept", range(batches + 1, 2 * batches + 1))):
        rows = []
        for number, frame in batch_frames(root, "credit", kind, numbers):
            scores, labels = score_version(folder / "model.txt", folder / "features.json", meta, frame, task="binary", target=cfg.target)
            report = estimate_performance(estimator, scores, threshold=cfg.model.threshold, reference_metrics=metrics,
                                          drop_threshold=cfg.monitor.performance_drop, confidence=CONFIDENCE, labels=labels)
            row: dict[str, Any] = {"batch": number, "rows": report.rows}
            row.update({m.metric: m.model_dump() for m in report.metrics})
            rows.append(row)
            last_scores = scores
            auc = row["roc_auc"]
            print(f"credit {kind:9} batch {number:2}: roc_auc estimated {auc['estimate']:.4f} "
                  f"[{auc['low']:.4f}, {auc['high']:.4f}] realised {auc['realised']:.4f}")
        out[kind] = {"summary": {name: summarise(rows, name, cfg.monitor.performance_drop, False)
                                 for name in ("roc_auc", "accuracy", "precision", "recall")},
                     "per_batch": [{"batch": r["batch"], **{k: r["roc_auc"][k] for k in ("estimate", "low", "high", "realised")}}
                                   for r in rows]}
    assert last_scores is not None
    return out, last_scores, estimator.meta


def pricing(root: Path, batches: int) -> dict:
    cfg = load_pipeline("pricing", root)
    drop = (cfg.monitor or MonitorSpec()).performance_drop  # the demo's pricing pipeline has no monitor: the default
    folder, meta, metrics, estimator = champion(root, "pricing")
    fitted = FittedFeatures.from_json(json.loads((folder / "features.json").read_text()))
    out: dict[str, Any] = {"reference_mae": metrics["mae"], "reference_rmse": metrics["rmse"], "held_out_rows": estimator.meta["rows"]}
    for kind, numbers in (("covariate", range(1, batches + 1)), ("none", range(batches + 1, 2 * batches + 1))):
        rows = []
        for number, frame in batch_frames(root, "pricing", kind, numbers):
            predictions, targets = score_version(folder / "model.txt", folder / "features.json", meta, frame, task="regression",
                                                 target=cfg.target)
            report = estimate_performance(estimator, predictions, matrix=model_matrix(frame, fitted), reference_metrics=metrics,
                                          drop_threshold=drop, confidence=CONFIDENCE, labels=targets)
            row: dict[str, Any] = {"batch": number, "rows": report.rows}
            row.update({m.metric: m.model_dump() for m in report.metrics})
            rows.append(row)
            mae = row["mae"]
            print(f"pricing {kind:9} batch {number:2}: mae estimated {mae['estimate']:.4f} "
                  f"[{mae['low']:.4f}, {mae['high']:.4f}] realised {mae['realised']:.4f}")
        out[kind] = {"summary": {name: summarise(rows, name, drop, True) for name in ("mae", "rmse")},
                     "per_batch": [{"batch": r["batch"], **{k: r["mae"][k] for k in ("estimate", "low", "high", "realised")}}
                                   for r in rows]}
    return out


def speed(estimator_meta: dict, scores: np.ndarray, threshold: float, repeat: int) -> dict:
    """The vectorised CBPE band on SPEED_ROWS scores against scoring the same number of draws one by one."""
    from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

    rng = np.random.default_rng(0)
    s = rng.choice(scores, SPEED_ROWS, replace=True)
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        estimate_cbpe(estimator_meta, s, threshold, reference_metrics={}, drop_threshold=0.03, confidence=CONFIDENCE)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    from driftline.drift.estimate import DRAWS

    probs = calibrate(estimator_meta, s)
    predicted = s >= threshold
    start = time.perf_counter()
    for _ in range(DRAWS):
        labels = rng.random(len(s)) < probs
        roc_auc_score(labels, s), accuracy_score(labels, predicted)
        precision_score(labels, predicted, zero_division=0), recall_score(labels, predicted, zero_division=0)
    naive = time.perf_counter() - start
    return {"rows": SPEED_ROWS, "draws": DRAWS, "estimate_seconds_best": round(min(times), 4),
            "estimate_seconds_median": round(float(np.median(times)), 4),
            # CPU time of this process: what the estimate costs when the machine is not shared
            "estimate_cpu_seconds_best": round(min(cpu), 4), "load_average_1min": round(os.getloadavg()[0], 2),
            "naive_band_seconds": round(naive, 3), "naive_over_vectorised": round(naive / min(times), 1),
            "naive": "the same number of label draws, each scored by sklearn roc_auc_score, accuracy, precision, recall"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the demo dataset the champions train on")
    parser.add_argument("--batches", type=int, default=20, help="batches of each kind")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = demo_project(args.rows, "estimate")
    try:
        start = time.perf_counter()
        run(["dvc", "repro", "credit-promote", "pricing-promote"], root)
        repro_seconds = time.perf_counter() - start
        credit_results, scores, cbpe_meta = credit(root, args.batches)
        pricing_results = pricing(root, args.batches)
        timing = speed(cbpe_meta, scores, load_pipeline("credit", root).model.threshold, args.repeat)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results = {
        "_generated_by": "benchmarks/bench_estimate.py — regenerate with `python benchmarks/bench_estimate.py`",
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()},
        "setup": {"demo_rows": args.rows, "batches_per_kind": args.batches, "batch_rows": BATCH_ROWS, "confidence": CONFIDENCE,
                  "drift_strength": 1.0, "dvc_repro_seconds": round(repro_seconds, 1)},
        "credit_cbpe": credit_results,
        "pricing_dle": pricing_results,
        "speed": timing,
    }
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    for kind in ("covariate", "concept"):
        s = credit_results[kind]["summary"]["roc_auc"]
        print(f"credit {kind}: roc_auc mean |error| {s['mean_abs_error']:.4f}, signed {s['mean_signed_error']:+.4f}, "
              f"realised in band {s['share_realised_in_band']:.0%}")
    for kind in ("covariate", "none"):
        s = pricing_results[kind]["summary"]["mae"]
        print(f"pricing {kind}: mae mean |error| {s['mean_abs_error']:.4f}, signed {s['mean_signed_error']:+.4f}, "
              f"realised in band {s['share_realised_in_band']:.0%}")
    print(f"speed: {timing['estimate_seconds_best']}s for {SPEED_ROWS:,} scores ({timing['naive_over_vectorised']}x the naive band)")
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
