"""The drift loop end to end, as a user drives it: simulate a batch, `dvc repro`, read the reports.

One small project (4,000 base rows) goes through the whole story in file order, every step a
real subprocess: first model → a batch without drift (nothing retrains) → covariate drift
(retrain, gate, registry) → concept drift (the performance signal) → rollbacks → the HTML report
in headless Chromium → a no-op repro → a forced rerun of promote that must not duplicate a version.
The tests share the module fixture and rely on running in this order (pytest keeps file order).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftline.hashing import sha256_file
from tests.conftest import make_project, sh
from tests.functional.test_drift_html_browser import DomSummary, run_chromium

pytestmark = pytest.mark.slow

BASE_ROWS = 4000
BATCH_ROWS = 3000
STEPS = ("ingest", "validate", "label", "split", "featurize", "train", "evaluate", "promote")
TRAINING_CHAIN = {f"credit-{s}" for s in STEPS}
# The generator's documented ground truth for drift="covariate" (see driftline.data.generator).
DRIFTED_ON_PURPOSE = {"credit_score", "income"}
NOT_DRIFTED = {"age", "term_months", "open_accounts", "home_ownership", "purpose"}
NOT_MONITORED = {"application_id", "applied_at", "default"}  # id, timestamp, target
DISTANCES = {"wasserstein", "psi", "jensen_shannon", "missing_share"}
COLUMN_KEYS = {"name", "kind", "test", "statistic", "threshold", "drifted"}

TRIGGER = "data/credit/trigger.json"
DRIFT_JSON = "reports/credit/drift.json"
DRIFT_HTML = "reports/credit/drift.html"
PROMOTION = "reports/credit/promotion.json"
HISTORY = "registry/credit/history.jsonl"


# ----------------------------------------------------------------------------- helpers


def repro(root: Path, *args: str) -> set[str]:
    """`dvc repro [args]`; the stages that ran."""
    return set(re.findall(r"Running stage '([^']+)'", sh(["dvc", "repro", *args], root).stdout))


def credit_only(stages: set[str]) -> set[str]:
    return {s for s in stages if s.startswith("credit-")}


def simulate(root: Path, drift: str) -> Path:
    out = sh(["driftline", "simulate", "credit", "--batches", "1", "--drift", drift, "--rows", str(BATCH_ROWS)], root).stdout
    match = re.search(r"(data/credit/incoming/batch-\d+\.parquet): ([\d,]+) labelled rows", out)
    assert match, f"simulate printed no batch line:\n{out}"
    assert int(match.group(2).replace(",", "")) == BATCH_ROWS
    return root / match.group(1)


def read_json(root: Path, rel: str) -> Any:
    return json.loads((root / rel).read_text(encoding="utf-8"))


def versions(root: Path) -> list[dict[str, Any]]:
    return json.loads(sh(["driftline", "registry", "list", "credit", "--json"], root).stdout)


def champion(root: Path) -> str:
    champs = [v["version"] for v in versions(root) if v["champion"]]
    assert len(champs) == 1, f"exactly one champion expected, got {champs}"
    return champs[0]


def history(root: Path) -> str:
    path = root / HISTORY
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_history_grew(before: str, after: str) -> None:
    assert after.startswith(before), "registry history lost or rewrote lines"
    assert after.endswith("\n") or not after


# ----------------------------------------------------------------------------- the story


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("loop") / "proj", rows=BASE_ROWS)


def test_1_first_repro_registers_v0001_as_champion(loop: Path) -> None:
    ran = repro(loop)
    assert credit_only(ran) == TRAINING_CHAIN | {"credit-monitor"}
    listed = versions(loop)
    assert len(listed) == 1
    (v1,) = listed
    assert v1["version"] == "v0001" and v1["champion"] is True
    for key in ("metrics", "data_fingerprint", "config_fingerprint", "created"):
        assert v1[key], key
    assert 0.5 < v1["metrics"]["roc_auc"] <= 1.0
    assert re.fullmatch(r"[0-9a-f]{64}", v1["data_fingerprint"]) and re.fullmatch(r"[0-9a-f]{64}", v1["config_fingerprint"])
    assert read_json(loop, PROMOTION)["decision"] == "promoted"
    assert [e["event"] for e in events(history(loop))] == ["registered", "promoted"]
    assert read_json(loop, TRIGGER) == {"absorbed": [], "retrains": 0}


def test_2_batch_without_drift_runs_only_the_monitor(loop: Path) -> None:
    trigger_before = (loop / TRIGGER).read_bytes()
    history_before = history(loop)
    simulate(loop, "none")
    assert credit_only(repro(loop)) == {"credit-monitor"}
    report = read_json(loop, DRIFT_JSON)
    assert report["decision"]["retrain"] is False, report["decision"]["reasons"]
    assert report["reference"]["version"] == "v0001"
    assert report["current"]["rows"] == BATCH_ROWS
    assert (loop / TRIGGER).read_bytes() == trigger_before
    assert champion(loop) == "v0001"
    assert history(loop) == history_before

    columns = report["columns"]
    assert columns, "no per-column results"
    for column in columns:
        assert COLUMN_KEYS <= set(column), column["name"]
        has_p = column.get("p_value") is not None
        has_distance = column["test"] in DISTANCES and column["statistic"] is not None
        assert has_p or has_distance, f"{column['name']}: neither a p-value nor a distance: {column}"
        assert isinstance(column["drifted"], bool)
    batch = pd.read_parquet(next((loop / "data/credit/incoming").glob("batch-0001.parquet")))
    assert {c["name"] for c in columns} == set(batch.columns) - NOT_MONITORED


def test_3_covariate_drift_retrains_and_gates(loop: Path) -> None:
    history_before = history(loop)
    batch = simulate(loop, "covariate")
    ran = repro(loop)
    assert TRAINING_CHAIN | {"credit-monitor"} <= ran

    report = read_json(loop, DRIFT_JSON)
    decision = report["decision"]
    assert decision["retrain"] is True and decision["reasons"], decision
    flagged = {c["name"] for c in report["columns"] if c["drifted"]}
    print(f"covariate drift flagged: {sorted(flagged)}")
    assert DRIFTED_ON_PURPOSE <= flagged, flagged
    assert not flagged & NOT_DRIFTED, f"undrifted columns flagged: {sorted(flagged & NOT_DRIFTED)}"

    trigger = read_json(loop, TRIGGER)
    assert trigger["retrains"] == 1
    assert [b["file"] for b in trigger["absorbed"]] == [
        "data/credit/incoming/batch-0001.parquet", f"data/credit/incoming/{batch.name}"]

    raw = pd.read_parquet(loop / "data/credit/raw.parquet")
    assert len(raw) == BASE_ROWS + 2 * BATCH_ROWS
    assert raw["application_id"].is_unique
    for path in sorted((loop / "data/credit/incoming").glob("batch-*.parquet")):
        assert set(pd.read_parquet(path)["application_id"]) <= set(raw["application_id"]), path.name

    promotion = read_json(loop, PROMOTION)
    assert promotion["champion_before"] == "v0001"
    listed = versions(loop)
    after = history(loop)
    assert_history_grew(history_before, after)
    new_events = events(after[len(history_before):])
    if promotion["decision"] == "promoted":
        assert promotion["champion_after"] == "v0002"
        assert [v["version"] for v in listed] == ["v0001", "v0002"]
        assert champion(loop) == "v0002"
        assert [(e["event"], e["version"]) for e in new_events] == [("registered", "v0002"), ("promoted", "v0002")]
        assert next(v for v in listed if v["version"] == "v0002")["parent"] == "v0001"
    else:
        assert promotion["decision"] == "refused", promotion
        assert promotion["champion_after"] == "v0001" and promotion["reason"]
        assert [v["version"] for v in listed] == ["v0001"]
        assert champion(loop) == "v0001"
        assert [e["event"] for e in new_events] == ["refused"]
        assert new_events[0]["reason"] == promotion["reason"]
    assert "v0001" in {e["version"] for e in events(after)}


def test_4_concept_drift_shows_in_the_performance_signal(loop: Path) -> None:
    history_before = history(loop)
    champion_before = champion(loop)
    simulate(loop, "concept")
    ran = repro(loop)
    report = read_json(loop, DRIFT_JSON)
    assert report["reference"]["version"] == champion_before

    performance = report["performance"]
    assert performance is not None, "labelled batch but no performance signal"
    assert performance["metric"] == "roc_auc"
    for key in ("reference", "current", "drop"):
        assert isinstance(performance[key], float), key
    assert performance["reference"] == next(v for v in versions(loop) if v["version"] == champion_before)["metrics"]["roc_auc"]
    assert performance["drop"] == pytest.approx(performance["reference"] - performance["current"], abs=1e-6)
    if performance["drifted"]:
        assert "performance" in report["decision"]["signals"]
        assert any("roc_auc fell" in reason for reason in report["decision"]["reasons"]), report["decision"]["reasons"]
    if report["decision"]["retrain"]:
        assert TRAINING_CHAIN <= ran
    else:
        assert credit_only(ran) == {"credit-monitor"}
    assert_history_grew(history_before, history(loop))


def test_5_rollback_swaps_the_champion_back(loop: Path) -> None:
    history_before = history(loop)
    before = versions(loop)
    names = [v["version"] for v in before]
    assert len(names) >= 2, f"both drift retrains were refused ({names}): nothing to roll back"
    current = champion(loop)
    sh(["driftline", "registry", "rollback", "credit"], loop)
    rolled = versions(loop)
    assert [v["version"] for v in rolled] == names
    assert champion(loop) != current

    if champion(loop) == "v0001":
        sh(["driftline", "registry", "promote", "credit", names[-1]], loop)
    sh(["driftline", "registry", "rollback", "credit", "--to", "v1"], loop)
    assert champion(loop) == "v0001"
    assert [v["version"] for v in versions(loop)] == names
    refused = sh(["driftline", "registry", "rollback", "credit", "--to", "v1"], loop, check=False)
    assert refused.returncode == 1 and "already the champion" in refused.stderr
    after = history(loop)
    assert_history_grew(history_before, after)
    assert events(after)[-1]["event"] == "rollback" and events(after)[-1]["version"] == "v0001"


def test_6_real_drift_html_in_headless_chromium(loop: Path, tmp_path: Path) -> None:
    report = read_json(loop, DRIFT_JSON)
    page = loop / DRIFT_HTML
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text), "the report must be self-contained (no http(s) references)"

    proc = run_chromium(["--dump-dom", page.as_uri()], tmp_path / "profile")
    dom = DomSummary()
    dom.feed(proc.stdout)
    assert dom.verdict is not None, f"no #verdict in the rendered DOM:\n{proc.stdout[:2000]}"
    assert dom.verdict.get("data-retrain") == ("true" if report["decision"]["retrain"] else "false")
    columns = report["columns"]
    assert columns
    assert sorted(card["id"] or "" for card in dom.cards) == sorted(f"col-{c['name']}" for c in columns)
    flags = [card["data-drifted"] for card in dom.cards]
    n_drifted = sum(c["drifted"] for c in columns)
    assert flags == ["true"] * n_drifted + ["false"] * (len(columns) - n_drifted), flags
    assert [card["id"] for card in dom.cards][:n_drifted] == [f"col-{c['name']}" for c in columns if c["drifted"]]
    assert dom.scripts == 0


def test_7_noop_repro_runs_only_the_monitor(loop: Path) -> None:
    trigger_before = (loop / TRIGGER).read_bytes()
    history_before = history(loop)
    assert credit_only(repro(loop)) == {"credit-monitor"}
    assert (loop / TRIGGER).read_bytes() == trigger_before
    assert history(loop) == history_before
    assert not read_json(loop, DRIFT_JSON)["decision"]["retrain"]


def test_forced_promote_with_an_identical_model_registers_nothing(loop: Path) -> None:
    """`dvc repro -f` retrains the same model: no new version, no lost history, champion kept.

    Here the champion is v0001 (rolled back to) while the retrained model is byte-identical to the
    latest version: promote must neither register a duplicate nor silently undo the rollback.
    """
    names = [v["version"] for v in versions(loop)]
    champ = champion(loop)
    model_sha = versions(loop)[-1]["files"]["model.txt"]
    history_before = history(loop)

    ran = repro(loop, "-f", "credit-promote")
    assert "credit-promote" in ran
    assert sha256_file(loop / "models/credit/model.txt") == model_sha, "retraining the same data gave a different model"
    promotion = read_json(loop, PROMOTION)
    assert promotion["decision"] in ("unchanged", "refused"), promotion
    assert [v["version"] for v in versions(loop)] == names
    assert champion(loop) == champ
    after = history(loop)
    assert_history_grew(history_before, after)

    # with the identical model as champion, the plain "unchanged" path
    if champ != names[-1]:
        sh(["driftline", "registry", "promote", "credit", names[-1], "--reason", "e2e"], loop)
    history_before = history(loop)
    ran = repro(loop, "-f", "-s", "credit-promote")
    assert ran == {"credit-promote"}
    promotion = read_json(loop, PROMOTION)
    assert promotion["decision"] == "unchanged", promotion
    assert promotion["champion_after"] == names[-1]
    assert [v["version"] for v in versions(loop)] == names
    assert history(loop) == history_before
