"""The champion as the server holds it: one immutable `ModelBundle`, swapped atomically.

A bundle is everything one decision needs — booster, fitted feature state, request schema,
threshold, version and fingerprints — loaded from `registry/<p>/versions/<champion>/` (never
from `models/`, which is a DVC output and may hold a challenger the gate refused) plus the
pipeline's schema and threshold from params.yaml. It is never mutated after loading, so a
request that took a reference to it finishes on it even if a new champion arrives meanwhile.

`BundleHolder` owns the current reference. A daemon thread polls `champion.json` (a cheap
`stat`: the registry replaces it with an atomic rename, so inode, size or mtime change) and,
when the champion's version changes, loads the new bundle off to the side and then replaces
the reference in one assignment. A version that fails to load (say, its files fail their
manifest hashes) is refused and the old champion keeps serving; the error shows in /v1/health.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.config.groups import ColumnSpec, SchemaSpec
from driftline.errors import DriftlineError
from driftline.schema.rules import SchemaRules, rules_for

if TYPE_CHECKING:
    from collections.abc import Callable

    import lightgbm

    from driftline.features.pipeline import FittedFeatures

log = logging.getLogger("driftline.serve")

DEFAULT_POLL_SECONDS = 1.0


class BundleError(DriftlineError):
    """The champion cannot be served; the message says why and what to do."""


@dataclass(frozen=True)
class RequestSchema:
    """What a request record must carry: the schema's input columns (no target, no label, no id).

    `spec` is a SchemaSpec over exactly those columns with `extra_columns: drop`, ready for
    `validate_frame`, and `rules` its rules (built once per bundle); unknown fields are handled
    by `extra_columns` before that (drop, keep for the log only, or error).
    """

    spec: SchemaSpec
    id_column: str | None
    extra_columns: str  # the pipeline's policy: drop | keep | error

    @property
    def columns(self) -> dict[str, ColumnSpec]:
        return self.spec.columns

    @cached_property
    def rules(self) -> SchemaRules:
        return rules_for(self.spec)

    def to_json(self) -> dict[str, Any]:
        return {
            "required": {name: col.model_dump(exclude_defaults=True) for name, col in self.columns.items()},
            "id_column": self.id_column,
            "extra_fields": self.extra_columns,
        }


@dataclass(frozen=True)
class ModelBundle:
    """One loaded champion. Immutable: a swap replaces the whole bundle, never a part of it."""

    pipeline: str
    version: str
    task: str
    threshold: float
    classes: list[Any] | None
    booster: lightgbm.Booster = field(repr=False)
    fitted: FittedFeatures = field(repr=False)
    request_schema: RequestSchema = field(repr=False)
    feature_columns: list[str] = field(repr=False)
    info: dict[str, Any] = field(repr=False)  # the registry manifest's view (metrics, fingerprints)
    loaded_at: str = ""


def request_schema(schema: SchemaSpec, *, target: str, label_column: str | None, id_column: str | None) -> RequestSchema:
    """The request contract derived from the pipeline's schema."""
    skip = {target, label_column, id_column} - {None}
    columns = {name: col for name, col in schema.columns.items() if name not in skip}
    spec = SchemaSpec(columns=columns, max_bad_share=1.0, extra_columns="drop")
    return RequestSchema(spec=spec, id_column=id_column if id_column in schema.columns else None,
                         extra_columns=schema.extra_columns)


def load_bundle(root: Path, pipeline: str) -> ModelBundle:
    """Load the current champion of `pipeline` from the registry, checked against its manifest."""
    import lightgbm as lgb

    from driftline.clock import now_utc
    from driftline.config.params import load_pipeline
    from driftline.errors import DriftlineError
    from driftline.features.pipeline import FittedFeatures
    from driftline.registry.store import Registry

    try:
        cfg = load_pipeline(pipeline, root)
        registry = Registry(root, pipeline)
        champion = registry.champion()
        if champion is None:
            raise BundleError(f"{pipeline} has no champion yet: run `dvc repro` to train and promote one")
        problems = registry.verify(champion.version)
        if problems:
            raise BundleError(f"{pipeline} {champion.version} failed its manifest check, refusing to serve it: {'; '.join(problems)}")
        folder = champion.path
        for name in ("model.txt", "features.json", "model.json"):
            if name not in champion.files:
                raise BundleError(f"{pipeline} {champion.version} lacks {name}; it cannot be served")
        booster = lgb.Booster(model_str=(folder / "model.txt").read_text(encoding="utf-8"))
        fitted = FittedFeatures.from_json(json.loads((folder / "features.json").read_text(encoding="utf-8")))
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except BundleError:
        raise
    except (DriftlineError, OSError, ValueError, KeyError) as exc:  # one error type for the hot-swap watcher
        raise BundleError(str(exc), hint=getattr(exc, "hint", None) or None) from exc

    task = meta.get("task", cfg.task)
    if task != cfg.task:
        raise BundleError(f"{pipeline} {champion.version} was trained for task {task!r}, but params.yaml says {cfg.task!r}")
    names = booster.feature_name()
    if names != list(fitted.feature_columns):
        raise BundleError(f"{pipeline} {champion.version}: model.txt and features.json disagree on the feature columns")

    # Requests are scored on `driftline.features.model_matrix`'s codes. Models trained on that
    # matrix store no pandas levels; older ones, trained on pandas categories, store the levels
    # their codes index, which must be the fitted ones (they always were, for models driftline
    # trained) or the codes would point at other categories.
    stored = booster.pandas_categorical or []
    if stored:
        fitted_levels = [fitted.categorical[name] for name in names if name in fitted.categorical]
        if [list(levels) for levels in stored] != fitted_levels:
            raise BundleError(f"{pipeline} {champion.version}: the category levels in model.txt differ from features.json; "
                              "retrain it (`dvc repro`) to serve it")
    label_column = cfg.label.column if cfg.label.kind in ("column", "rule") else None
    return ModelBundle(
        pipeline=pipeline,
        version=champion.version,
        task=task,
        threshold=float(cfg.model.threshold),
        classes=meta.get("classes"),
        booster=booster,
        fitted=fitted,
        request_schema=request_schema(cfg.schema_, target=cfg.target, label_column=label_column, id_column=cfg.dataset.id),
        feature_columns=list(names),
        info=champion.to_dict(),
        loaded_at=now_utc(),
    )


def _pointer_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class BundleHolder:
    """The current bundle, and the watcher that swaps in a newly promoted champion."""

    def __init__(self, root: Path, pipeline: str, poll_seconds: float = DEFAULT_POLL_SECONDS,
                 on_change: Callable[[BundleHolder, bool], None] | None = None) -> None:
        from driftline.registry.store import Registry

        self.root = Path(root)
        self.pipeline = pipeline
        self.poll_seconds = poll_seconds
        self.on_change = on_change  # called with (self, swapped) after a swap or a refused champion
        self._pointer = Registry(self.root, pipeline).champion_file
        self._signature = _pointer_signature(self._pointer)
        self._current = load_bundle(self.root, pipeline)
        self.last_error: str | None = None
        self.swaps = 0
        self._check_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> ModelBundle:
        """The bundle to use for one whole request: take it once, keep using it."""
        return self._current

    def check(self) -> bool:
        """Swap to the champion on disk if it changed; True when a swap happened."""
        signature = _pointer_signature(self._pointer)
        if signature == self._signature:
            return False
        with self._check_lock:
            if signature == self._signature:
                return False
            try:
                pointed = json.loads(self._pointer.read_text(encoding="utf-8")).get("version")
            except (OSError, ValueError, AttributeError):
                pointed = None  # mid-write is impossible (atomic rename), but a hand edit is not
            if pointed == self._current.version:
                self._signature = signature
                return False
            try:
                bundle = load_bundle(self.root, self.pipeline)
            except BundleError as exc:
                self._signature = signature  # retry only when the pointer changes again
                self.last_error = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}: {exc}"
                log.error("keeping %s %s: the new champion cannot be served: %s", self.pipeline, self._current.version, exc)
                refused = True
            else:
                refused = False
                old, self._current = self._current, bundle  # the swap: one reference assignment
                self._signature = signature
                self.last_error = None
                self.swaps += 1
        if not refused:
            log.info("%s: champion swapped %s -> %s", self.pipeline, old.version, bundle.version)
        if self.on_change is not None:
            self.on_change(self, not refused)
        return not refused

    def start(self) -> None:
        """Poll in a daemon thread until `stop`."""
        if self._thread is not None or self.poll_seconds <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="driftline-champion-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise; the old champion keeps serving
                log.exception("champion watcher: unexpected error")
