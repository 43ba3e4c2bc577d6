"""Train a LightGBM model, save and load it as text, and score new rows.

lightgbm is imported inside the functions that need it: importing it costs over a second.
Models are stored in LightGBM's own text format, never pickled.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftline.atomic import write_text
from driftline.config.model import ModelSpec, check_task, lightgbm_params
from driftline.errors import DriftlineError
from driftline.threads import default_threads, passive_wait, running_training

if TYPE_CHECKING:
    import lightgbm

TRAIN_NAME = "train"
VALID_NAME = "valid"
#: The curve of `model.train_curve: sample`: a fixed seeded sample of the train split, every round.
TRAIN_SAMPLE_NAME = "train_sample"


@dataclass
class TrainResult:
    """A trained booster, its best iteration (1-based), and per-iteration metric curves.

    The booster holds only the trees up to the best iteration. `curves` has an `iteration`
    column (1-based) and one `<split>_<metric>` column per curve and metric, e.g. `valid_auc`,
    `valid_binary_logloss`, and with `model.train_curve` `train_auc` (full) or `train_sample_auc`
    (sample); one row per iteration trained, including the ones after the best that early
    stopping waited through. `train_metrics` are LightGBM's metrics on the whole train split at
    the best iteration, computed once whatever the curve.
    """

    booster: lightgbm.Booster
    best_iteration: int
    curves: pd.DataFrame
    classes: list[Any] | None = None  # multiclass: the class of each output column, in order
    threads: int = 0  # the num_threads LightGBM trained with (the user's, or driftline.threads' default)
    train_metrics: dict[str, float] | None = None
    train_curve: str = "none"  # model.train_curve: none, sample (of train_curve_rows rows) or full
    # engine dask: {split: metrics} recomputed on the whole train and valid splits after training
    # (driftline.models.evaluate), and how the rounds were chosen; `curves` are then the sample run's
    metrics: dict[str, dict[str, float]] | None = None
    dask: dict[str, Any] | None = None


def training_summary(result: TrainResult, *, train_rows: int, valid_rows: int, features: int, seconds: float) -> dict[str, Any]:
    """What a training reports (the train stage's `reports/<p>/live/metrics.json`, a sweep job's too).

    `{split: {metric: value}}` at the best iteration (the trees the saved model keeps): `train` on
    the whole train split (computed once, whatever `train_curve` drew), `valid` from its curve; then
    best_iteration, rows, features, num_threads, seconds, `train_curve` (what the train curve in the
    plots is: none, sample or full), and `step`: DVCLive's step of the last round trained
    (0-based, so rounds trained - 1, early stopping's patience included).
    A model trained on Dask reports the metrics recomputed on the whole splits (driftline's metric
    names, as the evaluate stage writes them), and a `dask` block: where the rounds came from,
    the sample's rows, the workers and what the curves (the `step`) are.
    """
    if result.metrics is not None:
        metrics = result.metrics
    else:
        metrics = {}
        if result.train_metrics is not None:
            metrics[TRAIN_NAME] = {name: round(float(value), 6) for name, value in result.train_metrics.items()}
        best = result.curves.iloc[max(result.best_iteration - 1, 0)].to_dict() if len(result.curves) else {}
        for column, value in best.items():
            if str(column).startswith(f"{VALID_NAME}_"):
                metrics.setdefault(VALID_NAME, {})[str(column).removeprefix(f"{VALID_NAME}_")] = round(float(value), 6)
    extra = {"dask": result.dask} if result.dask is not None else {}
    return {**metrics, "best_iteration": result.best_iteration, "train_rows": train_rows, "valid_rows": valid_rows,
            "features": features, "num_threads": result.threads, "seconds": round(seconds, 3),
            "train_curve": result.train_curve, "step": max(len(result.curves) - 1, 0), **extra}


class TrainingDataError(DriftlineError):
    """The labels cannot train a model (say, the valid split has classes train never saw)."""


def fit_model(
    X_train: np.ndarray,
    y_train: pd.Series,
    X_valid: np.ndarray,
    y_valid: pd.Series,
    task: str,
    spec: ModelSpec,
    feature_names: Sequence[str],
    categorical: Sequence[str] = (),
    callbacks: Sequence[Callable[..., None]] = (),
) -> TrainResult:
    """A pipeline's model from its train and valid matrices and raw labels (classes learned here).

    Multiclass labels become indices into the sorted classes of the train split; a valid split
    with a class train lacks is refused (TrainingDataError).
    """
    classes = None
    if task == "multiclass":
        classes = sorted({v.item() if isinstance(v, np.generic) else v for v in y_train.unique()}, key=str)
        unseen = {v.item() if isinstance(v, np.generic) else v for v in y_valid.unique()} - set(classes)
        if unseen:
            raise TrainingDataError(f"valid split has classes never seen in train: {sorted(map(str, unseen))}")
    result = train_model(
        X_train, encode_target(y_train, task, classes), X_valid, encode_target(y_valid, task, classes),
        task, spec, num_class=len(classes) if classes else None, categorical=categorical, feature_names=feature_names,
        callbacks=callbacks,
    )
    result.classes = classes
    return result


def train_model(
    X_train: pd.DataFrame | np.ndarray,
    y_train: Any,
    X_valid: pd.DataFrame | np.ndarray,
    y_valid: Any,
    task: str,
    spec: ModelSpec,
    num_class: int | None = None,
    categorical: Sequence[str] = (),
    feature_names: Sequence[str] | None = None,
    callbacks: Sequence[Callable[..., None]] = (),
) -> TrainResult:
    """Train with early stopping on the valid split.

    X is a float matrix with `feature_names` (what `driftline.features.model_matrix` builds, and
    what the server scores), or a DataFrame. The columns named in `categorical` (integer codes,
    NaN for missing) are categorical features; in a DataFrame so are columns with an unordered
    pandas `category` dtype (ordered categories are treated as ordinal).
    Early stopping watches the task's first metric (auc, rmse, multi_logloss) unless the
    params set `first_metric_only: false`. For multiclass tasks the labels must be
    integers 0..k-1; `num_class` defaults to the largest label + 1.
    `callbacks` are LightGBM callbacks called after each round, after the evaluation (say,
    DVCLive's logger and `progress`).
    Threads: `model.params.num_threads` when set, else `driftline.threads.default_threads()`, shared
    with the trainings running on this machine when this one starts (`threads.running_training`);
    OpenMP's waiting threads sleep (OMP_WAIT_POLICY=PASSIVE) unless the environment says otherwise.
    `spec.rounds: given` trains `num_boost_round` rounds without early stopping.
    `spec.train_curve` says what is evaluated on the train split each round: nothing (the default;
    LightGBM evaluates it once, at the best iteration), a seeded sample of `train_curve_rows` rows
    (which early stopping ignores), or the whole split. It changes no tree: the model is the same.
    `spec.engine: dask`
    trains on a Dask cluster instead (see `_train_on_dask`): `curves` are then the sample run's,
    and `metrics` the whole train and valid splits'.
    """
    with passive_wait():  # OpenMP reads its wait policy when LightGBM first loads
        import lightgbm as lgb

    check_task(task)
    if isinstance(X_train, np.ndarray):
        if feature_names is None:
            raise ValueError("a matrix needs feature_names")
        names = [str(name) for name in feature_names]
        for what, X in (("X_train", X_train), ("X_valid", X_valid)):
            if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != len(names):
                raise ValueError(f"{what} must be a matrix with {len(names)} columns (one per feature name)")
        unknown = [name for name in categorical if name not in names]
        if unknown:
            raise ValueError(f"categorical columns not in the training data: {unknown}")
        wanted = set(categorical)
        categorical_features: list[Any] = [j for j, name in enumerate(names) if name in wanted]
        dataset_args: dict[str, Any] = {"feature_name": names}
    else:
        if not isinstance(X_valid, pd.DataFrame) or list(X_train.columns) != list(X_valid.columns):
            raise ValueError("X_train and X_valid must have the same columns in the same order")
        categorical_features = _categorical_columns(X_train, categorical)
        dataset_args = {}
    y_train_arr = _labels(y_train, task, "y_train")
    y_valid_arr = _labels(y_valid, task, "y_valid")
    if task == "multiclass" and num_class is None:
        num_class = int(max(y_train_arr.max(), y_valid_arr.max())) + 1
    if task == "multiclass":
        _check_class_labels(y_train_arr, num_class, "y_train")
        _check_class_labels(y_valid_arr, num_class, "y_valid")
    if spec.engine == "dask":
        params = lightgbm_params(spec, task, num_class, threads=default_threads())
        names = [str(name) for name in feature_names] if isinstance(X_train, np.ndarray) else [str(c) for c in X_train.columns]
        return _train_on_dask(X_train, y_train_arr, X_valid, y_valid_arr, task, spec, params, names,
                              [names[j] if isinstance(j, int) else j for j in categorical_features], num_class, callbacks)
    with running_training() as running:
        alone = int(lightgbm_params(spec, task, num_class, threads=default_threads())["num_threads"])
        params = lightgbm_params(spec, task, num_class, threads=default_threads(trainings=running.count()))
        return _train_here(lgb, X_train, y_train_arr, X_valid, y_valid_arr, spec, params, categorical_features,
                           dataset_args, callbacks, recorded_threads=alone)


def _train_here(lgb: Any, X_train: Any, y_train_arr: np.ndarray, X_valid: Any, y_valid_arr: np.ndarray, spec: ModelSpec,
                params: dict[str, Any], categorical_features: list[Any], dataset_args: dict[str, Any],
                callbacks: Sequence[Callable[..., None]], recorded_threads: int) -> TrainResult:
    """LightGBM on this machine, with early stopping on the valid split unless the rounds are given.

    The model text records `recorded_threads` (what this training would use alone), not the share
    it trained with: the trees do not depend on the threads, so the file must not depend on what
    else ran on the machine (DVC would see a new model). TrainResult.threads is the share used."""
    train_set = lgb.Dataset(
        X_train,
        label=y_train_arr,
        categorical_feature=categorical_features or "auto",
        free_raw_data=True,
        **dataset_args,
    )
    valid_set = lgb.Dataset(X_valid, label=y_valid_arr, reference=train_set)
    curve_sets, curve_names = _train_curve(lgb, spec, train_set, X_train, y_train_arr, dataset_args, params)

    history: dict[str, dict[str, list[float]]] = {}
    stopping = [] if spec.rounds == "given" else [
        _WatchingOnly(VALID_NAME, lgb.early_stopping(
            stopping_rounds=spec.early_stopping_rounds,
            first_metric_only=bool(params.get("first_metric_only", True)),
            min_delta=params.get("early_stopping_min_delta", 0.0),
            verbose=False,
        )),
    ]
    callbacks = [*stopping, lgb.record_evaluation(history), *callbacks]
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=spec.num_boost_round,
        valid_sets=[*curve_sets, valid_set],
        valid_names=[*curve_names, VALID_NAME],
        callbacks=callbacks,
        keep_training_booster=True,  # to evaluate the train split once, below
    )
    best_iteration = int(booster.best_iteration) or booster.current_iteration()
    train_metrics = _train_metrics_at(booster, best_iteration)
    if recorded_threads != int(params["num_threads"]):
        booster.reset_parameter({"num_threads": recorded_threads})  # after the last round: no tree changes
    booster.model_from_string(booster.model_to_string()).free_dataset()  # what lgb.train itself does otherwise
    return TrainResult(booster=booster, best_iteration=best_iteration, curves=_curves(history), threads=int(params["num_threads"]),
                       train_metrics=train_metrics, train_curve=spec.train_curve)


def _train_curve(lgb: Any, spec: ModelSpec, train_set: Any, X_train: Any, y_train: np.ndarray,
                 dataset_args: dict[str, Any], params: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """The datasets evaluated each round besides valid, and their names, for `spec.train_curve`."""
    if spec.train_curve == "full":
        return [train_set], [TRAIN_NAME]  # by identity: LightGBM knows it is the training data
    if spec.train_curve == "sample" and len(y_train) > 0:
        rows = sample_rows(len(y_train), spec.train_curve_rows, seed=int(params.get("seed", 0)))
        return [lgb.Dataset(_take(X_train, rows), label=y_train[rows], reference=train_set, **dataset_args)], [TRAIN_SAMPLE_NAME]
    return [], []


def _train_metrics_at(booster: lightgbm.Booster, best_iteration: int) -> dict[str, float]:
    """LightGBM's metrics on the whole train split with the trees up to `best_iteration`, evaluated once.

    The rounds early stopping waited through are rolled back first (LightGBM keeps the train
    split's scores, so this costs one pass of each metric, not a prediction)."""
    while booster.current_iteration() > best_iteration:
        booster.rollback_one_iter()
    return {metric: float(value) for _, metric, value, *_ in booster.eval_train()}


class _WatchingOnly:
    """LightGBM's early stopping, shown only the results of the split named `watched`.

    A train-split curve (a sample is a validation set to LightGBM) must never stop training or
    choose the best iteration: the model is the same whatever `model.train_curve` draws."""

    def __init__(self, watched: str, inner: Callable[..., None]) -> None:
        self.watched = watched
        self.inner = inner
        self.order = getattr(inner, "order", 30)
        self.before_iteration = getattr(inner, "before_iteration", False)

    def __call__(self, env: Any) -> None:
        self.inner(dataclasses.replace(env, evaluation_result_list=[r for r in env.evaluation_result_list or () if r[0] == self.watched]))


def _train_on_dask(
    X_train: pd.DataFrame | np.ndarray,
    y_train: np.ndarray,
    X_valid: pd.DataFrame | np.ndarray,
    y_valid: np.ndarray,
    task: str,
    spec: ModelSpec,
    params: dict[str, Any],
    names: list[str],
    categorical: list[str],
    num_class: int | None,
    callbacks: Sequence[Callable[..., None]],
) -> TrainResult:
    """`model.engine: dask`: reach the cluster, choose the rounds (given, or an early-stopped run on this
    machine over a seeded sample of train), train with lightgbm.dask, then score the whole splits here."""
    from driftline.models.distributed import fit_on_dask, training_cluster
    from driftline.models.evaluate import compute_metrics

    with training_cluster(spec.cluster) as client:
        if spec.rounds == "given":
            rounds, curves = spec.num_boost_round, _curves({})
            chosen: dict[str, Any] = {"rounds_from": "given", "curves": "none: lightgbm.dask reports no per-round metrics"}
        else:
            rows = sample_rows(len(y_train), spec.dask_sample_rows, seed=int(params.get("seed", 0)))
            sampled = train_model(
                _take(X_train, rows), y_train[rows], X_valid, y_valid, task, spec.model_copy(update={"engine": "local"}),
                num_class=num_class, categorical=categorical, feature_names=names, callbacks=callbacks,
            )
            rounds, curves = sampled.best_iteration, sampled.curves
            chosen = {"rounds_from": "early_stopping_on_sample", "sample_rows": len(rows),
                      "curves": f"the sample run's ({len(rows)} train rows, one machine)"}
        frame = X_train if isinstance(X_train, pd.DataFrame) else pd.DataFrame(X_train, columns=names)
        fit = fit_on_dask(client, frame, y_train, task, params, rounds, categorical)
    metrics = {
        split: compute_metrics(y, predict_scores(fit.booster, X, task), task, threshold=spec.threshold)
        for split, X, y in ((TRAIN_NAME, X_train, y_train), (VALID_NAME, X_valid, y_valid))
    }
    return TrainResult(booster=fit.booster, best_iteration=fit.booster.current_iteration(), curves=curves, threads=fit.threads,
                       metrics=metrics, dask={**chosen, "rounds": rounds, "workers": fit.workers})


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of `size` of `n` rows drawn without replacement (all rows when n <= size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _take(X: pd.DataFrame | np.ndarray, rows: np.ndarray) -> pd.DataFrame | np.ndarray:
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def save_model(booster: lightgbm.Booster, path: str | os.PathLike[str]) -> None:
    """Write the model as LightGBM text, keeping only the trees up to the best iteration."""
    best = booster.best_iteration if booster.best_iteration > 0 else None
    write_text(path, booster.model_to_string(num_iteration=best))


def load_model(path: str | os.PathLike[str]) -> lightgbm.Booster:
    import lightgbm as lgb

    return lgb.Booster(model_str=Path(path).read_text(encoding="utf-8"))


def encode_target(y: Any, task: str, classes: Sequence[Any] | None) -> np.ndarray:
    """Targets as LightGBM wants them: floats, or class indices (into `classes`) for multiclass."""
    if task == "multiclass":
        lookup = {c: i for i, c in enumerate(classes or [])}
        return np.fromiter((lookup[v.item() if isinstance(v, np.generic) else v] for v in np.asarray(y, dtype=object)),
                           dtype=np.int64, count=len(y))
    if isinstance(y, pd.Series):
        return y.astype("float64").to_numpy()  # nullable integers too (missing as NaN)
    return np.asarray(y, dtype=np.float64)


def predict_scores(booster: lightgbm.Booster, X: pd.DataFrame | np.ndarray, task: str) -> np.ndarray:
    """Binary: P(y=1), shape (n,). Regression: predictions, shape (n,). Multiclass: (n, k)."""
    check_task(task)
    scores = np.asarray(booster.predict(align_features(booster, X)), dtype=np.float64)
    if task == "multiclass":
        if scores.ndim != 2:
            raise ValueError(f"expected a multiclass model, got predictions of shape {scores.shape}")
    elif scores.ndim != 1:
        raise ValueError(f"expected a {task} model, got predictions of shape {scores.shape}")
    return scores


def feature_importance(booster: lightgbm.Booster) -> pd.DataFrame:
    """Columns feature, gain, split (up to the best iteration); largest gain first."""
    table = pd.DataFrame(
        {
            "feature": booster.feature_name(),
            "gain": booster.feature_importance(importance_type="gain").astype(np.float64),
            "split": booster.feature_importance(importance_type="split").astype(np.int64),
        }
    )
    table = table.sort_values(["gain", "split", "feature"], ascending=[False, False, True], kind="stable")
    return table.reset_index(drop=True)


def align_features(booster: lightgbm.Booster, X: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
    """X's columns in the model's order; extra columns dropped, missing ones an error.

    A matrix is taken as already in the model's order (one column per feature)."""
    names = booster.feature_name()
    if isinstance(X, np.ndarray):
        if X.ndim != 2 or X.shape[1] != len(names):
            raise ValueError(f"expected a matrix of shape (n, {len(names)}), got {X.shape}")
        return X
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise ValueError(f"columns the model needs are missing from the data: {missing}")
    if list(X.columns) == names:
        return X
    return X.loc[:, names]


def _categorical_columns(X: pd.DataFrame, named: Sequence[str]) -> list[str]:
    unknown = [name for name in named if name not in X.columns]
    if unknown:
        raise ValueError(f"categorical columns not in the training data: {unknown}")
    # Like LightGBM's own "auto": ordered categories are ordinal, so they stay numeric codes.
    by_dtype = [
        str(col)
        for col in X.columns
        if isinstance(X[col].dtype, pd.CategoricalDtype) and not X[col].dtype.ordered
    ]
    wanted = set(by_dtype) | set(named)
    return [str(col) for col in X.columns if col in wanted]


def _labels(y: Any, task: str, what: str) -> np.ndarray:
    values = np.asarray(y)
    if values.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {values.shape}")
    values = values.astype(np.float64)
    if np.isnan(values).any():
        raise ValueError(f"{what} has missing labels")
    if task == "binary" and not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(f"{what} must hold 0/1 labels for a binary task")
    return values


def _check_class_labels(y: np.ndarray, num_class: int | None, what: str) -> None:
    if num_class is None or not (np.mod(y, 1) == 0).all() or y.min() < 0 or y.max() >= num_class:
        raise ValueError(f"{what} must hold integer class labels 0..{(num_class or 0) - 1}")


def _curves(history: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    columns: dict[str, list[float]] = {}
    for split in (TRAIN_NAME, TRAIN_SAMPLE_NAME, VALID_NAME):
        for metric, values in history.get(split, {}).items():
            columns[f"{split}_{metric}"] = [float(v) for v in values]
    n = len(next(iter(columns.values()))) if columns else 0
    return pd.DataFrame({"iteration": np.arange(1, n + 1, dtype=np.int64), **columns})
