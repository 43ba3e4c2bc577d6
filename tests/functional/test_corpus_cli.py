"""The bad-input corpus, cli cases (tests/corpus/cli.yaml; the runner is tests/corpus/runner.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus.runner import params, run_case, verdict


@pytest.mark.parametrize("case", params("cli.yaml"))
def test_bad_input(case, corpus_project: Path, record_property) -> None:
    verdict(case, run_case(case, corpus_project), record_property)
