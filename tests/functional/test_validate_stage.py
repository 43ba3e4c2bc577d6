"""`driftline run validate`: bad rows of a real CSV are quarantined with reasons; too many fail the stage."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from driftline.data.generator import generate_loans

ROWS = 500
BAD_AGE = list(range(3, ROWS, 50))  # 10 rows (2%): age -5
BAD_SCORE = [7, 208, 409]  # 3 rows: credit_score 'abc'
CSV_SOURCE = """\
source:
  kind: csv
  path: data/applications.csv
  parse_dates: [applied_at]
"""


def use_csv_source(root: Path) -> pd.DataFrame:
    """Write data/applications.csv with known bad rows and point the dataset at it; return the frame."""
    df = generate_loans(ROWS)
    df = df.astype({"age": object, "credit_score": object})
    df.loc[BAD_AGE, "age"] = -5
    df.loc[BAD_SCORE, "credit_score"] = "abc"
    (root / "data").mkdir(exist_ok=True)
    df.to_csv(root / "data" / "applications.csv", index=False)

    loans = root / "conf" / "dataset" / "loans.yaml"
    text = loans.read_text()
    start, end = text.index("source:\n"), text.index("timestamp:")
    loans.write_text(text[:start] + CSV_SOURCE + text[end:])
    # pricing overrides generator-only keys (rows, seed) that a csv source does not have
    pricing = root / "pipelines" / "pricing.yaml"
    lines = pricing.read_text().splitlines(keepends=True)
    at = lines.index("dataset:\n")
    assert lines[at + 1].strip() == "source:" and lines[at + 2].strip().startswith("rows:") and lines[at + 3].strip().startswith("seed:")
    pricing.write_text("".join(lines[:at] + lines[at + 4:]))
    return df


@pytest.fixture(scope="module")
def csv_project(projects, cli, edit) -> tuple[Path, pd.DataFrame]:
    """A project reading a CSV with 13 bad rows, compiled and ingested (allowing up to 5% bad rows)."""
    root = projects.fresh()
    df = use_csv_source(root)
    edit(root, "conf/schema/loans.yaml", "max_bad_share: 0.01", "max_bad_share: 0.05")
    cli(["compile"], root)
    cli(["run", "ingest", "credit"], root)
    return root, df


@pytest.fixture
def fresh(csv_project: tuple[Path, pd.DataFrame], tmp_path: Path) -> Path:
    """A private copy of the ingested project, for tests that change it."""
    return shutil.copytree(csv_project[0], tmp_path / "proj", symlinks=True)


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_validated(cli, fresh: Path, csv_project: tuple[Path, pd.DataFrame]) -> None:
    root, df = fresh, csv_project[1]
    proc = cli(["run", "validate", "credit"], root)
    assert "487 valid, 13 quarantined" in proc.stdout

    quarantine = pd.read_parquet(root / "data/credit/quarantine.parquet")
    bad_ids = set(df.loc[BAD_AGE + BAD_SCORE, "application_id"])
    assert set(quarantine["application_id"]) == bad_ids
    assert len(quarantine) == len(bad_ids)
    reasons = dict(zip(quarantine["application_id"], quarantine["_reasons"], strict=True))
    for i in BAD_AGE:
        assert reasons[df.loc[i, "application_id"]] == "age: must be >= 18"
    for i in BAD_SCORE:
        assert reasons[df.loc[i, "application_id"]] == "credit_score: not a valid int (a whole number within ±2^63)"

    validated = pd.read_parquet(root / "data/credit/validated.parquet")
    assert set(validated["application_id"]) == set(df["application_id"]) - bad_ids
    assert len(validated) == ROWS - len(bad_ids)
    assert str(validated["credit_score"].dtype) == "Int64"
    assert validated["age"].min() >= 18

    report = json.loads((root / "reports/credit/validation.json").read_text())
    assert report["rows"] == ROWS
    assert report["valid_rows"] == ROWS - 13
    assert report["quarantined_rows"] == 13
    assert report["bad_share"] == pytest.approx(13 / ROWS)
    assert report["max_bad_share"] == 0.05
    assert report["failures"] == {"age: must be >= 18": 10, "credit_score: not a valid int (a whole number within ±2^63)": 3}


def test_too_many_bad_rows_fail_the_stage_and_write_no_validated_data(cli, edit, fresh: Path) -> None:
    edit(fresh, "conf/schema/loans.yaml", "max_bad_share: 0.05", "max_bad_share: 0.001")
    cli(["compile"], fresh)
    (fresh / "data/credit/validated.parquet").unlink(missing_ok=True)  # as `dvc repro` clears outs first
    proc = cli(["run", "validate", "credit"], fresh, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2.60% of rows failed credit.schema" in proc.stderr
    assert "max_bad_share 0.10%" in proc.stderr
    assert "data/credit/quarantine.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (fresh / "data/credit/validated.parquet").exists()
    # the evidence is still there for a person to look at
    assert len(pd.read_parquet(fresh / "data/credit/quarantine.parquet")) == 13
    assert json.loads((fresh / "reports/credit/validation.json").read_text())["quarantined_rows"] == 13


# `-X importtime` misses modules loaded through importlib.import_module (how stages are loaded),
# so ask the interpreter itself which modules it holds once the command has finished.
CLI_THEN_REPORT_MODULES = """
import json, sys
from driftline.cli.main import app
code = 0
try:
    app(["run", "validate", "credit"], prog_name="driftline")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


def test_validate_never_imports_lightgbm(sh, fresh: Path) -> None:
    """A data check must not pay for loading the model library (over a second per stage)."""
    proc = sh([sys.executable, "-c", CLI_THEN_REPORT_MODULES], fresh)
    assert "credit-validate: 487 valid, 13 quarantined" in proc.stdout
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["exit"] == 0
    modules = set(result["modules"])
    assert {"driftline.stages.validate", "pandera"} <= modules, "the stage did not run"
    assert not {name for name in modules if name.split(".")[0] == "lightgbm"}
