"""`dvc repro` stores a performance estimator with every registered version, and the monitor can load it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from driftline.drift.estimate import estimate_performance
from driftline.features.pipeline import FittedFeatures, model_matrix
from driftline.registry.score import score_version
from driftline.stages.promote import load_estimator


def version(root: Path, pipeline: str) -> Path:
    return root / "registry" / pipeline / "versions" / "v0001"


def test_repro_writes_a_cbpe_estimator_into_the_credit_version(built_project: Path) -> None:
    folder = version(built_project, "credit")
    stored = json.loads((folder / "estimator.json").read_text())
    assert stored["method"] == "cbpe" and stored["rows"] > 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "estimator.json" in manifest["files"]  # hashed with the version, so `registry verify` covers it

    # What the monitor will do with it: on the champion's own held-out rows the estimate lands near the registered value.
    estimator = load_estimator(folder)
    assert estimator is not None and estimator.method == "cbpe"
    test = pd.read_parquet(built_project / "data/credit/split/test.parquet")
    meta = json.loads((folder / "model.json").read_text())
    scores, labels = score_version(folder / "model.txt", folder / "features.json", meta, test, task="binary", target="default")
    registered = json.loads((folder / "metrics.json").read_text())
    report = estimate_performance(estimator, scores, threshold=0.3, reference_metrics=registered, drop_threshold=0.03, labels=labels)
    auc = next(m for m in report.metrics if m.metric == "roc_auc")
    assert auc.realised == registered["roc_auc"]
    assert auc.low <= auc.realised <= auc.high and abs(report.drop) < 0.03 and not report.drifted


def test_repro_writes_a_dle_estimator_and_its_nanny_models_into_the_pricing_version(built_project: Path) -> None:
    folder = version(built_project, "pricing")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"estimator.json", "nanny_mae.txt", "nanny_mse.txt"} <= set(manifest["files"])
    assert (folder / "nanny_mae.txt").read_text().startswith("tree"), "LightGBM text, not pickle"

    estimator = load_estimator(folder)
    assert estimator is not None and estimator.method == "dle"
    test = pd.read_parquet(built_project / "data/pricing/split/test.parquet")
    fitted = FittedFeatures.from_json(json.loads((folder / "features.json").read_text()))
    assert estimator.meta["feature_columns"] == fitted.feature_columns  # the nanny reads the champion's own matrix
    meta = json.loads((folder / "model.json").read_text())
    predictions, targets = score_version(folder / "model.txt", folder / "features.json", meta, test, task="regression",
                                         target="interest_rate")
    registered = json.loads((folder / "metrics.json").read_text())
    report = estimate_performance(estimator, predictions, matrix=model_matrix(test, fitted), reference_metrics=registered,
                                  drop_threshold=0.1, labels=targets)
    mae = next(m for m in report.metrics if m.metric == "mae")
    assert mae.realised == registered["mae"] and np.isclose(mae.estimate, mae.realised, rtol=0.1)


def test_a_version_registered_before_estimators_has_none(built_project: Path) -> None:
    folder = version(built_project, "credit")
    (folder / "estimator.json").unlink()
    assert load_estimator(folder) is None
