"""The metrics registry: what the gate, evaluate, the card, the sweep and compile agree on."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from driftline.compile.graph import evaluation_plots, training_plots
from driftline.config import metrics
from driftline.config.groups import GateSpec
from driftline.config.model import ModelSpec
from driftline.errors import EXIT_BAD_CONFIG
from driftline.models.evaluate import COMPUTE, compute_metrics, plot_tables
from driftline.registry.card import card_markdown
from driftline.registry.gate import decide, gate_metric
from driftline.sweep import leaderboard

RNG = np.random.default_rng(7)
N = 400


def scored(task: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores with every class present, so every metric of the task is defined."""
    if task == "binary":
        y = np.tile([0, 1], N // 2)
        return y, np.clip(0.3 * y + 0.7 * RNG.random(N), 0, 1)
    if task == "regression":
        y = RNG.normal(10, 2, N)
        return y, y + RNG.normal(0, 1, N)
    y = np.tile([0, 1, 2], N // 3 + 1)[:N]
    p = RNG.random((N, 3)) + np.eye(3)[y]
    return y, p / p.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ the gate


def test_the_gate_refuses_a_metric_the_task_does_not_have_and_lists_the_choices() -> None:
    with pytest.raises(metrics.UnknownMetricError) as caught:
        decide(0.8, 0.7, GateSpec(metric="rmse"), "binary")
    message = str(caught.value)
    assert "'rmse' is not a binary metric" in message
    assert message.endswith("choose one of: roc_auc, average_precision, log_loss, brier, accuracy, precision, recall, f1")
    assert caught.value.exit_code == EXIT_BAD_CONFIG, "a wrong gate.metric is a config error (exit 2)"


def test_the_gate_refuses_a_rate_that_has_no_better_direction() -> None:
    with pytest.raises(metrics.UnknownMetricError, match="'positive_rate' describes the data and has no better direction"):
        gate_metric(GateSpec(metric="positive_rate"), "binary")


@pytest.mark.parametrize(
    ("challenger", "champion", "passed"),
    [pytest.param(0.30, 0.35, True, id="lower-loss-wins"), pytest.param(0.40, 0.35, False, id="higher-loss-loses")],
)
def test_the_gate_honours_a_lower_is_better_metric(challenger: float, champion: float, passed: bool) -> None:
    result = decide(challenger, champion, GateSpec(metric="log_loss"), "binary")
    assert result.passed is passed
    assert result.improvement == pytest.approx(champion - challenger), "improvement is positive when the loss falls"


def test_a_minimum_on_a_loss_is_a_ceiling() -> None:
    refused = decide(1.2, None, GateSpec(minimum=1.0), "regression")
    assert not refused.passed and refused.metric == "rmse" and "at most 1.0" in refused.reason
    assert decide(0.9, None, GateSpec(minimum=1.0), "regression").passed


@pytest.mark.parametrize(("task", "expected"), [("binary", "roc_auc"), ("regression", "rmse"), ("multiclass", "log_loss")])
def test_each_task_has_one_headline_the_gate_uses_by_default(task: str, expected: str) -> None:
    assert metrics.headline(task) == expected == gate_metric(GateSpec(), task)
    assert expected in metrics.comparable(task)


# ------------------------------------------------------------------ evaluate computes what the registry lists


@pytest.mark.parametrize("task", metrics.TASKS)
def test_metrics_json_holds_exactly_the_tasks_registered_metrics(task: str) -> None:
    y, s = scored(task)
    assert set(compute_metrics(y, s, task)) == {m.name for m in metrics.task_metrics(task)}


def test_every_registered_metric_has_one_compute_function() -> None:
    assert set(COMPUTE) == set(metrics.METRICS)


@pytest.mark.parametrize("task", metrics.TASKS)
def test_every_compiled_plot_draws_columns_the_evaluate_tables_have(task: str) -> None:
    y, s = scored(task)
    tables = plot_tables(y, s, task)
    assert set(tables) == set(metrics.plot_names(task))
    drawn = {}
    for entry in evaluation_plots("p", task):
        (path, spec), = entry.items()
        drawn[path.rsplit("/", 1)[-1].removesuffix(".csv")] = spec
    assert set(drawn) == set(tables)
    for plot, table in tables.items():
        assert {drawn[plot]["x"], drawn[plot]["y"]} <= set(table.columns), plot
        assert drawn[plot]["cache"] is False, "a plot, not a plain uncached out: DVC's run cache stays on"


@pytest.mark.parametrize("task", metrics.TASKS)
def test_training_curves_hold_every_metric_lightgbm_records_round_by_round(task: str, tmp_path, monkeypatch) -> None:
    from driftline.models.live import lightgbm_callback, training_logger
    from driftline.models.train import train_model

    y, _ = scored(task)
    X = pd.DataFrame({"signal": y + RNG.normal(0, 0.5, N), "noise": RNG.random(N)})
    if task == "regression":
        X["signal"] = y + RNG.normal(0, 1, N)
    monkeypatch.chdir(tmp_path)
    live = training_logger("live")
    spec = ModelSpec(num_boost_round=5, early_stopping_rounds=50, train_curve="sample", train_curve_rows=100)
    result = train_model(X[:300], y[:300], X[300:], y[300:], task, spec, callbacks=[lightgbm_callback(live)])
    live.end()
    assert "reports/p/live/plots/metrics" in {path for entry in training_plots("p") for path in entry}, "what the train stage declares"
    written = sorted(str(f.relative_to(tmp_path / "live/plots/metrics")) for f in (tmp_path / "live/plots/metrics").rglob("*.tsv"))
    assert written == sorted(f"{split}/{m}.tsv" for split in ("train_sample", "valid") for m in metrics.LIGHTGBM_METRICS[task])
    curve = (tmp_path / f"live/plots/metrics/valid/{metrics.curve_metric(task)}.tsv").read_text().splitlines()
    assert curve[0] == f"step\t{metrics.curve_metric(task)}" and len(curve) == 1 + len(result.curves) == 6


# ------------------------------------------------------------------ the card and the sweep


def test_card_slice_tables_show_the_tasks_slice_metrics_in_registry_order() -> None:
    slice_values = {"north": {"n": 500, "r2": 0.5, "mape": 0.1, "mae": 1.5, "rmse": 2.0}}
    card = {"pipeline": "pricing", "version": "v1", "parent": None, "intended_use": "", "limitations": "",
            "task": "regression", "target": "price", "features": [], "training_data": {}, "metrics": {},
            "metrics_by_slice": {"region": slice_values}, "gate": {}, "drift_history": []}
    md = card_markdown(card)
    assert "| value | n | rmse | mae | r2 |" in md, "mape is in metrics.json but not a slice column"
    assert "| north | 500 | 2.0000 | 1.5000 | 0.5000 |" in md


def test_the_leaderboard_ranks_a_loss_ascending_and_says_so() -> None:
    rows = [{"job": j, "objective": v, "test": v, "metric": "mae", "direction": "minimize", "best_iteration": 1,
             "seconds": 0.1, "overrides": [], "swept": {}} for j, v in enumerate([0.5, 0.3, 0.4])]
    ranked = leaderboard.rank(rows)
    assert [r["job"] for r in ranked] == [1, 2, 0]
    assert "valid mae (lower is better)" in leaderboard.to_svg(ranked)


# ------------------------------------------------------------------ start-up


def test_the_registry_and_model_schema_import_no_pandas_or_numpy() -> None:
    code = ("import sys, driftline.config.metrics, driftline.config.model; "
            "heavy = sorted({'numpy', 'pandas', 'lightgbm'} & set(sys.modules)); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
