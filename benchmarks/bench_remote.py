"""`dvc push` and `dvc pull` of the demo project through an S3 remote: sizes, file counts, wall times.

    python benchmarks/bench_remote.py [--rows 50000]

Builds a throw-away copy of the demo (`rows` loan applications, `dvc repro`, one simulated batch of
5,000 rows), then pushes it to moto's S3-compatible server on 127.0.0.1 (the test dependency the
remote-storage tests use: tests/functional/s3.py), clones it with git and pulls it back. Measures:
what is pushed (objects, bytes) against what git carries; push, no-op push, pull, and the push of
one new batch. Baselines in the same run: the same cache files uploaded and downloaded one by one
with boto3 (no hashing, no status checks), so `dvc push`/`pull` read as ratios to the bare transfer;
and `dvc --version`, the start-up every dvc command pays.
Loopback to a local server measures DVC's own cost, not a network's. Results go to
benchmarks/results/remote.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _project import REPO, demo_project, run

sys.path.insert(0, str(REPO))  # the moto server helper the tests use
from tests.functional.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Server, moto_s3  # noqa: E402


def tracked(root: Path, env: dict[str, str]) -> tuple[list[str], list[str]]:
    """(files DVC tracks, files git tracks) in the project, relative paths."""
    listed = json.loads(run(["dvc", "ls", "-R", "--dvc-only", "--json", "."], root, env)[1])
    return sorted(e["path"] for e in listed if not e.get("isdir")), run(["git", "ls-files"], root, env)[1].split()


def size(root: Path, files: list[str]) -> int:
    return sum((root / rel).stat().st_size for rel in files)


def commit(root: Path, message: str, env: dict[str, str]) -> None:
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", message], root, env)


def bare_transfer(s3: S3Server, cache: Path, keys: list[str]) -> tuple[float, float]:
    """Upload then download, one by one with boto3, the cache files behind the remote's `keys`: (up s, down s)."""
    files = [cache / key.split("/", 1)[1] for key in keys]  # "driftline/files/md5/ab/cdef" -> cache/files/md5/ab/cdef
    client, bucket = s3.client(), s3.new_bucket("baseline")
    start = time.perf_counter()
    for path in files:
        client.upload_file(str(path), bucket, path.relative_to(cache).as_posix())
    up = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        for path in files:
            client.download_file(bucket, path.relative_to(cache).as_posix(), str(Path(folder) / path.name))
        down = time.perf_counter() - start
    return up, down


def measure(rows: int, s3: S3Server) -> dict[str, object]:
    root = demo_project(rows, "remote")
    clone = root.parent / f"{root.name}-clone"
    env = s3.isolation
    try:
        for key, value in (("user.email", "bench@example.com"), ("user.name", "driftline bench")):
            run(["git", "config", key, value], root, env)
        commit(root, "project", env)
        repro_s, _ = run(["dvc", "repro"], root, env)
        run(["driftline", "simulate", "credit"], root, env)
        commit(root, "repro and a batch", env)

        bucket = s3.new_bucket()
        run(["dvc", "remote", "add", "-d", "store", f"s3://{bucket}/driftline"], root, env)
        run(["dvc", "remote", "modify", "store", "endpointurl", s3.endpoint], root, env)
        run(["dvc", "remote", "modify", "--local", "store", "access_key_id", ACCESS_KEY_ID], root, env)
        run(["dvc", "remote", "modify", "--local", "store", "secret_access_key", SECRET_ACCESS_KEY], root, env)
        commit(root, "remote", env)

        by_dvc, by_git = tracked(root, env)
        push_s, push_out = run(["dvc", "push"], root, env)
        objects = s3.objects(bucket)
        noop_push_s, _ = run(["dvc", "push"], root, env)
        start_s = min(run(["dvc", "--version"], root, env)[0] for _ in range(3))  # what any dvc command pays
        up_s, down_s = bare_transfer(s3, root / ".dvc" / "cache", sorted(objects))  # what the push sent, by hand

        run(["git", "clone", "-q", str(root), str(clone)], root.parent, env)
        pull_s, pull_out = run(["dvc", "pull"], clone, s3.env)
        pulled = [rel for rel in by_dvc if (clone / rel).is_file()]
        noop_pull_s, _ = run(["dvc", "pull"], clone, s3.env)

        run(["driftline", "simulate", "credit"], root, env)
        commit(root, "another batch", env)
        batch_push_s, batch_push_out = run(["dvc", "push"], root, env)
        run(["git", "pull", "-q"], clone, env)
        batch_pull_s, _ = run(["dvc", "pull"], clone, s3.env)

        registry = [rel for rel in by_git if rel.startswith("registry/")]
        return {
            "rows": rows,
            "dvc_repro_s": round(repro_s, 1),
            "dvc_tracked_files": len(by_dvc),
            "dvc_tracked_bytes": size(root, by_dvc),
            "pushed_objects": len(objects),
            "pushed_bytes": sum(objects.values()),
            "push_said": push_out.strip().splitlines()[-1],
            "push_s": round(push_s, 2),
            "noop_push_s": round(noop_push_s, 2),
            "pulled_files": len(pulled),
            "pulled_bytes": size(clone, pulled),
            "pull_said": pull_out.strip().splitlines()[-1],
            "pull_s": round(pull_s, 2),
            "noop_pull_s": round(noop_pull_s, 2),
            "one_batch_push_said": batch_push_out.strip().splitlines()[-1],
            "one_batch_push_s": round(batch_push_s, 2),
            "one_batch_pull_s": round(batch_pull_s, 2),
            "git_tracked_files": len(by_git),
            "git_tracked_bytes": size(root, by_git),
            "git_registry_files": len(registry),
            "git_registry_bytes": size(root, registry),
            "baseline_dvc_version_s": round(start_s, 2),
            "baseline_boto3_upload_s": round(up_s, 2),
            "baseline_boto3_download_s": round(down_s, 2),
            "ratio_push_to_bare_upload": round(push_s / up_s, 1),
            "ratio_pull_to_bare_download": round(pull_s / down_s, 1),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(clone, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    with moto_s3() as s3:
        result = measure(args.rows, s3)
    result.update({"python": sys.version.split()[0], "cpus": os.cpu_count(),
                   "note": "moto's S3 server on 127.0.0.1: DVC's own cost, no network; the first push/pull includes dvc start-up"})
    out_file = REPO / "benchmarks/results/remote.json"
    out_file.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
