"""train: LightGBM with early stopping on the valid split; model saved as LightGBM text (no pickle).

The model learns from the float matrix the server builds for a request (categoricals as codes,
named to LightGBM as categorical features), so serving equals training by construction."""

from __future__ import annotations

import time

from driftline.atomic import write_csv, write_json
from driftline.stages.context import StageContext, StageError
from driftline.stages.matrix import load_fitted, load_matrix


def run(ctx: StageContext) -> str:
    from driftline.models.train import TrainingDataError, feature_importance, fit_model, save_model

    p, cfg = ctx.paths, ctx.cfg
    fitted = load_fitted(ctx)
    train = load_matrix(ctx, "train", fitted.feature_columns, fitted.categorical)
    valid = load_matrix(ctx, "valid", fitted.feature_columns, fitted.categorical)
    started = time.perf_counter()
    try:
        result = fit_model(train.X, train.y, valid.X, valid.y, cfg.task, cfg.model,
                           feature_names=fitted.feature_columns, categorical=list(fitted.categorical))
    except TrainingDataError as exc:
        raise StageError(str(exc)) from None
    classes = result.classes
    seconds = time.perf_counter() - started
    save_model(result.booster, ctx.path(p.model))
    write_json(ctx.path(p.model_meta), {
        "task": cfg.task,
        "target": cfg.target,
        "classes": classes,
        "feature_columns": fitted.feature_columns,
        "best_iteration": result.best_iteration,
    })
    write_csv(ctx.path(p.training_curves), result.curves)
    write_csv(ctx.path(p.feature_importance), feature_importance(result.booster))
    last = result.curves.iloc[max(result.best_iteration - 1, 0)].to_dict()
    summary = {
        "best_iteration": result.best_iteration,
        "train_rows": len(train.X),
        "valid_rows": len(valid.X),
        "features": len(fitted.feature_columns),
        "num_threads": result.threads,
        **{k: round(float(v), 6) for k, v in last.items() if k != "iteration"},
    }
    write_json(ctx.path(p.train_summary), summary)
    return f"{result.best_iteration} trees in {seconds:.1f}s on {len(train.X):,} rows -> {p.model}"
