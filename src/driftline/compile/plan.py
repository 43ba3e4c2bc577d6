"""What the next `dvc repro` will run, and why. Pure: dvc.yaml, dvc.lock, params.yaml and
`dvc status --json` in as data; one `StagePlan` per stage out.

DVC decides; this explains. Direct reasons come from `dvc status` (changed files, outputs,
commands) and from comparing dvc.lock's recorded params with params.yaml key by key (so a
reason reads `credit.model.params.num_leaves: 31 -> 63`, not just `credit.model`). A stage
downstream of one that reruns is listed as running after it: DVC still skips it if the
upstream outputs come out byte-identical. An `always_changed` stage (the monitor) runs every
time but does not make its dependants rerun unless its outputs' bytes change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from driftline.config.locate import value_at

PARAMS_FILE = "params.yaml"


@dataclass
class ParamChange:
    key: str
    old: Any
    new: Any


@dataclass
class StagePlan:
    stage: str
    runs: bool = False
    reasons: list[str] = field(default_factory=list)
    params: list[ParamChange] = field(default_factory=list)
    deps: dict[str, str] = field(default_factory=dict)  # path -> modified / deleted / new
    after: list[str] = field(default_factory=list)      # upstream stages that rerun first

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_MISSING = "(absent)"


def lookup(params: Mapping[str, Any], dotted: str) -> Any:
    return value_at(params, dotted, _MISSING)


def leaf_changes(key: str, old: Any, new: Any) -> list[ParamChange]:
    """Leaf-level differences between two values of one params key."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changes = []
        for sub in sorted(set(old) | set(new), key=str):
            changes.extend(leaf_changes(f"{key}.{sub}", old.get(sub, _MISSING), new.get(sub, _MISSING)))
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new)) for c in leaf_changes(f"{key}[{i}]", a, b)]
    return [] if old == new else [ParamChange(key, old, new)]


def _param_keys(entry: Any) -> list[str]:
    """dvc.yaml `params:` items: `key`, or `{file: [keys]}` for params.yaml."""
    keys: list[str] = []
    for item in entry or []:
        if isinstance(item, str):
            keys.append(item)
        elif isinstance(item, Mapping):
            keys.extend(k for k in item.get(PARAMS_FILE, []) or [])
    return keys


def _dep_paths(stage: Mapping[str, Any]) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps") or []]


def _out_paths(stage: Mapping[str, Any]) -> list[str]:
    paths = []
    for section in ("outs", "metrics", "plots"):
        for item in stage.get(section) or []:
            paths.append(item if isinstance(item, str) else next(iter(item)))
    return paths


def _feeds(out: str, dep: str) -> bool:
    out, dep = out.rstrip("/"), dep.rstrip("/")
    return out == dep or dep.startswith(out + "/") or out.startswith(dep + "/")


def make_plan(
    dvc_yaml: Mapping[str, Any],
    dvc_lock: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    status: Mapping[str, Any],
) -> list[StagePlan]:
    """One plan per stage of dvc.yaml, in its order (the compiler writes them upstream first)."""
    stages: Mapping[str, Any] = dvc_yaml.get("stages") or {}
    locked: Mapping[str, Any] = (dvc_lock or {}).get("stages") or {}
    plans = {name: StagePlan(name) for name in stages}

    for name, stage in stages.items():
        plan = plans[name]
        lock = locked.get(name)
        if lock is None:
            plan.reasons.append("never ran (no entry in dvc.lock)")
        else:
            recorded = (lock.get("params") or {}).get(PARAMS_FILE) or {}
            for key in _param_keys(stage.get("params")):
                plan.params.extend(leaf_changes(key, recorded.get(key, _MISSING), lookup(params, key)))
        for item in status.get(name) or []:
            if item == "always changed":
                plan.reasons.append("always runs (always_changed)")
            elif isinstance(item, str):
                plan.reasons.append(item)
            elif isinstance(item, Mapping):
                for kind, changed in item.items():
                    if kind == "changed command":
                        plan.reasons.append("its command changed")
                    elif isinstance(changed, Mapping):
                        for path, change in changed.items():
                            if path == PARAMS_FILE:
                                continue  # explained key by key from dvc.lock above
                            if kind == "changed deps":
                                plan.deps[path] = str(change)
                            else:
                                plan.reasons.append(f"output {path} {change}")
        for change in plan.params:
            plan.reasons.append(f"param {change.key}: {_show(change.old)} -> {_show(change.new)}")
        for path, change in plan.deps.items():
            plan.reasons.append(f"dep {path} {change}")
        plan.runs = bool(plan.reasons)

    always = {name for name, stage in stages.items() if stage.get("always_changed")}
    for name, stage in stages.items():  # upstream first, so one pass propagates
        deps = _dep_paths(stage)
        for upstream, plan in plans.items():
            if upstream == name or upstream in always or not plan.runs:
                continue
            if any(_feeds(out, dep) for out in _out_paths(stages[upstream]) for dep in deps):
                plans[name].after.append(upstream)
        if plans[name].after and name not in always:  # an always-running stage runs anyway: nothing to add
            plans[name].runs = True
            plans[name].reasons.append(f"after {', '.join(plans[name].after)} (DVC skips it if their outputs come out byte-identical)")
    return list(plans.values())


def _show(value: Any) -> str:
    if value == _MISSING:
        return "(absent)"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
