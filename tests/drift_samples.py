"""Drift reports in the drift.json contract, built by hand so every field is known.

Shared by the HTML unit tests and the browser tests (through the `drift_reports` fixture).
"""

from __future__ import annotations

from typing import Any

EDGES = [300, 350, 400, 450, 500, 550, 600]
EVIL = '<script>alert("x")</script>'
EVIL_CATEGORY = "<img src=x onerror=alert(1)>"


def numeric_column(name: str, severity: float, drifted: bool, **extra: Any) -> dict[str, Any]:
    column = {
        "name": name,
        "kind": "numeric",
        "test": "wasserstein",
        "statistic": severity / 10,
        "p_value": None,
        "threshold": 0.1,
        "drifted": drifted,
        "severity": severity,
        "missing": {"reference": 0.03, "current": 0.031, "drifted": False},
        "unseen_categories": [],
        "other_tests": {
            "ks": {"statistic": 0.21, "p_value": 1e-30, "drifted": True},
            "psi": {"statistic": 0.35, "p_value": None, "drifted": True},
        },
        "histogram": {
            "edges": EDGES,
            "reference": [0.1, 0.2, 0.3, 0.2, 0.1, 0.1],
            "current": [0.05, 0.1, 0.2, 0.3, 0.2, 0.15],
        },
    }
    column.update(extra)
    return column


def categorical_column(name: str, severity: float, drifted: bool, **extra: Any) -> dict[str, Any]:
    column = {
        "name": name,
        "kind": "categorical",
        "test": "jensen_shannon",
        "statistic": severity / 10,
        "p_value": None,
        "threshold": 0.1,
        "drifted": drifted,
        "severity": severity,
        "missing": {"reference": 0.0, "current": 0.0, "drifted": False},
        "unseen_categories": ["atlantis"],
        "other_tests": {"chi2": {"statistic": 812.3, "p_value": 1e-170, "drifted": True}},
        "histogram": {
            "categories": ["north", "south", "atlantis"],
            "reference": [0.6, 0.4, 0.0],
            "current": [0.4, 0.4, 0.2],
        },
    }
    column.update(extra)
    return column


def sample_report(retrain: bool = True) -> dict[str, Any]:
    """A report in the drift.json contract, with columns deliberately out of severity order."""
    return {
        "pipeline": "credit",
        "generated_for": "batch-0002",
        "reference": {"version": "v0001", "rows": 35001},
        "current": {
            "rows": 5000,
            "batches": ["data/credit/incoming/batch-0002.parquet"],
            "labelled_rows": 5000,
            "pending_batches": 1,
        },
        "columns": [
            numeric_column("income", 0.5, False),
            categorical_column("region", 1.8, True),
            numeric_column("age", 0.9, False),
            numeric_column("credit_score", 4.1, True),
            numeric_column(
                "empty_col",
                0.0,
                False,
                statistic=None,
                note="current batch has no values",
                histogram=None,
                other_tests={},
                missing={"reference": 0.0, "current": 1.0, "drifted": True},
            ),
        ],
        "share_drifted": 0.4,
        "dataset_drift": True,
        "prediction": {
            "test": "psi",
            "statistic": 0.31,
            "threshold": 0.2,
            "drifted": True,
            "histogram": {
                "edges": [0, 0.25, 0.5, 0.75, 1],
                "reference": [0.4, 0.3, 0.2, 0.1],
                "current": [0.2, 0.3, 0.3, 0.2],
            },
            "reference_mean": 0.31,
            "current_mean": 0.44,
        },
        "multivariate": {
            "test": "domain_classifier",
            "auc": 0.71,
            "threshold": 0.6,
            "drifted": True,
            "rows": {"reference": 5000, "current": 5000},
        },
        "performance": {
            "metric": "roc_auc",
            "reference": 0.78,
            "current": 0.70,
            "drop": 0.08,
            "threshold": 0.05,
            "rows": 5000,
            "drifted": True,
        },
        "estimated": None,
        "quality": [],
        "chunks": [],
        "decision": {
            "retrain": retrain,
            "evaluated": True,
            "reasons": ["2 of 5 columns drifted (40% >= 30%)", "prediction drift: psi 0.31 >= 0.2"] if retrain else [],
            "signals": ["dataset_drift", "prediction_drift"],
            "policy": {"drift_share": 0.3, "prediction_threshold": 0.2},
        },
    }


def sparse_report() -> dict[str, Any]:
    """Everything optional left null: no labels, no scores, no classifier, statistics not computed."""
    report = sample_report(retrain=False)
    report.update(prediction=None, multivariate=None, performance=None, share_drifted=0.0, dataset_drift=False)
    report["reference"] = {"version": None}
    report["generated_for"] = None
    report["current"]["labelled_rows"] = 0
    report["columns"] = [
        numeric_column("no_values", 0.0, False, statistic=None, histogram=None, other_tests={}),
        numeric_column("no_p", 0.3, False, p_value=None, other_tests={"ks": {"statistic": None, "p_value": None, "drifted": False}}),
        categorical_column("no_hist", 0.0, False, histogram=None, unseen_categories=[]),
    ]
    return report
