"""`driftline plan`: which stages the next `dvc repro` runs, and which keys and files say so."""

from __future__ import annotations

import json
from pathlib import Path


def planned(cli, root: Path) -> dict[str, dict]:
    return {p["stage"]: p for p in json.loads(cli(["plan", "--json"], root).stdout)}


def test_after_repro_only_the_always_running_stages_are_due(cli, built_project: Path) -> None:
    plan = planned(cli, built_project)
    always = {"credit-monitor", "credit-promote", "pricing-promote"}  # the monitor looks; promote writes the registry
    assert {name for name, p in plan.items() if p["runs"]} == always
    assert all(plan[name]["reasons"] == ["always runs (always_changed)"] for name in always)
    table = cli(["plan"], built_project).stdout
    assert f"3 of {len(plan)} stage(s) run" in table


def test_a_hyperparameter_edit_names_the_key_and_the_stages(cli, sh, edit, built_project: Path) -> None:
    root = built_project
    edit(root, "conf/model/lgbm.yaml", "num_leaves: 31", "num_leaves: 63")
    stale = cli(["plan"], root)
    assert "changed after the last compile" in stale.stderr, "warns before the compile"
    cli(["compile"], root)
    plan = planned(cli, root)
    train = plan["credit-train"]
    assert train["runs"] and train["params"] == [{"key": "credit.model.params.num_leaves", "old": 31, "new": 63}]
    assert plan["credit-evaluate"]["runs"] and "credit-train" in plan["credit-evaluate"]["after"]
    assert not plan["credit-featurize"]["runs"] and not plan["credit-ingest"]["runs"]
    assert not plan["pricing-train"]["runs"], "pricing sets its own num_leaves"
    table = cli(["plan"], root).stdout
    assert "credit.model.params.num_leaves: 31 -> 63" in table
    # DVC agrees: the stages the plan lists are the ones dvc repro would run.
    dry = sh(["dvc", "repro", "--dry"], root).stdout
    assert "Running stage 'credit-train'" in dry and "Running stage 'credit-featurize'" not in dry


def test_a_changed_file_is_named(cli, built_project: Path) -> None:
    root = built_project
    (root / "data/credit/split/test.parquet").unlink()
    plan = planned(cli, root)
    assert plan["credit-featurize"]["deps"] == {"data/credit/split": "modified"}
    assert plan["credit-split"]["runs"], "its output is gone"
    assert {"credit-train", "credit-evaluate"} <= {n for n, p in plan.items() if p["runs"]}
