"""Fit the declared transforms on train, and build the model's input matrix anywhere.

One path from raw columns to the matrix LightGBM sees, used by the featurize stage, the sweep,
the promote gate and the server alike, so serving equals training by construction:

- `fit_features(train, ...)` learns every transform's state on the train split and returns it as
  a `FittedFeatures` (plain JSON through `to_json`/`from_json`) with the train matrix;
- `model_matrix(columns, fitted)` replays the same transforms on any split or request and returns
  the float64 matrix: numeric features as floats, categorical features as their category codes
  (NaN for missing, or for an unseen level when there is no "__other__"). LightGBM is trained on
  this matrix with the categorical columns named (`FittedFeatures.categorical_positions`).

The input is a pandas DataFrame or any mapping of column name -> values (numpy array, list,
pandas Series); it is never modified. DataFrames are only an adapter at the edges:
`features_frame` turns a matrix into a frame with category columns (what the featurize stage
writes), `featurized_matrix` turns such a frame back into the matrix, and `apply_features` is
`model_matrix` as a frame.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftline.config.features import FeaturePlan
from driftline.features.columns import (
    Codes,
    Column,
    Level,
    Table,
    as_float,
    column,
    index_dtype,
    is_numeric,
    learn_levels,
    length,
    to_level,
)
from driftline.features.transforms import TASKS, TRANSFORMS, FitContext

if TYPE_CHECKING:
    from driftline.config.pipeline import PipelineConfig

__all__ = [
    "FittedFeatures",
    "apply_features",
    "featurize",
    "features_frame",
    "featurized_matrix",
    "fit_features",
    "model_matrix",
]

Source = Mapping[str, Any] | pd.DataFrame


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
    _tables: dict[str, Table] = field(init=False, repr=False, compare=False)
    _positions: dict[int, list] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once here (lookup tables, arrays) so that a single serving row does no setup.
        self._specs = list(FeaturePlan.model_validate(self.plan).transforms)
        if len(self._specs) != len(self.states):
            raise ValueError(f"{len(self._specs)} transforms in the plan but {len(self.states)} fitted states")
        self._prepared = [TRANSFORMS[spec.kind].prepare(spec, state) for spec, state in zip(self._specs, self.states)]
        self._tables = {c: Table(levels) for c, levels in self.categorical.items()}
        self._positions = {j: self.categorical[c] for j, c in enumerate(self.feature_columns) if c in self.categorical}

    @property
    def categorical_positions(self) -> dict[int, list]:
        """Position in `feature_columns` of each categorical feature -> its levels, in code order."""
        return self._positions

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


# ---------------------------------------------------------------------------------------------
# The caller's columns
# ---------------------------------------------------------------------------------------------


class _Columns(Mapping[str, Column]):
    """The working columns of one fit or apply: input columns, read on first use, plus the ones
    transforms made or replaced, minus the dropped ones. Nothing here writes to the input."""

    def __init__(self, source: Source) -> None:
        self._source = source
        # DataFrame columns straight from their blocks: no pandas Series built per column.
        self._frame = isinstance(source, pd.DataFrame) and hasattr(source, "_get_column_array")
        self._made: dict[str, Column] = {}
        self._dropped: set[str] = set()
        self.lengths: set[int] = set()

    def _read(self, name: str) -> Any:
        if self._frame:
            loc = self._source.columns.get_loc(name)  # KeyError when absent
            if isinstance(loc, (int, np.integer)):
                return self._source._get_column_array(int(loc))
        return self._source[name]

    def __getitem__(self, name: str) -> Column:
        found = self._made.get(name)
        if found is not None:
            return found
        if name in self._dropped:
            raise KeyError(name)
        found = self._made[name] = column(self._read(name))
        self.lengths.add(length(found))
        if len(self.lengths) > 1:
            raise ValueError(f"columns differ in length: {sorted(self.lengths)} (at '{name}')")
        return found

    def __contains__(self, name: object) -> bool:
        if name in self._made:
            return True
        return name not in self._dropped and name in (self._source.columns if self._frame else self._source)

    def __iter__(self) -> Any:
        return iter(self._made)

    def __len__(self) -> int:
        return len(self._made)

    def update(self, new: Mapping[str, Column]) -> None:
        self._made.update(new)

    def drop(self, names: Iterable[str]) -> None:
        for name in names:
            self._made.pop(name, None)
            self._dropped.add(name)

    def read_all(self) -> None:
        """Read every input column, in the input's order (fitting decides the feature columns)."""
        for name in list(self._source.columns if isinstance(self._source, pd.DataFrame) else self._source):
            self[name]


def _require(cols: _Columns, spec: Any, index: int) -> None:
    missing = [f"'{c}' (features.transforms[{index}].{key})" for key, c in spec.reads() if c not in cols]
    if missing:
        raise KeyError(f"{spec.kind} needs columns missing from the frame: {', '.join(missing)}")


def _encode(cols: Mapping[str, Column], feature_columns: Sequence[str], tables: Mapping[str, Table],
            lengths: set[int]) -> np.ndarray:
    """The model's float64 matrix from the final columns: floats, and codes for categoricals."""
    missing = [c for c in feature_columns if c not in cols]
    if missing:
        raise KeyError(f"feature columns missing from the frame: {', '.join(map(repr, missing))}")
    finals = [cols[c] for c in feature_columns]
    lengths = lengths | {length(c) for c in finals}
    if len(lengths) > 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    out = np.empty((lengths.pop() if lengths else 0, len(finals)), dtype=np.float64)
    for j, (name, col) in enumerate(zip(feature_columns, finals)):
        table = tables.get(name)
        if table is None:
            out[:, j] = as_float(col, name)
        else:
            codes = table.positions(col, unseen=table.other, missing=-1)
            out[:, j] = codes
            out[codes < 0, j] = np.nan
    return out


# ---------------------------------------------------------------------------------------------
# Fit and apply
# ---------------------------------------------------------------------------------------------


def fit_features(
    train: Source,
    target: str,
    task: str,
    plan: FeaturePlan,
    drop_columns: Sequence[str] = (),
) -> tuple[FittedFeatures, np.ndarray]:
    """Fit every transform on the train split; return the fitted state and the train matrix.

    The train matrix is what `model_matrix` gives, except that target encodings are out of
    fold. Feature columns are all columns left after the transforms minus the target,
    `plan.exclude`, `drop_columns` and datetime columns; any text, object or category column not
    made categorical by a transform gets categorical levels learned here.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}' (expected one of {', '.join(TASKS)})")
    names = list(train.columns if isinstance(train, pd.DataFrame) else train)
    if target not in names:
        raise ValueError(f"target column '{target}' is not in the train frame")
    non_string = [c for c in names if not isinstance(c, str)]
    if non_string:
        raise ValueError(f"column names must be strings, got {non_string!r}")
    for i, spec in enumerate(plan.transforms):
        for key, name in spec.reads():
            if name == target:
                raise ValueError(
                    f"features.transforms[{i}].{key}: transforms must not read the target "
                    f"'{target}' (it leaks, and serving requests do not have it)"
                )

    cols = _Columns(train)
    cols.read_all()
    ctx = FitContext(target=cols[target], target_name=target, task=task)
    states: list[dict] = []
    for i, spec in enumerate(plan.transforms):
        transform = TRANSFORMS[spec.kind]
        _require(cols, spec, i)
        # Through JSON at once: the state used on train is exactly what serving will load.
        state = json.loads(json.dumps(transform.fit(cols, spec, ctx), allow_nan=False))
        if spec.removes_reads:
            cols.drop(name for _, name in spec.reads())
        else:
            cols.update(transform.apply_train(cols, spec, state, ctx))
        states.append(state)

    declared = {name for spec, state in zip(plan.transforms, states) if spec.kind == "categorical" for name in state["levels"]}
    excluded = {target, *plan.exclude, *drop_columns}
    feature_columns: list[str] = []
    categorical: dict[str, list[Level]] = {}
    for name, col in cols.items():
        if name in excluded or (not isinstance(col, Codes) and col.dtype.kind == "M"):
            continue
        feature_columns.append(name)
        if isinstance(col, Codes) and name in declared:
            categorical[name] = [to_level(v) for v in col.levels]
        elif not is_numeric(col):
            categorical[name] = learn_levels(col)
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
    return fitted, _encode(cols, fitted.feature_columns, fitted._tables, cols.lengths)


def model_matrix(source: Source, fitted: FittedFeatures) -> np.ndarray:
    """The model's float64 input, shape (rows, len(fitted.feature_columns)), from raw columns.

    `source` is a DataFrame or a mapping of column -> values, with the target or not. Extra
    columns are ignored; a column a transform or the model needs but `source` lacks raises
    KeyError naming it and the transform's config key.
    """
    cols = _Columns(source)
    for i, (spec, prepared) in enumerate(zip(fitted._specs, fitted._prepared)):
        if spec.removes_reads:
            cols.drop(name for _, name in spec.reads())
            continue
        _require(cols, spec, i)
        cols.update(TRANSFORMS[spec.kind].apply(cols, spec, prepared))
    return _encode(cols, fitted.feature_columns, fitted._tables, cols.lengths)


def featurize(cfg: PipelineConfig, splits: Mapping[str, Source]) -> tuple[FittedFeatures, dict[str, np.ndarray]]:
    """A pipeline's features: fit on `splits["train"]` only, and the model matrix of every split.

    The row id and the timestamp are never features (the timestamp feeds date parts, if any).
    """
    drop = [c for c in (cfg.dataset.id, cfg.dataset.timestamp) if c]
    fitted, train_matrix = fit_features(splits["train"], cfg.target, cfg.task, cfg.features, drop_columns=drop)
    matrices = {name: train_matrix if name == "train" else model_matrix(frame, fitted) for name, frame in splits.items()}
    return fitted, matrices


# ---------------------------------------------------------------------------------------------
# The DataFrame adapter
# ---------------------------------------------------------------------------------------------


def category_dtype(levels: Sequence[Level]) -> pd.CategoricalDtype:
    """The pandas category dtype whose codes are positions in `levels`."""
    return pd.CategoricalDtype(categories=pd.Index(list(levels), dtype=index_dtype(levels)))


def features_frame(X: np.ndarray, feature_columns: Sequence[str], categorical: Mapping[str, Sequence[Level]],
                   index: pd.Index | None = None) -> pd.DataFrame:
    """A model matrix as a DataFrame: float columns, and category columns with the fitted levels."""
    data: dict[str, Any] = {}
    for j, name in enumerate(feature_columns):
        levels = categorical.get(name)
        if levels is None:
            data[name] = X[:, j]
        else:
            codes = np.where(np.isnan(X[:, j]), -1, X[:, j]).astype(np.int64)
            data[name] = pd.Categorical.from_codes(codes, dtype=category_dtype(levels))
    return pd.DataFrame(data, index=index)


def featurized_matrix(frame: Source, feature_columns: Sequence[str], categorical: Mapping[str, Sequence[Level]]) -> np.ndarray:
    """`features_frame`'s output (say, read back from parquet) as the model matrix again."""
    cols = _Columns(frame)
    return _encode(cols, list(feature_columns), {c: Table(levels) for c, levels in categorical.items()}, cols.lengths)


def apply_features(df: pd.DataFrame, fitted: FittedFeatures) -> pd.DataFrame:
    """`model_matrix` as a DataFrame on `df`'s index (category columns with the fitted levels)."""
    return features_frame(model_matrix(df, fitted), fitted.feature_columns, fitted.categorical, index=df.index)
