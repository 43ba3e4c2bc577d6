"""The Dask edge of training: fit LightGBM with `lightgbm.dask` on a dask.distributed cluster.

Only the distributed fit lives here; choosing the rounds, the metrics and saving stay in
`driftline.models.train`, so a model trained on Dask is scored, saved and served like any other.
The frame is partitioned in memory (one partition per worker) from the matrix the stage already
holds; the result is the local booster (`booster_`), with the network settings of this one run
(`machines`, ports) removed from its text, so the same trees always give the same model file.

dask and lightgbm.dask are imported inside the function: importing them costs seconds.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftline.cluster import dask_client
from driftline.config.cluster import ClusterSpec

if TYPE_CHECKING:
    import lightgbm
    from distributed import Client

CLUSTER_KEY = "model.cluster.address"
# Settings lightgbm.dask writes into the model's parameters for one run's network; they name ports
# that no longer exist, and would make the same trees a different file each run.
_RUN_NETWORK = ("machines", "local_listen_port", "num_machines", "time_out")
_NETWORK_LINE = re.compile(rf"^\[(?:{'|'.join(_RUN_NETWORK)}): [^\]]*\]\n", re.MULTILINE)
# lightgbm.dask sets the threads of each worker itself (and warns when given any)
_SET_BY_DASK = ("num_threads", "num_class")


@dataclass
class DaskFit:
    """A booster trained on a cluster, the workers it was spread over and their threads in all."""

    booster: lightgbm.Booster
    workers: int
    threads: int


@contextmanager
def training_cluster(cluster: ClusterSpec | None) -> Iterator[Client]:
    """A client on `model.cluster` (its scheduler, or a local cluster of one-thread workers on 127.0.0.1).

    Opened before anything else trains, so a scheduler that does not answer fails the run at once."""
    cluster = cluster or ClusterSpec()
    with dask_client(cluster.address, workers=cluster.workers, key=CLUSTER_KEY) as client:
        yield client


def fit_on_dask(
    client: Client,
    X: pd.DataFrame,
    y: np.ndarray,
    task: str,
    params: dict[str, Any],
    rounds: int,
    categorical: Sequence[str],
) -> DaskFit:
    """Train `rounds` rounds of LightGBM on the client's workers; the model comes back to this process.

    `params` are `driftline.config.model.lightgbm_params` (objective, metric, seed ...); the
    columns named in `categorical` are categorical features (integer codes, NaN for missing).
    """
    import dask.dataframe as dd
    from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

    estimator_class = DaskLGBMRegressor if task == "regression" else DaskLGBMClassifier
    kwargs = {key: value for key, value in params.items() if key not in _SET_BY_DASK}
    nthreads = client.nthreads()
    workers = max(len(nthreads), 1)
    frame = X.reset_index(drop=True)
    X_parts = dd.from_pandas(frame, npartitions=workers, sort=True)
    y_parts = dd.from_pandas(pd.Series(y, index=frame.index, name="label"), npartitions=workers, sort=True)
    estimator = estimator_class(client=client, n_estimators=rounds, **kwargs)
    with warnings.catch_warnings():
        # the scikit-learn wrapper's own n_jobs default, which lightgbm.dask replaces by each worker's threads
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored", category=UserWarning)
        estimator.fit(X_parts, y_parts, categorical_feature=list(categorical) or "auto")
    return DaskFit(booster=_without_run_network(estimator.booster_), workers=workers, threads=sum(nthreads.values()))


def _without_run_network(booster: lightgbm.Booster) -> lightgbm.Booster:
    import lightgbm as lgb

    return lgb.Booster(model_str=_NETWORK_LINE.sub("", booster.model_to_string()))
