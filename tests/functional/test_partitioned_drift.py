"""Partitioned data: a folder or glob of Parquet files as the source and as a batch, profiled on a real
Dask cluster (worker processes on 127.0.0.1), with the same profile and drift report as one file."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.atomic import write_parquet
from driftline.cluster import dask_client
from driftline.data.batches import batch_sha256, incoming_batches, read_batch_frame, stray_files
from driftline.data.generator import generate_loans
from driftline.data.sources import SourceError, is_partitioned, read_source, source_files
from driftline.drift.partitioned import Partition, file_partitions, profile_partitions, read_partition, row_group_partitions
from driftline.drift.profile import load_profile, profile_frame
from tests.conftest import TEMPLATE_ROWS, commit_all, edit_file, run_cli, run_process

KINDS = {"income": "numeric", "loan_amount": "numeric", "credit_score": "numeric", "employment": "categorical", "region": "categorical"}


def write_parts(folder: Path, frame: pd.DataFrame, sizes: list[int], name: str = "part-{i}.parquet") -> list[Path]:
    """`frame` cut into consecutive files of `sizes` rows (0 allowed: an empty file)."""
    assert sum(sizes) == len(frame)
    bounds = np.cumsum([0, *sizes])
    paths = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        paths.append(folder / name.format(i=i))
        write_parquet(paths[-1], frame.iloc[a:b].reset_index(drop=True))
    return paths


def assert_same_profiles(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        have = got[name]
        assert (type(have), have.n, have.n_missing) == (type(want), want.n, want.n_missing), name
        if hasattr(want, "sorted_values"):
            assert have.sorted_values.tobytes() == want.sorted_values.tobytes(), name
            assert (have.mean, have.std, have.iqr, have.quantiles, have.psi_bin_counts) == \
                (want.mean, want.std, want.iqr, want.quantiles, want.psi_bin_counts), name
        else:
            assert dict(have.counts) == dict(want.counts), name


# ------------------------------------------------------------------------------ sources


def test_a_folder_source_reads_every_parquet_file_in_name_order(tmp_path: Path) -> None:
    frame = generate_loans(900, seed=3)
    write_parts(tmp_path / "data" / "parts", frame, [300, 0, 600])
    (tmp_path / "data" / "parts" / "_SUCCESS").write_text("")  # what Spark leaves beside its files
    (tmp_path / "data" / "parts" / "notes.txt").write_text("not data")
    spec = {"kind": "parquet", "path": "data/parts"}

    read = read_source(spec, tmp_path)

    pd.testing.assert_frame_equal(read, frame)
    assert source_files(spec) == ["data/parts"]  # one DVC dep: DVC hashes the folder's content
    assert is_partitioned(spec, tmp_path)


def test_a_glob_source_reads_its_matches_and_depends_on_the_folder_it_searches(tmp_path: Path) -> None:
    frame = generate_loans(600, seed=4)
    write_parts(tmp_path / "data" / "parts", frame, [200, 400], name="2026-{i}.parquet")
    write_parquet(tmp_path / "data" / "parts" / "2025-old.parquet", generate_loans(50, seed=5))
    spec = {"kind": "parquet", "path": "data/parts/2026-*.parquet"}

    pd.testing.assert_frame_equal(read_source(spec, tmp_path), frame)
    # the folder, not the matched files: a file added there reruns ingest without a recompile
    assert source_files(spec) == ["data/parts"]
    assert not is_partitioned({"kind": "parquet", "path": "data/parts/2025-old.parquet"}, tmp_path)


def test_a_glob_or_folder_that_matches_nothing_is_one_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "data" / "empty").mkdir(parents=True)
    (tmp_path / "data" / "empty" / "readme.txt").write_text("no data here")

    with pytest.raises(SourceError, match=r"parquet source: path 'data/empty/\*\.parquet' matches no Parquet file") as glob:
        read_source({"kind": "parquet", "path": "data/empty/*.parquet"}, tmp_path)
    with pytest.raises(SourceError, match=r"parquet source: path 'data/empty' matches no Parquet file"):
        read_source({"kind": "parquet", "path": "data/empty"}, tmp_path)
    with pytest.raises(SourceError, match="searches the project root"):
        source_files({"kind": "parquet", "path": "*.parquet"})
    assert "data/empty/" in glob.value.hint


def test_a_matched_file_that_links_out_of_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.parquet"
    write_parquet(outside, generate_loans(10, seed=1))
    project = tmp_path / "proj"
    write_parts(project / "data" / "parts", generate_loans(20, seed=2), [20])
    os.symlink(outside, project / "data" / "parts" / "part-9.parquet")

    for path in ("data/parts", "data/parts/*.parquet"):
        with pytest.raises(SourceError, match="leads outside the project"):
            read_source({"kind": "parquet", "path": path}, project)
    with pytest.raises(SourceError, match="leads outside the project"):
        read_source({"kind": "parquet", "path": "../*.parquet"}, project)


def test_a_folder_batch_is_one_batch_hashed_over_its_files(tmp_path: Path) -> None:
    incoming = tmp_path / "data" / "credit" / "incoming"
    frame = generate_loans(300, seed=6)
    write_parts(incoming / "batch-0001.parquet", frame, [100, 200])

    [batch] = incoming_batches(tmp_path, "data/credit/incoming")
    before = batch.sha256
    pd.testing.assert_frame_equal(read_batch_frame(tmp_path / batch.file), frame)
    assert stray_files(tmp_path, "data/credit/incoming") == []
    write_parquet(incoming / "batch-0001.parquet" / "part-2.parquet", frame.head(5))
    assert batch_sha256(tmp_path / batch.file) != before  # a file added to a batch changes it


# ------------------------------------------------------------------- partitions on a cluster


def test_row_group_partitions_read_back_the_file(tmp_path: Path) -> None:
    frame = generate_loans(1000, seed=8)
    path = tmp_path / "train.parquet"
    frame.to_parquet(path, index=False, row_group_size=300)

    partitions = row_group_partitions(path)

    assert [p.row_groups for p in partitions] == [(0,), (1,), (2,), (3,)]
    parts = [read_partition(p, sorted(KINDS)) for p in partitions]
    merged = pd.concat(parts, ignore_index=True)
    assert merged["income"].equals(frame["income"])
    assert list(merged["region"].astype(object)) == list(frame["region"].astype(object))


def test_profile_on_a_local_cluster_equals_profile_frame_bit_for_bit(tmp_path: Path) -> None:
    frame = generate_loans(4000, seed=9)
    frame.loc[frame.index[::7], "income"] = np.nan
    frame.loc[frame.index[::11], "loan_amount"] = np.inf
    files = write_parts(tmp_path, frame, [1700, 0, 300, 2000])
    partitions = [*file_partitions(files[:2]), *row_group_partitions(files[2]), Partition(str(files[3]))]

    # cluster=None: driftline's own LocalCluster, worker processes on 127.0.0.1
    merged = profile_partitions(partitions, KINDS, cluster=None, max_values=500)

    assert_same_profiles(merged, profile_frame(frame, KINDS, max_values=500))


# ------------------------------------------------------------- a project on partitioned data


@pytest.fixture(scope="module")
def scheduler():
    """A real Dask cluster for the project below (two worker processes on 127.0.0.1): its client."""
    with dask_client(None, workers=2) as client:
        yield client


def _task_names(stream) -> list[str]:
    return sorted({t["key"][0] if isinstance(t["key"], tuple) else t["key"] for t in stream.data})


def test_a_folder_source_and_a_folder_batch_run_on_the_cluster_with_the_same_report_as_one_file(projects, tmp_path, scheduler):
    from distributed import get_task_stream

    root = projects.fresh(tmp_path / "parts")
    data = generate_loans(TEMPLATE_ROWS, seed=7, start="2024-01-01", end="2025-12-31")
    write_parts(root / "data" / "parts", data, [1200, 1000, 800])
    (root / "conf" / "dataset" / "parts.yaml").write_text(
        "source:\n  kind: parquet\n  path: data/parts\ntimestamp: applied_at\nid: application_id\n")
    edit_file(root, "pipelines/credit.yaml", "- /dataset: loans", "- /dataset: parts")
    edit_file(root, "conf/monitor/default.yaml", "cluster: null", f"cluster: {{address: '{scheduler.scheduler.address}'}}")
    run_cli(["compile"], root)
    commit_all(root, "credit reads a folder of Parquet files")
    assert "- data/parts\n" in (root / "dvc.yaml").read_text()

    with get_task_stream(scheduler) as repro_tasks:
        run_process(["dvc", "repro", "credit-promote", "credit-monitor"], root)
    assert any(name.startswith("profile_partition") for name in _task_names(repro_tasks)), "the reference was profiled on the cluster"
    # the registered reference is the in-memory profile of the training split, bit for bit
    version = root / "registry" / "credit" / "versions" / json.loads((root / "registry" / "credit" / "champion.json").read_text())["version"]
    stored = load_profile(version / "profile.json", version / "profile.npz")
    train = pd.read_parquet(root / "data" / "credit" / "split" / "train.parquet")
    expected = profile_frame(train, {c: stored[c].kind for c in stored if c != "__score__"}, max_values=10_000)
    assert_same_profiles({c: p for c, p in stored.items() if c != "__score__"}, expected)

    # a file added to the source folder reruns ingest (the folder is the dep)
    write_parquet(root / "data" / "parts" / "part-3.parquet", generate_loans(50, seed=99))
    status = run_process(["dvc", "status", "credit-ingest"], root).stdout
    assert "credit-ingest" in status and "data/parts" in status
    (root / "data" / "parts" / "part-3.parquet").unlink()

    # the same new rows, as a folder batch here and as one file in a twin project
    batch = generate_loans(800, seed=21, drift="covariate", batch=1)
    twin = Path(shutil.copytree(root, tmp_path / "one-file", symlinks=True))
    write_parts(root / "data" / "credit" / "incoming" / "batch-0001.parquet", batch, [250, 0, 550])
    write_parquet(twin / "data" / "credit" / "incoming" / "batch-0001.parquet", batch)

    with get_task_stream(scheduler) as folder_tasks:
        run_cli(["run", "monitor", "credit"], root)
    with get_task_stream(scheduler) as file_tasks:
        run_cli(["run", "monitor", "credit"], twin)

    assert any(name.startswith("profile_partition") for name in _task_names(folder_tasks)), "the folder batch ran on the cluster"
    assert _task_names(file_tasks) == [], "a single-file batch stays in process"
    folder_report = json.loads((root / "reports" / "credit" / "drift.json").read_text())
    file_report = json.loads((twin / "reports" / "credit" / "drift.json").read_text())
    assert folder_report["columns"], "the batch was compared column by column"
    for key in ("columns", "share_drifted", "dataset_drift", "prediction", "decision", "current"):
        assert folder_report[key] == file_report[key], key
    assert folder_report["decision"]["retrain"] and folder_report["columns"][0]["drifted"], "a covariate batch drifts"
