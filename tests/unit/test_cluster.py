"""The one place driftline gets a Dask cluster: the user's scheduler, or a local one on loopback."""

from __future__ import annotations

import os
import socket

import psutil
import pytest
from pydantic import ValidationError

from driftline.cluster import ClusterError, dask_client
from driftline.config.cluster import ClusterSpec


def test_a_scheduler_address_is_checked_where_it_is_written():
    assert ClusterSpec(address=" tcp://10.0.0.5:8786 ").address == "tcp://10.0.0.5:8786"
    assert ClusterSpec(address="127.0.0.1:8786").address == "127.0.0.1:8786"
    with pytest.raises(ValidationError, match="not a Dask scheduler address"):
        ClusterSpec(address="http://scheduler")
    with pytest.raises(ValidationError):
        ClusterSpec(workers=0)
    with pytest.raises(ValidationError):
        ClusterSpec(adress="tcp://10.0.0.5:8786")  # a misspelt key is an error, not ignored


def _listening(pids: set[int]) -> list[tuple[int, str]]:
    found = []
    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        found += [(pid, c.laddr.ip) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def test_the_local_cluster_runs_work_and_listens_on_loopback_only():
    me = psutil.Process(os.getpid())
    with dask_client(None, workers=2) as client:
        assert client.submit(sum, [1, 2, 3]).result() == 6
        assert len(client.scheduler_info()["workers"]) == 2
        pids = {me.pid, *(child.pid for child in me.children(recursive=True))}
        sockets = _listening(pids)
        assert sockets, "the scheduler and workers listen somewhere"
        assert {ip for _, ip in sockets} == {"127.0.0.1"}, sockets
    assert not [p for p in me.children(recursive=True) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and
                "distributed" in " ".join(p.cmdline())], "the local cluster stops with the work"


def test_no_scheduler_at_the_address_is_one_clear_error_naming_the_key():
    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ClusterError) as caught:
        with dask_client(f"tcp://127.0.0.1:{port}", key="monitor.cluster.address"):
            pass
    lines = caught.value.lines()
    assert lines[0].startswith(f"monitor.cluster.address: no Dask scheduler answers at tcp://127.0.0.1:{port}")
    assert "dask scheduler --host 127.0.0.1" in lines[-1]
