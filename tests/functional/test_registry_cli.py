"""`driftline registry list` and `rollback`, as a user runs them from a project folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline.registry import Registry


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """The smallest folder `driftline` recognises as a project, with a pipeline `credit`."""
    root = tmp_path / "proj"
    (root / "pipelines").mkdir(parents=True)
    (root / "pipelines" / "credit.yaml").write_text("task: binary\n")  # known by name; the registry commands read no config
    return root


def add_versions(root: Path, count: int, promote: int = 0) -> Registry:
    """Register `count` versions of `credit` and promote the first `promote` of them in order."""
    registry = Registry(root, "credit")
    src = root.parent / "src"
    src.mkdir(exist_ok=True)
    for n in range(1, count + 1):
        model = src / f"model-{n}.txt"
        model.write_text(f"tree {n}\n")
        info = registry.register(
            {"model.txt": model},
            metrics={"auc": 0.8 + n / 100, "logloss": 0.5 - n / 100, "test": {"rows": 100}},
            data_fingerprint=f"{n:x}" * 64,
            config_fingerprint="c" * 64,
            gate={"passed": True, "metric": "auc"},
        )
        if n <= promote:
            registry.promote(info.version, reason=f"gate passed #{n}")
    return registry


def test_list_json_on_an_empty_registry_is_an_empty_list(cli, proj: Path) -> None:
    out = cli(["registry", "list", "credit", "--json"], proj)
    assert json.loads(out.stdout) == []


def test_list_on_an_empty_registry_says_so(cli, proj: Path) -> None:
    out = cli(["registry", "list", "credit"], proj)
    assert "no model versions yet" in out.stdout


def test_list_json_shows_every_version_and_the_champion(cli, proj: Path) -> None:
    add_versions(proj, 3, promote=2)
    out = cli(["registry", "list", "credit", "--json"], proj / "pipelines")  # works from a subfolder too
    listed = json.loads(out.stdout)
    assert [v["version"] for v in listed] == ["v0001", "v0002", "v0003"]
    assert [v["champion"] for v in listed] == [False, True, False]
    assert listed[2]["parent"] == "v0002" and listed[0]["parent"] is None
    assert listed[0]["metrics"]["auc"] == pytest.approx(0.81)
    for entry in listed:
        assert {"version", "champion", "metrics", "data_fingerprint", "config_fingerprint", "created", "parent", "gate"} <= entry.keys()
        assert entry["gate"] == {"passed": True, "metric": "auc"}


def test_list_table_ticks_the_champion_and_shortens_hashes(cli, proj: Path) -> None:
    add_versions(proj, 2, promote=1)
    out = cli(["registry", "list", "credit"], proj)
    rows = [line for line in out.stdout.splitlines() if "v000" in line]
    assert len(rows) == 2
    assert "✓" in rows[0] and "✓" not in rows[1]
    assert "auc=0.81" in rows[0] and "passed" in rows[0]
    assert "11111111" in rows[0] and "1" * 9 not in rows[0]


def test_rollback_swaps_the_champion_back_and_then_refuses(cli, proj: Path) -> None:
    registry = add_versions(proj, 2, promote=2)
    out = cli(["registry", "rollback", "credit"], proj)
    assert out.stdout.strip() == "credit: champion v0002 -> v0001"
    assert registry.champion().version == "v0001"  # type: ignore[union-attr]
    listed = json.loads(cli(["registry", "list", "credit", "--json"], proj).stdout)
    assert [v["champion"] for v in listed] == [True, False]

    again = cli(["registry", "rollback", "credit"], proj, check=False)
    assert again.returncode == 1
    assert "no champion before v0001" in again.stderr and "--to" in again.stderr
    assert registry.champion().version == "v0001"  # type: ignore[union-attr]


def test_rollback_to_a_named_version(cli, proj: Path) -> None:
    registry = add_versions(proj, 3, promote=3)
    out = cli(["registry", "rollback", "credit", "--to", "v1", "--reason", "incident 42"], proj)
    assert out.stdout.strip() == "credit: champion v0003 -> v0001"
    last = registry.history()[-1]
    assert (last["event"], last["version"], last["previous"], last["reason"]) == ("rollback", "v0001", "v0003", "incident 42")


def test_rollback_to_an_unknown_version_fails_listing_the_known_ones(cli, proj: Path) -> None:
    registry = add_versions(proj, 2, promote=2)
    proc = cli(["registry", "rollback", "credit", "--to", "v7"], proj, check=False)
    assert proc.returncode == 1
    assert "no version v0007" in proc.stderr and "v0001, v0002" in proc.stderr
    assert registry.champion().version == "v0002"  # type: ignore[union-attr]


def test_rollback_with_no_champion_fails_clearly(cli, proj: Path) -> None:
    proc = cli(["registry", "rollback", "credit"], proj, check=False)
    assert proc.returncode == 1
    assert "no champion yet" in proc.stderr


def test_promote_by_hand_and_history(cli, proj: Path) -> None:
    add_versions(proj, 2, promote=0)
    out = cli(["registry", "promote", "credit", "2", "--reason", "manual"], proj)
    assert out.stdout.strip() == "credit: champion none -> v0002"
    events = json.loads(cli(["registry", "history", "credit", "--json"], proj).stdout)
    assert [e["event"] for e in events] == ["registered", "registered", "promoted"]
    assert "promoted" in cli(["registry", "history", "credit"], proj).stdout


def test_outside_a_project_the_error_says_where_to_run(cli, tmp_path: Path) -> None:
    proc = cli(["registry", "list", "credit"], tmp_path, check=False)
    assert proc.returncode == 1
    assert "no driftline project here" in proc.stderr


def test_list_names_an_unknown_pipeline_but_keeps_a_removed_ones_registry(cli, proj: Path) -> None:
    refused = cli(["registry", "list", "credi"], proj, check=False)
    assert refused.returncode == 2
    assert "no pipeline 'credi'" in refused.stderr and "credit" in refused.stderr
    add_versions(proj, 1)
    (proj / "pipelines" / "credit.yaml").unlink()  # the pipeline is gone; its versions are still there to see
    listed = json.loads(cli(["registry", "list", "credit", "--json"], proj).stdout)
    assert [v["version"] for v in listed] == ["v0001"]
