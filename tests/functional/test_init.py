"""`driftline init`: a newcomer's own file becomes a pipeline that compiles and runs without edits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from driftline.data.generator import generate_loans

INIT = ["init", "--data", "data/loans.csv", "--target", "default", "--timestamp", "applied_at",
        "--id", "application_id", "--name", "myproj", "--task", "binary"]


@pytest.fixture
def with_csv(project: Path) -> Path:
    (project / "data").mkdir(exist_ok=True)
    loans_with_row_ids(2000).to_csv(project / "data/loans.csv", index=False)
    return project


def loans_with_row_ids(rows: int, first_id: int = 1, **kwargs: object) -> pd.DataFrame:
    """The generator's loans with an integer row id, as exported tables often have (not given as --id)."""
    frame = generate_loans(rows, **kwargs)
    frame.insert(0, "row_id", range(first_id, first_id + rows))
    return frame


def test_init_then_compile_and_repro_run_without_edits(cli, sh, with_csv: Path) -> None:
    root = with_csv
    out = cli(INIT, root)
    for rel in ("conf/dataset/myproj.yaml", "conf/schema/myproj.yaml", "conf/label/myproj.yaml",
                "conf/features/myproj.yaml", "pipelines/myproj.yaml"):
        assert f"wrote {rel}" in out.stdout
    schema_text = (root / "conf/schema/myproj.yaml").read_text()
    schema = yaml.safe_load(schema_text)["columns"]
    assert schema["application_id"] == {"dtype": "string", "unique": True}
    assert schema["row_id"] == {"dtype": "int"}, "an id gets no range"
    assert re.search(r"row_id: \{dtype: int\} +# an id: no range", schema_text)
    assert schema["applied_at"] == {"dtype": "datetime"}
    assert schema["income"] == {"dtype": "float", "nullable": True, "ge": 0}
    assert schema["age"] == {"dtype": "int", "ge": 0}, "a physical bound, never the oldest applicant seen"
    assert re.search(r"age: \{dtype: int, ge: 0\} +# ge: 0: every value seen was >= 0; no upper bound", schema_text)
    assert not any("le" in spec for spec in schema.values())
    assert set(schema["region"]["isin"]) == {"north", "south", "east", "west", "central", "coastal", "metro", "mountain"}
    assert schema["default"]["dtype"] == "binary"
    features = yaml.safe_load((root / "conf/features/myproj.yaml").read_text())["transforms"]
    assert {"kind": "date_parts", "column": "applied_at", "parts": ["weekday", "is_weekend", "hour", "month"]} in features
    assert any(t["kind"] == "categorical" and "employment" in t["columns"] for t in features)

    cli(["compile"], root)
    sh(["dvc", "repro", "myproj-promote"], root)
    validation = json.loads((root / "reports/myproj/validation.json").read_text())
    assert validation["quarantined_rows"] == 0, "the inferred schema accepts the data it came from"
    metrics = json.loads((root / "reports/myproj/metrics.json").read_text())
    assert 0.6 < metrics["roc_auc"] < 1.0
    assert (root / "models/myproj/model.txt").read_text().startswith("tree")


def test_an_inited_pipeline_closes_the_loop_on_new_data_beyond_the_first_file(cli, sh, with_csv: Path, tmp_path: Path) -> None:
    """The issue's trap: a schema that bounds ids and values by the largest seen quarantines the
    first batch of later data. Here a batch with larger ids, incomes and loans passes the schema,
    and the monitor the pipeline got from `init` judges it in the same `dvc repro`."""
    root = with_csv
    out = cli(INIT, root)
    assert "wrote conf/monitor/default.yaml" not in out.stdout, "the project's own monitor group is kept"
    assert "- /monitor: default" in (root / "pipelines/myproj.yaml").read_text()
    cli(["compile"], root)
    assert "myproj-monitor" in (root / "dvc.yaml").read_text()
    sh(["dvc", "repro", "myproj-promote"], root)

    later = loans_with_row_ids(1500, first_id=900_001, seed=3, start="2026-01-01", end="2026-03-31", batch=1)
    later["income"] *= 4
    later["loan_amount"] *= 3
    later["age"] += 30  # beyond any applicant in the first file
    csv = tmp_path / "later.csv"
    later.to_csv(csv, index=False)
    added = cli(["batch", "add", "myproj", str(csv)], root)
    assert "data/myproj/incoming/batch-0001.parquet: 1,500 rows" in added.stdout
    assert "fail the schema" not in added.stdout

    repro = sh(["dvc", "repro", "myproj-promote"], root)
    assert "Running stage 'myproj-monitor'" in repro.stdout
    drift = json.loads((root / "reports/myproj/drift.json").read_text())
    assert drift["reference"]["version"], "the monitor compared the batch with the champion"
    assert any(c["name"] == "income" and c["drifted"] for c in drift["columns"]), "four times the income is drift"
    listed = json.loads(cli(["batch", "list", "myproj", "--json"], root).stdout)["batches"]
    assert [b["status"] for b in listed] in (["absorbed"], ["seen"])
    if listed[0]["status"] == "absorbed":
        assert json.loads((root / "reports/myproj/validation.json").read_text())["quarantined_rows"] == 0


def test_init_in_a_project_without_a_monitor_writes_one(cli, tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    (root / "data").mkdir(parents=True)
    generate_loans(300).to_csv(root / "data/loans.csv", index=False)
    out = cli(["init", "--data", "data/loans.csv", "--target", "default", "--name", "apps"], root)
    assert "wrote conf/monitor/default.yaml" in out.stdout
    text = (root / "conf/monitor/default.yaml").read_text()
    assert "driftline batch add" in text and "on_refusal: rebaseline" in text
    cli(["compile"], root)
    assert "apps-monitor" in (root / "dvc.yaml").read_text()


def test_init_never_overwrites(cli, with_csv: Path) -> None:
    cli(INIT, with_csv)
    before = (with_csv / "conf/schema/myproj.yaml").read_bytes()
    again = cli(INIT, with_csv, check=False)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert (with_csv / "conf/schema/myproj.yaml").read_bytes() == before
    clash = cli([*INIT[:-4], "--name", "credit"], with_csv, check=False)  # pipelines/credit.yaml exists
    assert clash.returncode == 2 and "pipelines/credit.yaml" in clash.stderr


def test_data_must_lie_inside_the_project(cli, with_csv: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    generate_loans(100).to_csv(outside, index=False)
    out = cli(["init", "--data", str(outside), "--target", "default", "--name", "ext"], with_csv, check=False)
    assert out.returncode == 2 and "inside the project" in out.stderr
    assert not (with_csv / "pipelines/ext.yaml").exists()


def test_parquet_regression_task_inferred_in_an_empty_folder(cli, tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    (root / "data").mkdir(parents=True)
    generate_loans(500).drop(columns=["default"]).to_parquet(root / "data/rates.parquet")
    cli(["init", "--data", "data/rates.parquet", "--target", "interest_rate", "--name", "rates"], root)
    pipeline = yaml.safe_load((root / "pipelines/rates.yaml").read_text())
    assert pipeline["task"] == "regression"
    for shared in ("conf/split/random.yaml", "conf/model/lgbm.yaml", "conf/gate/default.yaml"):
        assert (root / shared).is_file(), "groups a new project lacks are written too"
    cli(["compile"], root)
    assert "rates-train" in (root / "dvc.yaml").read_text()


def test_a_wrong_target_names_the_column(cli, with_csv: Path) -> None:
    out = cli(["init", "--data", "data/loans.csv", "--target", "defualt", "--name", "typo"], with_csv, check=False)
    assert out.returncode == 2 and "target column 'defualt' is not in the data" in out.stderr
    bad_task = cli(["init", "--data", "data/loans.csv", "--target", "region", "--task", "binary", "--name", "typo"],
                  with_csv, check=False)
    assert bad_task.returncode == 2 and "binary task needs a 0/1" in bad_task.stderr
