"""A local S3-compatible server for DVC remote tests: moto's server mode on 127.0.0.1, in its own process.

moto (`pip install 'moto[server]'`, a test dependency) speaks the S3 protocol that `dvc-s3` talks. The
server runs in a child process so its objects, threads and warnings stay out of the test process; it
binds port 0 itself (no race for a "free" port) and prints the port it got. It serves until its stdin
closes, so it also stops when the process that started it dies.

Nothing leaves loopback: the endpoint is http://127.0.0.1:PORT, the credentials are dummy values given
only to the processes that need them (`S3Server.env`), and the AWS SDK is told not to read the user's
~/.aws files or ask an EC2 metadata service for credentials.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""

# Dummy values, never real credentials: moto accepts any.
ACCESS_KEY_ID = "driftline-test-key"
SECRET_ACCESS_KEY = "driftline-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server: its endpoint, and the environment a process needs to talk to it."""

    endpoint: str  # http://127.0.0.1:PORT
    process: subprocess.Popen[str]
    aws_config: str  # an empty AWS config file (the SDK refuses a missing one or os.devnull)
    _buckets: int = field(default=0)

    @property
    def isolation(self) -> dict[str, str]:
        """Environment for an AWS client (dvc-s3, boto3) that reaches this server only and finds no credentials of its own."""
        return {
            "AWS_CONFIG_FILE": self.aws_config,  # not the user's ~/.aws/config ...
            "AWS_SHARED_CREDENTIALS_FILE": self.aws_config,  # ... nor their credentials
            "AWS_EC2_METADATA_DISABLED": "true",  # no credential look-up on 169.254.169.254
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "",  # empty counts as unset: none of the caller's own keys
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_SESSION_TOKEN": "",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    @property
    def env(self) -> dict[str, str]:
        """`isolation` plus the dummy credentials, the way a CI job passes them: in the environment."""
        return {**self.isolation, "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}

    def client(self) -> Any:
        """A boto3 S3 client for this server (credentials passed explicitly, not through os.environ)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)

    def new_bucket(self, prefix: str = "driftline") -> str:
        """Create an empty bucket with a name no other caller of this server got; return its name."""
        self._buckets += 1
        name = f"{prefix}-{os.getpid()}-{self._buckets}"
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """key -> size of every object under `prefix` in `bucket`."""
        found: dict[str, int] = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
        return found


@contextmanager
def moto_s3() -> Iterator[S3Server]:
    """Start moto's S3 server on 127.0.0.1 (a port the server picks), yield it, stop it."""
    with tempfile.TemporaryDirectory(prefix="moto-s3-") as folder:
        aws_config = Path(folder) / "aws-config"
        aws_config.write_text("")
        # stderr to a file, not a pipe: the server logs every request there, and a pipe nobody reads fills up
        with open(Path(folder) / "server.log", "w+") as log:
            proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
            assert proc.stdin is not None and proc.stdout is not None
            try:
                port = proc.stdout.readline().strip()
                if not port.isdigit():
                    proc.wait(timeout=30)
                    log.seek(0)
                    raise RuntimeError(f"moto's S3 server did not start (is `moto[server]` installed? `pip install -e '.[dev]'`):\n{log.read()[-4000:]}")
                yield S3Server(f"http://127.0.0.1:{port}", proc, str(aws_config))
            finally:
                proc.stdin.close()  # the server's signal to stop
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
