"""Every data stage survives SIGKILL: killed at its kill points (faults.py), then rerun, it leaves
readable outputs equal to a clean run's, no temporary files, and an audit trail that verifies.

Each step is first run with DRIFTLINE_KILL_TRACE to list the points it passes. The sample killed
(`sample`): the `during` point of every output file (the temporary file complete, not yet renamed:
what a crash mid-write leaves), the `after` point of the last output (everything written, no audit
record yet), and the `during` point of the stage's audit record (a torn line). The kills run one
after another on the same project, each starting from what the previous one left, with the step's
outputs deleted first as `dvc repro` deletes them; then one clean rerun. The model stages are in
test_crash_stages_model.py, the monitor in test_crash_stages_monitor.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from driftline.hashing import sha256_file
from tests.functional.crash import assert_readable, audit_ok, kill_at, remove, temp_files, trace, with_occurrence

AUDIT_TORN = "append:audit/log.jsonl:during"
NONDETERMINISTIC = {"reports/credit/live/metrics.json"}  # holds the training time in seconds


def outputs(root: Path, step: str) -> list[str]:
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][f"credit-{step}"]
    return [next(iter(o)) if isinstance(o, dict) else o for field in ("outs", "metrics", "plots") for o in stage.get(field, [])]


def written_file(point: str) -> str | None:
    kind, _, rest = point.partition(":")
    return rest.rsplit(":", 1)[0] if kind == "write" else None


def owned_by(file: str, outs: list[str]) -> bool:
    return any(file == out or file.startswith(out + "/") for out in outs)


def sample(points: list[str], outs: list[str], only: str | None = None) -> list[tuple[str, int]]:
    """The documented sample of kill points (see the module docstring), in the order they are reached;
    with `only`, just that output's `during` point and the torn audit record."""
    passed = with_occurrence(points)
    during = [(p, n) for p, n in passed if p.endswith(":during") and (f := written_file(p)) and owned_by(f, outs)
              and (only is None or f == only)]
    afters = [(p, n) for p, n in passed if p.endswith(":after") and (f := written_file(p)) and owned_by(f, outs)]
    torn = [(p, n) for p, n in passed if p == AUDIT_TORN][-1:]  # the stage's own record comes last
    chosen = during + (afters[-1:] if only is None else []) + torn
    return sorted(set(chosen), key=passed.index)


def hashes(root: Path, outs: list[str]) -> dict[str, str]:
    found = {}
    for out in outs:
        path = root / out
        for file in ([f for f in sorted(path.rglob("*")) if f.is_file() and not f.name.startswith(".")] if path.is_dir() else [path]):
            if file.exists():
                found[file.relative_to(root).as_posix()] = sha256_file(file)
    return found


def crash_and_recover(cli, root: Path, tmp: Path, step: str, only: str | None = None) -> int:
    """Kill `step` at its sample of points, rerun it, and check what a user would; the number of kills."""
    outs = outputs(root, step)
    clean = hashes(root, outs)
    points = trace(cli, ["run", step, "credit"], root, tmp)
    chosen = sample(points, outs, only)
    assert len(chosen) >= 2, points
    remove(root, outs)
    for point, nth in chosen:
        kill_at(["run", step, "credit"], root, point, nth)
        assert_readable(root, outs)  # whatever is in place is whole: an old file, a new one, or none
    cli(["run", step, "credit"], root)
    assert temp_files(root) == []
    assert_readable(root, outs)
    again = hashes(root, outs)
    assert {k: v for k, v in again.items() if k not in NONDETERMINISTIC} == {k: v for k, v in clean.items() if k not in NONDETERMINISTIC}
    audit_ok(cli, root)
    last = json.loads((root / "audit/log.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "stage_run" and last["payload"]["stage"] == f"credit-{step}" and last["payload"]["status"] == "ok"
    return len(chosen)


@pytest.mark.parametrize("step", ["ingest", "validate", "label", "split", "featurize"])
def test_a_data_stage_killed_at_each_point_recovers_on_rerun(cli, built_project: Path, tmp_path: Path, step: str) -> None:
    crash_and_recover(cli, built_project, tmp_path, step)


def test_a_stage_killed_under_dvc_repro_is_not_recorded_as_done_and_reruns(cli, sh, built_project: Path, edit) -> None:
    """DVC's side: the lock keeps the last good run, `dvc status` shows the stage changed, the next repro redoes it."""
    root = built_project
    edit(root, "conf/dataset/loans.yaml", "rows: 3000", "rows: 2500")
    cli(["compile"], root)
    lock = (root / "dvc.lock").read_bytes()
    killed = sh(["dvc", "repro", "--single-item", "credit-ingest"], root, check=False,
                env={"DRIFTLINE_KILL_AT": "write:data/credit/raw.parquet:during"})
    assert killed.returncode != 0
    assert (root / "dvc.lock").read_bytes() == lock, "a killed stage must not be recorded in dvc.lock"
    assert "credit-ingest" in sh(["dvc", "status", "credit-ingest"], root).stdout
    sh(["dvc", "repro", "--single-item", "credit-ingest"], root)
    assert temp_files(root) == []
    import pandas as pd

    assert len(pd.read_parquet(root / "data/credit/raw.parquet")) == 2500
    assert (root / "dvc.lock").read_bytes() != lock
    assert "credit-ingest" not in sh(["dvc", "status", "credit-ingest"], root).stdout
    audit_ok(cli, root)
