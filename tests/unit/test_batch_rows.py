"""New batches at monitor time: zoned times read in UTC, and every row either compared or counted bad."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftline.config.groups import SchemaSpec
from driftline.data.batches import read_batch_frame
from driftline.drift.quality import batch_quality, judge_batch
from driftline.schema.rules import rules_for

RULES = rules_for(SchemaSpec(columns={"when": {"dtype": "datetime"}, "n": {"dtype": "int"}}))


def test_zoned_text_and_mixed_naive_text_are_accepted_in_utc() -> None:
    frame = pd.DataFrame({"when": ["2024-05-01T12:30:00+02:00", "2024-05-01 10:30:00", "2024-05-01T10:30:00Z"], "n": [1, 2, 3]})
    quality = batch_quality("data/p/incoming/batch-0001.parquet", frame, RULES, 0.0)
    assert not quality.rejected and quality.bad_rows == 0


def test_text_that_is_no_time_is_still_counted() -> None:
    frame = pd.DataFrame({"when": ["2024-05-01T12:30:00+02:00", "yesterday"], "n": [1, 2]})
    quality = batch_quality("data/p/incoming/batch-0001.parquet", frame, RULES, 0.0)
    assert quality.rejected and quality.bad_rows == 1 and "when" in quality.reason


def test_a_zoned_parquet_column_is_read_as_naive_utc(tmp_path: Path) -> None:
    zoned = pd.DataFrame({"when": pd.to_datetime(["2024-05-01 12:30"]).tz_localize("Asia/Tokyo"), "n": [1]})
    zoned.to_parquet(tmp_path / "b.parquet")
    back = read_batch_frame(tmp_path / "b.parquet")
    assert back["when"].dt.tz is None and back["when"].iloc[0] == pd.Timestamp("2024-05-01 03:30")
    assert not batch_quality("b.parquet", back, RULES, 0.0).rejected


def test_an_accepted_batch_is_compared_without_the_rows_counted_bad() -> None:
    ints = pd.Series([1, 2, "100000000000000000000000", 4], dtype=object).astype(str)  # 10^23 beyond int64, as text
    frame = pd.DataFrame({"when": ["2024-05-01"] * 4, "n": ints})
    quality, good = judge_batch("batch-0001.parquet", frame, RULES, 0.5)
    assert not quality.rejected and quality.bad_rows == 1 and "n: not a valid int" in next(iter(quality.reasons))
    assert good["n"].tolist() == ["1", "2", "4"]  # compared as read, the bad row left out
    assert len(good) + quality.bad_rows == len(frame)
