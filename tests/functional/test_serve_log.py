"""The prediction log on disk: WAL mode, git-ignored, read back as a frame for the monitor."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from driftline.serve.log import PredictionLog, read_decisions


def test_the_log_reads_back_as_a_frame_with_labels(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "credit" / "predictions.sqlite"
    log = PredictionLog(path)
    log.record([("a" * 32, "2026-01-01T00:00:00.000+00:00", "v0001", "A1", '{"age":30,"income":null}', '{"score":0.4,"prediction":1}', None),
                ("b" * 32, "2026-01-02T00:00:00.000+00:00", "v0002", None, '{"age":41,"income":5.0}', '{"score":0.1,"prediction":0}', "[]")],
               "credit")
    log.add_labels([("a" * 32, 1)], source="test")
    log.close()
    frame = read_decisions(path)
    assert frame[["age", "score", "prediction", "model_version"]].values.tolist() == [[30, 0.4, 1, "v0001"], [41, 0.1, 0, "v0002"]]
    assert frame["label"].tolist()[0] == 1 and frame["label"].isna().tolist() == [False, True]
    assert (tmp_path / "logs" / ".gitignore").read_text().strip().endswith("*")
    assert len(read_decisions(path, since="2026-01-02")) == 1


def test_the_log_is_in_wal_mode_and_a_commit_is_visible_to_other_readers(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "credit" / "predictions.sqlite"
    log = PredictionLog(path)
    try:
        log.record([("c" * 32 + "-0", "2026-01-01T00:00:00.000+00:00", "v0001", None, "{}", "{}", None)], "credit")
        with sqlite3.connect(path) as other:  # another process (the monitor, a person) sees it at once
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("SELECT count(*) FROM predictions").fetchone()[0] == 1
        assert log.query("PRAGMA synchronous")[0][0] == 2  # FULL
    finally:
        log.close()


def test_checkpoints_run_off_the_request_path_and_lose_nothing(tmp_path: Path, monkeypatch) -> None:
    import driftline.serve.log as log_module

    monkeypatch.setattr(log_module, "CHECKPOINT_ROWS", 10)
    path = tmp_path / "logs" / "credit" / "predictions.sqlite"
    log = PredictionLog(path)
    try:
        assert log.query("PRAGMA wal_autocheckpoint")[0][0] == 0  # no checkpoint inside a commit
        for batch in range(5):
            log.record([(f"{batch:032d}-{i}", "2026-01-01T00:00:00.000+00:00", "v0001", None, "{}", "{}", None)
                        for i in range(10)], "credit")
        import time

        deadline = time.monotonic() + 10
        while log.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.checkpoints >= 1
        with sqlite3.connect(path) as other:
            assert other.execute("SELECT count(*) FROM predictions").fetchone()[0] == 50
    finally:
        log.close()
    assert not log._checkpointer.is_alive()
    assert len(read_decisions(path)) == 50
