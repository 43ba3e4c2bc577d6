"""The `model` config group: which learner, its parameters, and how long to train.

This module is imported by the config compiler, which must start fast, so it never imports
lightgbm. The names LightGBM accepts are read from `lgbm_params.json`, a file dumped once from
the installed library (regenerate with `python -m driftline.config.model`).
"""

from __future__ import annotations

import difflib
import json
import math
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftline.config.cluster import ClusterSpec
from driftline.config.errors import KeyedErrors
from driftline.config.metrics import LIGHTGBM_METRICS, check_task

PARAMS_FILE = "lgbm_params.json"
INT32_MAX = 2**31 - 1  # LightGBM reads integer parameters into C ints: a larger value overflows inside it
MAX_ROUNDS = 1_000_000  # boosting rounds: far beyond any early-stopped model, short of a run that never ends

# Parameters driftline derives itself; a user value would silently fight the pipeline.
_RESERVED: dict[str, str] = {
    "objective": "driftline sets the objective from the task (binary, regression, multiclass)",
    "metric": "driftline sets the metrics from the task",
    "num_class": "driftline sets num_class from the labels of a multiclass task",
    "num_iterations": "set model.num_boost_round instead",
    "early_stopping_round": "set model.early_stopping_rounds instead",
    "categorical_feature": (
        "driftline marks categorical features from pandas 'category' dtypes set by the features config"
    ),
}
# LightGBM command-line options that name files or modes; driftline passes data in memory,
# and a file named here would be a dependency DVC does not track.
_CLI_ONLY = (
    "task",
    "config",
    "data",
    "valid",
    "input_model",
    "output_model",
    "output_result",
    "convert_model",
    "convert_model_language",
    "label_column",
    "weight_column",
    "group_column",
    "ignore_column",
    "header",
    "save_binary",
)
_RESERVED.update(
    dict.fromkeys(_CLI_ONLY, "it is a LightGBM command-line file option; driftline passes data in memory")
)

@cache
def lightgbm_param_aliases() -> dict[str, list[str]]:
    """{canonical LightGBM parameter: [its names, canonical first]} as shipped with driftline."""
    text = resources.files("driftline.config").joinpath(PARAMS_FILE).read_text(encoding="utf-8")
    return dict(json.loads(text)["params"])


@cache
def _alias_to_param() -> dict[str, str]:
    return {alias: param for param, aliases in lightgbm_param_aliases().items() for alias in aliases}


@cache
def lightgbm_param_ranges() -> dict[str, dict[str, float]]:
    """{canonical LightGBM parameter: {"gt"|"ge"|"lt"|"le": bound}}: the one table of parameter ranges."""
    text = resources.files("driftline.config").joinpath(PARAMS_FILE).read_text(encoding="utf-8")
    return dict(json.loads(text).get("ranges", {}))


_BOUNDS = {"gt": (">", lambda v, b: v > b), "ge": (">=", lambda v, b: v >= b),
           "lt": ("<", lambda v, b: v < b), "le": ("<=", lambda v, b: v <= b)}


def param_range_problem(param: str, value: Any) -> str | None:
    """Why `value` is outside LightGBM's range for `param` (its main name), or None.

    A number given as a string is checked as the number LightGBM would read; a list, each of its items.
    """
    bounds = lightgbm_param_ranges().get(param)
    if bounds is None or value is None or isinstance(value, bool):
        return None
    if isinstance(value, (list, tuple)):
        return next((p for item in value if (p := param_range_problem(param, item)) is not None), None)
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return f"LightGBM parameter '{param}' must be a number, got {value!r}"
    if not isinstance(number, (int, float)):
        return None
    if not math.isfinite(number):
        return f"LightGBM parameter '{param}' must be a finite number, got {value!r}"
    failed = [f"{sign} {_plain(bound)}" for key, bound in bounds.items()
              for sign, holds in [_BOUNDS[key]] if not holds(number, bound)]
    if not failed:
        return None
    wanted = " and ".join(f"{_BOUNDS[key][0]} {_plain(bound)}" for key, bound in bounds.items())
    return f"LightGBM parameter '{param}' must be {wanted}, got {value!r}"


def _plain(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def canonical_param_name(name: str) -> str | None:
    """LightGBM's main name for `name` (itself or an alias), or None if LightGBM does not know it."""
    return _alias_to_param().get(name)


def _is_plain_value(value: Any) -> bool:
    scalar = (bool, int, float, str)
    if isinstance(value, scalar):
        return not (isinstance(value, float) and not math.isfinite(value))
    if isinstance(value, (list, tuple)):
        return all(_is_plain_value(item) and not isinstance(item, (list, tuple)) for item in value)
    return False


class LightGBMParams(BaseModel):
    """LightGBM parameters. `None` means "LightGBM's default" and is not passed to LightGBM.

    Common parameters are typed. Any other key must be a LightGBM parameter name or alias; aliases are
    renamed to LightGBM's main name, so `min_child_samples: 5` becomes `min_data_in_leaf: 5` and is
    checked like it. Every parameter, typed or not, is checked against one table of ranges
    (`lightgbm_param_ranges`, from LightGBM's documented constraints).
    """

    model_config = ConfigDict(extra="allow")

    boosting: Literal["gbdt", "dart", "rf"] | None = None
    num_leaves: int | None = None
    learning_rate: float | None = None
    max_depth: int | None = None  # -1 or <= 0: no limit
    min_data_in_leaf: int | None = None
    min_sum_hessian_in_leaf: float | None = None
    feature_fraction: float | None = None
    bagging_fraction: float | None = None
    bagging_freq: int | None = None
    lambda_l1: float | None = None
    lambda_l2: float | None = None
    min_gain_to_split: float | None = None
    max_bin: int | None = None
    extra_trees: bool | None = None
    is_unbalance: bool | None = None
    scale_pos_weight: float | None = None
    seed: int | None = None
    num_threads: int | None = None
    deterministic: bool | None = None
    verbosity: int = -1

    @model_validator(mode="before")
    @classmethod
    def _check_names(cls, data: Any) -> Any:
        """Rename aliases to main names; report every unknown, reserved, repeated or out-of-range key at once."""
        if not isinstance(data, dict):
            return data
        errors: list[tuple[str, str]] = []
        renamed: dict[str, Any] = {}
        given_as: dict[str, str] = {}
        for key, value in data.items():
            key = str(key)
            param = canonical_param_name(key)
            if param is None:
                errors.append((key, _unknown_message(key)))
                continue
            if param in _RESERVED:
                alias_note = "" if key == param else f" (an alias of '{param}')"
                errors.append(
                    (key, f"LightGBM parameter '{key}'{alias_note} is not allowed here: {_RESERVED[param]}")
                )
                continue
            if param in given_as:
                errors.append(
                    (key, f"LightGBM parameter '{param}' is given twice (as '{given_as[param]}' and '{key}')")
                )
                continue
            if param not in cls.model_fields and value is not None and not _is_plain_value(value):
                errors.append(
                    (key, f"LightGBM parameter '{key}' must be a number, string, bool or a list of them, "
                    f"got {value!r}")
                )
                continue
            problem = param_range_problem(param, value)
            if problem is not None:
                errors.append((key, problem if key == param else f"{problem} ('{key}' is an alias of '{param}')"))
                continue
            given_as[param] = key
            renamed[param] = value
        if errors:
            raise KeyedErrors(errors)
        return renamed

    @model_validator(mode="after")
    def _check_combinations(self) -> LightGBMParams:
        errors: list[str] = []
        if self.bagging_fraction is not None and self.bagging_fraction < 1 and not self.bagging_freq:
            errors.append(
                "bagging_fraction < 1 has no effect unless bagging_freq > 0 (LightGBM ignores it)"
            )
        if self.is_unbalance and self.scale_pos_weight is not None:
            errors.append("set is_unbalance or scale_pos_weight, not both (LightGBM refuses both)")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def to_lightgbm(self) -> dict[str, Any]:
        """The parameters the user set, by LightGBM main name, without the `None` ones."""
        return {key: value for key, value in self.model_dump().items() if value is not None}


def _unknown_message(key: str) -> str:
    # Prefer LightGBM's main names, so 'num_leafs' suggests 'num_leaves', not the alias 'num_leaf'.
    main_names = sorted(lightgbm_param_aliases())
    aliases = sorted(set(_alias_to_param()) - set(main_names))
    close = difflib.get_close_matches(key, main_names, n=1, cutoff=0.6) or difflib.get_close_matches(
        key, aliases, n=1, cutoff=0.6
    )
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown LightGBM parameter '{key}'{hint}"


# The tree learners lightgbm.dask accepts; it replaces any other (say "serial") with "data", with a warning.
DASK_TREE_LEARNERS = ("data", "data_parallel", "feature", "feature_parallel", "voting", "voting_parallel")


class ModelSpec(BaseModel):
    """The `model` config group.

    `engine: dask` trains with `lightgbm.dask` on the cluster `cluster` names (null: a local cluster
    on 127.0.0.1). lightgbm.dask has no early stopping, so `rounds` says where the number of rounds
    comes from: `early_stopping` (the default) trains one machine on `dask_sample_rows` rows of the
    train split with early stopping on the valid split and keeps its best iteration (with the local
    engine, early stopping runs on the whole train split); `given` trains `num_boost_round` rounds,
    with either engine.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["lightgbm"] = "lightgbm"
    engine: Literal["local", "dask"] = "local"
    cluster: ClusterSpec | None = None
    rounds: Literal["early_stopping", "given"] = "early_stopping"
    dask_sample_rows: int = Field(100_000, ge=100, le=INT32_MAX)
    params: LightGBMParams = Field(default_factory=LightGBMParams)
    num_boost_round: int = Field(1000, ge=1, le=MAX_ROUNDS)
    early_stopping_rounds: int = Field(50, ge=1, le=MAX_ROUNDS)
    threshold: float = Field(0.5, gt=0, lt=1)  # decision threshold for binary tasks
    # The train split's metrics per boosting round: none (default: computed once, at the best
    # iteration), a fixed seeded sample of `train_curve_rows` rows, or the full split (costs about as
    # much as the boosting itself at 1M rows). The valid curve is always drawn.
    train_curve: Literal["none", "sample", "full"] = "none"
    train_curve_rows: int = Field(10_000, ge=100, le=INT32_MAX)

    @model_validator(mode="after")
    def _check_engine(self) -> ModelSpec:
        """What lightgbm.dask would silently override, refused up front with the key to change."""
        if self.engine != "dask":
            return self
        errors: list[tuple[str, str]] = []
        params = self.params.to_lightgbm()
        if params.get("num_threads") is not None:
            errors.append(("params.num_threads", "lightgbm.dask trains each worker with that worker's own threads and "
                           "ignores num_threads with engine: dask; set the threads of the workers instead "
                           "(a local cluster runs one thread per worker: model.cluster.workers)"))
        if "num_machines" in params:
            errors.append(("params.num_machines", "lightgbm.dask counts the machines from the cluster's workers; remove it"))
        learner = params.get("tree_learner")
        if learner is not None and learner not in DASK_TREE_LEARNERS:
            errors.append(("params.tree_learner", f"lightgbm.dask trains with one of {', '.join(DASK_TREE_LEARNERS)}, "
                           f"not '{learner}'"))
        if errors:
            raise KeyedErrors(errors)
        return self


def lightgbm_params(spec: ModelSpec, task: str, num_class: int | None, threads: int = 0) -> dict[str, Any]:
    """The full parameter dict for `lightgbm.train`: the user's params plus what the task implies.

    `num_threads` is the user's when set (it always wins), else `threads`: training passes
    `driftline.threads.default_threads()` (the CPUs this process may use, shared among parallel
    jobs); 0 is LightGBM's own "all cores".

    Training is deterministic by default: `deterministic=True`, `seed=0`, and row-wise histogram
    building forced, because LightGBM's timing-based choice between row- and column-wise is
    itself a source of run-to-run differences.
    """
    check_task(task)
    if task == "multiclass":
        if num_class is None or num_class < 2:
            raise ValueError(f"a multiclass task needs num_class >= 2, got {num_class!r}")
    elif num_class is not None and not (task == "binary" and num_class == 2):
        raise ValueError(f"num_class is only for multiclass tasks, got {num_class!r} for {task!r}")

    params: dict[str, Any] = {
        "deterministic": True,
        "seed": 0,
        "num_threads": threads,
    }
    user = spec.params.to_lightgbm()
    if "force_col_wise" not in user and "force_row_wise" not in user:
        params["force_row_wise"] = True
    params.update(user)
    params["objective"] = task
    params["metric"] = list(LIGHTGBM_METRICS[task])
    if task == "multiclass":
        params["num_class"] = num_class
    return dict(sorted(params.items()))


def _dump_param_aliases() -> str:
    """Text of `lgbm_params.json` from the installed LightGBM (run when upgrading LightGBM)."""
    import lightgbm
    from lightgbm.basic import _ConfigAliases

    aliases = _ConfigAliases._get_all_param_aliases()
    kept = json.loads(resources.files("driftline.config").joinpath(PARAMS_FILE).read_text(encoding="utf-8"))
    doc = {
        "_generated": (
            f"Generated from lightgbm {lightgbm.__version__} by `python -m driftline.config.model`; "
            "do not edit by hand."
        ),
        "lightgbm_version": lightgbm.__version__,
        "params": {param: [param, *sorted(set(names) - {param})] for param, names in sorted(aliases.items())},
        # The ranges come from LightGBM's documentation, not its Python package: kept as they are.
        "_ranges": kept.get("_ranges", ""),
        "ranges": kept.get("ranges", {}),
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    from driftline.atomic import write_text

    write_text(Path(__file__).with_name(PARAMS_FILE), _dump_param_aliases())
