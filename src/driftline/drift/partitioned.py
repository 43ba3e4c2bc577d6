"""Drift profiles of partitioned data: one task per Parquet partition on a dask.distributed cluster, merged exactly.

A partition is one Parquet file, or some row groups of one. Each task reads only the monitored
columns of its partition and profiles them with `profile_frame` (the same `finite_sorted` and
`category_counts` rules as in memory); the driver merges the partition profiles with
`merge_profiles`. The merged profile is bit for bit the one `profile_frame` gives on all the rows
in one frame, because the merge keeps every sorted value and computes mean, std, quantiles and
PSI bins from the merged array.

What that costs: workers hold one partition each, but the driver holds every partition's sorted
values at the end (and the merged copy), so the exact merge bounds the workers' memory, not the
driver's. With `monitor.sketch: kll` each task returns KLL sketches of its numeric columns
instead (a few kB a column, `driftline.drift.sketch`), so the driver's memory stays bounded too.

`profile_partition` is the pure core a worker runs (plus the read of its own partition);
`profile_partitions` is the edge that starts or joins the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from driftline.drift.profile import Profile, ProfileError, merge_profiles, profile_frame
from driftline.drift.sketch import merge_sketches, sketch_frame

if TYPE_CHECKING:
    import pandas as pd

    from driftline.config.cluster import ClusterSpec


@dataclass(frozen=True)
class Partition:
    """One unit of work: a Parquet file, or only the listed row groups of it."""

    path: str
    row_groups: tuple[int, ...] | None = None


def file_partitions(files: Sequence[str | Path]) -> list[Partition]:
    """One partition per file."""
    return [Partition(str(f)) for f in files]


def row_group_partitions(path: str | Path) -> list[Partition]:
    """One partition per row group of one Parquet file (pyarrow writes up to 1Mi rows per group)."""
    import pyarrow.parquet as pq

    groups = pq.ParquetFile(path).metadata.num_row_groups
    return [Partition(str(path), (g,)) for g in range(groups)] or [Partition(str(path))]


def read_partition(partition: Partition, columns: Sequence[str]) -> pd.DataFrame:
    """The `columns` of one partition; a column the file lacks is all missing (as `pandas.concat` fills it).

    Row groups come back through pyarrow's own conversion (strings as object, not StringDtype):
    the values are the same, and profiles do not depend on the dtype they arrive in.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    file = pq.ParquetFile(partition.path)
    present = [c for c in columns if c in file.schema_arrow.names]
    if partition.row_groups is None:
        frame = pd.read_parquet(partition.path, engine="pyarrow", columns=present)
    else:
        frame = file.read_row_groups(list(partition.row_groups), columns=present).to_pandas()
    for column in columns:
        if column not in frame.columns:
            frame[column] = pd.Series([None] * len(frame), dtype=object, index=frame.index)
    return frame


def profile_partition(partition: Partition, kinds: Mapping[str, str], sketch_k: int | None = None) -> dict[str, Profile]:
    """The profile of one partition: exact (every finite value kept, so partitions merge exactly), or
    with numeric columns as KLL sketches of size `sketch_k` (`monitor.sketch: kll`), which merge
    within their rank-error bound and keep the driver's memory bounded."""
    frame = read_partition(partition, sorted(kinds))
    if sketch_k is None:
        return profile_frame(frame, kinds)
    return sketch_frame(frame, kinds, sketch_k)


def profile_partitions(partitions: Sequence[Partition], kinds: Mapping[str, str], *, cluster: ClusterSpec | None,
                       max_values: int | None = None, sketch_k: int | None = None,
                       key: str = "monitor.cluster.address") -> dict[str, Profile]:
    """Profile every partition on the cluster (`cluster.address`, or a local one on 127.0.0.1) and merge.

    Exact (`sketch_k` None): equal to `profile_frame(<all rows>, kinds, max_values=max_values)`.
    Sketched: numeric columns merged with `merge_sketches`, categories exactly. `key` names the
    config key of the address, for the error when no scheduler answers there.
    """
    from driftline.cluster import dask_client
    from driftline.threads import usable_cpus

    if not partitions:
        raise ProfileError("no partitions to profile", hint="check that the data source lists at least one Parquet file")
    address = cluster.address if cluster is not None else None
    workers = min((cluster.workers if cluster is not None else None) or usable_cpus(), len(partitions))
    with dask_client(address, workers=workers, key=key) as client:
        futures = client.map(profile_partition, list(partitions), kinds=dict(kinds), sketch_k=sketch_k, pure=False)
        parts = client.gather(futures)
    return merge_profiles(parts, max_values=max_values, merge_sketched=merge_sketches)

