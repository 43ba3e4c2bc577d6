"""Split labelled rows into train / valid / test: random (seeded, stratified), by time, or by group. Pure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftline.config.groups import SplitSpec
from driftline.errors import DriftlineError


class SplitError(DriftlineError):
    """The labelled rows cannot make a train / valid / test split a model can learn from."""


def _assign(position: np.ndarray, spec: SplitSpec) -> np.ndarray:
    """Map a position in [0, 1) to a split name: the first share is train, then valid, then test."""
    train_end = 1.0 - spec.valid - spec.test
    return np.where(position < train_end, "train", np.where(position < train_end + spec.valid, "valid", "test"))


def columns_read(spec: SplitSpec, target: str, timestamp: str | None) -> list[str]:
    """The columns `assign_splits` and `check_classes` read: a stage may hand them only these."""
    return list(dict.fromkeys(c for c in (target, timestamp if spec.kind == "time" else None,
                                          spec.group if spec.kind == "group" else None) if c))


def assign_splits(df: pd.DataFrame, spec: SplitSpec, target: str, timestamp: str | None, task: str) -> np.ndarray:
    """An array of 'train' / 'valid' / 'test', one per row of `df` (only `columns_read` of it are read)."""
    n = len(df)
    if n == 0:
        return np.array([], dtype=object)
    if spec.kind == "time":
        # rows with the same timestamp share a position, so one moment never straddles two splits
        position = (df[timestamp].rank(method="min").to_numpy(dtype=np.float64, na_value=np.nan) - 1) / n
    elif spec.kind == "group":
        key = f"driftline{spec.seed:07d}"[-16:].rjust(16, "0")
        hashed = pd.util.hash_pandas_object(df[spec.group].astype("string"), index=False, hash_key=key).to_numpy()
        position = hashed.astype(np.float64) / 2.0**64
    else:
        noise = np.random.default_rng(spec.seed).random(n)
        if spec.stratify and task in ("binary", "multiclass"):
            frame = pd.DataFrame({"y": df[target].to_numpy(), "u": noise})
            rank = frame.groupby("y", sort=True)["u"].rank(method="first").to_numpy()
            size = frame.groupby("y", sort=True)["u"].transform("size").to_numpy()
            position = (rank - 1) / size
        else:
            position = (np.argsort(np.argsort(noise, kind="stable"), kind="stable")) / n
    return _assign(position, spec)


def check_classes(df: pd.DataFrame, target: str, task: str) -> None:
    """A classifier needs two classes among the labelled rows; with one there is nothing to learn,
    and no AUC, log loss or gate comparison can be computed downstream."""
    if task not in ("binary", "multiclass") or df.empty or target not in df.columns:
        return
    counts = df[target].value_counts(dropna=True)
    counts = counts[counts > 0]  # a categorical target lists its unused levels too
    if len(counts) < 2:
        only = f"only one class ({counts.index[0]})" if len(counts) else "no class at all (every value is null)"
        raise SplitError(f"target '{target}' has {only} in the {len(df):,} labelled rows: a {task} model needs at least two",
                         hint="check the label config (label.column / label.rule) and the data, or wait for labels of the other class")


def split_frame(df: pd.DataFrame, spec: SplitSpec, target: str, timestamp: str | None, task: str) -> dict[str, pd.DataFrame]:
    check_classes(df, target, task)
    labels = assign_splits(df, spec, target, timestamp, task)
    return {name: df[labels == name].reset_index(drop=True) for name in ("train", "valid", "test")}


# ----------------------------------------------------------------------------- which rows a model trained on

#: The file of a registered version listing the rows its train and valid splits held, as row keys.
TRAINED_ROWS_FILE = "trained_rows.parquet"


def key_columns(columns: list[str], id_column: str | None) -> list[str]:
    """What identifies a row: the dataset's id column when the rows have it, else every column."""
    return [id_column] if id_column is not None and id_column in columns else sorted(columns)


def row_keys(frame: pd.DataFrame, by: list[str]) -> np.ndarray:
    """A 64-bit key per row from the values of the columns `by`, read as text.

    Keys of the same row agree across splits, reruns and grown data (absorbed batches), since they
    depend on the row's values only, not on its position or on how the split assigned it.
    """
    if frame.empty:
        return np.array([], dtype=np.uint64)
    text = frame[by].astype("string")
    return pd.util.hash_pandas_object(text, index=False).to_numpy(dtype=np.uint64)


def unseen_rows(frame: pd.DataFrame, by: list[str], trained: np.ndarray) -> np.ndarray:
    """Mask of the rows of `frame` whose key is not among `trained` (another model's training rows)."""
    return ~np.isin(row_keys(frame, by), trained)
