"""A registered version's binaries in a real git + DVC repository: in the DVC cache, a `.dvc`
pointer each in git, restored by `dvc checkout`; and the GTO tag's snapshot commit leaves the
user's staging area alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline.registry.store import Registry, RegistryError
from driftline.registry.tags import gto_version, snapshot_commit, tagger


@pytest.fixture
def repo(sh, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    for cmd in (["git", "init", "-q"], ["git", "config", "user.email", "t@example.com"], ["git", "config", "user.name", "T"],
                ["dvc", "init", "-q"], ["dvc", "config", "core.analytics", "false"]):
        sh(cmd, root)
    (root / "README").write_text("x\n")
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-q", "-m", "init"], root)
    return root


def register(root: Path) -> Registry:
    (root / "model.txt").write_text("tree=0\n" * 1000)
    (root / "model.json").write_text(json.dumps({"task": "binary"}))
    registry = Registry(root, "credit")
    registry.register({"model.txt": root / "model.txt", "model.json": root / "model.json"},
                      metrics={"roc_auc": 0.7}, data_fingerprint="d", config_fingerprint="c")
    return registry


def test_binaries_go_to_the_dvc_cache_and_pointers_to_git(sh, repo: Path) -> None:
    registry = register(repo)
    folder = repo / "registry/credit/versions/v0001"
    original = (folder / "model.txt").read_bytes()
    sh(["git", "add", "-A"], repo)
    tracked = set(sh(["git", "ls-files", "registry"], repo).stdout.split())
    assert "registry/credit/versions/v0001/model.txt.dvc" in tracked and "registry/credit/versions/v0001/model.json" in tracked
    assert "registry/credit/versions/v0001/model.txt" not in tracked  # the bytes are not in git
    assert "up to date" in sh(["dvc", "status"], repo).stdout  # DVC reads the pointers as its own

    (folder / "model.txt").unlink()  # a fresh clone before `dvc pull`
    with pytest.raises(RegistryError, match="dvc pull"):
        registry.file("v0001", "model.txt")
    assert any("dvc pull" in problem for problem in registry.verify("v0001"))
    sh(["dvc", "checkout"], repo)
    assert (folder / "model.txt").read_bytes() == original and registry.verify("v0001") == []


def test_the_snapshot_commit_leaves_the_users_staging_area_and_branch_alone(sh, repo: Path) -> None:
    register(repo)
    (repo / "README").write_text("edited, staged\n")
    sh(["git", "add", "README"], repo)
    before = sh(["git", "status", "--porcelain"], repo).stdout, sh(["git", "rev-parse", "HEAD"], repo).stdout
    commit = snapshot_commit(repo, "credit", "snapshot")
    assert (sh(["git", "status", "--porcelain"], repo).stdout, sh(["git", "rev-parse", "HEAD"], repo).stdout) == before
    assert sh(["git", "rev-parse", f"{commit}^"], repo).stdout == before[1]  # parented on HEAD, on no branch
    files = set(sh(["git", "ls-tree", "-r", "--name-only", commit], repo).stdout.split())
    assert "registry/credit/versions/v0001/manifest.json" in files and "registry/credit/versions/v0001/model.txt.dvc" in files
    assert "registry/credit/versions/v0001/model.txt" not in files
    assert sh(["git", "show", f"{commit}:README"], repo).stdout == "x\n"  # HEAD's tree, not the user's staged edit


def test_a_tag_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.txt").write_text("tree\n")
    registry = Registry(tmp_path, "credit", on_event=tagger(tmp_path))  # not a git repository
    version = registry.register({"model.txt": tmp_path / "model.txt"}, metrics={}, data_fingerprint="d", config_fingerprint="c")
    registry.promote(version.version, "first")
    assert registry.champion().version == "v0001"
    err = capsys.readouterr().err
    assert "no GTO tag was written" in err and "gto register credit <commit> --version v0.0.1" in err
    assert "gto assign credit --version v0.0.1 --stage prod" in err


def test_versions_map_to_gto_semver() -> None:
    assert [gto_version(v) for v in ("v0001", "v0012", "3")] == ["v0.0.1", "v0.0.12", "v0.0.3"]
