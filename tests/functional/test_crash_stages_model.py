"""The model stages survive SIGKILL (see test_crash_stages.py for the method). Training and
evaluating take seconds a run, so the sample is smaller here: the first output's `during` point
(the model, or the test predictions, written but not in place) and the torn audit record; the model must load after the rerun."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.test_crash_stages import crash_and_recover


@pytest.mark.parametrize(("step", "output"), [("train", "models/credit/model.txt"), ("evaluate", "data/credit/predictions/test.parquet")])
def test_a_model_stage_killed_mid_write_recovers_on_rerun(cli, built_project: Path, tmp_path: Path, step: str, output: str) -> None:
    assert crash_and_recover(cli, built_project, tmp_path, step, only=output) == 2
