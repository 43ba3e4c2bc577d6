"""Inside a DVC experiment: audit records are journalled, not chained; the registry refuses writes;
the main workspace adopts an applied experiment's journal once, in order, into one chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.audit.log import JOURNAL, adopt, append, forget_journal, journal, read, verify
from driftline.experiment import Experiment, current_experiment
from driftline.registry.store import Registry, RegistryError

EXP = {"DVC_EXP_NAME": "piled-tint", "DVC_EXP_BASELINE_REV": "a" * 40}


def in_experiment(monkeypatch: pytest.MonkeyPatch, name: str = "piled-tint") -> Experiment:
    monkeypatch.setenv("DVC_EXP_NAME", name)
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "a" * 40)
    found = current_experiment()
    assert found is not None
    return found


@pytest.fixture(autouse=True)
def main_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)


def test_dvc_sets_the_experiment_for_its_stages() -> None:
    assert current_experiment({}) is None
    assert current_experiment(EXP) == Experiment("piled-tint", "a" * 40)


def test_an_experiment_journals_instead_of_chaining(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    append(tmp_path, "stage_run", {"pipeline": "credit", "stage": "credit-ingest"})
    exp = in_experiment(monkeypatch)
    entry = append(tmp_path, "stage_run", {"pipeline": "credit", "stage": "credit-train"})
    append(tmp_path, "stage_run", {"pipeline": "pricing", "stage": "pricing-train"})
    assert "seq" not in entry and entry["experiment"]["name"] == "piled-tint"
    assert len(read(tmp_path)) == 1  # the chain did not move
    assert [e["payload"]["stage"] for e in journal(tmp_path, exp, "credit")] == ["credit-train"]
    assert journal(tmp_path, Experiment("other", ""), "credit") == []
    forget_journal(tmp_path, exp)
    assert journal(tmp_path, exp, "credit") == [] and (tmp_path / JOURNAL).read_text() == ""


def test_adopting_keeps_order_marks_the_experiment_and_never_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    append(tmp_path, "stage_run", {"pipeline": "credit", "stage": "credit-ingest"})
    exp = in_experiment(monkeypatch)
    for stage in ("credit-featurize", "credit-train", "credit-evaluate"):
        append(tmp_path, "stage_run", {"pipeline": "credit", "stage": stage})
    entries = journal(tmp_path, exp, "credit")
    monkeypatch.delenv("DVC_EXP_NAME")
    monkeypatch.delenv("DVC_EXP_BASELINE_REV")
    assert adopt(tmp_path, entries) == 3
    assert adopt(tmp_path, entries) == 0  # a promote that crashed after adopting and runs again
    records = read(tmp_path)
    assert [r["payload"]["stage"] for r in records] == ["credit-ingest", "credit-featurize", "credit-train", "credit-evaluate"]
    assert all(r["payload"]["experiment"]["name"] == "piled-tint" for r in records[1:])
    assert records[2]["payload"]["experiment"]["time"] == entries[1]["time"]  # when it ran in the experiment
    assert verify(tmp_path).ok


def test_the_registry_refuses_writes_inside_an_experiment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model.txt"
    model.write_text("tree\n")
    registry = Registry(tmp_path, "credit")
    v1 = registry.register({"model.txt": model}, metrics={}, data_fingerprint="d", config_fingerprint="c")
    registry.promote(v1.version, "first")
    in_experiment(monkeypatch)
    with pytest.raises(RegistryError, match="dvc exp apply"):
        registry.register({"model.txt": model}, metrics={}, data_fingerprint="d", config_fingerprint="c")
    with pytest.raises(RegistryError, match="piled-tint"):
        registry.promote(v1.version, "again")
    assert [v.version for v in registry.versions()] == ["v0001"] and registry.champion().version == "v0001"
