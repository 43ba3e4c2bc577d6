"""The credit pipeline as one hand-written script: the baseline `bench_pipeline.py` holds `dvc repro` against.

    python benchmarks/pipeline_script.py [--project DIR] [--out DIR] [--rows N]

What a competent data scientist would write in one file with pandas, pandera and LightGBM, doing
the work `dvc repro credit-evaluate` does: the same raw rows (driftline's built-in generator, the
input, not part of the pipeline's logic, is the only thing imported from driftline), a pandera
schema equal to the credit schema (failing rows set aside), the label, the same stratified random
split, the same nine feature transforms fitted on train, LightGBM with early stopping on valid,
and the test metrics. Source, split and model settings come from the compiled `params.yaml` of
`--project` (the demo's values when it has none); the schema and the transforms are written out
here, as such a script would have them. Writes `model.txt` and `metrics.json` to `--out` and
prints one JSON line: the test AUC, the best iteration and the seconds of each phase.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# The threads policy driftline trains with: OpenMP's waiting threads sleep (set before LightGBM loads),
# and as many threads as CPUs this process may use.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pandera.pandas as pa  # noqa: E402
import yaml  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from driftline.data.generator import generate_loans  # noqa: E402  (the input, as the ingest stage gets it)

DEMO = {  # the demo's credit settings, when no compiled params.yaml is given
    "dataset": {"source": {"rows": 50_000, "seed": 7, "start": "2024-01-01", "end": "2025-12-31", "drift": "none",
                           "strength": 1.0, "batch": 0}},
    "split": {"valid": 0.15, "test": 0.15, "seed": 0},
    "model": {"params": {"num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 50, "feature_fraction": 0.9,
                         "bagging_fraction": 0.9, "bagging_freq": 1, "lambda_l2": 1.0, "seed": 0, "verbosity": -1},
              "num_boost_round": 1000, "early_stopping_rounds": 50, "threshold": 0.3},
}
EMPLOYMENT = ["salaried", "self_employed", "unemployed", "retired", "student"]
HOME = ["rent", "own", "mortgage"]
REGION = ["north", "south", "east", "west", "central", "coastal", "mountain", "metro"]
PURPOSE = ["car", "home_improvement", "debt_consolidation", "education", "medical", "business"]

SCHEMA = pa.DataFrameSchema(
    {
        "application_id": pa.Column(str, nullable=False, unique=True),
        "applied_at": pa.Column("datetime64[ns]", nullable=False),
        "age": pa.Column(int, pa.Check.in_range(18, 100), nullable=False),
        "income": pa.Column(float, pa.Check.ge(0), nullable=True),
        "employment": pa.Column(pa.Category, pa.Check.isin(EMPLOYMENT), nullable=False),
        "home_ownership": pa.Column(pa.Category, pa.Check.isin(HOME), nullable=False),
        "region": pa.Column(pa.Category, pa.Check.isin(REGION), nullable=False),
        "purpose": pa.Column(pa.Category, pa.Check.isin(PURPOSE), nullable=False),
        "loan_amount": pa.Column(float, pa.Check.ge(0), nullable=False),
        "term_months": pa.Column(int, pa.Check.isin([36, 60]), nullable=False),
        "credit_score": pa.Column("Int64", pa.Check.in_range(300, 850), nullable=True),
        "debt_to_income": pa.Column(float, pa.Check.ge(0), nullable=False),
        "open_accounts": pa.Column(int, pa.Check.ge(0), nullable=False),
        "delinquencies_2y": pa.Column(int, pa.Check.ge(0), nullable=False),
        "interest_rate": pa.Column(float, pa.Check.in_range(0, 100), nullable=False),
        "default": pa.Column(int, pa.Check.isin([0, 1]), nullable=True),
    },
    strict="filter",  # extra columns dropped, as the credit schema's `extra_columns: drop`
    coerce=False,
)
MAX_BAD_SHARE = 0.01
TARGET = "default"


def settings(project: Path | None) -> dict:
    if project is None or not (project / "params.yaml").exists():
        return DEMO
    return yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))["credit"]


def validate(raw: pd.DataFrame) -> pd.DataFrame:
    try:
        return SCHEMA.validate(raw, lazy=True)
    except pa.errors.SchemaErrors as exc:
        bad = exc.failure_cases["index"].dropna().astype("int64").unique()
        if len(bad) > MAX_BAD_SHARE * len(raw):
            raise SystemExit(f"{len(bad)} of {len(raw)} rows fail the schema") from None
        return SCHEMA.validate(raw.drop(index=bad), lazy=True).reset_index(drop=True)


def split(df: pd.DataFrame, valid: float, test: float, seed: int) -> dict[str, pd.DataFrame]:
    """Stratified random split: within each class, rows ranked by a seeded uniform draw."""
    u = np.random.default_rng(seed).random(len(df))
    by_class = pd.Series(u).groupby(df[TARGET].to_numpy())
    position = ((by_class.rank(method="first") - 1) / by_class.transform("size")).to_numpy()
    train_end = 1.0 - valid - test
    part = np.where(position < train_end, 0, np.where(position < train_end + valid, 1, 2))
    return {name: df[part == i].reset_index(drop=True) for i, name in enumerate(("train", "valid", "test"))}


def fit_transforms(train: pd.DataFrame) -> dict:
    """Everything the features learn, from the train split only."""
    state = {
        "income_median": float(train["income"].median()),
        "dti_bounds": (float(train["debt_to_income"].quantile(0.001)), float(train["debt_to_income"].quantile(0.999))),
        "levels": {},
    }
    for col in ("employment", "home_ownership", "purpose"):
        counts = train[col].value_counts()
        kept = sorted(str(v) for v, n in counts.items() if n >= 20)
        state["levels"][col] = kept + (["__other__"] if len(kept) < (counts > 0).sum() else [])
    state["levels"]["region"] = sorted(str(v) for v, n in train["region"].value_counts().items() if n > 0)
    # target encoding of region, m-estimate with smoothing 20: full-train values for valid/test...
    y = train[TARGET].to_numpy(np.float64)
    region = train["region"].astype(str).to_numpy()
    prior = y.mean()
    stats = pd.DataFrame({"y": y, "r": region}).groupby("r")["y"].agg(["sum", "count"])
    state["te_prior"] = prior
    state["te"] = ((stats["sum"] + 20.0 * prior) / (stats["count"] + 20.0)).to_dict()
    # ... and out of fold on train itself (5 folds, seed 0)
    fold = np.random.default_rng(0).permutation(len(train)) % 5
    cells = pd.DataFrame({"y": y, "r": region, "f": fold}).groupby(["r", "f"])["y"].agg(["sum", "count"])
    total = cells.groupby(level="r").sum()
    per_fold = cells.groupby(level="f").sum()
    key = pd.MultiIndex.from_arrays([region, fold])
    sum_out = total["sum"].reindex(region).to_numpy() - cells["sum"].reindex(key).to_numpy()
    count_out = total["count"].reindex(region).to_numpy() - cells["count"].reindex(key).to_numpy()
    fold_prior = ((y.sum() - per_fold["sum"]) / (len(y) - per_fold["count"])).reindex(fold).to_numpy()
    state["te_train"] = (sum_out + 20.0 * fold_prior) / (count_out + 20.0)
    return state


def features(df: pd.DataFrame, state: dict, is_train: bool = False) -> pd.DataFrame:
    X = df.copy()
    stamps = X["applied_at"]
    X["applied_at_weekday"] = stamps.dt.day_of_week
    X["applied_at_is_weekend"] = (stamps.dt.day_of_week >= 5).astype(int)
    X["applied_at_hour"] = stamps.dt.hour
    X["applied_at_month"] = stamps.dt.month
    for col in ("income", "credit_score"):
        X[f"{col}_missing"] = X[col].isna().astype(int)
    income = X["income"].astype(float)
    X["loan_to_income"] = (X["loan_amount"] / income).where(income != 0)
    X["income"] = income.fillna(state["income_median"])
    for col in ("income", "loan_amount"):
        X[col] = np.log1p(X[col].astype(float).clip(lower=0))
    X["debt_to_income"] = X["debt_to_income"].clip(*state["dti_bounds"])
    X["age"] = np.searchsorted([25.0, 35.0, 50.0, 65.0], X["age"].to_numpy(np.float64), side="right")
    for col, levels in state["levels"].items():
        values = X[col].astype(str)
        if "__other__" in levels:
            values = values.where(values.isin(levels), "__other__")
        X[col] = pd.Categorical(values, categories=levels)
    if is_train:
        X["region_te"] = state["te_train"]
    else:
        X["region_te"] = X["region"].astype(str).map(state["te"]).astype(float).fillna(state["te_prior"])
    X["credit_score"] = X["credit_score"].astype(float)
    return X.drop(columns=["application_id", "applied_at", TARGET])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, help="a compiled driftline project: its params.yaml gives the settings")
    parser.add_argument("--out", type=Path, help="where model.txt and metrics.json go (default: a new temporary folder)")
    parser.add_argument("--rows", type=int, help="override the source's rows")
    args = parser.parse_args()
    cfg = settings(args.project)
    out = args.out or Path(tempfile.mkdtemp(prefix="pipeline-script-"))
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    source = {k: v for k, v in cfg["dataset"]["source"].items() if k not in ("kind", "generator")}
    if args.rows:
        source["rows"] = args.rows
    raw = generate_loans(**source)
    lap("generate")
    df = validate(raw)
    lap("validate")
    df = df[df[TARGET].notna()].reset_index(drop=True)
    parts = split(df, cfg["split"]["valid"], cfg["split"]["test"], cfg["split"]["seed"])
    lap("label_split")
    state = fit_transforms(parts["train"])
    X = {name: features(frame, state, is_train=name == "train") for name, frame in parts.items()}
    y = {name: frame[TARGET].to_numpy(np.float64) for name, frame in parts.items()}
    lap("features")

    model = cfg["model"]
    params = {"objective": "binary", "metric": ["auc", "binary_logloss"], "deterministic": True,
              "force_row_wise": True, "num_threads": len(os.sched_getaffinity(0)), **model["params"]}
    params = {k: v for k, v in params.items() if v is not None}
    train_set = lgb.Dataset(X["train"], label=y["train"], free_raw_data=True)
    valid_set = lgb.Dataset(X["valid"], label=y["valid"], reference=train_set)
    booster = lgb.train(params, train_set, num_boost_round=model["num_boost_round"], valid_sets=[valid_set],
                        callbacks=[lgb.early_stopping(model["early_stopping_rounds"], first_metric_only=True, verbose=False)])
    booster.save_model(out / "model.txt", num_iteration=booster.best_iteration)
    lap("train")

    scores = booster.predict(X["test"], num_iteration=booster.best_iteration)
    truth, predicted = y["test"], (scores >= model["threshold"]).astype(int)
    metrics = {
        "roc_auc": roc_auc_score(truth, scores), "average_precision": average_precision_score(truth, scores),
        "log_loss": log_loss(truth, scores), "brier": brier_score_loss(truth, scores),
        "accuracy": accuracy_score(truth, predicted), "precision": precision_score(truth, predicted, zero_division=0),
        "recall": recall_score(truth, predicted), "f1": f1_score(truth, predicted), "n": len(truth),
    }
    (out / "metrics.json").write_text(json.dumps({k: v if isinstance(v, int) else round(float(v), 6) for k, v in metrics.items()},
                                                 indent=2) + "\n")
    lap("evaluate")
    print(json.dumps({"rows": len(raw), "train_rows": len(parts["train"]), "roc_auc": round(metrics["roc_auc"], 6),
                      "best_iteration": booster.best_iteration, "num_threads": params["num_threads"],
                      "seconds": seconds, "out": str(out)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
