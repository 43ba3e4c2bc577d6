"""The drift loop end to end, as a user drives it: simulate a batch, `dvc repro`, read the reports.

One small project (4,000 base rows) goes through the whole story, every repro a real `dvc repro`:
first model → a batch without drift (nothing retrains) → covariate drift (retrain, gate, registry)
→ concept drift (the performance signal) → rollbacks → the HTML report in headless Chromium → a
no-op repro → a forced rerun of promote that must not duplicate a version.

Each step is a module fixture that copies the state the step before it left and takes one step,
so every test runs on its own (`pytest path::test`) and in any order, and no step runs twice.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftline.hashing import sha256_file

pytestmark = pytest.mark.slow

BASE_ROWS = 4000  # tests/e2e/conftest.py builds the first repro at this size
BATCH_ROWS = 3000
STEPS = ("ingest", "validate", "label", "split", "featurize", "train", "evaluate", "promote")
TRAINING_CHAIN = {f"credit-{s}" for s in STEPS}
# runs on every repro: the monitor looks for batches; promote writes the registry (no cache may
# replay that) and, when the model is still the champion's, only compares a hash
ALWAYS = {"credit-monitor", "credit-promote"}
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


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def credit_only(stages: set[str]) -> set[str]:
    return {s for s in stages if s.startswith("credit-")}


def read_json(root: Path, rel: str) -> Any:
    return json.loads((root / rel).read_text(encoding="utf-8"))


def history(root: Path) -> str:
    path = root / HISTORY
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_history_grew(before: str, after: str) -> None:
    assert after.startswith(before), "registry history lost or rewrote lines"
    assert after.endswith("\n") or not after


@dataclass
class Loop:
    """One copy of the project, driven as a user would: `dvc repro` as a process, `driftline` in-process."""

    root: Path
    cli: Callable[..., Any]
    sh: Callable[..., Any]

    def repro(self, *args: str) -> set[str]:
        """`dvc repro [args]`; the stages that ran."""
        return ran_stages(self.sh(["dvc", "repro", *args], self.root).stdout)

    def simulate(self, drift: str) -> Path:
        out = self.cli(["simulate", "credit", "--batches", "1", "--drift", drift, "--rows", str(BATCH_ROWS)], self.root).stdout
        match = re.search(r"(data/credit/incoming/batch-\d+\.parquet): ([\d,]+) labelled rows", out)
        assert match, f"simulate printed no batch line:\n{out}"
        assert int(match.group(2).replace(",", "")) == BATCH_ROWS
        return self.root / match.group(1)

    def versions(self) -> list[dict[str, Any]]:
        return json.loads(self.cli(["registry", "list", "credit", "--json"], self.root).stdout)

    def champion(self) -> str:
        champs = [v["version"] for v in self.versions() if v["champion"]]
        assert len(champs) == 1, f"exactly one champion expected, got {champs}"
        return champs[0]

    def copy(self, dest: Path) -> Loop:
        return Loop(shutil.copytree(self.root, dest, symlinks=True), self.cli, self.sh)


@dataclass
class Step:
    """The project after one step of the story, with what was true just before the step and what it ran."""

    loop: Loop
    ran: set[str]
    history_before: str = ""
    trigger_before: bytes = b""
    champion_before: str = ""
    batch: Path | None = None

    @property
    def root(self) -> Path:
        return self.loop.root


def take_step(previous: Loop, dest: Path, drift: str) -> Step:
    """A copy of `previous`, one simulated batch with `drift`, then `dvc repro`."""
    loop = previous.copy(dest)
    step = Step(loop, set(), history(loop.root), (loop.root / TRIGGER).read_bytes(), loop.champion())
    step.batch = loop.simulate(drift)
    step.ran = loop.repro()
    return step


# ----------------------------------------------------------------------------- the steps


@pytest.fixture(scope="module")
def first(first_repro, cli, sh, tmp_path_factory: pytest.TempPathFactory) -> Step:
    """Step 1: the first `dvc repro` (done once per session; this is a copy)."""
    loop = Loop(first_repro.root, cli, sh).copy(tmp_path_factory.mktemp("first") / "proj")
    return Step(loop, ran_stages(first_repro.stdout))


@pytest.fixture(scope="module")
def no_drift(first: Step, tmp_path_factory: pytest.TempPathFactory) -> Step:
    """Step 2: a batch without drift."""
    return take_step(first.loop, tmp_path_factory.mktemp("no-drift") / "proj", "none")


@pytest.fixture(scope="module")
def covariate(no_drift: Step, tmp_path_factory: pytest.TempPathFactory) -> Step:
    """Step 3: a batch with covariate drift."""
    return take_step(no_drift.loop, tmp_path_factory.mktemp("covariate") / "proj", "covariate")


@pytest.fixture(scope="module")
def concept(covariate: Step, tmp_path_factory: pytest.TempPathFactory) -> Step:
    """Step 4: a batch with concept drift."""
    return take_step(covariate.loop, tmp_path_factory.mktemp("concept") / "proj", "concept")


@pytest.fixture(scope="module")
def rolled_back(concept: Step, tmp_path_factory: pytest.TempPathFactory) -> Loop:
    """Step 5's end state: after the retrains, v0001 is the champion again (rolled back to by hand)."""
    loop = concept.loop.copy(tmp_path_factory.mktemp("rolled-back") / "proj")
    if loop.champion() != "v0001":
        loop.cli(["registry", "rollback", "credit", "--to", "v1"], loop.root)
    return loop


@pytest.fixture
def after_concept(concept: Step, tmp_path: Path) -> Loop:
    """This test's own copy of the project after step 4, for tests that act on it."""
    return concept.loop.copy(tmp_path / "proj")


@pytest.fixture
def after_rollback(rolled_back: Loop, tmp_path: Path) -> Loop:
    """This test's own copy of the rolled-back project."""
    return rolled_back.copy(tmp_path / "proj")


# ----------------------------------------------------------------------------- the story


def test_1_first_repro_registers_v0001_as_champion(first: Step) -> None:
    loop = first.loop
    assert credit_only(first.ran) == TRAINING_CHAIN | ALWAYS
    listed = loop.versions()
    assert len(listed) == 1
    (v1,) = listed
    assert v1["version"] == "v0001" and v1["champion"] is True
    for key in ("metrics", "data_fingerprint", "config_fingerprint", "created"):
        assert v1[key], key
    assert 0.5 < v1["metrics"]["roc_auc"] <= 1.0
    assert re.fullmatch(r"[0-9a-f]{64}", v1["data_fingerprint"]) and re.fullmatch(r"[0-9a-f]{64}", v1["config_fingerprint"])
    assert read_json(loop.root, PROMOTION)["decision"] == "promoted"
    assert [e["event"] for e in events(history(loop.root))] == ["registered", "promoted"]
    assert read_json(loop.root, TRIGGER) == {"absorbed": [], "retrains": 0}


def test_2_batch_without_drift_runs_only_the_monitor(no_drift: Step) -> None:
    root = no_drift.root
    assert credit_only(no_drift.ran) == ALWAYS
    promotion = read_json(root, PROMOTION)  # promote ran, found the champion's own model, and registered nothing
    assert promotion["decision"] == "unchanged" and promotion["champion_after"] == "v0001"
    report = read_json(root, DRIFT_JSON)
    assert report["decision"]["retrain"] is False, report["decision"]["reasons"]
    assert report["reference"]["version"] == "v0001"
    assert report["current"]["rows"] == BATCH_ROWS
    assert (root / TRIGGER).read_bytes() == no_drift.trigger_before
    assert no_drift.loop.champion() == "v0001"
    assert history(root) == no_drift.history_before

    columns = report["columns"]
    assert columns, "no per-column results"
    for column in columns:
        assert COLUMN_KEYS <= set(column), column["name"]
        has_p = column.get("p_value") is not None
        has_distance = column["test"] in DISTANCES and column["statistic"] is not None
        assert has_p or has_distance, f"{column['name']}: neither a p-value nor a distance: {column}"
        assert isinstance(column["drifted"], bool)
    batch = pd.read_parquet(next((root / "data/credit/incoming").glob("batch-0001.parquet")))
    assert {c["name"] for c in columns} == set(batch.columns) - NOT_MONITORED


def test_3_covariate_drift_retrains_and_gates(covariate: Step) -> None:
    loop, root, batch, history_before = covariate.loop, covariate.root, covariate.batch, covariate.history_before
    assert batch is not None
    assert TRAINING_CHAIN | {"credit-monitor"} <= covariate.ran
    report = read_json(root, DRIFT_JSON)
    decision = report["decision"]
    assert decision["retrain"] is True and decision["reasons"], decision
    flagged = {c["name"] for c in report["columns"] if c["drifted"]}
    print(f"covariate drift flagged: {sorted(flagged)}")
    assert DRIFTED_ON_PURPOSE <= flagged, flagged
    assert not flagged & NOT_DRIFTED, f"undrifted columns flagged: {sorted(flagged & NOT_DRIFTED)}"

    trigger = read_json(root, TRIGGER)
    assert trigger["retrains"] == 1
    assert [b["file"] for b in trigger["absorbed"]] == [
        "data/credit/incoming/batch-0001.parquet", f"data/credit/incoming/{batch.name}"]

    raw = pd.read_parquet(root / "data/credit/raw.parquet")
    assert len(raw) == BASE_ROWS + 2 * BATCH_ROWS
    assert raw["application_id"].is_unique
    for path in sorted((root / "data/credit/incoming").glob("batch-*.parquet")):
        assert set(pd.read_parquet(path)["application_id"]) <= set(raw["application_id"]), path.name

    promotion = read_json(root, PROMOTION)
    assert promotion["champion_before"] == "v0001"
    listed = loop.versions()
    after = history(root)
    assert_history_grew(history_before, after)
    new_events = events(after[len(history_before):])
    if promotion["decision"] == "promoted":
        assert promotion["champion_after"] == "v0002"
        assert [v["version"] for v in listed] == ["v0001", "v0002"]
        assert loop.champion() == "v0002"
        assert [(e["event"], e["version"]) for e in new_events] == [("registered", "v0002"), ("promoted", "v0002")]
        assert next(v for v in listed if v["version"] == "v0002")["parent"] == "v0001"
    else:
        assert promotion["decision"] == "refused", promotion
        assert promotion["champion_after"] == "v0001" and promotion["reason"]
        assert [v["version"] for v in listed] == ["v0001"]
        assert loop.champion() == "v0001"
        assert [e["event"] for e in new_events] == ["refused"]
        assert new_events[0]["reason"] == promotion["reason"]
    assert "v0001" in {e["version"] for e in events(after)}


def test_4_concept_drift_shows_in_the_performance_signal(concept: Step) -> None:
    loop, root, ran = concept.loop, concept.root, concept.ran
    champion_before = concept.champion_before
    report = read_json(root, DRIFT_JSON)
    assert report["reference"]["version"] == champion_before
    performance = report["performance"]
    assert performance is not None, "labelled batch but no performance signal"
    assert performance["metric"] == "roc_auc"
    for key in ("reference", "current", "drop"):
        assert isinstance(performance[key], float), key
    assert performance["reference"] == next(v for v in loop.versions() if v["version"] == champion_before)["metrics"]["roc_auc"]
    assert performance["drop"] == pytest.approx(performance["reference"] - performance["current"], abs=1e-6)
    if performance["drifted"]:
        assert "performance" in report["decision"]["signals"]
        assert any("roc_auc fell" in reason for reason in report["decision"]["reasons"]), report["decision"]["reasons"]
    if report["decision"]["retrain"]:
        assert TRAINING_CHAIN <= ran
    else:
        assert credit_only(ran) == ALWAYS
    assert_history_grew(concept.history_before, history(root))


def test_5_rollback_swaps_the_champion_back(after_concept: Loop) -> None:
    loop, root = after_concept, after_concept.root
    history_before = history(root)
    before = loop.versions()
    names = [v["version"] for v in before]
    assert len(names) >= 2, f"both drift retrains were refused ({names}): nothing to roll back"
    current = loop.champion()
    loop.cli(["registry", "rollback", "credit"], root)
    rolled = loop.versions()
    assert [v["version"] for v in rolled] == names
    assert loop.champion() != current

    if loop.champion() == "v0001":
        loop.cli(["registry", "promote", "credit", names[-1]], root)
    loop.cli(["registry", "rollback", "credit", "--to", "v1"], root)
    assert loop.champion() == "v0001"
    assert [v["version"] for v in loop.versions()] == names
    refused = loop.cli(["registry", "rollback", "credit", "--to", "v1"], root, check=False)
    assert refused.returncode == 1 and "already the champion" in refused.stderr
    after = history(root)
    assert_history_grew(history_before, after)
    assert events(after)[-1]["event"] == "rollback" and events(after)[-1]["version"] == "v0001"


def test_6_real_drift_html_in_headless_chromium(browser, concept: Step, tmp_path: Path) -> None:
    report = read_json(concept.root, DRIFT_JSON)
    page = concept.root / DRIFT_HTML
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text), "the report must be self-contained (no http(s) references)"

    dom, rendered = browser.dom(page, tmp_path / "profile")
    assert dom.verdict is not None, f"no #verdict in the rendered DOM:\n{rendered[:2000]}"
    assert dom.verdict.get("data-retrain") == ("true" if report["decision"]["retrain"] else "false")
    columns = report["columns"]
    assert columns
    assert sorted(card["id"] or "" for card in dom.cards) == sorted(f"col-{c['name']}" for c in columns)
    flags = [card["data-drifted"] for card in dom.cards]
    n_drifted = sum(c["drifted"] for c in columns)
    assert flags == ["true"] * n_drifted + ["false"] * (len(columns) - n_drifted), flags
    assert [card["id"] for card in dom.cards][:n_drifted] == [f"col-{c['name']}" for c in columns if c["drifted"]]
    assert dom.scripts == 0


def test_7_noop_repro_runs_only_the_monitor(after_rollback: Loop) -> None:
    loop, root = after_rollback, after_rollback.root
    trigger_before = (root / TRIGGER).read_bytes()
    history_before = history(root)
    assert credit_only(loop.repro()) == ALWAYS
    assert (root / TRIGGER).read_bytes() == trigger_before
    assert history(root) == history_before
    assert not read_json(root, DRIFT_JSON)["decision"]["retrain"]


def test_a_model_is_judged_once_so_a_rollback_stays(after_rollback: Loop) -> None:
    """Promote runs on every repro but judges a model once per gate config.

    After a rollback to v0001, even `dvc repro -f` (which retrains the same model) neither registers
    a duplicate nor re-gates the workspace model against the older champion, which would undo the
    rollback behind the user's back. Deleting promotion.json asks for a new judgment.
    """
    loop, root = after_rollback, after_rollback.root
    champ = loop.champion()
    names = [v["version"] for v in loop.versions()]
    history_before = history(root)
    model_before = sha256_file(root / "models/credit/model.txt")

    ran = loop.repro("-f", "credit-promote")
    assert "credit-promote" in ran and "credit-train" in ran
    assert sha256_file(root / "models/credit/model.txt") == model_before, "retraining the same data gave a different model"
    assert read_json(root, PROMOTION)["decision"] in ("unchanged", "refused")  # a registered twin, or the refusal on record
    assert [v["version"] for v in loop.versions()] == names and loop.champion() == champ
    assert history(root) == history_before

    (root / PROMOTION).unlink()  # ask again
    loop.repro("credit-promote")
    promotion = read_json(root, PROMOTION)
    assert promotion["model_sha256"] == model_before and promotion["decision"] in ("promoted", "refused", "unchanged")
    registered = {v["files"]["model.txt"]: v["version"] for v in loop.versions()}
    if promotion["decision"] == "promoted":  # the challenger the old champion refused beats v0001: the user asked
        assert loop.champion() == registered[model_before] == promotion["champion_after"]
    else:
        assert [v["version"] for v in loop.versions()] == names and loop.champion() == champ
