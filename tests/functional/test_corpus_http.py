"""The bad-input corpus, HTTP cases (tests/corpus/http.yaml): real requests to one real `driftline serve`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.corpus.runner import params, run_http, verdict
from tests.functional.test_serve import Server, start_server, stop_server, test_records


@pytest.fixture(scope="module")
def server(projects) -> Iterator[Server]:
    srv = start_server(projects.reproduced())
    yield srv
    stop_server(srv)


@pytest.mark.parametrize("case", params("http.yaml"))
def test_bad_request(case, server: Server, record_property) -> None:
    outcome = run_http(case, server.url, server.root / "logs/credit/predictions.sqlite", test_records(server.root, 1)[0])
    verdict(case, outcome, record_property)
