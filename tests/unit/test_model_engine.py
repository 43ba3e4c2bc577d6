"""model.engine / model.rounds: the checks made before anything runs, the seeded sample, given rounds."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from driftline.config.model import ModelSpec
from driftline.models.train import sample_rows, train_model, training_summary
from tests.unit.test_models import binary_target, make_frame, split


@pytest.mark.parametrize(
    ("params", "key", "words"),
    [
        ({"num_threads": 2}, "params.num_threads", "model.cluster.workers"),
        ({"nthread": 2}, "params.num_threads", "ignores num_threads"),  # an alias is caught as its main name
        ({"num_machines": 3}, "params.num_machines", "counts the machines"),
        ({"tree_learner": "serial"}, "params.tree_learner", "not 'serial'"),
    ],
    ids=["num_threads", "alias", "num_machines", "serial_learner"],
)
def test_engine_dask_refuses_what_lightgbm_dask_would_override(params: dict, key: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ModelSpec.model_validate({"engine": "dask", "params": params})
    assert key in str(caught.value) and words in str(caught.value)
    ModelSpec.model_validate({"engine": "local", "params": params})  # the local engine takes them


def test_engine_dask_defaults_and_a_bad_address() -> None:
    spec = ModelSpec.model_validate({"engine": "dask", "cluster": {"address": "tcp://127.0.0.1:8786"}, "params": {"tree_learner": "voting"}})
    assert (spec.rounds, spec.dask_sample_rows, spec.cluster.address) == ("early_stopping", 100_000, "tcp://127.0.0.1:8786")
    with pytest.raises(ValidationError, match="not a Dask scheduler address"):
        ModelSpec.model_validate({"engine": "dask", "cluster": {"address": "not an address"}})
    with pytest.raises(ValidationError):
        ModelSpec.model_validate({"engine": "spark"})


def test_sample_rows_is_seeded_sorted_and_all_rows_when_small() -> None:
    drawn = sample_rows(10_000, 500, seed=3)
    assert len(drawn) == len(set(drawn)) == 500 and (np.diff(drawn) > 0).all() and drawn.max() < 10_000
    assert (drawn == sample_rows(10_000, 500, seed=3)).all()
    assert not (drawn == sample_rows(10_000, 500, seed=4)).all()
    assert (sample_rows(300, 500, seed=3) == np.arange(300)).all()


def test_rounds_given_trains_exactly_num_boost_round_without_early_stopping() -> None:
    X = make_frame(600, seed=1)
    X_train, y_train, X_valid, y_valid = split(X, binary_target(X, seed=2), 400)
    # a high learning rate overfits within a few rounds, so early stopping would stop long before 80
    params = {"num_leaves": 15, "learning_rate": 0.5, "min_data_in_leaf": 5}
    stopped = train_model(X_train, y_train, X_valid, y_valid, "binary", ModelSpec(params=params, num_boost_round=80, early_stopping_rounds=5))
    given = train_model(X_train, y_train, X_valid, y_valid, "binary", ModelSpec(params=params, num_boost_round=80, rounds="given"))
    assert stopped.booster.current_iteration() < 80
    assert given.booster.current_iteration() == given.best_iteration == 80 and len(given.curves) == 80
    summary = training_summary(given, train_rows=400, valid_rows=200, features=4, seconds=1.0)
    assert summary["best_iteration"] == 80 and summary["step"] == 79 and "dask" not in summary
