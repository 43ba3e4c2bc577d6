"""After the gate refuses a drift retrain's challenger, the same drift must not fire on every later batch.

One copy of the session's first-repro project gets a gate no challenger can pass
(`gate.min_improvement: 0.5`) and a large covariate batch: the monitor fires, the chain retrains,
the gate refuses, and the registry keeps the refused challenger's data as the baseline. Then a
second covariate batch arrives, and each `monitor.on_refusal` policy meets it in its own copy:

- `rebaseline` (the default) compares it with the data the challenger saw: the drift is not new;
- `keep` compares it with the champion's training data again: the same drift fires again;
- `cooldown` waits `refusal_cooldown_batches` batches, saying why.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

DRIFT_JSON = "reports/credit/drift.json"


def read_json(root: Path, rel: str) -> Any:
    return json.loads((root / rel).read_text(encoding="utf-8"))


def configure(cli, root: Path, extra: str) -> None:
    pipeline = root / "pipelines" / "credit.yaml"
    pipeline.write_text(pipeline.read_text() + extra)
    cli(["compile"], root)


@pytest.fixture(scope="module")
def refused(first_repro, cli, sh, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = shutil.copytree(first_repro.root, tmp_path_factory.mktemp("refused") / "proj", symlinks=True)
    configure(cli, root, "gate:\n  min_improvement: 0.5\n")
    cli(["simulate", "credit", "--rows", "8000", "--drift", "covariate"], root)
    sh(["dvc", "repro"], root)
    return root


def second_batch(refused: Path, cli, sh, dest: Path, policy: str) -> dict[str, Any]:
    root = shutil.copytree(refused, dest, symlinks=True)
    configure(cli, root, f"monitor:\n  on_refusal: {policy}\n")
    cli(["simulate", "credit", "--rows", "3000", "--drift", "covariate"], root)
    sh(["dvc", "repro", "credit-monitor"], root)
    return read_json(root, DRIFT_JSON)


def test_the_drift_retrain_was_refused_and_left_a_baseline(refused: Path) -> None:
    promotion = read_json(refused, "reports/credit/promotion.json")
    assert promotion["decision"] == "refused" and promotion["champion_after"] == "v0001"
    meta = read_json(refused, "registry/credit/baseline/baseline.json")
    assert meta["champion"] == "v0001" and meta["trigger_retrains"] == 1
    assert meta["source"] == "8,000 rows of the 1 batch(es) the refused retrain absorbed"
    assert meta["batches"] == ["data/credit/incoming/batch-0001.parquet"]
    assert 0.5 < meta["champion_metrics"]["roc_auc"] < 1


def test_rebaseline_does_not_fire_the_same_drift_again(refused: Path, cli, sh, tmp_path: Path) -> None:
    report = second_batch(refused, cli, sh, tmp_path / "proj", "rebaseline")
    decision = report["decision"]
    assert "refused" in decision["baseline"] and "rebaseline" in decision["baseline"]
    assert decision["retrain"] is False, decision["reasons"]
    assert "dataset_drift" not in decision["signals"]


def test_keep_fires_the_same_drift_again(refused: Path, cli, sh, tmp_path: Path) -> None:
    report = second_batch(refused, cli, sh, tmp_path / "proj", "keep")
    decision = report["decision"]
    assert "baseline" not in decision
    assert decision["retrain"] is True and "dataset_drift" in decision["signals"], decision["reasons"]


def test_cooldown_waits_and_says_why(refused: Path, cli, sh, tmp_path: Path) -> None:
    report = second_batch(refused, cli, sh, tmp_path / "proj", "cooldown")
    decision = report["decision"]
    assert decision["retrain"] is False and "dataset_drift" in decision["signals"]
    assert "the gate refused the last retrain's challenger: cooling down" in decision["reasons"][-1]
