"""train: LightGBM with early stopping on the valid split; model saved as LightGBM text (no pickle)."""

from __future__ import annotations

import time

from driftline.atomic import write_csv, write_json
from driftline.stages.context import StageContext, StageError
from driftline.stages.matrix import encode_target, load_fitted, load_matrix


def run(ctx: StageContext) -> str:
    from driftline.models.train import feature_importance, save_model, train_model

    p, cfg = ctx.paths, ctx.cfg
    fitted = load_fitted(ctx)
    train = load_matrix(ctx, "train", fitted.feature_columns, fitted.categorical)
    valid = load_matrix(ctx, "valid", fitted.feature_columns, fitted.categorical)
    classes = None
    if cfg.task == "multiclass":
        classes = sorted({v.item() if hasattr(v, "item") else v for v in train.y.unique()}, key=str)
        unseen = set(valid.y.unique()) - set(classes)
        if unseen:
            raise StageError(f"valid split has classes never seen in train: {sorted(map(str, unseen))}")
    started = time.perf_counter()
    result = train_model(
        train.X, encode_target(train.y, cfg.task, classes), valid.X, encode_target(valid.y, cfg.task, classes),
        cfg.task, cfg.model, num_class=len(classes) if classes else None, categorical=list(fitted.categorical),
    )
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
        **{k: round(float(v), 6) for k, v in last.items() if k != "iteration"},
    }
    write_json(ctx.path(p.train_summary), summary)
    return f"{result.best_iteration} trees in {seconds:.1f}s on {len(train.X):,} rows -> {p.model}"
