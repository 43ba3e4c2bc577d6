"""DVC parses params.yaml, dvc.yaml and dvc.lock with ruamel.yaml's C parser (pyproject pins ruamel.yaml.clib).

ruamel.yaml 0.19.1 stopped installing its C extension, and without it every `dvc repro` spends
seconds in a pure-Python parser (benchmarks/bench_pipeline.py). A ruamel.yaml release that
looks for its C parser under another name would quietly bring that back; this test notices.
"""

from __future__ import annotations

import inspect

import ruamel.yaml.main
from dvc.utils.serialize import _yaml
from ruamel.yaml import YAML


def test_dvc_reads_yaml_with_the_c_parser() -> None:
    assert ruamel.yaml.main.CParser is not None, "ruamel.yaml finds no C parser: install ruamel.yaml.clib"
    assert inspect.signature(_yaml.parse_yaml).parameters["typ"].default == "safe", "DVC reads YAML with another loader"
    assert YAML(typ="safe").Parser is ruamel.yaml.main.CParser
