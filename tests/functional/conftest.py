"""Fixtures for the functional tier beyond tests/conftest.py: servers that some tests talk to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.functional.postgres import PostgresServer, postgres_server
from tests.functional.s3 import S3Server, moto_s3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3-compatible server on 127.0.0.1, one per test process; each test takes its own bucket (`new_bucket`)."""
    with moto_s3() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1, one per test process; tests take their own database (`new_database`)."""
    with postgres_server() as server:
        yield server
