"""A throw-away PostgreSQL server for the shared prediction log's tests: Debian's binaries on 127.0.0.1.

`postgres_server()` runs initdb into a temporary folder, starts the server with `pg_ctl` on a free
loopback port (its Unix socket in the same folder, so nothing is left in /var/run), creates one
database, and stops and removes everything afterwards. pg_ctl refuses to run as root, so under root
(CI) the folder is chowned to the `postgres` user and every server command runs as that user
through `runuser`. Authentication is `trust`, and only in this cluster: it listens on 127.0.0.1 alone,
lives as long as the test session, and keeps no data.

Missing binaries are an error, never a skip: `.ci/run` installs Debian's postgresql package.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"  # the account that runs the server when the tests run as root
DATABASE = "driftline"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str
    folder: Path

    @property
    def url(self) -> str:
        """The log's URL as a user writes it in `serve.log.url` (no password: trust auth here)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def new_database(self, name: str) -> str:
        """Create another empty database on this server; its URL."""
        _run([str(bin_dir() / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name], as_server=True)
        return f"postgresql://{self.user}@{self.host}:{self.port}/{name}"


def bin_dir() -> Path:
    """The newest PostgreSQL bin folder Debian installed; fails (not skips) when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise AssertionError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                         "`.ci/run` installs Debian's postgresql package (apt-get install postgresql)")


def _as_root() -> bool:
    return os.geteuid() == 0


def _run(cmd: list[str], *, as_server: bool = False) -> str:
    if as_server and _as_root():
        cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A running server with an empty database `driftline`; stopped and deleted on exit."""
    binaries = bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="driftline-pg-"))
    user = SERVER_USER if _as_root() else os.environ.get("USER") or "postgres"
    if _as_root():
        shutil.chown(folder, user=SERVER_USER, group=None)
    data = folder / "data"
    started = False
    try:
        _run([str(binaries / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--no-instructions"],
             as_server=True)
        for attempt in range(3):  # a free port can be taken between the probe and the bind
            port = _free_port()
            try:
                _run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
                      "-o", f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=on -c synchronous_commit=on", "start"],
                     as_server=True)
                started = True
                break
            except AssertionError:
                if attempt == 2:
                    log = folder / "server.log"
                    raise AssertionError(f"PostgreSQL did not start:\n{log.read_text() if log.exists() else ''}") from None
                time.sleep(0.2)
        server = PostgresServer("127.0.0.1", port, user, DATABASE, folder)
        _run([str(binaries / "createdb"), "-h", server.host, "-p", str(port), "-U", user, DATABASE], as_server=True)
        yield server
    finally:
        if started:
            _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], as_server=True)
        shutil.rmtree(folder, ignore_errors=True)
