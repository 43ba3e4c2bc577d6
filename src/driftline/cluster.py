"""A dask.distributed client for work that scales out: the user's scheduler, or a local cluster.

Without an address, a `LocalCluster` of worker processes starts on 127.0.0.1 (never another
interface, its status page included, on free ports), one thread per worker, and stops when the
work is done. With an address, driftline connects to that scheduler and leaves it running. dask is an optional
dependency (`pip install 'driftline[dask]'`); asking for a cluster without it is one clear error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from driftline.errors import DriftlineError
from driftline.threads import usable_cpus

if TYPE_CHECKING:
    from distributed import Client

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT = "10s"


class ClusterError(DriftlineError):
    """No cluster to run on: dask is not installed, or no scheduler answers at the address."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError("dask.distributed is not installed", hint="pip install 'driftline[dask]'") from None
    return distributed


@contextmanager
def dask_client(address: str | None, *, workers: int | None = None, key: str = "cluster.address") -> Iterator[Client]:
    """A client on the scheduler at `address`, or on a local cluster of `workers` processes.

    `key` names the config key the address came from, for the error when nothing answers there.
    """
    distributed = _distributed()
    if address:
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"{key}: no Dask scheduler answers at {address} ({exc})",
                hint="start one (`dask scheduler --host 127.0.0.1` and `dask worker <address>`), "
                "or set the address to null for a local cluster",
            ) from None
        with client:
            yield client
        return
    n_workers = workers or usable_cpus()
    saved = dict(os.environ)
    try:
        with distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host=LOOPBACK,
            dashboard_address=f"{LOOPBACK}:0",  # a free loopback port (":0" serves on 0.0.0.0; None means 8787)
            silence_logs=logging.CRITICAL,  # a worker's heartbeat racing the shutdown logs a harmless traceback at ERROR
        ) as cluster, distributed.Client(cluster) as client:
            # The nannies wrote their workers' settings (OMP_NUM_THREADS=1, ...) into this process's
            # environment; the workers have them, the caller must not (its own threads would drop to 1).
            _restore_environ(saved)
            yield client
    finally:
        _restore_environ(saved)


def _restore_environ(saved: dict[str, str]) -> None:
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    for name, value in saved.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
