"""The prediction log on disk: WAL mode, git-ignored, one row per request, read back as a frame for the monitor."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from driftline.predictions.log import (
    LoggedRequest,
    PredictionLog,
    PredictionLogError,
    read_decision,
    read_decisions,
    split_decision_id,
)


def request(batch_id: str, when: str, version: str, inputs: list, outputs: list, record_ids: list | None = None,
            reasons: list | None = None) -> LoggedRequest:
    return LoggedRequest(batch_id=batch_id, time=when, model_version=version, size=len(inputs), inputs=json.dumps(inputs),
                         outputs=json.dumps(outputs), record_ids=None if record_ids is None else json.dumps(record_ids),
                         reasons=None if reasons is None else json.dumps(reasons))


def test_the_log_reads_back_as_a_frame_with_labels(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "credit" / "predictions.sqlite"
    log = PredictionLog(path)
    log.record(request("a" * 32, "2026-01-01T00:00:00.000+00:00", "v0001", [{"age": 30, "income": None}, {"age": 35, "income": 7.5}],
                       [{"score": 0.4, "prediction": 1}, {"score": 0.6, "prediction": 1}], record_ids=["A1", None]), "credit")
    log.record(request("b" * 32, "2026-01-02T00:00:00.000+00:00", "v0002", [{"age": 41, "income": 5.0}],
                       [{"score": 0.1, "prediction": 0}], reasons=[[]]), "credit")
    log.add_labels([("a" * 32 + "-1", 1)], source="test")
    log.close()
    frame = read_decisions(path)
    assert frame[["age", "score", "prediction", "model_version"]].values.tolist() == [
        [30, 0.4, 1, "v0001"], [35, 0.6, 1, "v0001"], [41, 0.1, 0, "v0002"]]
    assert frame["request_id"].tolist() == ["a" * 32 + "-0", "a" * 32 + "-1", "b" * 32 + "-0"]
    assert frame["label"].isna().tolist() == [True, False, True] and frame["label"].tolist()[1] == 1
    assert (tmp_path / "logs" / ".gitignore").read_text().strip().endswith("*")
    assert len(read_decisions(path, since="2026-01-02")) == 1
    assert len(read_decisions(path, model_version="v0001")) == 2


def test_sql_users_see_one_row_per_decision_in_the_predictions_view(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "credit" / "predictions.sqlite"
    log = PredictionLog(path)
    reasons = [None, [{"feature": "age", "value": 35, "contribution": 0.2}]]
    log.record(request("f" * 32, "2026-01-01T00:00:00.000+00:00", "v0001", [{"age": 30}, {"age": 35}],
                       [{"score": 0.2, "prediction": 0}, {"score": 0.7, "prediction": 1}], record_ids=[7, "B2"], reasons=reasons), "credit")
    log.add_labels([("f" * 32 + "-1", 0)], source="test")
    log.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT request_id, record_id, inputs, outputs, reasons, model_version FROM predictions "
                          "ORDER BY position").fetchall()
        joined = db.execute("SELECT request_id, label FROM labelled_predictions").fetchall()
    assert [(r[0], r[1], json.loads(r[2]), json.loads(r[3])) for r in rows] == [
        ("f" * 32 + "-0", "7", {"age": 30}, {"score": 0.2, "prediction": 0}),
        ("f" * 32 + "-1", "B2", {"age": 35}, {"score": 0.7, "prediction": 1})]
    assert rows[0][4] is None and json.loads(rows[1][4]) == reasons[1]
    assert joined == [("f" * 32 + "-1", 0)]
    one = read_decision(path, "f" * 32 + "-1")
    assert one is not None and one["inputs"] == {"age": 35} and one["reasons"] == reasons[1] and one["record_id"] == "B2"
    assert one["label"]["label"] == 0 and one["label"]["source"] == "test"
    assert read_decision(path, "f" * 32 + "-2") is None and read_decision(path, "no-such-request") is None


@pytest.mark.parametrize("request_id, parts", [
    ("abc-0", ("abc", 0)), ("a-b-12", ("a-b", 12)), ("abc", None), ("abc-", None), ("-3", None), ("abc-01", None), ("abc-x", None),
], ids=["plain", "dash-in-batch", "no-index", "empty-index", "no-batch", "leading-zero", "not-a-number"])
def test_a_request_id_names_its_request_and_position(request_id: str, parts: tuple | None) -> None:
    assert split_decision_id(request_id) == parts


def test_known_ids_are_the_logged_positions_only(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    try:
        log.record(request("r1", "2026-01-01T00:00:00+00:00", "v0001", [{}, {}], [{}, {}]), "credit")
        assert log.known(["r1-0", "r1-1", "r1-2", "r2-0", "r1"]) == {"r1-0", "r1-1"}
    finally:
        log.close()


def test_the_log_is_in_wal_mode_and_a_commit_is_visible_to_other_readers(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "credit" / "predictions.sqlite"
    log = PredictionLog(path)
    try:
        log.record(request("c" * 32, "2026-01-01T00:00:00.000+00:00", "v0001", [{}], [{}]), "credit")
        with sqlite3.connect(path) as other:  # another process (the monitor, a person) sees it at once
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("SELECT count(*) FROM predictions").fetchone()[0] == 1
        assert log.query("PRAGMA synchronous")[0][0] == 2  # FULL
    finally:
        log.close()


def test_checkpoints_run_off_the_request_path_and_lose_nothing(tmp_path: Path, monkeypatch) -> None:
    import driftline.predictions.log as log_module

    monkeypatch.setattr(log_module, "CHECKPOINT_ROWS", 10)
    path = tmp_path / "logs" / "credit" / "predictions.sqlite"
    log = PredictionLog(path)
    try:
        assert log.query("PRAGMA wal_autocheckpoint")[0][0] == 0  # no checkpoint inside a commit
        for batch in range(5):
            log.record(request(f"{batch:032d}", "2026-01-01T00:00:00.000+00:00", "v0001", [{}] * 10, [{}] * 10), "credit")
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


def test_a_log_in_the_old_one_row_per_decision_layout_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "predictions.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE predictions (request_id TEXT PRIMARY KEY, inputs TEXT)")
        db.execute("INSERT INTO predictions VALUES ('x-0', '{}')")
    before = path.read_bytes()
    with pytest.raises(PredictionLogError, match="older driftline.*move it aside"):
        PredictionLog(path)
    with pytest.raises(PredictionLogError, match="older driftline"):
        read_decisions(path)
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "predictions.sqlite"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(PredictionLogError, match="predictions.sqlite"):
        read_decisions(path)
    with pytest.raises(PredictionLogError, match="predictions.sqlite"):
        PredictionLog(path)
