"""The model gauges of /metrics follow the champion: a refused champion, then a hot swap.

The app is built in this process on the test's own copy of a reproduced project and called
through httpx's ASGI transport; `holder.check()` (what the watcher thread runs every --poll
seconds) is called by hand, so each step is deterministic.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from driftline.serve.app import ServeSettings, create_app


def get(app: Any, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(call())


def gauges(app: Any) -> dict[tuple[str, frozenset], float]:
    response = get(app, "/metrics")
    assert response.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples
            if s.name.startswith("driftline_model_")}


def model(version: str) -> tuple[str, frozenset]:
    return ("driftline_model_info", frozenset({"pipeline": "credit", "version": version}.items()))


PIPELINE = ("credit", frozenset({"pipeline": "credit"}.items()))
SWAPS = ("driftline_model_swaps_total", PIPELINE[1])
FAILING = ("driftline_model_reload_failing", PIPELINE[1])


def register_copy_of_v1(root: Path) -> str:
    from driftline.registry.store import Registry

    registry = Registry(root, "credit")
    v1 = registry.get("v1")
    files = {name: v1.path / name for name in ("model.txt", "features.json", "model.json", "metrics.json")}
    return registry.register(files, metrics={"note": "a copy"}, data_fingerprint=v1.data_fingerprint,
                             config_fingerprint=v1.config_fingerprint).version


def test_a_refused_champion_and_a_swap_show_in_the_model_gauges(built_project: Path) -> None:
    from driftline.registry.store import Registry

    app = create_app(built_project, "credit", ServeSettings(poll_seconds=0))
    holder = app.state.holder
    registry = Registry(built_project, "credit")
    assert gauges(app) == {model("v0001"): 1, SWAPS: 0, FAILING: 0}

    damaged = register_copy_of_v1(built_project)
    model_txt = registry.get(damaged).path / "model.txt"
    os.chmod(model_txt, 0o644)
    model_txt.write_text(model_txt.read_text() + "\n")  # no longer what its manifest says
    registry.promote(damaged, "test: a damaged champion")
    assert holder.check() is False  # refused: v0001 keeps serving
    health = get(app, "/v1/health").json()
    assert health["reload_failing"] is True and "last_reload_error" not in health  # why names files: behind the token
    assert damaged in get(app, "/v1/model").json()["last_reload_error"]
    assert gauges(app) == {model("v0001"): 1, SWAPS: 0, FAILING: 1}

    good = register_copy_of_v1(built_project)
    registry.promote(good, "test: a good champion")
    assert holder.check() is True
    assert gauges(app) == {model("v0001"): 0, model(good): 1, SWAPS: 1, FAILING: 0}
    app.state.prediction_log.close()
