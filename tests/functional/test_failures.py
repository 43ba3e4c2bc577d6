"""Every command over a table of expected failures: one clear message, a non-zero exit, no traceback.

Each case damages a copy of the demo project (bad config, bad or damaged data and state files, a
damaged audit head or prediction log, a missing champion, an unreadable profile), runs one
`driftline` command in-process, and checks what the user sees: the exit code, the words that name
the file, key or field, and that no Python traceback reached them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftline.cli.main import app

COPIED = ("conf", "pipelines", "params.yaml", "dvc.yaml", "registry", "audit",
          "data/credit/trigger.json", "data/credit/monitor_state.json")


@pytest.fixture(scope="module")
def template(projects, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reproduced demo project's config, registry and audit trail (no git, no DVC: no command here needs them)."""
    source = projects.reproduced()  # the repository does not commit the demo's registry (its binaries live in a DVC cache)
    root = tmp_path_factory.mktemp("template")
    for rel in COPIED:
        src, dst = source / rel, root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    for path in (root / "registry").rglob("*"):  # registry versions are read-only; cases damage copies
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(template, root)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))  # `serve` sets it in-process
    return root


def write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.chmod(0o644)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return damage


def replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{rel} no longer contains {old!r}: update the case"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return damage


def remove(rel: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return damage


def tear_audit_tail(root: Path) -> None:
    path = root / "audit" / "log.jsonl"
    path.write_bytes(path.read_bytes() + b'{"seq": 99, "kind": "stage_r')


def symlink_source_outside(root: Path) -> None:
    """A CSV source that compiled fine, then swapped for a link to a file outside the project."""
    import pandas as pd

    source = root / "data" / "applications.csv"
    pd.read_parquet(root / "registry" / "credit" / "versions" / champion_version(root) / "reference_sample.parquet").to_csv(source, index=False)
    write("conf/dataset/applications.yaml", "source: {kind: csv, path: data/applications.csv}\n"
          "timestamp: applied_at\nid: application_id\n")(root)
    replace("pipelines/credit.yaml", "/dataset: loans", "/dataset: applications")(root)
    compiled = CliRunner().invoke(app, ["compile"])
    assert compiled.exit_code == 0, compiled.output
    outside = root.parent / "outside.csv"
    source.rename(outside)
    os.symlink(outside, source)


def champion_version(root: Path) -> str:
    return json.loads((root / "registry" / "credit" / "champion.json").read_text())["version"]


def new_batch(root: Path) -> None:
    """A well-formed incoming batch: the champion's own reference sample."""
    version = root / "registry" / "credit" / "versions" / champion_version(root)
    (root / "data" / "credit" / "incoming").mkdir(parents=True, exist_ok=True)
    shutil.copy(version / "reference_sample.parquet", root / "data" / "credit" / "incoming" / "batch-0001.parquet")


def damage_profile(root: Path) -> None:
    new_batch(root)
    write(f"registry/credit/versions/{champion_version(root)}/profile.json", "{ not json")(root)


def labels_csv(root: Path) -> None:
    write("labels.csv", "request_id,label\nabc-0,1\n")(root)


# The "billion laughs": each line repeats the one before ten times: 10^7 values from 300 bytes.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6))


@dataclass(frozen=True)
class Case:
    id: str
    damage: Callable[[Path], None] | None
    args: list[str]
    exit_code: int
    says: tuple[str, ...]  # words the message must contain (the file, key or field, and what to do)


CASES = [
    # config
    Case("unknown-key", replace("pipelines/credit.yaml", "task: binary", "task: binary\ntaks: binary"),
         ["compile"], 2, ("credit.taks", "unknown key", "pipelines/credit.yaml")),
    Case("defaults-not-a-list", replace("pipelines/credit.yaml", "defaults:\n", "defaults: 5\nx:\n"),
         ["compile"], 2, ("credit", "pipelines/credit.yaml")),
    Case("non-utf8-pipeline", write("pipelines/credit.yaml", b"task: \xff\xfe binary\n"),
         ["compile"], 2, ("pipelines/credit.yaml",)),
    Case("non-utf8-group-file", write("conf/model/lgbm.yaml", b"params:\n  num_leaves: 31 # \xff\n"),
         ["compile"], 2, ("conf/model/lgbm.yaml", "not UTF-8")),
    # numbers LightGBM or numpy cannot take: refused at compile time, not as a traceback in dvc repro
    Case("split-seed-negative", replace("conf/split/random.yaml", "seed: 0", "seed: -1"), ["compile"], 2,
         ("credit.split.seed", "greater than or equal to 0", "conf/split/random.yaml")),
    Case("lightgbm-seed-beyond-int32", replace("conf/model/lgbm.yaml", "  seed: 0", "  seed: 99999999999"), ["compile"], 2,
         ("credit.model.params.seed", "2147483647", "conf/model/lgbm.yaml")),
    Case("num-leaves-huge", replace("conf/model/lgbm.yaml", "num_leaves: 31", "num_leaves: 100000000000000000000"), ["compile"], 2,
         ("credit.model.params.num_leaves", "131072")),
    Case("num-boost-round-huge", replace("conf/model/lgbm.yaml", "num_boost_round: 1000", "num_boost_round: 100000000000000000000"),
         ["compile"], 2, ("credit.model.num_boost_round", "1000000")),
    Case("pipeline-yml-suffix", write("pipelines/scoring.yml", "task: binary\n"), ["compile"], 2,
         ("pipelines/scoring.yml is not compiled", "pipelines/<name>.yaml")),
    Case("pipeline-in-subfolder", write("pipelines/drafts/scoring.yaml", "task: binary\n"), ["compile"], 2,
         ("pipelines/drafts/scoring.yaml is not compiled",)),
    Case("yaml-syntax", write("conf/model/lgbm.yaml", "params: [unclosed\n"),
         ["compile"], 2, ("lgbm.yaml",)),
    # hostile YAML: refused from the parser's events before anything is built (yamlguard.py)
    Case("yaml-alias-bomb", write("conf/model/lgbm.yaml", ALIAS_BOMB), ["compile"], 2,
         ("conf/model/lgbm.yaml", "expands to more than 100,000 values")),
    Case("yaml-alias-bomb-pipeline", write("pipelines/credit.yaml", ALIAS_BOMB), ["compile"], 2,
         ("pipelines/credit.yaml", "expands to more than 100,000 values")),
    Case("yaml-deep-flow-lists", write("conf/model/lgbm.yaml", "params: " + "[" * 20_000 + "]" * 20_000 + "\n"),
         ["compile"], 2, ("conf/model/lgbm.yaml",)),
    Case("yaml-deep-block-mappings", write("conf/model/lgbm.yaml", "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"),
         ["compile"], 2, ("conf/model/lgbm.yaml", "nested more than 64 levels")),
    Case("yaml-oversized", write("conf/model/lgbm.yaml", "# " + "x" * (1 << 20) + "\nparams: {}\n"), ["compile"], 2,
         ("conf/model/lgbm.yaml", "a config file may have 1,048,576 at most")),
    Case("stale-params", replace("pipelines/credit.yaml", "threshold: 0.3", "threshold: 0.4"),
         ["run", "ingest", "credit"], 1, ("changed after the last compile", "driftline compile")),
    Case("params-missing", remove("params.yaml"), ["run", "ingest", "credit"], 1, ("params.yaml is missing", "driftline compile")),
    Case("params-not-yaml", write("params.yaml", "credit: [\n"), ["run", "ingest", "credit"], 1, ("params.yaml",)),
    Case("params-alias-bomb", write("params.yaml", ALIAS_BOMB), ["run", "ingest", "credit"], 1,
         ("params.yaml expands to more than 100,000 values", "driftline compile")),
    Case("unknown-pipeline", None, ["run", "ingest", "nope"], 2, ("no pipeline 'nope'", "credit")),
    Case("unknown-step", None, ["run", "deploy", "credit"], 1, ("unknown step 'deploy'",)),
    Case("source-symlink-outside", symlink_source_outside, ["run", "ingest", "credit"], 1,
         ("data/applications.csv", "outside the project")),
    # data and state files
    Case("trigger-damaged", write("data/credit/trigger.json", "{ not json"), ["run", "ingest", "credit"], 1,
         ("data/credit/trigger.json", "damaged")),
    Case("champion-pointer-empty", write("registry/credit/champion.json", ""), ["registry", "list", "credit"], 1,
         ("champion.json",)),
    Case("champion-missing", remove("registry/credit"), ["serve", "credit"], 1, ("no champion",)),
    Case("profile-unreadable", damage_profile, ["run", "monitor", "credit"], 1, ("profile",)),
    # a damaged batch is rejected, named, and the loop goes on (exit 0)
    Case("batch-truncated", write("data/credit/incoming/batch-0001.parquet", b"PAR1"), ["run", "monitor", "credit"], 0,
         ("batch-0001.parquet rejected: not a readable Parquet file",)),
    Case("batch-empty-file", write("data/credit/incoming/batch-0001.parquet", b""), ["run", "monitor", "credit"], 0,
         ("batch-0001.parquet rejected: not a readable Parquet file",)),
    Case("monitor-state-damaged", write("data/credit/monitor_state.json", "{ nope"), ["run", "monitor", "credit"], 1,
         ("data/credit/monitor_state.json",)),
    Case("rollback-nothing-before", None, ["registry", "rollback", "credit", "--to", "v0999"], 1, ("v0999",)),
    # audit trail
    Case("audit-head-damaged", write("audit/head.json", "{ broken"), ["audit", "verify"], 1, ("head.json", "damaged")),
    Case("audit-record-edited", replace("audit/log.jsonl", '"seq":2,', '"seq":7,'), ["audit", "verify"], 1,
         ("BROKEN", "line 2")),
    Case("audit-log-line-unreadable", write("audit/log.jsonl", "not json\n"), ["audit", "log"], 1, ("audit/log.jsonl:1",)),
    # the prediction log
    Case("prediction-log-not-sqlite", write("logs/credit/predictions.sqlite", "not a database" * 100),
         ["audit", "trace", "abc-0"], 1, ("predictions.sqlite",)),
    Case("labels-without-log", labels_csv, ["labels", "import", "credit", "labels.csv"], 1,
         ("no prediction log", "driftline serve credit")),
    Case("trace-unknown-request", None, ["audit", "trace", "nope-0"], 1, ("nope-0",)),
    # other commands
    Case("plan-without-dvc-yaml", remove("dvc.yaml"), ["plan"], 1, ("no dvc.yaml", "driftline compile")),
    Case("sweep-not-prepared", None, ["sweep", "credit"], 1, ("credit",)),
    Case("init-missing-data", None, ["init", "--data", "nope.csv", "--target", "y", "--name", "x"], 2, ("nope.csv",)),
    Case("simulate-unknown-pipeline", None, ["simulate", "nope"], 2, ("no pipeline 'nope'",)),
    Case("registry-bad-pipeline-name", None, ["registry", "list", "../credit"], 1, ("not a pipeline name",)),
    Case("labels-bad-rows", write("logs/credit/predictions.sqlite", ""), ["labels", "import", "credit", "missing.csv"], 1,
         ("missing.csv",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_is_one_clear_message(case: Case, project: Path) -> None:
    if case.damage is not None:
        case.damage(project)
    result = CliRunner().invoke(app, case.args)
    shown = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"`driftline {' '.join(case.args)}` raised {result.exception!r}:\n{shown}")
    assert "Traceback" not in shown, shown
    assert result.exit_code == case.exit_code, shown
    for words in case.says:
        assert words in shown, f"{words!r} not in:\n{shown}"


def test_a_torn_audit_tail_is_repaired_on_the_next_append(project: Path) -> None:
    """A crash mid-append leaves half a line; the next stage run cuts it and the chain stays intact."""
    tear_audit_tail(project)
    result = CliRunner().invoke(app, ["run", "ingest", "credit"])
    assert result.exit_code == 0, result.output
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "intact" in verified.output, verified.output


def test_a_failed_stage_writes_its_failed_audit_record(project: Path) -> None:
    write("data/credit/trigger.json", "{ not json")(project)
    CliRunner().invoke(app, ["run", "ingest", "credit"])
    last = json.loads((project / "audit" / "log.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "stage_run"
    assert last["payload"]["stage"] == "credit-ingest" and last["payload"]["status"] == "failed"
    assert "trigger.json" in last["payload"]["summary"]
