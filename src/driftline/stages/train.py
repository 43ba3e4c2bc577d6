"""train: LightGBM with early stopping on the valid split; model saved as LightGBM text (no pickle).

With `model.engine: dask` the model trains on a Dask cluster (driftline.models.train); it is saved,
scored and served exactly as a local one.

The model learns from the float matrix the server builds for a request (categoricals as codes,
named to LightGBM as categorical features), so serving equals training by construction.

Training logs through DVCLive (`reports/<p>/live/`): the curves grow round by round, so
`dvc plots`, `dvc exp show` and Studio see a run while it trains; a long run prints a progress
line every few seconds. When it ends, DVCLive's metrics.json becomes the training summary:
the metrics at the best iteration (the trees the saved model keeps), rows, threads and time."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from driftline.atomic import write_csv, write_json
from driftline.stages.context import StageContext, StageError
from driftline.stages.matrix import load_fitted, load_matrix


def run(ctx: StageContext) -> str:
    from driftline.models.live import Progress, lightgbm_callback, training_logger
    from driftline.models.train import TrainingDataError, feature_importance, fit_model, save_model, training_summary

    p, cfg = ctx.paths, ctx.cfg
    fitted = load_fitted(ctx)
    train = load_matrix(ctx, "train", fitted.feature_columns, fitted.categorical)
    valid = load_matrix(ctx, "valid", fitted.feature_columns, fitted.categorical)
    with working_directory(ctx.root):  # DVCLive finds the DVC repo (and Studio's settings) from the cwd
        live = training_logger(p.live)
        started = time.perf_counter()
        progress = Progress(lambda line: print(f"{ctx.pipeline}-train: {line}", file=sys.stderr, flush=True))
        try:
            result = fit_model(train.X, train.y, valid.X, valid.y, cfg.task, cfg.model,
                               feature_names=fitted.feature_columns, categorical=list(fitted.categorical),
                               callbacks=[lightgbm_callback(live), progress])
        except TrainingDataError as exc:
            raise StageError(str(exc)) from None
        seconds = time.perf_counter() - started
        if result.metrics is not None and not len(result.curves):
            # lightgbm.dask trained a given number of rounds and reports no curves: the declared
            # curves hold one point, the metrics recomputed on the whole splits
            for split, values in result.metrics.items():
                for name, value in values.items():
                    live.log_metric(f"{split}/{name}", value)
            live.next_step()
        live.summary = training_summary(result, train_rows=len(train.X), valid_rows=len(valid.X),
                                        features=len(fitted.feature_columns), seconds=seconds)
        live.end()  # the last sync: Studio's "done"; the summary's final form replaces DVCLive's file atomically below
    write_json(ctx.path(p.train_summary), live.summary)
    save_model(result.booster, ctx.path(p.model))
    write_json(ctx.path(p.model_meta), {
        "task": cfg.task,
        "target": cfg.target,
        "classes": result.classes,
        "feature_columns": fitted.feature_columns,
        "best_iteration": result.best_iteration,
    })
    write_csv(ctx.path(p.feature_importance), feature_importance(result.booster))
    where = f" on Dask ({result.dask['workers']} workers)" if result.dask else ""
    return f"{result.best_iteration} trees in {seconds:.1f}s on {len(train.X):,} rows{where} -> {p.model}"


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
