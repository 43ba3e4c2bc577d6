"""The split stage moves rows with pyarrow, yet writes the very files `split_frame` and pandas write.

Same bytes means the same DVC hashes: a project reproduced before this change sees no change in
its splits, and nothing downstream reruns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from driftline.atomic import write_parquet
from driftline.config.params import load_pipeline
from driftline.data.split import split_frame


@pytest.mark.parametrize(("pipeline", "kind"), [("credit", "random"), ("pricing", "time")])
def test_the_split_stage_writes_what_pandas_writes(cli, built_project: Path, tmp_path: Path, pipeline: str, kind: str) -> None:
    cfg = load_pipeline(pipeline, built_project)
    assert cfg.split.kind == kind
    labelled = pd.read_parquet(built_project / f"data/{pipeline}/labelled.parquet")
    expected = split_frame(labelled, cfg.split, cfg.target, cfg.dataset.timestamp, cfg.task)
    for name in ("train", "valid", "test"):
        (built_project / f"data/{pipeline}/split/{name}.parquet").unlink()
    cli(["run", "split", pipeline], built_project)
    for name, frame in expected.items():
        want = tmp_path / f"{name}.parquet"
        write_parquet(want, frame)
        got = built_project / f"data/{pipeline}/split/{name}.parquet"
        assert len(frame) > 0
        assert got.read_bytes() == want.read_bytes(), f"{pipeline} {name}: the stage wrote other bytes than pandas"
