"""The `features` config group: fit the declared transforms on train, apply them anywhere.

`fit_features` learns every transform's state on the train split and returns it as a
`FittedFeatures` (plain JSON through `to_json`/`from_json`); `apply_features` replays exactly the
same transforms on valid, test or serving frames and returns the model's input matrix.
`check_columns` is the pure compile-time check of a plan against the dataset schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
    is_timedelta64_dtype,
)
from pydantic import BaseModel, ConfigDict

from driftline.features.specs import TRANSFORM_SPECS, TransformSpec
from driftline.features.transforms import (
    TASKS,
    TRANSFORMS,
    FitContext,
    as_float,
    categorical_dtype,
    encode_categorical,
    learn_levels,
    to_level,
)

__all__ = [
    "TRANSFORM_SPECS",
    "FeaturePlan",
    "FittedFeatures",
    "TransformSpec",
    "apply_features",
    "check_columns",
    "fit_features",
]


class FeaturePlan(BaseModel):
    """The `features` config group: ordered transforms, and columns kept out of the model."""

    model_config = ConfigDict(extra="forbid")

    transforms: list[TransformSpec] = []
    exclude: list[str] = []  # columns never used as features (ids, etc.)


# ---------------------------------------------------------------------------------------------
# Compile time
# ---------------------------------------------------------------------------------------------


def check_columns(plan: FeaturePlan, columns: Mapping[str, str]) -> list[tuple[str, str]]:
    """Check a plan against the schema's columns without data; every problem is returned at once.

    `columns` maps each input column to its kind ("float", "int", "category", "string",
    "datetime", "binary", "bool"). Returns (key_path, message) pairs such as
    ("features.transforms[2].column", "..."); an empty list means the plan fits the schema.
    Kinds are tracked through the transforms, so `log1p` after `categorical` on the same column
    is reported, and a column dropped by an earlier transform counts as gone.
    """
    kinds = dict(columns)
    seen = set(kinds)
    dropped_by: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for i, spec in enumerate(plan.transforms):
        transform = TRANSFORMS[spec.kind]
        base = f"features.transforms[{i}]"
        allowed = transform.accepts(spec)
        reads = transform.reads(spec)
        for key, column in reads:
            if column not in kinds:
                if column in dropped_by:
                    why = f"it was dropped by features.transforms[{dropped_by[column]}]"
                else:
                    why = "neither the schema nor an earlier transform provides it"
                problems.append((f"{base}.{key}", f"unknown column '{column}': {why}"))
            elif allowed is not None and kinds[column] not in allowed:
                problems.append(
                    (
                        f"{base}.{key}",
                        f"{spec.kind} needs a column of kind {_one_of(allowed)}; "
                        f"'{column}' is {kinds[column]}",
                    )
                )
        for key, column, kind in transform.adds(spec):
            if column in kinds:
                problems.append(
                    (f"{base}.{key}", f"{spec.kind} would overwrite existing column '{column}'")
                )
            kinds[column] = kind
            seen.add(column)
        for _, column in reads:
            if column not in kinds:
                continue
            if transform.removes_reads:
                del kinds[column]
                dropped_by[column] = i
            else:
                kinds[column] = transform.kind_after(spec, kinds[column])
    for j, column in enumerate(plan.exclude):
        if column not in seen:
            problems.append((f"features.exclude[{j}]", f"unknown column '{column}'"))
    return problems


def _one_of(kinds: frozenset[str]) -> str:
    ordered = sorted(kinds)
    return ordered[0] if len(ordered) == 1 else "one of " + ", ".join(ordered)


# ---------------------------------------------------------------------------------------------
# Fit and apply
# ---------------------------------------------------------------------------------------------


@dataclass
class FittedFeatures:
    """Everything needed to rebuild the model's input matrix: plain data, JSON round-trippable."""

    plan: dict  # the FeaturePlan as plain data
    states: list[dict]  # fitted state per transform, in plan order
    feature_columns: list[str]  # final model input columns, in order
    categorical: dict[str, list]  # column -> category levels, in code order
    target: str
    task: str
    _specs: list[Any] = field(init=False, repr=False, compare=False)
    _prepared: list[Any] = field(init=False, repr=False, compare=False)
    _dtypes: dict[str, tuple[pd.CategoricalDtype, int]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Built once here so that applying to a single serving row does no per-call setup.
        self._specs = list(FeaturePlan.model_validate(self.plan).transforms)
        if len(self._specs) != len(self.states):
            raise ValueError(
                f"{len(self._specs)} transforms in the plan but {len(self.states)} fitted states"
            )
        self._prepared = [
            TRANSFORMS[spec.kind].prepare(spec, state)
            for spec, state in zip(self._specs, self.states)
        ]
        self._dtypes = {c: categorical_dtype(levels) for c, levels in self.categorical.items()}

    def to_json(self) -> dict:
        return {
            "plan": self.plan,
            "states": self.states,
            "feature_columns": self.feature_columns,
            "categorical": self.categorical,
            "target": self.target,
            "task": self.task,
        }

    @classmethod
    def from_json(cls, data: dict) -> FittedFeatures:
        return cls(
            plan=data["plan"],
            states=data["states"],
            feature_columns=list(data["feature_columns"]),
            categorical=dict(data["categorical"]),
            target=data["target"],
            task=data["task"],
        )


def fit_features(
    train: pd.DataFrame,
    target: str,
    task: str,
    plan: FeaturePlan,
    drop_columns: Sequence[str] = (),
) -> tuple[FittedFeatures, pd.DataFrame]:
    """Fit every transform on the train split; return the fitted state and the train feature matrix.

    The train matrix is built by the same code as `apply_features`, except that target
    encodings are out-of-fold. Feature columns are all columns left after the transforms minus
    the target, `plan.exclude`, `drop_columns` and datetime columns; any string, object or
    category column not made categorical by a transform gets categorical levels learned here.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}' (expected one of {', '.join(TASKS)})")
    if target not in train.columns:
        raise ValueError(f"target column '{target}' is not in the train frame")
    non_string = [c for c in train.columns if not isinstance(c, str)]
    if non_string:
        raise ValueError(f"column names must be strings, got {non_string!r}")
    for i, spec in enumerate(plan.transforms):
        for key, column in TRANSFORMS[spec.kind].reads(spec):
            if column == target:
                raise ValueError(
                    f"features.transforms[{i}].{key}: transforms must not read the target "
                    f"'{target}' (it leaks, and serving requests do not have it)"
                )

    ctx = FitContext(target=train[target], task=task)
    frame = train
    states: list[dict] = []
    for i, spec in enumerate(plan.transforms):
        transform = TRANSFORMS[spec.kind]
        _require_columns(frame, transform, spec, i)
        # Through JSON at once: the state used on train is exactly what serving will load.
        state = json.loads(json.dumps(transform.fit(frame, spec, ctx), allow_nan=False))
        frame = transform.apply_train(frame, spec, state, ctx)
        states.append(state)

    declared = {
        column
        for spec, state in zip(plan.transforms, states)
        if spec.kind == "categorical"
        for column in state["levels"]
    }
    excluded = {target, *plan.exclude, *drop_columns}
    feature_columns: list[str] = []
    categorical: dict[str, list] = {}
    for column in frame.columns:
        series = frame[column]
        if column in excluded or is_datetime64_any_dtype(series.dtype):
            continue
        feature_columns.append(column)
        if isinstance(series.dtype, pd.CategoricalDtype) and column in declared:
            categorical[column] = [to_level(v) for v in series.dtype.categories]
        elif not _is_numeric(series.dtype):
            categorical[column] = learn_levels(series)
    if not feature_columns:
        raise ValueError("no feature columns left after transforms, exclusions and drops")

    fitted = FittedFeatures(
        plan=plan.model_dump(mode="json"),
        states=states,
        feature_columns=feature_columns,
        categorical=json.loads(json.dumps(categorical, allow_nan=False)),
        target=target,
        task=task,
    )
    return fitted, _feature_matrix(frame, fitted)


def apply_features(df: pd.DataFrame, fitted: FittedFeatures) -> pd.DataFrame:
    """Apply fitted transforms to any frame (valid, test, serving; target column optional).

    Returns exactly `fitted.feature_columns`, with the training dtypes (float64, or category
    with the training levels), on `df`'s index. `df` is not modified.
    """
    frame = df
    for i, (spec, prepared) in enumerate(zip(fitted._specs, fitted._prepared)):
        transform = TRANSFORMS[spec.kind]
        if not transform.removes_reads:
            _require_columns(frame, transform, spec, i)
        frame = transform.apply(frame, spec, prepared)
    return _feature_matrix(frame, fitted)


def _require_columns(frame: pd.DataFrame, transform: Any, spec: Any, index: int) -> None:
    missing = [
        f"'{column}' (features.transforms[{index}].{key})"
        for key, column in transform.reads(spec)
        if column not in frame.columns
    ]
    if missing:
        raise KeyError(f"{spec.kind} needs columns missing from the frame: {', '.join(missing)}")


def _is_numeric(dtype: Any) -> bool:
    return not isinstance(dtype, pd.CategoricalDtype) and (
        is_numeric_dtype(dtype) or is_bool_dtype(dtype) or is_timedelta64_dtype(dtype)
    )


def _feature_matrix(frame: pd.DataFrame, fitted: FittedFeatures) -> pd.DataFrame:
    missing = [c for c in fitted.feature_columns if c not in frame.columns]
    if missing:
        raise KeyError(f"feature columns missing from the frame: {', '.join(map(repr, missing))}")
    data: dict[str, Any] = {}
    for column in fitted.feature_columns:
        if column in fitted._dtypes:
            data[column] = encode_categorical(frame[column], *fitted._dtypes[column])
        else:
            data[column] = as_float(frame[column])
    return pd.DataFrame(data, index=frame.index)

