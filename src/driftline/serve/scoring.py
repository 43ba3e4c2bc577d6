"""From a validated request frame to decisions: fitted transforms, scores, reason codes.

The transforms are exactly the featurize stage's: `driftline.features.model_matrix` with the
fitted state saved at training, which gives the float matrix (categoricals as codes) the model was
trained on. Scores come from the booster; for binary tasks the decision is `score >= threshold`
(1 = the positive class, e.g. "will default": high risk). Reason codes are LightGBM's
per-feature contributions through `driftline.models.explain.reason_codes_matrix`; they cost far
more than a prediction, so a request chooses which rows get them (`explain`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftline.serve.bundle import ModelBundle

Explain = Literal["none", "declined", "all"]
REASONS_TOP = 3
# Batches this large are predicted on two OpenMP threads (LightGBM releases the GIL meanwhile);
# smaller ones on one, as the server's OMP_NUM_THREADS=1 has it: waking a thread team costs more
# than a few rows take. Measured on 2 cores, batches of 1,000: 1 or 2 concurrent clients gain
# ~10 % with 2 threads, 4 clients neither gain nor lose (benchmarks/results/serve.json).
BATCH_THREADS_FROM_ROWS = 256
BATCH_THREADS = max(1, min(2, os.cpu_count() or 1))


def predict_threads(rows: int, batch_threads: int = BATCH_THREADS) -> int:
    """LightGBM threads for predicting `rows` rows (passed on every call: the setting is the
    library's, process-wide, so each call states its own)."""
    return batch_threads if rows >= BATCH_THREADS_FROM_ROWS else 1


@dataclass
class Scored:
    """Per row: score (float), prediction, optional per-class scores and reason codes."""

    scores: list[float]
    predictions: list[Any]
    class_scores: list[dict[str, float]] | None
    reasons: list[list[dict[str, Any]] | None]
    seconds: float = 0.0  # wall time of transforms, prediction and reason codes


def model_matrix(bundle: ModelBundle, frame: pd.DataFrame) -> np.ndarray:
    """The model's input matrix: the fitted transforms of training, nothing else."""
    from driftline.features.pipeline import model_matrix as build

    return build(frame, bundle.fitted)


def score_frame(bundle: ModelBundle, frame: pd.DataFrame, explain: Explain = "declined", batch_threads: int = BATCH_THREADS) -> Scored:
    """Decisions for every row of a validated frame (a large batch predicted on `batch_threads` threads)."""
    started = time.perf_counter()
    X = model_matrix(bundle, frame)
    raw = np.asarray(bundle.booster.predict(X, num_threads=predict_threads(len(X), batch_threads)), dtype=np.float64)
    if bundle.task == "multiclass" and raw.ndim != 2:
        raise ValueError(f"expected a multiclass model, got predictions of shape {raw.shape}")
    class_scores = None
    if bundle.task == "binary":
        scores = raw.tolist()
        predictions: list[Any] = (raw >= bundle.threshold).astype(int).tolist()
        wanted = np.asarray(predictions, dtype=bool) if explain == "declined" else None
    elif bundle.task == "multiclass":
        classes = bundle.classes or list(range(raw.shape[1]))
        best = raw.argmax(axis=1)
        scores = raw[np.arange(len(raw)), best].tolist()
        predictions = [classes[i] for i in best]
        class_scores = [{str(c): float(p) for c, p in zip(classes, row)} for row in raw.tolist()]
        wanted = None  # "declined" has no meaning here: explain every row
    else:
        scores = raw.tolist()
        predictions = list(scores)
        wanted = None
    reasons: list[list[dict[str, Any]] | None] = [None] * len(frame)
    if explain != "none":
        rows = np.arange(len(frame)) if wanted is None else np.flatnonzero(wanted)
        if len(rows):
            reasons_for = explain_matrix(bundle, X[rows] if len(rows) < len(X) else X)
            for row, codes in zip(rows.tolist(), reasons_for):
                reasons[row] = codes
    return Scored(scores=scores, predictions=predictions, class_scores=class_scores, reasons=reasons,
                  seconds=time.perf_counter() - started)


def explain_matrix(bundle: ModelBundle, X: np.ndarray) -> list[list[dict[str, Any]]]:
    """Top reason codes per row of the model matrix (the features that pushed the score up most)."""
    from driftline.models.explain import reason_codes_matrix

    return reason_codes_matrix(bundle.booster, X, bundle.feature_columns, top=REASONS_TOP,
                               categorical=bundle.fitted.categorical_positions)
