"""evaluate: score the test split; write metrics and plot data for `dvc metrics` / `dvc plots`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from driftline.atomic import write_csv, write_json, write_parquet
from driftline.config.metrics import SUMMARY, plot_names, shown
from driftline.stages.context import StageContext
from driftline.stages.matrix import encode_target, load_fitted, load_matrix


def run(ctx: StageContext) -> str:
    from driftline.models.evaluate import compute_metrics, plot_tables
    from driftline.models.train import load_model, predict_scores

    p, cfg = ctx.paths, ctx.cfg
    fitted = load_fitted(ctx)
    meta = json.loads(ctx.path(p.model_meta).read_text(encoding="utf-8"))
    test = load_matrix(ctx, "test", fitted.feature_columns, fitted.categorical)
    booster = load_model(ctx.path(p.model))
    scores = predict_scores(booster, test.X, cfg.task)
    y = encode_target(test.y, cfg.task, meta.get("classes"))
    metrics = compute_metrics(y, scores, cfg.task, threshold=cfg.model.threshold)
    tables = plot_tables(y, scores, cfg.task)
    for name in plot_names(cfg.task):
        write_csv(ctx.path(p.plot(name)), tables[name])
    predictions = pd.DataFrame({cfg.target: test.y.to_numpy()})
    if test.ids is not None:
        predictions.insert(0, cfg.dataset.id, test.ids.to_numpy())
    if scores.ndim == 1:
        predictions["score"] = scores
    else:
        for i, cls in enumerate(meta.get("classes") or range(scores.shape[1])):
            predictions[f"score_{cls}"] = scores[:, i]
        predictions["predicted"] = np.asarray(meta["classes"], dtype=object)[scores.argmax(axis=1)]
    write_parquet(ctx.path(p.predictions), predictions)
    write_json(ctx.path(p.metrics), metrics)
    summary = ", ".join(f"{k} {metrics[k]:.4f}" for k in shown(cfg.task, SUMMARY) if k in metrics)
    return f"test split ({len(test.X):,} rows): {summary} -> {p.metrics}"
