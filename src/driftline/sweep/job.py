"""One sweep job: validate a composed config, train and score it on what `dvc repro` prepared.

A job never re-ingests. It reads `data/<p>/features/*.parquet` and `models/<p>/features.json`;
when the job's `features` config differs from params.yaml's, it refits the transforms in memory
on `data/<p>/split/train.parquet` (never on valid or test) and writes nothing under data/.
Everything a job writes goes to its own Hydra job folder.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline.config.pipeline import PipelineConfig
from driftline.errors import DriftlineError
from driftline.paths import SPLITS, PipelinePaths
from driftline.threads import OMP_WAIT_ENV, PARALLEL_JOBS_ENV

# Keys that decide which rows land in which split: a sweep cannot change them without
# re-ingesting, which is `dvc exp run`'s job, not a sweep's.
DATA_KEYS = ("task", "target", "dataset", "schema", "label", "split")
ROOT_ENV = "DRIFTLINE_PROJECT"  # the project root, for jobs run in launcher worker processes
# What a job needs from the sweep's environment (runner.job_environment sets them): launchers whose
# workers do not inherit it (Ray) pass these on.
WORKER_ENV = (ROOT_ENV, PARALLEL_JOBS_ENV, OMP_WAIT_ENV)
RESULT_FILE = "result.json"
METRICS_FILE = "metrics.json"
TRAINING_FILE = "training.json"  # the training summary, as the train stage reports it (reports/<p>/live/metrics.json)
CONFIG_FILE = "config.yaml"


class SweepError(DriftlineError):
    """A sweep cannot run or a job cannot finish; the message says why and what to do next."""


@dataclass
class Prepared:
    """What `dvc repro` left for one pipeline: the config it ran with and where its data is."""

    pipeline: str
    base: PipelineConfig
    paths: PipelinePaths


def validate_config(pipeline: str, data: dict[str, Any], root: Path) -> PipelineConfig:
    """The composed job config as a PipelineConfig, or SweepError listing every problem."""
    from pydantic import ValidationError

    from driftline.config.checks import check_pipeline
    from driftline.config.load import outside_reason
    from driftline.config.locate import dotted, validation_messages
    from driftline.project import project_file_exists

    try:
        cfg = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {line}" for line in validation_messages(PipelineConfig, pipeline, exc)]
        raise SweepError("the job's config is not valid:\n" + "\n".join(lines)) from None

    problems = check_pipeline(cfg, functools.partial(project_file_exists, root), outside=functools.partial(outside_reason, root))
    if problems:
        lines = [f"  {pipeline}.{dotted(path)}: {message}" for path, message in problems]
        raise SweepError("the job's config is not valid:\n" + "\n".join(lines))
    return cfg


def prepared(root: Path, pipeline: str) -> Prepared:
    """params.yaml's config of `pipeline`, after checking that `dvc repro` prepared its features."""
    from driftline.config.params import load_pipeline
    from driftline.project import read_params

    base = load_pipeline(pipeline, root)  # refuses a stale compile, an unknown pipeline, an outdated params.yaml
    params = read_params(root)
    paths = PipelinePaths(pipeline)
    needed = [paths.features(s) for s in SPLITS] + [paths.fitted_features] + [paths.split(s) for s in SPLITS]
    missing = [rel for rel in needed if not (root / rel).is_file()]
    if missing:
        raise SweepError(
            f"the features of '{pipeline}' are not prepared yet (missing: {', '.join(missing)}): "
            f"run `dvc repro {pipeline}-featurize` (or `dvc repro`) first; a sweep never re-ingests"
        )
    stale = stale_features(root, pipeline, params)
    if stale:
        raise SweepError(
            f"the prepared features of '{pipeline}' are older than params.yaml ({'; '.join(stale)}): "
            f"run `dvc repro {pipeline}-featurize` (or `dvc repro`) first"
        )
    return Prepared(pipeline, base, paths)


UPSTREAM_STEPS = ("ingest", "validate", "label", "split", "featurize")


def stale_features(root: Path, pipeline: str, params: dict[str, Any]) -> list[str]:
    """Why dvc.lock says the features were made from other params than params.yaml's (cheap: no hashing)."""
    import yaml

    from driftline.compile.plan import make_plan

    def load(name: str) -> dict[str, Any]:
        path = root / name
        return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}

    wanted = {f"{pipeline}-{step}" for step in UPSTREAM_STEPS}
    dvc_yaml = load("dvc.yaml")
    stages = {k: v for k, v in (dvc_yaml.get("stages") or {}).items() if k in wanted}
    plans = make_plan({"stages": stages}, load("dvc.lock"), params, status={})
    return [f"{p.stage}: {p.reasons[0]}" for p in plans if p.runs]


def data_differences(cfg: PipelineConfig, base: PipelineConfig) -> list[str]:
    """Top-level keys that change the data itself, where the job differs from params.yaml."""
    job, ref = cfg.to_params(), base.to_params()
    return [key for key in DATA_KEYS if job.get(key) != ref.get(key)]


def feature_matrices(root: Path, prep: Prepared, cfg: PipelineConfig) -> tuple[Any, dict[str, tuple[np.ndarray, pd.Series]], bool]:
    """(fitted features, split -> (model matrix, labels), refitted?) for the job's features config.

    The same core as the featurize stage: its saved matrices when the job keeps params.yaml's
    features, else `featurize` in memory on the split `dvc repro` made (fit on train only)."""
    from driftline.features.pipeline import FittedFeatures, featurize, featurized_matrix

    p = prep.paths
    if cfg.features.model_dump() == prep.base.features.model_dump():
        fitted = FittedFeatures.from_json(json.loads((root / p.fitted_features).read_text(encoding="utf-8")))
        frames = {s: pd.read_parquet(root / p.features(s)) for s in SPLITS}
        matrices = {s: featurized_matrix(frame, fitted.feature_columns, fitted.categorical) for s, frame in frames.items()}
        return fitted, {s: (matrices[s], frames[s][cfg.target]) for s in SPLITS}, False
    splits = {s: pd.read_parquet(root / p.split(s)) for s in SPLITS}
    fitted, matrices = featurize(cfg, splits)
    return fitted, {s: (matrices[s], splits[s][cfg.target].reset_index(drop=True)) for s in SPLITS}, True


def train_and_score(root: Path, prep: Prepared, cfg: PipelineConfig) -> dict[str, Any]:
    """Train on train (early stopping on valid); metrics on valid and test."""
    from driftline.models.evaluate import compute_metrics
    from driftline.models.train import TrainingDataError, encode_target, fit_model, predict_scores, training_summary

    fitted, data, refitted = feature_matrices(root, prep, cfg)
    (X_train, y_train), (X_valid, y_valid) = data["train"], data["valid"]
    started = time.perf_counter()
    try:
        result = fit_model(X_train, y_train, X_valid, y_valid, cfg.task, cfg.model,
                           feature_names=fitted.feature_columns, categorical=list(fitted.categorical))
    except TrainingDataError as exc:
        raise SweepError(str(exc)) from None
    seconds = time.perf_counter() - started
    metrics = {}
    for split in ("valid", "test"):
        X, y = data[split]
        scores = predict_scores(result.booster, X, cfg.task)
        metrics[split] = compute_metrics(encode_target(y, cfg.task, result.classes), scores, cfg.task, threshold=cfg.model.threshold)
    return {
        "metrics": metrics,
        "training": training_summary(result, train_rows=len(X_train), valid_rows=len(X_valid),
                                     features=len(fitted.feature_columns), seconds=seconds),
        "best_iteration": result.best_iteration,
        "train_seconds": round(seconds, 3),
        "features": len(fitted.feature_columns),
        "refitted_features": refitted,
    }


def swept_values(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """The resolved value of every key the job's overrides set (`model.params.num_leaves` -> 63)."""
    values: dict[str, Any] = {}
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key.startswith("hydra.") or "/" in key or "@" in key:
            continue
        node: Any = data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            node = node[part]
        values[key] = node
    return values


def run_job(root: Path, pipeline: str, data: dict[str, Any], out_dir: Path, overrides: list[str], job: int = 0) -> dict[str, Any]:
    """Run one job; write result.json, metrics.json, training.json and the resolved config.yaml into `out_dir`."""
    import yaml

    from driftline.atomic import write_json, write_text
    from driftline.sweep.objective import direction, primary_metric

    started = time.perf_counter()
    cfg = validate_config(pipeline, data, root)
    prep = prepared(root, pipeline)
    changed = data_differences(cfg, prep.base)
    if changed:
        raise SweepError(
            f"this job changes {', '.join(changed)}, which needs new data, not just a new model: a sweep trains on the "
            "split `dvc repro` prepared. Sweep model and features keys, or use `dvc exp run -S ...` for data keys"
        )
    scored = train_and_score(root, prep, cfg)
    metric = primary_metric(cfg)
    valid = scored["metrics"]["valid"]
    if metric not in valid:
        raise SweepError(f"the primary metric '{metric}' is undefined on the valid split (metrics: {', '.join(valid)})")
    result = {
        "job": job,
        "pipeline": pipeline,
        "overrides": list(overrides),
        "swept": swept_values(data, overrides),
        "metric": metric,
        "direction": direction(metric),
        "objective": float(valid[metric]),
        "test": scored["metrics"]["test"].get(metric),
        "best_iteration": scored["best_iteration"],
        "features": scored["features"],
        "refitted_features": scored["refitted_features"],
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_text(out_dir / CONFIG_FILE, yaml.safe_dump({pipeline: cfg.to_params()}, sort_keys=False))
    write_json(out_dir / METRICS_FILE, scored["metrics"])
    write_json(out_dir / TRAINING_FILE, scored["training"])
    write_json(out_dir / RESULT_FILE, result)
    return result
