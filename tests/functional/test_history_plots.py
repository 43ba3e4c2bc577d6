"""`dvc plots show` draws the drift history (reports/<p>/drift_history.csv) through driftline's templates.

A real DVC repo with a three-run history: DVC finds the templates that `driftline compile` wrote
to .dvc/plots/, fills them with the file's rows, and `compile --check` guards the templates too.
"""

from __future__ import annotations

import json
from pathlib import Path

from driftline.drift.history import HistoryRow, history_rows_to_csv

COLUMNS = ("income", "credit_score", "region")
HISTORY = "reports/credit/drift_history.csv"
DECISIONS = ("no retrain", "not evaluated", "retrain")
PLOTS = ("credit-drift_columns", "credit-drift_model", "credit-drift_quality")


def three_runs() -> list[HistoryRow]:
    rows = []
    for run in (1, 2, 3):
        batch, time = f"batch-{run:04d}", f"2026-12-0{run}T10:00:00Z"
        for index, column in enumerate(COLUMNS):
            statistic = 0.04 * run * (index + 1)
            rows.append(HistoryRow(run, time, batch, "column", column, statistic, 0.1, statistic >= 0.1, rows=3000))
        rows.append(HistoryRow(run, time, batch, "prediction", "psi", 0.07 * run, 0.2, 0.07 * run >= 0.2, rows=3000))
        rows.append(HistoryRow(run, time, batch, "estimated", "roc_auc", 0.78 - 0.01 * run, rows=3000))
        rows.append(HistoryRow(run, time, batch, "quality", "bad_share", 0.01, 0.05, False, rows=3000))
        rows.append(HistoryRow(run, time, batch, "decision", DECISIONS[run - 1], 0.33 * (run - 1), 0.3))
    return rows


def shown_plots(sh, root: Path) -> dict:
    out = sh(["dvc", "plots", "show", "--json", *PLOTS], root).stdout
    return json.loads(out)["data"]


def test_dvc_plots_show_draws_every_signal_of_a_three_run_history(sh, project: Path) -> None:
    assert (project / ".dvc/plots/driftline_drift_columns.json").is_file(), "compile writes the templates into DVC's folder"
    (project / HISTORY).parent.mkdir(parents=True, exist_ok=True)
    (project / HISTORY).write_text(history_rows_to_csv(three_runs()), encoding="utf-8")

    plots = shown_plots(sh, project)
    assert sorted(plots) == list(PLOTS)
    drawn = {}
    for plot_id, (rendered,) in plots.items():
        assert rendered["type"] == "vega"
        spec = rendered["content"]
        assert "<DVC_METRIC" not in json.dumps(spec), f"{plot_id}: DVC left an anchor unfilled"
        assert spec["title"]["text"].startswith("credit: ")
        rows = spec["data"]["values"]
        assert len(rows) == len(three_runs()), "every row of the file reaches the plot"
        assert {row["run"] for row in rows} == {"1", "2", "3"}
        (step,) = [t for t in spec["transform"] if "filter" in t]
        drawn[plot_id] = [row for row in rows if row["signal"] in step["filter"]["oneOf"]]

    columns = drawn["credit-drift_columns"]
    assert sorted({row["name"] for row in columns}) == sorted(COLUMNS), "one small plot (facet) per column"
    assert [row["batch"] for row in columns if row["name"] == "income"] == ["batch-0001", "batch-0002", "batch-0003"]
    assert [row["drifted"] for row in columns if row["name"] == "income"] == ["0", "0", "1"]
    assert {row["threshold"] for row in columns} == {"0.1"}
    assert {row["signal"] for row in drawn["credit-drift_model"]} == {"prediction", "estimated"}
    decisions = [row["name"] for row in drawn["credit-drift_quality"] if row["signal"] == "decision"]
    assert decisions == list(DECISIONS)


def test_compile_check_notices_an_edited_plot_template(cli, project: Path) -> None:
    template = project / ".dvc/plots/driftline_drift_model.json"
    original = template.read_text(encoding="utf-8")
    template.write_text(original.replace('"width": 250', '"width": 999'), encoding="utf-8")
    stale = cli(["compile", "--check"], project, check=False)
    assert stale.returncode == 1
    assert stale.stdout.splitlines() == ["spec.width: 999 -> 250 (.dvc/plots/driftline_drift_model.json)"]
    cli(["compile"], project)
    assert template.read_text(encoding="utf-8") == original
    assert cli(["compile", "--check"], project).returncode == 0
