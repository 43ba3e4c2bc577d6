"""`driftline batch add|list|retire`: your own batches through the loop, and the way out of a stuck one.

Batches are CSV files the way a user has them (timestamps and categories as text); `dvc repro`
runs as a real process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from driftline.data.batches import Batch, Trigger
from driftline.data.generator import generate_loans
from driftline.hashing import sha256_file

INCOMING = "data/credit/incoming"
TRIGGER = "data/credit/trigger.json"
RAW = "data/credit/raw.parquet"
TEMPLATE_ROWS = 3000  # tests/conftest.py


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def loans_csv(path: Path, rows: int = 600, drift: str = "none", batch: int = 1, **edits: object) -> Path:
    """New loan applications as a CSV: every value is text on disk, read back without any typing."""
    frame = generate_loans(rows, seed=11, start="2026-01-01", end="2026-01-31", drift=drift, strength=2.0, batch=batch)
    for column, value in edits.items():
        frame[column] = value
    frame.to_csv(path, index=False)
    return path


def incoming(root: Path) -> list[str]:
    folder = root / INCOMING
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_add_casts_a_csv_writes_a_typed_batch_and_tracks_it_with_dvc(cli, sh, built_project: Path, tmp_path: Path) -> None:
    root = built_project
    csv = loans_csv(tmp_path / "january.csv")
    assert pd.read_csv(csv)["applied_at"].dtype != "datetime64[ns]", "the CSV holds timestamps as text"
    out = cli(["batch", "add", "credit", str(csv)], root)
    assert f"{INCOMING}/batch-0001.parquet: 600 rows from {csv}" in out.stdout
    assert "next: `dvc repro`" in out.stdout

    batch = pd.read_parquet(root / INCOMING / "batch-0001.parquet")
    assert len(batch) == 600
    assert str(batch["applied_at"].dtype) == "datetime64[ns]"
    assert isinstance(batch["employment"].dtype, pd.CategoricalDtype)
    assert str(batch["age"].dtype) == "Int64" and str(batch["income"].dtype) == "float64"

    tracked = root / INCOMING / "batch-0001.parquet.dvc"
    assert tracked.is_file() and "md5:" in tracked.read_text()
    sh(["git", "check-ignore", "-q", f"{INCOMING}/batch-0001.parquet"], root)  # the data is git-ignored ...
    staged = sh(["git", "diff", "--cached", "--name-only"], root).stdout.split()
    assert f"{INCOMING}/batch-0001.parquet.dvc" in staged  # ... and its .dvc file staged (core.autostage)
    assert "batch-0001.parquet" not in sh(["dvc", "status", "--json", f"{INCOMING}/batch-0001.parquet.dvc"], root).stdout

    second = cli(["batch", "add", "credit", str(csv), str(loans_csv(tmp_path / "february.csv", rows=300))], root)
    assert f"{INCOMING}/batch-0002.parquet: 600 rows" in second.stdout and f"{INCOMING}/batch-0003.parquet: 300 rows" in second.stdout


def test_row_failures_do_not_refuse_the_batch_but_are_reported(cli, built_project: Path, tmp_path: Path) -> None:
    # ids beyond anything seen and incomes far above are fine; an age under 18 breaks a rule
    csv = loans_csv(tmp_path / "young.csv", rows=400)
    frame = pd.read_csv(csv)
    frame.loc[:99, "age"] = 16
    frame.to_csv(csv, index=False)
    out = cli(["batch", "add", "credit", str(csv)], built_project)
    assert "25.0% of rows (100) fail the schema: age: must be >= 18 (100 rows)" in out.stdout
    assert "the monitor judges the batch" in out.stdout
    assert (built_project / INCOMING / "batch-0001.parquet").is_file()


@pytest.mark.parametrize(("edit", "expected"), [
    ({"drop": "income"}, "column 'income': field required"),
    ({"set": ("credit_score", "excellent")}, "column 'credit_score': 500 of 500 value(s) are not a valid int"),
    ({"set": ("applied_at", "last tuesday")}, "column 'applied_at'"),
], ids=["missing-column", "words-in-an-int-column", "unreadable-timestamps"])
def test_a_structurally_wrong_file_is_refused_and_nothing_is_written(cli, built_project: Path, tmp_path: Path,
                                                                     edit: dict, expected: str) -> None:
    good = loans_csv(tmp_path / "good.csv", rows=500)
    bad_frame = pd.read_csv(good)
    if "drop" in edit:
        bad_frame = bad_frame.drop(columns=[edit["drop"]])
    else:
        column, value = edit["set"]
        bad_frame[column] = value
    bad = tmp_path / "bad.csv"
    bad_frame.to_csv(bad, index=False)
    out = cli(["batch", "add", "credit", str(good), str(bad)], built_project, check=False)
    assert out.returncode == 1
    assert str(bad) in out.stderr and expected in out.stderr
    assert "Traceback" not in out.stderr
    assert incoming(built_project) == [], "all or nothing: the good file is not written either"


def test_list_shows_statuses_and_names_a_stray_file(cli, built_project: Path, tmp_path: Path) -> None:
    root = built_project
    cli(["batch", "add", "credit", str(loans_csv(tmp_path / "a.csv", rows=250)), str(loans_csv(tmp_path / "b.csv", rows=260))], root)
    (root / INCOMING / "dropped.csv").write_text("a,b\n1,2\n")
    state = json.loads((root / "data/credit/monitor_state.json").read_text())
    b1 = {"file": f"{INCOMING}/batch-0001.parquet", "sha256": sha256_file(root / INCOMING / "batch-0001.parquet")}
    state["seen"], state["rejected"] = [b1], [{**b1, "reason": "38% of rows fail `age >= 18`"}]
    (root / "data/credit/monitor_state.json").write_text(json.dumps(state))

    listed = json.loads(cli(["batch", "list", "credit", "--json"], root).stdout)
    assert [(b["file"].rsplit("/", 1)[-1], b["rows"], b["status"]) for b in listed["batches"]] == [
        ("batch-0001.parquet", 250, "rejected"), ("batch-0002.parquet", 260, "pending")]
    assert listed["batches"][0]["reason"] == "38% of rows fail `age >= 18`"
    assert listed["stray"] == [f"{INCOMING}/dropped.csv"]
    table = cli(["batch", "list", "credit"], root).stdout
    assert re.search(r"batch-0002\.parquet\s+260\s+pending", table)
    assert "dropped.csv: not a batch" in table and "driftline batch add credit" in table


def test_an_absorbed_batch_retired_after_it_got_stuck_leaves_training(cli, sh, built_project: Path, tmp_path: Path) -> None:
    """The issue's story: a drifted batch is absorbed and retrained on; then its file is "fixed" in
    place, which ingest refuses (batches are immutable), and the loop is stuck. `batch retire`
    gets it out: the next `dvc repro` reruns ingest without its rows."""
    root = built_project
    cli(["batch", "add", "credit", str(loans_csv(tmp_path / "drifted.csv", rows=1500, drift="covariate"))], root)
    out = sh(["dvc", "repro", "credit-promote"], root)
    trigger = json.loads((root / TRIGGER).read_text())
    assert [b["file"] for b in trigger["absorbed"]] == [f"{INCOMING}/batch-0001.parquet"], out.stdout
    assert len(pd.read_parquet(root / RAW)) == TEMPLATE_ROWS + 1500
    listed = json.loads(cli(["batch", "list", "credit", "--json"], root).stdout)["batches"]
    assert [b["status"] for b in listed] == ["absorbed"]

    batch_path = root / INCOMING / "batch-0001.parquet"
    sha = sha256_file(batch_path)
    pd.read_parquet(batch_path).head(10).to_parquet(batch_path)  # a hand "fix" of an absorbed batch
    stuck = sh(["dvc", "repro", "--force", "credit-ingest"], root, check=False)  # ingest's next run (a later retrain, say)
    assert stuck.returncode != 0 and "changed after it was absorbed" in stuck.stdout + stuck.stderr
    assert "driftline batch retire" in stuck.stdout + stuck.stderr

    edited = sha256_file(batch_path)
    assert edited != sha
    out = cli(["batch", "retire", "credit", "batch-0001", "--reason", "applications from a test system"], root)
    assert f"{INCOMING}/batch-0001.parquet -> data/credit/retired/batch-0001.parquet" in out.stdout
    assert "retrains without it" in out.stdout
    champion = json.loads(cli(["registry", "list", "credit", "--json"], root).stdout)[-1]
    trained_with = json.loads((root / "registry/credit/versions" / champion["version"] / "training.json").read_text())
    if champion["champion"] and trained_with["absorbed_batches"]:  # the gate promoted the drift retrain's model
        assert f"the champion {champion['version']} was trained with its rows" in out.stdout
        assert "`driftline registry rollback credit --to v0001`" in out.stdout
    assert not batch_path.exists() and not (root / INCOMING / "batch-0001.parquet.dvc").exists()
    assert (root / "data/credit/retired/batch-0001.parquet").is_file()
    assert (root / "data/credit/retired/batch-0001.parquet.dvc").is_file()
    assert json.loads((root / TRIGGER).read_text())["absorbed"] == []
    state = json.loads((root / "data/credit/monitor_state.json").read_text())
    assert all(b["file"] != f"{INCOMING}/batch-0001.parquet" for b in state["seen"] + state.get("rejected", []))
    records = [json.loads(line) for line in (root / "audit/log.jsonl").read_text().splitlines()]
    retired = [r["payload"] for r in records if r["kind"] == "batch_retired"]
    assert retired == [{"pipeline": "credit", "file": f"{INCOMING}/batch-0001.parquet", "retired_to": "data/credit/retired/batch-0001.parquet",
                        "sha256": edited, "reason": "applications from a test system", "was_absorbed": True}]
    sh(["driftline", "audit", "verify"], root)

    again = sh(["dvc", "repro", "credit-promote"], root)
    assert "credit-ingest" in ran_stages(again.stdout)
    assert len(pd.read_parquet(root / RAW)) == TEMPLATE_ROWS, "trained without the retired batch's rows"
    assert [b["status"] for b in json.loads(cli(["batch", "list", "credit", "--json"], root).stdout)["batches"]] == ["retired"]
    assert "no new batches" in sh(["dvc", "repro", "credit-monitor"], root).stdout, "the monitor never reads it again"


def test_ingest_casts_batches_with_text_timestamps_and_plain_string_categories(cli, sh, built_project: Path) -> None:
    """Batches dropped by hand (not through `batch add`) as the issue found them: ingest casts them."""
    root = built_project
    (root / INCOMING).mkdir(parents=True)
    first, second = (generate_loans(400, seed=5, start="2026-02-01", end="2026-02-28", batch=n) for n in (1, 2))
    texts = first.assign(applied_at=first["applied_at"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    strings = second.astype({c: "string" for c in ("employment", "home_ownership", "region", "purpose")})
    batches = []
    for number, batch in ((1, texts), (2, strings)):
        rel = f"{INCOMING}/batch-{number:04d}.parquet"
        batch.to_parquet(root / rel)
        batches.append(Batch(rel, sha256_file(root / rel)))
    (root / TRIGGER).write_text(Trigger(batches, retrains=1).to_text())  # as the monitor writes it when it fires
    out = cli(["run", "ingest", "credit"], root)
    assert "incl. 800 rows from 2 absorbed batch(es)" in out.stdout
    raw = pd.read_parquet(root / RAW)
    assert len(raw) == TEMPLATE_ROWS + 800
    assert str(raw["applied_at"].dtype).startswith("datetime64") and raw["applied_at"].notna().all()
    assert isinstance(raw["region"].dtype, pd.CategoricalDtype) and raw["region"].notna().all()
    cli(["run", "validate", "credit"], root)
    assert json.loads((root / "reports/credit/validation.json").read_text())["quarantined_rows"] == 0


def test_ingest_refuses_a_batch_missing_a_column_and_retire_unsticks_it(cli, built_project: Path) -> None:
    root = built_project
    (root / INCOMING).mkdir(parents=True)
    rel = f"{INCOMING}/batch-0001.parquet"
    generate_loans(300, seed=5).drop(columns=["credit_score"]).to_parquet(root / rel)
    (root / TRIGGER).write_text(Trigger([Batch(rel, sha256_file(root / rel))], retrains=1).to_text())
    stuck = cli(["run", "ingest", "credit"], root, check=False)
    assert stuck.returncode == 1 and f"{rel}: column 'credit_score' is missing" in stuck.stderr
    assert "driftline batch retire credit" in stuck.stderr and "Traceback" not in stuck.stderr
    cli(["batch", "retire", "credit", "1", "--reason", "no credit scores"], root)
    assert f"{TEMPLATE_ROWS:,} rows" in cli(["run", "ingest", "credit"], root).stdout


def test_retire_needs_a_reason_and_a_known_batch(cli, built_project: Path, tmp_path: Path) -> None:
    root = built_project
    no_reason = cli(["batch", "retire", "credit", "batch-0001"], root, check=False)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    cli(["batch", "add", "credit", str(loans_csv(tmp_path / "a.csv", rows=250))], root)
    unknown = cli(["batch", "retire", "credit", "batch-0007", "--reason", "x"], root, check=False)
    assert unknown.returncode == 1 and "'batch-0007' is not a batch" in unknown.stderr and "batch-0001.parquet" in unknown.stderr
    cli(["batch", "retire", "credit", f"{INCOMING}/batch-0001.parquet", "--reason", "duplicate"], root)
    twice = cli(["batch", "retire", "credit", "batch-0001", "--reason", "x"], root, check=False)
    assert twice.returncode == 1 and "already retired" in twice.stderr
    after = cli(["batch", "add", "credit", str(tmp_path / "a.csv")], root)
    assert f"{INCOMING}/batch-0002.parquet: 250 rows" in after.stdout, "a retired batch's name is never reused"


def test_simulated_batches_are_tracked_like_your_own(cli, built_project: Path) -> None:
    out = cli(["simulate", "credit", "--batches", "2", "--rows", "300"], built_project)
    assert f"{INCOMING}/batch-0002.parquet: 300 labelled rows" in out.stdout
    assert incoming(built_project) == [".gitignore", "batch-0001.parquet", "batch-0001.parquet.dvc",
                                       "batch-0002.parquet", "batch-0002.parquet.dvc"]


def test_two_adds_at_once_get_two_batches(sh, built_project: Path, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    files = [loans_csv(tmp_path / f"{name}.csv", rows=rows) for name, rows in (("a", 210), ("b", 220))]
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda f: sh(["driftline", "batch", "add", "credit", str(f)], built_project), files))
    written = sorted(re.search(r"(batch-\d+\.parquet): ([\d,]+) rows", r.stdout).groups() for r in runs)
    assert [name for name, _ in written] == ["batch-0001.parquet", "batch-0002.parquet"]
    assert sorted(len(pd.read_parquet(built_project / INCOMING / name)) for name, _ in written) == [210, 220]
    assert {f"{name}.dvc" for name, _ in written} <= set(incoming(built_project))


def test_adding_to_a_pipeline_without_a_monitor_says_nothing_will_read_it(cli, project: Path, tmp_path: Path) -> None:
    out = cli(["batch", "add", "pricing", str(loans_csv(tmp_path / "a.csv", rows=230))], project)
    assert "data/pricing/incoming/batch-0001.parquet: 230 rows" in out.stdout
    assert "pricing has no monitor, so nothing reads new batches" in out.stderr and "- /monitor: default" in out.stderr
    assert "next: `dvc repro`" not in out.stdout
