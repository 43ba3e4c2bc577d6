"""Training in the open: the progress line of long trainings, and DVCLive synced on a schedule."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def round_env(i: int, total: int, valid_auc: float) -> SimpleNamespace:
    """What LightGBM hands a callback after round i (0-based): (split, metric, value, higher is better)."""
    return SimpleNamespace(iteration=i, end_iteration=total,
                           evaluation_result_list=[("train", "auc", 0.9, True), ("valid", "auc", valid_auc, True),
                                                   ("valid", "binary_logloss", 0.3, False)])


def test_a_long_training_prints_one_line_every_interval_not_one_per_round() -> None:
    from driftline.models.live import Progress

    clock, lines = Clock(), []
    progress = Progress(lines.append, every=10, clock=clock)
    for i in range(100):  # one round per second
        clock.now += 1
        progress(round_env(i, 1000, valid_auc=0.70 + min(i, 30) / 1000 - max(i - 30, 0) / 2000))
    assert len(lines) == 10
    assert lines[0] == "round 10/1000: valid auc 0.70900 (best 0.70900 at round 10), 10 s"
    assert lines[-1] == "round 100/1000: valid auc 0.69550 (best 0.73000 at round 31), 100 s"


def test_a_short_training_prints_nothing() -> None:
    from driftline.models.live import Progress

    clock, lines = Clock(), []
    progress = Progress(lines.append, every=10, clock=clock)
    for i in range(50):
        clock.now += 0.1
        progress(round_env(i, 50, valid_auc=0.7))
    assert lines == []


def test_dvclive_logs_every_round_but_syncs_only_on_schedule_and_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from driftline.models.live import ThrottledLive, lightgbm_callback

    monkeypatch.chdir(tmp_path)
    clock = Clock()
    live = ThrottledLive(dir="live", dvcyaml=None, save_dvc_exp=False, sync_every=5, clock=clock)
    callback = lightgbm_callback(live)
    summary = tmp_path / "live/metrics.json"
    for i in range(20):
        clock.now += 1
        callback(round_env(i, 20, valid_auc=0.7 + i / 100))
        if i == 3:
            assert not summary.exists(), "no sync before the interval"
    assert json.loads(summary.read_text())["step"] == 19, "synced on schedule (at round 20, before stepping)"
    curve = (tmp_path / "live/plots/metrics/valid/auc.tsv").read_text().splitlines()
    assert curve[0] == "step\tauc" and len(curve) == 21, "every round is in the curve"
    live.end()
    final = json.loads(summary.read_text())
    assert final["step"] == 19 and final["valid"]["auc"] == pytest.approx(0.89), "DVCLive's last step, as it syncs every round"
    assert not (tmp_path / "dvc.yaml").exists(), "DVCLive never writes a dvc.yaml (the compiler declares its files)"


def test_dvclive_logs_in_a_repository_without_a_commit_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`git init`, `dvc init`, `dvc repro` before the first commit: DVCLive alone fails there ("Empty git repo")."""
    import subprocess

    from driftline.models.live import lightgbm_callback, training_logger

    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    monkeypatch.chdir(tmp_path)
    live = training_logger("live")
    callback = lightgbm_callback(live)
    for i in range(3):
        callback(round_env(i, 3, valid_auc=0.7))
    live.end()
    assert json.loads((tmp_path / "live/metrics.json").read_text())["valid"]["auc"] == 0.7
