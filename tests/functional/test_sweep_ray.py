"""`driftline sweep <p> hydra/launcher=ray`: jobs on real Ray, listening on 127.0.0.1 only, with the basic launcher's leaderboard.

One Ray head is started per test process (`ray start --head` on 127.0.0.1, token auth on, its own
temp dir and ports), as a user's cluster would be; it is stopped by the ids of its own processes,
never by `ray stop`, which stops every Ray on the machine. A second test lets the launcher start Ray
itself and watches the sockets of the processes it starts.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import BIN
from tests.functional.test_sweep import featurized, rows  # noqa: F401  (the module fixture: a project `dvc repro` prepared)

GRID = ["model.params.num_leaves=7,15", "model.params.learning_rate=0.1"]
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def head_processes(temp_dir: Path, port: int) -> list[psutil.Process]:
    """The processes of the Ray head started with `temp_dir` and GCS `port`, and all their descendants."""
    marks = (str(temp_dir), f"127.0.0.1:{port}")
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        if any(mark in arg for arg in proc.info["cmdline"] or [] for mark in marks):
            found[proc.pid] = proc
            try:
                found.update({child.pid: child for child in proc.children(recursive=True)})
            except psutil.NoSuchProcess:
                pass
    return list(found.values())


def listening(procs: list[psutil.Process]) -> set[tuple[str, str, int]]:
    """(process name, address, port) of every listening TCP socket and bound UDP socket of `procs`."""
    out = set()
    for proc in procs:
        try:
            name = proc.name()
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN or (conn.type == socket.SOCK_DGRAM and conn.laddr):
                    out.add((name, conn.laddr.ip, conn.laddr.port))
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return out


def stop(procs: list[psutil.Process]) -> None:
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=5)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


@dataclass(frozen=True)
class RayHead:
    address: str
    temp_dir: Path
    port: int
    env: dict[str, str]  # what a driver needs to join it: token auth, and Ray keeping 127.0.0.1

    def processes(self) -> list[psutil.Process]:
        return head_processes(self.temp_dir, self.port)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[RayHead]:
    """A real Ray head on 127.0.0.1 with 2 CPUs, as `ray start` makes one for a user's cluster."""
    temp_dir = Path(tempfile.mkdtemp(prefix="dl-ray-", dir="/tmp"))  # short: Ray's unix socket paths must fit 107 bytes
    token = secrets.token_hex(32)
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    port = free_port()
    low = free_port()
    cmd = [str(BIN / "ray"), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
           "--include-dashboard=false", "--object-store-memory=100000000", "--disable-usage-stats", f"--temp-dir={temp_dir}",
           f"--ray-client-server-port={free_port()}", f"--dashboard-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
           f"--dashboard-agent-grpc-port={free_port()}", f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
           f"--min-worker-port={min(low, 64000)}", f"--max-worker-port={min(low, 64000) + 200}"]
    head = RayHead(f"127.0.0.1:{port}", temp_dir, port, env)
    # From its own folder: a worker's working directory is the head's, not the project.
    proc = subprocess.run(cmd, cwd=temp_dir, env={**os.environ, **env}, capture_output=True, text=True)
    try:
        assert proc.returncode == 0, f"ray start failed:\n{proc.stdout}\n{proc.stderr}"
        yield head
    finally:
        stop(head.processes())
        shutil.rmtree(temp_dir, ignore_errors=True)


def board(path: Path) -> list[dict[str, str]]:
    """The leaderboard without its wall-time column."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows(path / "leaderboard.csv")]


def test_the_launcher_starts_ray_itself_on_loopback_only(featurized: Path, tmp_path: Path) -> None:  # noqa: F811
    temp_dir = Path(tempfile.mkdtemp(prefix="dl-ray-", dir="/tmp"))
    cmd = [str(BIN / "driftline"), "sweep", "credit", "hydra/launcher=ray", f"+hydra.launcher.ray.init._temp_dir={temp_dir}",
           "model.params.num_leaves=7", "hydra.sweep.dir=multirun/ray-local"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    seen: set[tuple[str, str, int]] = set()
    with subprocess.Popen(cmd, cwd=featurized, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        sweep = psutil.Process(proc.pid)
        try:
            while proc.poll() is None:  # watch every socket the sweep's processes open while Ray runs
                try:
                    seen |= listening(sweep.children(recursive=True))
                except psutil.NoSuchProcess:
                    pass
                time.sleep(0.2)
            output = proc.stdout.read() if proc.stdout else ""
        finally:
            leftover = head_processes(temp_dir, -1)
            stop(leftover)
            shutil.rmtree(temp_dir, ignore_errors=True)
    assert proc.returncode == 0, output
    assert "Started a local Ray instance" in output and "(_run_job pid=" in output, "the jobs ran as Ray tasks"
    assert leftover == [], "Ray stops with the sweep"
    names = {name for name, _, _ in seen}
    assert "gcs_server" in names and "raylet" in names, f"Ray's sockets were observed: {sorted(seen)}"
    assert {ip for _, ip, _ in seen} <= LOOPBACK, f"sockets beyond 127.0.0.1: {sorted(s for s in seen if s[1] not in LOOPBACK)}"
    assert len(board(featurized / "multirun/ray-local")) == 1


def test_a_sweep_on_a_running_ray_cluster_gives_the_basic_launchers_leaderboard(cli, sh, featurized: Path, ray_head: RayHead,  # noqa: F811
                                                                                  tmp_path: Path) -> None:
    outside = tmp_path / "outside-the-project"  # an absolute sweep dir out of the project: the leaderboard still comes out
    basic = cli(["sweep", "credit", *GRID, f"hydra.sweep.dir={outside}"], featurized)
    assert f"leaderboard: {outside}/leaderboard.csv" in basic.stdout
    # A relative sweep dir: the Ray workers run in the head's folder, yet write into the project's.
    ray = sh(["driftline", "sweep", "credit", *GRID, "hydra/launcher=ray", f"hydra.launcher.ray.init.address={ray_head.address}",
              "hydra.launcher.ray.init.object_store_memory=100000000", "hydra.sweep.dir=multirun/ray"], featurized, env=ray_head.env)
    printed = ray.stdout + ray.stderr
    assert f"Connecting to existing Ray cluster at address: {ray_head.address}" in printed and "(_run_job pid=" in printed
    assert "ignoring init.object_store_memory" in printed, "Hydra issue #2893: a running cluster refuses resource arguments"

    on_ray = featurized / "multirun/ray"
    assert board(on_ray) == board(outside) and len(board(on_ray)) == 2, "same jobs, same metrics to the last digit"
    for job in ("0", "1"):
        assert (json.loads((on_ray / job / "result.json").read_text())["objective"]
                == json.loads((outside / job / "result.json").read_text())["objective"])
        assert json.loads((on_ray / job / "training.json").read_text())["num_threads"] == 1, "Ray's share: one CPU per task"
    assert not (ray_head.temp_dir / "multirun").exists()

    sockets = listening(ray_head.processes())
    assert ("gcs_server", "::ffff:127.0.0.1", ray_head.port) in sockets or ("gcs_server", "127.0.0.1", ray_head.port) in sockets
    assert {ip for _, ip, _ in sockets} <= LOOPBACK, f"sockets beyond 127.0.0.1: {sorted(s for s in sockets if s[1] not in LOOPBACK)}"
