"""`model.engine: dask`: the train stage on real dask.distributed clusters, all on 127.0.0.1.

One test trains on the local cluster driftline starts (2 worker processes of one thread), runs the
pipeline to a champion and serves it; the other trains on a scheduler and two workers started here
as separate processes (`dask scheduler`, `dask worker`), the way a user points driftline at a
cluster of their own. What this proves is the wiring and equal scoring, not a speed-up.

LightGBM binds its training socket on 0.0.0.0 (its C++ socket code has no address setting), so the
external cluster and the training run inside a network namespace of their own whose only interface
is loopback (`unshare --net`): there, LightGBM's sockets are reachable from 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import commit_all, copy_project, edit_file
from tests.functional.test_serve import start_server, stop_server, test_records

BIN = Path(sys.executable).parent
ROWS = 5000  # 3,500 train rows: enough for AUC on 750 valid rows to mean something
SAMPLE_ROWS = 2000  # below the train rows, so the rounds come from a real sample
MODEL_CONF = "conf/model/lgbm.yaml"
# Dask against local: data-parallel histograms, and rounds chosen on a 2,000-row sample instead of
# all 3,500 rows, give a slightly different model; on 750 valid rows an AUC moves by about 0.01
# between such models (0.8104 against 0.8189 here), so 0.03 tells a wiring bug from that noise.
AUC_MARGIN = 0.03


def use_dask(root: Path) -> None:
    edit_file(root, MODEL_CONF, "engine: local", "engine: dask")
    edit_file(root, MODEL_CONF, "dask_sample_rows: 100000", f"dask_sample_rows: {SAMPLE_ROWS}")
    edit_file(root, MODEL_CONF, "  workers: null", "  workers: 2")


@pytest.fixture(scope="module")
def featurized(projects) -> Path:
    """A 5,000-row project with engine dask, reproduced up to the features (the train stage's inputs)."""
    root = projects.fresh(rows=ROWS)
    use_dask(root)
    subprocess.run([str(BIN / "driftline"), "compile"], cwd=root, check=True, capture_output=True)
    commit_all(root, "engine: dask")
    run(root, "dvc", "repro", "credit-featurize")
    return root


def set_model_params(root: Path, **values: object) -> None:
    """Set `credit.model.<key>` in params.yaml, as `dvc exp run -S` does (stages read params.yaml, not conf/)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    model = params["credit"]["model"]
    for key, value in values.items():
        if key == "address":
            model["cluster"]["address"] = value
        else:
            model[key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run(root: Path, *cmd: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(list(cmd), cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def features(root: Path, split: str) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    """(featurized frame, model matrix, target) of a split, as the train stage reads them."""
    from driftline.features.pipeline import FittedFeatures, featurized_matrix

    fitted = FittedFeatures.from_json(json.loads((root / "models/credit/features.json").read_text()))
    frame = pd.read_parquet(root / f"data/credit/features/{split}.parquet")
    return frame, featurized_matrix(frame, fitted.feature_columns, fitted.categorical), frame["default"]


def local_valid_auc(root: Path) -> float:
    """The valid AUC of the same data trained by the local engine (the default model config)."""
    from driftline.config.model import ModelSpec
    from driftline.models.evaluate import compute_metrics
    from driftline.models.train import fit_model, predict_scores

    model = yaml.safe_load((root / "params.yaml").read_text())["credit"]["model"]
    spec = ModelSpec.model_validate({**model, "engine": "local"})
    fitted = json.loads((root / "models/credit/features.json").read_text())
    (_, X_train, y_train), (_, X_valid, y_valid) = features(root, "train"), features(root, "valid")
    names = fitted["feature_columns"]
    result = fit_model(X_train, y_train, X_valid, y_valid, "binary", spec, feature_names=names, categorical=list(fitted["categorical"]))
    return compute_metrics(y_valid.to_numpy(dtype=float), predict_scores(result.booster, X_valid, "binary"), "binary")["roc_auc"]


def test_local_cluster_model_is_served_with_the_scores_plain_lightgbm_gives(featurized: Path, tmp_path: Path) -> None:
    root = copy_project(featurized, tmp_path / "proj")
    trained = run(root, "dvc", "repro", "credit-promote")
    assert "on Dask (2 workers)" in trained.stdout + trained.stderr

    summary = json.loads((root / "reports/credit/live/metrics.json").read_text())
    assert summary["dask"]["workers"] == 2
    assert summary["dask"]["rounds_from"] == "early_stopping_on_sample" and summary["dask"]["sample_rows"] == SAMPLE_ROWS
    booster = lgb.Booster(model_file=str(root / "models/credit/model.txt"))
    assert booster.current_iteration() == summary["best_iteration"] == summary["dask"]["rounds"]
    assert "machines" not in (root / "models/credit/model.txt").read_text()  # no trace of one run's ports

    # the valid metrics are the whole valid split's, computed by the evaluate code from the saved model
    from driftline.models.evaluate import compute_metrics

    _, X_valid, y_valid = features(root, "valid")
    assert summary["valid"]["n"] == summary["valid_rows"] == len(y_valid)
    recomputed = compute_metrics(y_valid.to_numpy(dtype=float), booster.predict(X_valid), "binary", threshold=0.3)
    assert summary["valid"]["roc_auc"] == pytest.approx(recomputed["roc_auc"], abs=1e-6)
    assert summary["valid"]["roc_auc"] >= local_valid_auc(root) - AUC_MARGIN

    # the champion the server loads is this model: its scores equal plain LightGBM's on the same rows
    frame, X_test, _ = features(root, "test")
    expected = dict(zip(frame["application_id"], booster.predict(X_test), strict=True))
    records = test_records(root, 50)
    server = start_server(root)
    try:
        with server.client() as client:
            response = client.post("/v1/predict", json={"records": records})
    finally:
        stop_server(server)
    assert response.status_code == 200, response.text
    decisions = response.json()["predictions"]
    assert len(decisions) == len(records) == 50
    for decision in decisions:
        assert decision["score"] == pytest.approx(expected[decision["id"]], abs=1e-12)


@pytest.fixture
def loopback_only() -> Iterator[list[str]]:
    """A network namespace whose only interface is loopback, held open by a sleeping process: the
    command prefix that runs a program inside it (`nsenter`). As root a plain `unshare --net`; as
    another user, inside a user namespace of its own (`--map-root-user`)."""
    root_user = os.geteuid() == 0
    holder = subprocess.Popen(["unshare", "--net", *([] if root_user else ["--map-root-user"]), "sh", "-c",
                               "ip link set lo up && echo up && exec sleep 3600"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "up", "unshare --net failed (needs root or user namespaces)"
        prefix = ["nsenter", f"--target={holder.pid}", "--net", *([] if root_user else ["--user", "--preserve-credentials"]), "--"]
        links = subprocess.run([*prefix, "ip", "-o", "link"], capture_output=True, text=True, check=True).stdout.splitlines()
        assert [line.split(":")[1].strip() for line in links] == ["lo"], links
        yield prefix
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


@pytest.fixture
def external_cluster(tmp_path: Path, loopback_only: list[str]) -> Iterator[tuple[str, list[Path]]]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, no dashboards, in the loopback-only
    namespace: (address, worker logs)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    scheduler_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    logs = [tmp_path / "scheduler.log", tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    try:
        with open(logs[0], "w") as out:
            procs.append(subprocess.Popen([*loopback_only, str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                           "--scheduler-file", str(scheduler_file)], env=env, stdout=out, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            assert procs[0].poll() is None, logs[0].read_text()
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for log in logs[1:]:
            with open(log, "w") as out:
                procs.append(subprocess.Popen([*loopback_only, str(BIN / "dask"), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                               "--no-dashboard", "--no-nanny"], env=env, stdout=out, stderr=subprocess.STDOUT))
        wait = f"from distributed import Client; Client({address!r}, timeout='30s').wait_for_workers(2, timeout=60)"
        subprocess.run([*loopback_only, sys.executable, "-c", wait], env=env, check=True, timeout=120)
        yield address, logs[1:]
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_external_scheduler_trains_the_given_rounds_on_its_workers(featurized: Path, tmp_path: Path, external_cluster,
                                                                   loopback_only: list[str]) -> None:
    address, worker_logs = external_cluster
    root = copy_project(featurized, tmp_path / "proj")
    set_model_params(root, address=address, rounds="given", num_boost_round=40)
    trained = run(root, *loopback_only, "dvc", "repro", "credit-train")
    assert "on Dask (2 workers)" in trained.stdout + trained.stderr

    summary = json.loads((root / "reports/credit/live/metrics.json").read_text())
    assert summary["dask"]["workers"] == 2
    assert summary["dask"]["rounds_from"] == "given" and "sample_rows" not in summary["dask"]
    booster = lgb.Booster(model_file=str(root / "models/credit/model.txt"))
    assert booster.current_iteration() == summary["best_iteration"] == summary["dask"]["rounds"] == 40
    # LightGBM's network ran in the two worker processes started above
    for log in worker_logs:
        text = log.read_text()
        assert "total number of machines: 2" in text, text
        assert "Binding port" in text and "succeeded" in text, text  # its socket, in the loopback-only namespace
    # no per-round curve from Dask: each declared curve file holds one point, the whole split's value
    curve = pd.read_csv(root / "reports/credit/live/plots/metrics/valid/roc_auc.tsv", sep="\t")
    assert curve["roc_auc"].tolist() == [summary["valid"]["roc_auc"]]
    _, X_valid, _ = features(root, "valid")
    assert np.isfinite(booster.predict(X_valid)).all()


def test_dask_only_options_are_refused_at_compile_time_naming_the_key(projects, cli) -> None:
    root = projects.fresh()
    compiled = (root / "params.yaml").read_text()
    use_dask(root)
    edit_file(root, MODEL_CONF, "  num_threads: null", "  num_threads: 4\n  tree_learner: serial")
    ran = cli(["compile"], root, check=False)
    assert ran.returncode != 0
    out = ran.stdout + ran.stderr
    assert "model.params.num_threads" in out and "model.cluster.workers" in out
    assert "model.params.tree_learner" in out and "'serial'" in out
    assert "Traceback" not in out
    assert (root / "params.yaml").read_text() == compiled  # nothing written


def test_a_scheduler_that_does_not_answer_fails_the_stage_naming_the_key(featurized: Path, tmp_path: Path) -> None:
    from tests.functional.test_serve import free_port

    root = copy_project(featurized, tmp_path / "proj")
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    set_model_params(root, address=address)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / "driftline"), "run", "train", "credit"], cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"model.cluster.address: no Dask scheduler answers at {address}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (root / "models/credit/model.txt").exists()


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_other_tasks_and_pandas_categories_train_on_a_local_cluster(task: str) -> None:
    from driftline.config.model import ModelSpec
    from driftline.models.train import fit_model, predict_scores
    from tests.unit.test_models import make_frame

    X = make_frame(3000, seed=5)  # a pandas 'category' column among floats
    rng = np.random.default_rng(6)
    signal = 2 * X["driver"] + (X["segment"] == "c").to_numpy() * 1.5 + rng.normal(size=len(X)) * 0.3
    y = pd.Series(np.digitize(signal, [-1.0, 1.0]).astype(str) if task == "multiclass" else signal)
    spec = ModelSpec.model_validate({"engine": "dask", "cluster": {"workers": 2}, "dask_sample_rows": 1000,
                                     "params": {"num_leaves": 7, "min_data_in_leaf": 20}})
    result = fit_model(X.iloc[:2000], y.iloc[:2000], X.iloc[2000:], y.iloc[2000:], task, spec, feature_names=list(X.columns))
    assert result.dask["workers"] == 2 and result.dask["sample_rows"] == 1000
    assert result.booster.current_iteration() == result.dask["rounds"] >= 1
    scores = predict_scores(result.booster, X.iloc[2000:], task)
    if task == "multiclass":
        assert result.classes == ["0", "1", "2"] and scores.shape == (1000, 3)
        assert result.metrics["valid"]["accuracy"] > 0.6  # three bands of a strong signal: far above chance (1/3)
    else:
        assert result.metrics["valid"]["r2"] > 0.5
        # the category was a categorical feature: the model splits on it by level
        assert "segment" in result.booster.feature_name()
        assert any(node.get("decision_type") == "==" for tree in result.booster.dump_model()["tree_info"]
                   for node in _nodes(tree["tree_structure"]))


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in ("left_child", "right_child"):
        if child in node:
            yield from _nodes(node[child])
