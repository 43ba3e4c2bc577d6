"""A DVC remote on S3, as a team uses one: push from one clone, pull into a fresh one, serve from it.

The remote is moto's S3-compatible server on 127.0.0.1 (tests/functional/s3.py), reached through
`dvc-s3` with an `endpointurl`, as any S3-compatible store would be. Credentials are dummy values,
kept out of git: in `.dvc/config.local` (`dvc remote modify --local`) or in the environment.

The comparison walks what the project tracks instead of naming files: every file DVC tracks
(`dvc ls -R --dvc-only`) and every file git tracks, so it holds wherever an artifact lives (data,
models, batches and registry versions, in git or in the DVC cache).
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pandas as pd

from tests.conftest import commit_all
from tests.functional.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Server
from tests.functional.test_serve import start_server, stop_server


def add_remote(sh, root: Path, s3: S3Server, bucket: str) -> None:
    """The README's recipe: a default S3 remote, its endpoint in git, its credentials in .dvc/config.local."""
    sh(["dvc", "remote", "add", "-d", "store", f"s3://{bucket}/driftline"], root)
    sh(["dvc", "remote", "modify", "store", "endpointurl", s3.endpoint], root)
    sh(["dvc", "remote", "modify", "--local", "store", "access_key_id", ACCESS_KEY_ID], root)
    sh(["dvc", "remote", "modify", "--local", "store", "secret_access_key", SECRET_ACCESS_KEY], root)
    commit_all(root, "DVC remote: store")


def tracked_files(sh, root: Path) -> set[str]:
    """Every file the project tracks: DVC's (data, models, batches, ...) and git's (registry, reports, config, ...)."""
    listed = json.loads(sh(["dvc", "ls", "-R", "--dvc-only", "--json", "."], root).stdout)
    by_dvc = {entry["path"] for entry in listed if not entry.get("isdir")}
    by_git = set(sh(["git", "ls-files"], root).stdout.split())
    return by_dvc | by_git


def pushed(output: str) -> int:
    """N from DVC's 'N files pushed' (0 for 'Everything is up to date.')."""
    words = output.split()
    return int(words[words.index("pushed") - 2]) if "pushed" in words else 0


def test_push_then_pull_in_a_fresh_clone_brings_back_every_tracked_file_and_the_clone_serves(
        cli, sh, built_project: Path, s3_server: S3Server, tmp_path: Path) -> None:
    root = built_project
    cli(["simulate", "credit", "--rows", "400"], root)  # a batch of new data, tracked by DVC
    commit_all(root, "a batch")
    bucket = s3_server.new_bucket()
    add_remote(sh, root, s3_server, bucket)

    # nothing secret in git: the credentials are in .dvc/config.local, which git ignores
    sh(["git", "check-ignore", "-q", ".dvc/config.local"], root)
    assert sh(["git", "grep", "-q", SECRET_ACCESS_KEY], root, check=False).returncode == 1, "a credential is in a git-tracked file"
    assert s3_server.endpoint in (root / ".dvc/config").read_text()

    # the original pushes with its .dvc/config.local credentials only (none in its environment)
    push = sh(["dvc", "push"], root, env=s3_server.isolation)
    on_remote = s3_server.objects(bucket, "driftline/")
    assert pushed(push.stdout) == len(on_remote) > 0, push.stdout
    assert json.loads(sh(["dvc", "status", "--cloud", "--json"], root, env=s3_server.isolation).stdout) == {}
    assert sh(["dvc", "push"], root, env=s3_server.isolation).stdout.strip() == "Everything is up to date."

    # a colleague's fresh clone: git brings the remote's address, the environment its credentials
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(root), str(clone)], tmp_path)
    assert not (clone / ".dvc/config.local").exists() and not (clone / ".dvc/cache").exists()
    tracked = tracked_files(sh, root)
    missing_before = sorted(rel for rel in tracked if not (clone / rel).is_file())
    assert "data/credit/raw.parquet" in missing_before and "data/credit/incoming/batch-0001.parquet" in missing_before
    assert any(rel.startswith("models/credit/") for rel in missing_before)

    pull = sh(["dvc", "pull"], clone, env=s3_server.env)
    assert f"{len(on_remote)} files fetched" in pull.stdout, pull.stdout

    assert tracked_files(sh, clone) == tracked
    differ = sorted(rel for rel in tracked if not (clone / rel).is_file() or not filecmp.cmp(root / rel, clone / rel, shallow=False))
    assert differ == [], f"not byte-identical after dvc pull: {differ}"

    # DVC sees the clone as the original: nothing missing, changed or uncommitted; in sync with the remote
    assert json.loads(sh(["dvc", "data", "status", "--json"], clone).stdout) == {}
    status = json.loads(sh(["dvc", "status", "--json"], clone).stdout)
    assert status == json.loads(sh(["dvc", "status", "--json"], root).stdout)
    assert all(changes == ["always changed"] for changes in status.values()), status  # monitor and promote, by design
    assert json.loads(sh(["dvc", "status", "--cloud", "--json"], clone, env=s3_server.env).stdout) == {}

    # the registry and the batch as driftline sees them, and the champion served from the clone
    assert cli(["registry", "list", "credit"], clone).stdout == cli(["registry", "list", "credit"], root).stdout
    assert "batch-0001.parquet" in cli(["batch", "list", "credit"], clone).stdout
    champion = json.loads((clone / "registry/credit/champion.json").read_text())["version"]
    test = pd.read_parquet(clone / "data/credit/split/test.parquet").head(20)
    records = json.loads(test.drop(columns=["default"]).to_json(orient="records", date_format="iso"))
    expected = pd.read_parquet(clone / "data/credit/predictions/test.parquet").set_index("application_id")["score"]
    server = start_server(clone)
    try:
        with server.client() as client:
            answer = client.post("/v1/predict", json={"records": records})
    finally:
        stop_server(server)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == champion
    scores = {d["id"]: d["score"] for d in body["predictions"]}
    assert len(scores) == len(records) and all(abs(score - expected[i]) <= 1e-9 for i, score in scores.items())


def test_a_new_batch_pushes_alone_and_reaches_a_clone_with_git_pull_and_dvc_pull(
        cli, sh, built_project: Path, s3_server: S3Server, tmp_path: Path) -> None:
    root = built_project
    bucket = s3_server.new_bucket()
    add_remote(sh, root, s3_server, bucket)
    sh(["dvc", "push"], root, env=s3_server.isolation)
    before = s3_server.objects(bucket)
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(root), str(clone)], tmp_path)
    sh(["dvc", "pull"], clone, env=s3_server.env)

    cli(["simulate", "credit", "--rows", "300"], root)
    commit_all(root, "a batch")
    push = sh(["dvc", "push"], root, env=s3_server.isolation)
    assert pushed(push.stdout) == 1, push.stdout  # only the new batch travels
    added = set(s3_server.objects(bucket)) - set(before)
    assert len(added) == 1

    sh(["git", "pull", "-q"], clone)
    batch = "data/credit/incoming/batch-0001.parquet"
    assert not (clone / batch).exists() and (clone / f"{batch}.dvc").is_file()
    assert "batch-0001.parquet" in cli(["batch", "list", "credit"], clone).stdout  # known from its .dvc file, not here yet
    pull = sh(["dvc", "pull"], clone, env=s3_server.env)
    assert "1 file fetched" in pull.stdout, pull.stdout
    assert filecmp.cmp(root / batch, clone / batch, shallow=False)
    assert len(pd.read_parquet(clone / batch)) == 300
