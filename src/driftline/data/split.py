"""Split labelled rows into train / valid / test: random (seeded, stratified), by time, or by group. Pure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftline.config.groups import SplitSpec


def _assign(position: np.ndarray, spec: SplitSpec) -> np.ndarray:
    """Map a position in [0, 1) to a split name: the first share is train, then valid, then test."""
    train_end = 1.0 - spec.valid - spec.test
    return np.where(position < train_end, "train", np.where(position < train_end + spec.valid, "valid", "test"))


def assign_splits(df: pd.DataFrame, spec: SplitSpec, target: str, timestamp: str | None, task: str) -> np.ndarray:
    """An array of 'train' / 'valid' / 'test', one per row of `df`."""
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


def split_frame(df: pd.DataFrame, spec: SplitSpec, target: str, timestamp: str | None, task: str) -> dict[str, pd.DataFrame]:
    labels = assign_splits(df, spec, target, timestamp, task)
    return {name: df[labels == name].reset_index(drop=True) for name in ("train", "valid", "test")}
