"""`driftline init`: a newcomer's own file becomes a pipeline that compiles and runs without edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from driftline.data.generator import generate_loans

INIT = ["init", "--data", "data/loans.csv", "--target", "default", "--timestamp", "applied_at",
        "--id", "application_id", "--name", "myproj", "--task", "binary"]


@pytest.fixture
def with_csv(project: Path) -> Path:
    (project / "data").mkdir(exist_ok=True)
    generate_loans(2000).to_csv(project / "data/loans.csv", index=False)
    return project


def test_init_then_compile_and_repro_run_without_edits(cli, sh, with_csv: Path) -> None:
    root = with_csv
    out = cli(INIT, root)
    for rel in ("conf/dataset/myproj.yaml", "conf/schema/myproj.yaml", "conf/label/myproj.yaml",
                "conf/features/myproj.yaml", "pipelines/myproj.yaml"):
        assert f"wrote {rel}" in out.stdout
    schema = yaml.safe_load((root / "conf/schema/myproj.yaml").read_text())["columns"]
    assert schema["application_id"] == {"dtype": "string", "unique": True}
    assert schema["applied_at"] == {"dtype": "datetime"}
    assert schema["income"]["nullable"] is True and schema["income"]["ge"] >= 0
    assert schema["age"]["dtype"] == "int" and 18 <= schema["age"]["ge"] < schema["age"]["le"] <= 100
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
