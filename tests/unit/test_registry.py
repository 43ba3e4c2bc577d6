"""The model registry: immutable versions, atomic champion swaps, rollback, history that survives."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from driftline.hashing import FingerprintError, fingerprint_files, sha256_file
from driftline.registry import Registry, RegistryError, fingerprint_config

PIPELINE = "credit"


def artifacts(folder: Path, tag: str) -> dict[str, Path]:
    """A model version's source files, with contents that differ per tag."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "model.txt": f"tree\nversion={tag}\n",
        "features.json": json.dumps({"tag": tag}),
        "metrics.json": json.dumps({"auc": 0.8}),
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    return {name: folder / name for name in files}


def register(registry: Registry, folder: Path, tag: str, **overrides: object) -> str:
    kwargs: dict = {"metrics": {"auc": 0.8, "tag": tag}, "data_fingerprint": "d" * 64, "config_fingerprint": "c" * 64}
    kwargs.update(overrides)
    return registry.register(artifacts(folder / tag, tag), **kwargs).version


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "project", PIPELINE)


@pytest.fixture
def three_champions(registry: Registry, tmp_path: Path) -> Registry:
    """v0001, v0002, v0003 registered and promoted one after the other."""
    for tag in ("a", "b", "c"):
        registry.promote(register(registry, tmp_path / "src", tag), reason=f"gate passed {tag}")
    return registry


def version_dirs(registry: Registry) -> list[str]:
    return sorted(p.name for p in registry.versions_dir.iterdir())


# ----------------------------------------------------------------------------- register


def fail_the_second_copy(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The registry's second file copy fails as a full disk would (ENOSPC); returns the copies tried."""
    import driftline.registry.store as store

    real_copy = store._copy_durably
    calls = []

    def copy_then_fail(src: Path, dst: Path) -> str:
        calls.append(src)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst)

    monkeypatch.setattr(store, "_copy_durably", copy_then_fail)
    return calls


def test_register_two_versions_copies_files_and_records_their_hashes(registry: Registry, tmp_path: Path) -> None:
    first = registry.register(
        artifacts(tmp_path / "a", "a"), metrics={"auc": 0.81}, data_fingerprint="d1", config_fingerprint="c1", gate={"passed": True}
    )
    second = registry.register(artifacts(tmp_path / "b", "b"), metrics={"auc": 0.83}, data_fingerprint="d2", config_fingerprint="c2")

    assert (first.version, second.version) == ("v0001", "v0002")
    assert [v.version for v in registry.versions()] == ["v0001", "v0002"]
    for info, tag in ((first, "a"), (second, "b")):
        assert info.path == registry.root / "registry" / PIPELINE / "versions" / info.version
        for name in ("model.txt", "features.json", "metrics.json"):
            copied = info.path / name
            assert copied.read_bytes() == (tmp_path / tag / name).read_bytes()
            assert info.files[name] == sha256_file(copied) == sha256_file(tmp_path / tag / name)
        assert registry.verify(info.version) == []
    manifest = json.loads((second.path / "manifest.json").read_text())
    assert manifest["version"] == "v0002" and manifest["pipeline"] == PIPELINE
    assert manifest["metrics"] == {"auc": 0.83}
    assert manifest["data_fingerprint"] == "d2" and manifest["config_fingerprint"] == "c2"
    assert manifest["parent"] is None and "gate" not in manifest
    assert manifest["created"].endswith("+00:00")
    assert registry.get("v1").gate == {"passed": True}
    assert registry.file("v2", "model.txt").read_text() == "tree\nversion=b\n"


def test_a_new_version_records_the_champion_at_registration_as_its_parent(registry: Registry, tmp_path: Path) -> None:
    registry.promote(register(registry, tmp_path, "a"), reason="first")
    assert registry.get(register(registry, tmp_path, "b")).parent == "v0001"


def test_versions_are_immutable(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    v1 = registry.get("v0001")
    before = {p.name: p.read_bytes() for p in v1.path.iterdir()}

    # the same source paths, rewritten, registered again: a new version, the old one untouched
    sources = artifacts(tmp_path / "a", "a-edited")
    again = registry.register(sources, metrics={}, data_fingerprint="x", config_fingerprint="y")

    assert again.version == "v0002"
    assert {p.name: p.read_bytes() for p in v1.path.iterdir()} == before
    assert registry.verify("v0001") == []
    for path in v1.path.iterdir():  # read-only, so an edit by accident fails loudly (except as root)
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, path.name


def test_get_accepts_short_and_long_version_names(registry: Registry, tmp_path: Path) -> None:
    for tag in "abc":
        register(registry, tmp_path, tag)
    for ref in ("v3", "3", "v0003", "V3", "003"):
        assert registry.get(ref).version == "v0003", ref


@pytest.mark.parametrize("ref", ["v9", "latest", "0"], ids=["unknown", "not-a-version", "zero"])
def test_get_rejects_unknown_versions_naming_the_known_ones(registry: Registry, tmp_path: Path, ref: str) -> None:
    register(registry, tmp_path, "a")
    with pytest.raises(RegistryError) as err:
        registry.get(ref)
    assert "v3, 3 or v0003" in str(err.value) or "known versions: v0001" in str(err.value)


def test_file_names_an_unknown_file_and_lists_the_real_ones(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    with pytest.raises(RegistryError, match="features.json, metrics.json, model.txt"):
        registry.file("v1", "profile.json")


def test_a_missing_source_file_leaves_no_version_and_no_temp_folder(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    files = artifacts(tmp_path / "b", "b")
    files["profile.json"] = tmp_path / "b" / "not-written.json"
    with pytest.raises(RegistryError, match="not-written.json does not exist"):
        registry.register(files, metrics={}, data_fingerprint="d", config_fingerprint="c")
    assert version_dirs(registry) == ["v0001"]
    assert [e["event"] for e in registry.history()] == ["registered"]


def test_a_failure_while_copying_leaves_no_version_and_no_temp_folder(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(registry, tmp_path, "a")
    calls = fail_the_second_copy(monkeypatch)
    with pytest.raises(RegistryError, match="No space left on device.*nothing was registered"):
        register(registry, tmp_path, "b")
    assert len(calls) == 2
    assert version_dirs(registry) == ["v0001"]
    assert len(registry.history()) == 1


def test_a_temp_folder_left_by_a_crashed_process_is_swept_and_never_listed(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    crashed = registry.versions_dir / ".tmp-crashed"
    crashed.mkdir()
    (crashed / "model.txt").write_text("half")
    assert [v.version for v in registry.versions()] == ["v0001"]
    register(registry, tmp_path, "b")
    assert version_dirs(registry) == ["v0001", "v0002"]


@pytest.mark.parametrize(
    "name", ["manifest.json", "../escape.txt", "sub/model.txt", ".hidden"], ids=["manifest", "dotdot", "subfolder", "hidden"]
)
def test_register_refuses_file_names_that_could_clash_or_escape(registry: Registry, tmp_path: Path, name: str) -> None:
    src = tmp_path / "x.txt"
    src.write_text("x")
    with pytest.raises(RegistryError, match="not allowed"):
        registry.register({name: src}, metrics={}, data_fingerprint="d", config_fingerprint="c")
    assert not registry.versions_dir.exists() or version_dirs(registry) == []


def test_register_refuses_metrics_that_are_not_plain_json(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="plain JSON"):
        register(registry, tmp_path, "a", metrics={"auc": float("nan")})
    assert registry.versions() == []


# ----------------------------------------------------------------------------- champion


def test_promote_swaps_the_champion_pointer_and_flag(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    register(registry, tmp_path, "b")
    assert registry.champion() is None

    registry.promote("v1", reason="first model")
    pointer = json.loads(registry.champion_file.read_text())
    assert pointer["version"] == "v0001" and pointer["reason"] == "first model" and pointer["since"]
    assert [v.champion for v in registry.versions()] == [True, False]

    champion = registry.promote("2", reason="auc +0.02")
    assert champion.version == "v0002" and champion.champion
    assert json.loads(registry.champion_file.read_text())["version"] == "v0002"
    assert [v.champion for v in registry.versions()] == [False, True]
    assert registry.champion().version == "v0002"  # type: ignore[union-attr]
    promoted = [e for e in registry.history() if e["event"] == "promoted"]
    assert [(e["version"], e["previous"], e["reason"]) for e in promoted] == [
        ("v0001", None, "first model"),
        ("v0002", "v0001", "auc +0.02"),
    ]
    assert not [p for p in registry.dir.iterdir() if p.name.startswith(".champion.json")], "no temp file left"


def test_promoting_an_unknown_version_changes_nothing(registry: Registry, tmp_path: Path) -> None:
    registry.promote(register(registry, tmp_path, "a"), reason="first")
    with pytest.raises(RegistryError, match="known versions: v0001"):
        registry.promote("v7", reason="typo")
    assert registry.champion().version == "v0001"  # type: ignore[union-attr]


def test_rollback_walks_back_through_earlier_champions(three_champions: Registry) -> None:
    registry = three_champions
    assert registry.rollback().version == "v0002"
    assert registry.champion().version == "v0002"  # type: ignore[union-attr]
    assert registry.rollback(reason="still bad").version == "v0001"
    with pytest.raises(RegistryError, match="no champion before v0001.*--to"):
        registry.rollback()
    assert registry.champion().version == "v0001"  # type: ignore[union-attr]
    rollbacks = [(e["previous"], e["version"], e["reason"]) for e in registry.history() if e["event"] == "rollback"]
    assert rollbacks == [("v0003", "v0002", "rollback"), ("v0002", "v0001", "still bad")]


def test_rollback_after_a_re_promotion_returns_to_the_champion_it_replaced(three_champions: Registry) -> None:
    registry = three_champions
    registry.rollback(to="v1")
    registry.promote("v3", reason="fixed upstream data")
    assert registry.rollback().version == "v0001"


def test_rollback_to_a_named_version(three_champions: Registry) -> None:
    assert three_champions.rollback(to="v1", reason="incident 42").version == "v0001"
    assert [v.champion for v in three_champions.versions()] == [True, False, False]
    with pytest.raises(RegistryError, match="no champion before v0001"):
        three_champions.rollback()


def test_rollback_to_an_unknown_version_lists_the_known_ones(three_champions: Registry) -> None:
    with pytest.raises(RegistryError, match="no version v0009; known versions: v0001, v0002, v0003"):
        three_champions.rollback(to="v9")
    assert three_champions.champion().version == "v0003"  # type: ignore[union-attr]


def test_rollback_with_no_champion_or_to_the_champion_itself_is_refused(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    with pytest.raises(RegistryError, match="no champion yet"):
        registry.rollback()
    registry.promote("v1", reason="first")
    with pytest.raises(RegistryError, match="already the champion"):
        registry.rollback(to="v0001")


def test_a_refusal_is_recorded_and_leaves_the_champion_alone(registry: Registry, tmp_path: Path) -> None:
    registry.promote(register(registry, tmp_path, "a"), reason="first")
    challenger = register(registry, tmp_path, "b")
    registry.record_refusal(challenger, "auc fell by 0.03", {"metric": "auc", "champion": 0.81, "challenger": 0.78})
    registry.record_refusal(None, "not registered: schema changed", {})
    refused = [e for e in registry.history() if e["event"] == "refused"]
    assert [(e["version"], e["champion"], e["reason"]) for e in refused] == [
        ("v0002", "v0001", "auc fell by 0.03"),
        (None, "v0001", "not registered: schema changed"),
    ]
    assert refused[0]["details"]["challenger"] == 0.78
    assert registry.champion().version == "v0001"  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- history


def test_history_keeps_every_event_in_order(three_champions: Registry) -> None:
    three_champions.rollback()
    events = three_champions.history()
    assert [e["event"] for e in events] == ["registered", "promoted"] * 3 + ["rollback"]
    assert all({"time", "event", "version", "reason"} <= e.keys() for e in events)


def test_a_torn_last_history_line_is_skipped_and_the_next_event_starts_a_fresh_line(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    with open(registry.history_file, "ab") as fh:
        fh.write(b'{"event": "promo')  # a crash in the middle of a write
    assert [e["event"] for e in registry.history()] == ["registered"]
    registry.promote("v1", reason="first")
    lines = registry.history_file.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == ["registered", "repaired", "promoted"], "the torn tail was cut off, and that recorded"
    assert events[1]["cut"] == '{"event": "promo' and events[1]["cut_bytes"] == 16


def test_an_unterminated_but_complete_last_line_is_kept(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    text = registry.history_file.read_text()
    registry.history_file.write_text(text.rstrip("\n"))
    registry.promote("v1", reason="first")
    assert [e["event"] for e in registry.history()] == ["registered", "promoted"]


def test_a_corrupt_history_line_in_the_middle_is_an_error_naming_the_line(registry: Registry, tmp_path: Path) -> None:
    register(registry, tmp_path, "a")
    with open(registry.history_file, "ab") as fh:
        fh.write(b"not json\n")
    with pytest.raises(RegistryError, match=r"history.jsonl:2 is not valid JSON"):
        register(registry, tmp_path, "b")  # every write reads the history first (recovery): it refuses to go on
    with pytest.raises(RegistryError, match=r"history.jsonl:2 is not valid JSON"):
        registry.history()
    assert version_dirs(registry) == ["v0001"]


def _register_many(root: str, src: str, worker: int, count: int) -> None:
    registry = Registry(Path(root), PIPELINE)
    for i in range(count):
        folder = Path(src) / f"w{worker}-{i}"
        registry.register(artifacts(folder, f"w{worker}-{i}"), metrics={"worker": worker, "i": i}, data_fingerprint="d", config_fingerprint="c")


def test_two_processes_registering_at_once_get_distinct_versions(registry: Registry, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_register_many, args=(str(registry.root), str(tmp_path / "src"), w, 5)) for w in (1, 2)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(timeout=120)
        assert proc.exitcode == 0

    versions = registry.versions()
    assert [v.version for v in versions] == [f"v{n:04d}" for n in range(1, 11)]
    assert sorted((v.metrics["worker"], v.metrics["i"]) for v in versions) == [(w, i) for w in (1, 2) for i in range(5)]
    for info in versions:  # each version holds the files of the registration that claimed it
        tag = f"w{info.metrics['worker']}-{info.metrics['i']}"
        assert json.loads((info.path / "features.json").read_text()) == {"tag": tag}
    lines = registry.history_file.read_text().splitlines()
    assert len(lines) == 10
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == ["registered"] * 10
    assert sorted(e["version"] for e in events) == [v.version for v in versions]
    assert version_dirs(registry) == [v.version for v in versions], "no temp folders left"


# ----------------------------------------------------------------------------- fingerprints


def test_fingerprint_config_is_canonical() -> None:
    a = {"model": {"num_leaves": 31, "learning_rate": 0.05}, "seed": 7}
    b = {"seed": 7, "model": {"learning_rate": 0.05, "num_leaves": 31}}
    assert fingerprint_config(a) == fingerprint_config(b)
    assert fingerprint_config(a) != fingerprint_config({**a, "seed": 8})
    assert len(fingerprint_config(a)) == 64


def test_fingerprint_files_follows_content_and_names_not_order_or_location(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "train.parquet").write_bytes(b"rows")
        (tmp_path / folder / "valid.parquet").write_bytes(b"more rows")
    one = [tmp_path / "one" / "train.parquet", tmp_path / "one" / "valid.parquet"]
    two = [tmp_path / "two" / "valid.parquet", tmp_path / "two" / "train.parquet"]
    assert fingerprint_files(one) == fingerprint_files(two)
    (tmp_path / "two" / "train.parquet").write_bytes(b"rows!")
    assert fingerprint_files(one) != fingerprint_files(two)
    with pytest.raises(FingerprintError, match="no such file"):
        fingerprint_files([tmp_path / "missing.parquet"])


def test_sha256_file_matches_the_standard_digest(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert os.path.getsize(path) == 0


# ----------------------------------------------------------------------------- baseline after a refusal


def baseline_files(folder: Path, tag: str) -> dict[str, Path]:
    """A refused challenger's reference profile, with contents that differ per tag."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("profile.json", "profile.npz", "reference_sample.parquet"):
        (folder / name).write_text(f"{name} of {tag}\n")
    return {name: folder / name for name in ("profile.json", "profile.npz", "reference_sample.parquet")}


def baseline_meta(champion: str, retrains: int = 1) -> dict:
    return {"champion": champion, "trigger_retrains": retrains, "reason": "challenger does not beat champion",
            "data_fingerprint": "f" * 64}


def test_a_stored_baseline_is_read_back_with_its_files_and_meta(three_champions: Registry, tmp_path: Path) -> None:
    registry = three_champions
    assert registry.baseline() is None
    stored = registry.set_baseline(baseline_files(tmp_path / "b1", "one"), baseline_meta("v0003"))

    found = registry.baseline()
    assert found is not None and found.folder == registry.dir / "baseline" == stored.folder
    assert found.champion == "v0003"
    assert found.meta["trigger_retrains"] == 1 and found.meta["data_fingerprint"] == "f" * 64
    assert found.meta["time"].endswith("+00:00")
    assert found.file("profile.json").read_text() == "profile.json of one\n"
    assert found.meta["files"]["profile.npz"] == sha256_file(found.file("profile.npz"))
    with pytest.raises(RegistryError, match="no file 'model.txt'.*profile.json"):
        found.file("model.txt")
    event = registry.history()[-1]
    assert event["event"] == "baseline" and event["champion"] == "v0003" and event["version"] is None
    assert event["reason"] == "challenger does not beat champion" and event["trigger_retrains"] == 1


def test_a_new_baseline_replaces_the_old_one_whole(three_champions: Registry, tmp_path: Path) -> None:
    registry = three_champions
    registry.set_baseline(baseline_files(tmp_path / "b1", "one"), baseline_meta("v0003", 1))
    registry.set_baseline({"profile.json": baseline_files(tmp_path / "b2", "two")["profile.json"]}, baseline_meta("v0003", 2))

    found = registry.baseline()
    assert found is not None and found.meta["trigger_retrains"] == 2
    assert sorted(p.name for p in found.folder.iterdir()) == ["baseline.json", "profile.json"]
    assert found.file("profile.json").read_text() == "profile.json of two\n"
    assert not [p for p in registry.dir.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("change", ["promote", "rollback"])
def test_a_promotion_or_rollback_makes_the_baseline_go_away(three_champions: Registry, tmp_path: Path, change: str) -> None:
    registry = three_champions
    registry.set_baseline(baseline_files(tmp_path / "b1", "one"), baseline_meta("v0003"))
    if change == "promote":
        registry.promote(register(registry, tmp_path / "src", "d"), reason="gate passed d")
    else:
        registry.rollback()
    assert registry.baseline() is None
    assert not registry.baseline_dir.exists()


def test_a_baseline_of_another_champion_is_stale(three_champions: Registry, tmp_path: Path) -> None:
    registry = three_champions
    registry.set_baseline(baseline_files(tmp_path / "b1", "one"), baseline_meta("v0003"))
    # champion.json changed behind the registry's back (say, a git checkout): the baseline no longer applies
    (registry.dir / "champion.json").write_text(json.dumps({"version": "v0002", "since": "x", "reason": "checkout"}))
    assert registry.baseline() is None


def test_a_baseline_must_be_measured_against_the_champion(three_champions: Registry, registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"measured against the champion \(v0003\), not 'v0001'"):
        three_champions.set_baseline(baseline_files(tmp_path / "b1", "one"), baseline_meta("v0001"))
    fresh = Registry(tmp_path / "other", PIPELINE)
    with pytest.raises(RegistryError, match="none yet"):
        fresh.set_baseline(baseline_files(tmp_path / "b2", "two"), baseline_meta("v0001"))
    assert three_champions.baseline() is None
    assert [e["event"] for e in three_champions.history()].count("baseline") == 0


def test_a_failed_baseline_write_keeps_the_old_baseline_and_leaves_no_temp(
    three_champions: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = three_champions
    registry.set_baseline(baseline_files(tmp_path / "b1", "one"), baseline_meta("v0003", 1))
    fail_the_second_copy(monkeypatch)
    with pytest.raises(RegistryError, match="No space left on device.*none was stored"):
        registry.set_baseline(baseline_files(tmp_path / "b2", "two"), baseline_meta("v0003", 2))
    found = registry.baseline()
    assert found is not None and found.meta["trigger_retrains"] == 1
    assert found.file("profile.json").read_text() == "profile.json of one\n"
    assert not [p for p in registry.dir.iterdir() if p.name.startswith(".tmp-")]
    assert [e["event"] for e in registry.history()].count("baseline") == 1


def test_the_baseline_event_reaches_the_event_listener(tmp_path: Path) -> None:
    seen: list[tuple[str, dict]] = []
    registry = Registry(tmp_path / "project", PIPELINE, on_event=lambda p, e: seen.append((p, e)))
    registry.promote(register(registry, tmp_path / "src", "a"), reason="first")
    registry.set_baseline(baseline_files(tmp_path / "b1", "one"), baseline_meta("v0001"))
    assert seen[-1][0] == PIPELINE and seen[-1][1]["event"] == "baseline" and seen[-1][1]["champion"] == "v0001"


def test_the_baseline_event_lands_in_the_audit_trail(tmp_path: Path) -> None:
    from driftline.audit.log import read, recorder

    root = tmp_path / "project"
    registry = Registry(root, PIPELINE, on_event=recorder(root))
    registry.promote(register(registry, tmp_path / "src", "a"), reason="first")
    registry.set_baseline(baseline_files(tmp_path / "b1", "one"), baseline_meta("v0001", 4))
    last = read(root)[-1]
    assert last["kind"] == "baseline"
    assert last["payload"]["pipeline"] == PIPELINE and last["payload"]["trigger_retrains"] == 4
