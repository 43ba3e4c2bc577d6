"""The bad-input corpus, config cases: SQL sources and secrets (tests/corpus/config*.yaml; the runner is tests/corpus/runner.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.runner import COPIED as BASE
from tests.corpus.runner import params, run_case, verdict

COPIED = (*BASE, "data/credit/raw.parquet")  # the rows the preparations build sources from


@pytest.mark.parametrize("case", params("config_sql.yaml"))
def test_bad_input(case, corpus_project: Path, record_property) -> None:
    verdict(case, run_case(case, corpus_project), record_property)
