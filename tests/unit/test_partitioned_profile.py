"""The exact merge of per-partition profiles equals the profile of all rows in one frame, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    ProfileError,
    merge_profiles,
    profile_frame,
    profiles_to_dict,
)

KINDS = {"amount": "numeric", "rate": "numeric", "count": "numeric", "empty": "numeric",
         "region": "categorical", "grade": "categorical", "flag": "binary"}


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(8, 1.5, rows)
    amount[rng.random(rows) < 0.05] = np.nan
    amount[rng.random(rows) < 0.01] = np.inf
    amount[rng.random(rows) < 0.01] = -np.inf
    rate = rng.normal(0, 1, rows) * 10.0 ** rng.integers(-3, 9, rows)  # many magnitudes: float sums depend on their order
    count = pd.array(rng.integers(0, 5, rows), dtype="Int64")
    count[rng.random(rows) < 0.1] = pd.NA
    region = pd.Series(rng.choice(["north", "south", "east", "west"], rows), dtype="string")
    region[rng.random(rows) < 0.05] = pd.NA
    grade = pd.Categorical(rng.choice(["A", "B", "C"], rows), categories=["A", "B", "C", "D"])
    flag = rng.random(rows) < 0.3
    amount[rng.random(rows) < 0.05] = -0.0  # a sort orders -0.0 and 0.0 as they come: stored as 0.0
    amount[rng.random(rows) < 0.05] = 0.0
    return pd.DataFrame({"amount": amount, "rate": rate, "count": count, "empty": np.full(rows, np.nan),
                         "region": region, "grade": grade, "flag": flag})


def split(df: pd.DataFrame, sizes: list[int]) -> list[pd.DataFrame]:
    assert sum(sizes) == len(df)
    bounds = np.cumsum([0, *sizes])
    return [df.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds[:-1], bounds[1:])]


def assert_identical(merged: dict, whole: dict) -> None:
    assert sorted(merged) == sorted(whole)
    for name, expected in whole.items():
        got = merged[name]
        assert type(got) is type(expected), name
        assert (got.n, got.n_missing, got.kind) == (expected.n, expected.n_missing, expected.kind), name
        if isinstance(expected, NumericProfile):
            assert got.sorted_values.dtype == expected.sorted_values.dtype
            assert np.array_equal(got.sorted_values, expected.sorted_values), name
            assert got.sorted_values.tobytes() == expected.sorted_values.tobytes(), name
            # == on floats, not approx: the same bits
            assert (got.mean, got.std, got.iqr) == (expected.mean, expected.std, expected.iqr), name
            assert got.quantiles == expected.quantiles, name
            assert got.psi_bin_counts == expected.psi_bin_counts, name
            assert got.approximation == expected.approximation, name
        else:
            assert dict(got.counts) == dict(expected.counts), name
    # and so the stored documents are identical too
    assert profiles_to_dict(merged)[0] == profiles_to_dict(whole)[0]


@pytest.mark.parametrize("sizes", [[1000, 1000, 1000], [1, 2499, 500], [700, 0, 2300], [3000]],
                         ids=["even", "uneven", "empty-partition", "one-partition"])
def test_merged_partitions_equal_the_whole_frame_bit_for_bit(sizes):
    df = frame(3000, seed=1)
    parts = [profile_frame(part, KINDS) for part in split(df, sizes)]

    assert_identical(merge_profiles(parts), profile_frame(df, KINDS))


def test_the_merge_does_not_depend_on_partition_order():
    df = frame(2000, seed=2)
    parts = [profile_frame(part, KINDS) for part in split(df, [300, 900, 800])]

    assert_identical(merge_profiles(parts[::-1]), profile_frame(df, KINDS))


def test_max_values_applies_to_the_merged_column_as_profile_frame_does():
    df = frame(5000, seed=3)
    parts = [profile_frame(part, KINDS) for part in split(df, [2000, 2000, 1000])]

    merged = merge_profiles(parts, max_values=100)

    assert merged["amount"].sorted_values.size == 100 and merged["amount"].approximation is not None
    assert_identical(merged, profile_frame(df, KINDS, max_values=100))


def test_sums_are_not_combined_from_partition_means():
    """The naive merge (weighted partition means) rounds differently on this column; the exact one does not."""
    df = frame(3000, seed=4)
    parts = [profile_frame(part, {"rate": "numeric"}) for part in split(df, [1, 1999, 1000])]
    whole = profile_frame(df, {"rate": "numeric"})["rate"]
    weighted = sum(p["rate"].mean * p["rate"].n_values for p in parts) / whole.n_values

    assert merge_profiles(parts)["rate"].mean == whole.mean
    assert weighted != whole.mean  # else this column would not tell the two merges apart


def test_binary_levels_in_different_encodings_merge_as_one_level():
    parts = [profile_frame(pd.DataFrame({"flag": [True, False, True]}), {"flag": "binary"}),
             profile_frame(pd.DataFrame({"flag": ["true", "False", None]}), {"flag": "binary"}),
             profile_frame(pd.DataFrame({"flag": [1.0, 0.0, np.nan]}), {"flag": "binary"})]

    merged = merge_profiles(parts)["flag"]

    assert isinstance(merged, CategoricalProfile)
    assert (dict(merged.counts), merged.n, merged.n_missing) == ({"0": 3, "1": 4}, 9, 2)


def test_partitions_that_disagree_are_refused_with_the_column_named():
    numeric = profile_frame(pd.DataFrame({"x": [1.0, 2.0]}), {"x": "numeric"})
    categorical = profile_frame(pd.DataFrame({"x": ["a", "b"]}), {"x": "categorical"})
    other = profile_frame(pd.DataFrame({"y": [1.0]}), {"y": "numeric"})

    with pytest.raises(ProfileError, match="column 'x': partitions disagree on its kind"):
        merge_profiles([numeric, categorical])
    with pytest.raises(ProfileError, match="partition 1 has columns"):
        merge_profiles([numeric, other])
    with pytest.raises(ProfileError, match="no partitions"):
        merge_profiles([])


def test_a_sketched_partition_cannot_be_merged_exactly():
    parts = [profile_frame(pd.DataFrame({"x": np.arange(50.0)}), {"x": "numeric"}, max_values=10)] * 2

    with pytest.raises(ProfileError, match="column 'x': a part stores a sketch"):
        merge_profiles(parts)


def test_sketched_partitions_merge_within_the_bound_and_keep_categories_exact(tmp_path):
    """`monitor.sketch: kll` on partitioned data: each partition sketches its numeric columns, the
    driver merges the sketches (a few kB each, whatever the rows) and the categories exactly."""
    from driftline.drift.partitioned import file_partitions, profile_partition
    from driftline.drift.sketch import merge_sketches, sorted_view

    df = frame(60_000, seed=5)
    files = []
    for i, part in enumerate(split(df, [20_000, 25_000, 15_000])):
        files.append(tmp_path / f"part-{i}.parquet")
        part.to_parquet(files[-1])
    parts = [profile_partition(p, KINDS, sketch_k=200) for p in file_partitions(files)]
    merged = merge_profiles(parts, merge_sketched=merge_sketches)
    whole = profile_frame(df, KINDS)

    assert sorted(merged) == sorted(whole)
    amount = merged["amount"]
    assert type(amount).__name__ == "SketchProfile" and 0 < amount.error_bound < 0.014
    assert (amount.n, amount.n_missing) == (whole["amount"].n, whole["amount"].n_missing)
    exact = whole["amount"].sorted_values
    view, points = sorted_view(amount), np.quantile(exact, np.linspace(0.01, 0.99, 99))
    ranks = view.count_at_most(points) / view.n
    assert np.abs(ranks - np.searchsorted(exact, points, side="right") / exact.size).max() <= amount.error_bound
    for name in ("region", "grade", "flag"):
        assert dict(merged[name].counts) == dict(whole[name].counts), name
    with pytest.raises(ProfileError, match="no merge for a SketchProfile"):
        merge_profiles(parts)  # the exact merge never takes a sketch for an exact profile
