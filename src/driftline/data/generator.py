"""Seeded generator of synthetic loan applications: the built-in demo data set.

Every column is drawn from its own random stream (spawned from ``(seed, batch)``), so the same
arguments always give the same frame, and switching ``drift`` or ``strength`` changes only the
columns that the drift touches: the other columns stay identical row for row.

``default`` (about 13-14% positive) is drawn from a logistic model of the observed columns only
(credit score, debt-to-income, loan-to-income, employment, delinquencies, weekend application,
interest rate; a missing income or score counts as a risk signal) plus independent noise.
``interest_rate`` is priced from credit score, term, debt-to-income and loan amount plus noise.

Ground truth for drift monitors
-------------------------------
``drift="covariate"`` with strength ``s``:

- drifted on purpose: ``income`` (x0.8**s for the same person; mean about x0.71 at s=1 with the
  employment and region mix), ``credit_score`` (-40*s points), ``employment`` (unemployed
  weight x(1+1.5*s), student x(1+s)), ``region`` (north and metro x0.5**s, south and coastal
  x2**s), ``loan_amount`` (x1.3**s at equal income; mean about +14% at s=1);
- drifted as a consequence: ``debt_to_income`` (same debts, lower income, more unemployed),
  ``interest_rate`` (priced from score, dti and amount) and the ``default`` rate (riskier
  applicants, about double at s=1); the label mechanism P(default | features) is unchanged;
- not drifted, identical row for row to ``drift="none"``: ``application_id``, ``applied_at``,
  ``age``, ``home_ownership``, ``purpose``, ``term_months``, ``open_accounts``,
  ``delinquencies_2y``, and which rows have ``income`` / ``credit_score`` missing.

``drift="concept"``: every feature column is identical to ``drift="none"``; only ``default``
changes: the debt-to-income effect is multiplied by ``1 + 2 * strength``, the credit-score effect
by ``max(0, 1 - 0.6 * strength)``, and the base log-odds rise by ``0.5 * strength``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

LOAN_COLUMNS: dict[str, str] = {
    "application_id": "id",
    "applied_at": "datetime",
    "age": "int",
    "income": "float",
    "employment": "category",
    "home_ownership": "category",
    "region": "category",
    "purpose": "category",
    "loan_amount": "float",
    "term_months": "int",
    "credit_score": "int",
    "debt_to_income": "float",
    "open_accounts": "int",
    "delinquencies_2y": "int",
    "interest_rate": "float",
    "default": "binary",
}

DRIFT_KINDS = ("none", "covariate", "concept")

EMPLOYMENT_LEVELS = ("salaried", "self_employed", "unemployed", "retired", "student")
HOME_OWNERSHIP_LEVELS = ("rent", "own", "mortgage")
REGION_LEVELS = ("north", "south", "east", "west", "central", "coastal", "mountain", "metro")
PURPOSE_LEVELS = (
    "car",
    "home_improvement",
    "debt_consolidation",
    "education",
    "medical",
    "business",
)
CATEGORY_LEVELS: dict[str, tuple[str, ...]] = {
    "employment": EMPLOYMENT_LEVELS,
    "home_ownership": HOME_OWNERSHIP_LEVELS,
    "region": REGION_LEVELS,
    "purpose": PURPOSE_LEVELS,
}

# Relative application volume by hour of day (0..23) and by weekday (Monday..Sunday).
_HOUR_WEIGHTS = (
    0.12, 0.08, 0.05, 0.04, 0.04, 0.07, 0.18, 0.40, 0.75, 1.00, 1.08, 1.12,
    1.18, 1.12, 1.05, 1.00, 0.97, 0.97, 1.02, 1.08, 0.98, 0.75, 0.48, 0.25,
)  # fmt: skip
_WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.45)

_REGION_PROBS = (0.16, 0.12, 0.13, 0.12, 0.13, 0.08, 0.06, 0.20)
_REGION_COVARIATE_FACTORS = (0.5, 2.0, 1.0, 1.0, 1.0, 2.0, 1.0, 0.5)
_REGION_LOG_INCOME = (0.05, -0.12, 0.0, 0.02, -0.03, -0.05, -0.10, 0.22)
_PURPOSE_PROBS = (0.22, 0.15, 0.33, 0.08, 0.07, 0.15)
_PURPOSE_BASE_AMOUNT = (15_000.0, 20_000.0, 14_000.0, 11_000.0, 6_000.0, 28_000.0)
_PURPOSE_LONG_TERM = (0.35, 0.50, 0.30, 0.20, 0.10, 0.50)
_EMPLOYMENT_LOG_INCOME = (0.0, 0.08, -1.0, -0.35, -1.2)
_EMPLOYMENT_SCORE = (0.0, -5.0, -35.0, 10.0, -15.0)
_EMPLOYMENT_DEBT = (1.0, 1.1, 1.6, 0.8, 1.3)
_EMPLOYMENT_RISK = (0.0, 0.30, 0.90, 0.10, 0.45)

# Streams, one per random quantity; new ones go at the end so existing columns keep their values.
_STREAMS = (
    "applied_at_slot",
    "applied_at_offset",
    "age",
    "employment",
    "home_ownership",
    "region",
    "purpose",
    "creditworthiness",
    "income",
    "income_missing",
    "loan_amount",
    "term_months",
    "credit_score",
    "credit_score_missing",
    "debts",
    "open_accounts",
    "delinquencies_2y",
    "interest_rate",
    "default_noise",
    "default",
)


def generate_loans(
    rows: int = 50_000,
    seed: int = 7,
    start: str = "2024-01-01",
    end: str = "2025-12-31",
    drift: str = "none",
    strength: float = 1.0,
    batch: int = 0,
) -> pd.DataFrame:
    """Return `rows` synthetic loan applications over ``[start, end)``; see the module docstring.

    Raises ValueError for rows < 1, a negative seed or batch, a negative or non-finite strength,
    an unknown drift kind, or an empty or unparseable time range.
    """
    import numpy as np
    import pandas as pd

    _check_args(rows, seed, drift, strength, batch)
    start_ns, end_ns = _time_range(start, end)
    n = int(rows)
    s_cov = float(strength) if drift == "covariate" else 0.0
    s_con = float(strength) if drift == "concept" else 0.0

    children = np.random.SeedSequence([int(seed), int(batch)]).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children)}

    applied_ns = _applied_at_ns(n, start_ns, end_ns, rng)
    weekday = ((applied_ns // 86_400_000_000_000) + 3) % 7  # 1970-01-01 was a Thursday
    weekend = weekday >= 5

    age = np.clip(18 + np.floor(62 * rng["age"].beta(2.0, 3.5, n)), 18, 80).astype(np.int64)

    young, old = age < 26, age >= 60
    emp_weights = np.empty((n, 5))
    emp_weights[:] = (0.64, 0.14, 0.06, 0.08, 0.08)
    emp_weights[:, 3] *= np.where(old, 12.0, 0.05)
    emp_weights[:, 4] *= np.where(young, 5.0, 0.15)
    emp_weights[:, 2] *= 1.0 + 1.5 * s_cov
    emp_weights[:, 4] *= 1.0 + 1.0 * s_cov
    employment = _draw_codes(emp_weights, rng["employment"].random(n))

    home_weights = np.empty((n, 3))
    home_weights[:] = (0.40, 0.25, 0.35)
    home_weights[:, 0] *= np.where(young, 3.0, 1.0)
    home_weights[:, 1] *= np.where(old, 3.0, 1.0)
    home_ownership = _draw_codes(home_weights, rng["home_ownership"].random(n))

    region_probs = np.array(_REGION_PROBS) * np.array(_REGION_COVARIATE_FACTORS) ** s_cov
    region = _draw_codes(region_probs[None, :], rng["region"].random(n))
    purpose = _draw_codes(np.array(_PURPOSE_PROBS)[None, :], rng["purpose"].random(n))

    # A hidden creditworthiness factor links score, delinquencies and accounts realistically.
    z = rng["creditworthiness"].standard_normal(n)

    years = age - 18.0
    log_income = (
        math.log(48_000.0)
        + 0.025 * years
        - 0.0004 * years**2
        + np.asarray(_EMPLOYMENT_LOG_INCOME)[employment]
        + np.asarray(_REGION_LOG_INCOME)[region]
        + 0.08 * z
        + 0.45 * rng["income"].standard_normal(n)
        + math.log(0.8) * s_cov
    )
    income = np.round(np.exp(log_income), -2).clip(min=3_000.0)
    income_missing = rng["income_missing"].random(n) < 0.08

    log_amount = (
        np.log(np.asarray(_PURPOSE_BASE_AMOUNT)[purpose])
        + 0.35 * (log_income - math.log(48_000.0))
        + 0.45 * rng["loan_amount"].standard_normal(n)
        + math.log(1.3) * s_cov
    )
    loan_amount = np.round(np.exp(log_amount), -2).clip(min=500.0)

    term_long = rng["term_months"].random(n) < np.asarray(_PURPOSE_LONG_TERM)[purpose]
    term_months = np.where(term_long, 60, 36).astype(np.int64)

    open_accounts = rng["open_accounts"].poisson(np.exp(1.55 + 0.01 * (age - 40) + 0.15 * z))
    delinquencies = rng["delinquencies_2y"].poisson(np.exp(-1.7 - 0.9 * z))

    score = (
        690.0
        + 48.0 * z
        + 0.9 * (age - 40)
        + np.asarray(_EMPLOYMENT_SCORE)[employment]
        - 18.0 * np.minimum(delinquencies, 3)
        + 25.0 * rng["credit_score"].standard_normal(n)
        - 40.0 * s_cov
    )
    credit_score = np.clip(np.round(score), 300, 850).astype(np.int64)
    score_missing = rng["credit_score_missing"].random(n) < 0.03

    # Monthly debt payments drawn relative to the undrifted income, so lower income raises dti.
    debts = rng["debts"].gamma(3.0, 0.065, n) * np.asarray(_EMPLOYMENT_DEBT)[employment]
    debt_to_income = np.round(
        (debts + 0.008 * open_accounts) * np.exp(-math.log(0.8) * s_cov), 4
    )

    rate = (
        7.0
        + 0.028 * (720.0 - credit_score)
        + 1.3 * (term_months == 60)
        + 5.0 * debt_to_income
        + 0.5 * np.log(loan_amount / 15_000.0)
        + 0.9 * rng["interest_rate"].standard_normal(n)
    )
    interest_rate = np.round(np.clip(rate, 3.0, 36.0), 2)

    observed = {
        "credit_score": np.where(score_missing, np.nan, credit_score),
        "income": np.where(income_missing, np.nan, income),
        "loan_amount": loan_amount,
        "debt_to_income": debt_to_income,
        "employment": employment,
        "delinquencies_2y": delinquencies,
        "weekend": weekend,
        "interest_rate": interest_rate,
    }
    logit = _default_logit(observed, s_con) + 0.6 * rng["default_noise"].standard_normal(n)
    default = (rng["default"].random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    data: dict[str, Any] = {
        "application_id": _application_ids(n, int(batch)),
        "applied_at": pd.Series(applied_ns.astype("datetime64[ns]")),
        "age": age,
        "income": observed["income"],
        "employment": _categorical(employment, EMPLOYMENT_LEVELS),
        "home_ownership": _categorical(home_ownership, HOME_OWNERSHIP_LEVELS),
        "region": _categorical(region, REGION_LEVELS),
        "purpose": _categorical(purpose, PURPOSE_LEVELS),
        "loan_amount": loan_amount,
        "term_months": term_months,
        "credit_score": pd.arrays.IntegerArray(credit_score, score_missing),
        "debt_to_income": debt_to_income,
        "open_accounts": open_accounts.astype(np.int64),
        "delinquencies_2y": delinquencies.astype(np.int64),
        "interest_rate": interest_rate,
        "default": default,
    }
    return pd.DataFrame(data, columns=list(LOAN_COLUMNS))


def _default_logit(features: dict[str, Any], concept_strength: float = 0.0) -> np.ndarray:
    """Log-odds of default from observed features only, so covariate drift keeps P(y | x)."""
    import numpy as np

    score = features["credit_score"]
    income = features["income"]
    score_effect = np.where(np.isnan(score), 0.45, -0.011 * (np.nan_to_num(score) - 690.0))
    loan_to_income = features["loan_amount"] / np.where(np.isnan(income), 1.0, income)
    lti_effect = np.where(np.isnan(income), 0.35, 1.6 * (np.minimum(loan_to_income, 2.0) - 0.3))
    dti_effect = 2.2 * (np.minimum(features["debt_to_income"], 2.0) - 0.2)
    return (
        -2.85
        + 0.5 * concept_strength
        + score_effect * max(0.0, 1.0 - 0.6 * concept_strength)
        + dti_effect * (1.0 + 2.0 * concept_strength)
        + lti_effect
        + np.asarray(_EMPLOYMENT_RISK)[features["employment"]]
        + 0.35 * np.minimum(features["delinquencies_2y"], 4)
        + 0.30 * features["weekend"]
        + 0.06 * (features["interest_rate"] - 12.0)
    )


def _check_args(rows: Any, seed: Any, drift: Any, strength: Any, batch: Any) -> None:
    for name, value in (("rows", rows), ("seed", seed), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) and not _is_np_int(value):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if seed < 0 or batch < 0:
        raise ValueError(f"seed and batch must be non-negative, got seed={seed}, batch={batch}")
    if drift not in DRIFT_KINDS:
        raise ValueError(f"unknown drift kind {drift!r}; expected one of {', '.join(DRIFT_KINDS)}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)):
        raise ValueError(f"strength must be a number, got {strength!r}")
    if not math.isfinite(strength) or strength < 0:
        raise ValueError(f"strength must be finite and >= 0, got {strength}")


def _is_np_int(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.integer)


def _time_range(start: str, end: str) -> tuple[int, int]:
    """[start, end) in nanoseconds; compile's rule (`driftline.config.groups.time_window`) says what is valid."""
    import pandas as pd

    from driftline.config.groups import time_window

    first, last = time_window(start, end)
    return pd.Timestamp(first).as_unit("ns").value, pd.Timestamp(last).as_unit("ns").value


def _applied_at_ns(n: int, start_ns: int, end_ns: int, rng: dict[str, Any]) -> np.ndarray:
    """Sorted timestamps in [start, end): an hourly grid weighted by hour of day and weekday."""
    import numpy as np

    hour_ns = 3_600_000_000_000
    first = start_ns // hour_ns * hour_ns
    slot_start = np.arange(first, end_ns, hour_ns, dtype=np.int64)
    lo = np.maximum(slot_start, start_ns)
    hi = np.minimum(slot_start + hour_ns, end_ns)
    hours = slot_start // hour_ns
    weight = (
        np.asarray(_HOUR_WEIGHTS)[hours % 24]
        * np.asarray(_WEEKDAY_WEIGHTS)[(hours // 24 + 3) % 7]
        * (hi - lo)
        / hour_ns
    )
    cumulative = np.cumsum(weight)
    slot = np.searchsorted(cumulative, rng["applied_at_slot"].random(n) * cumulative[-1], "right")
    slot = np.minimum(slot, len(slot_start) - 1)
    # Whole seconds inside the slot; a slot shorter than a second keeps its start.
    span_s = (hi[slot] - lo[slot]) / 1e9
    offset_s = np.floor(rng["applied_at_offset"].random(n) * span_s).astype(np.int64)
    stamps = lo[slot] + offset_s * 1_000_000_000
    stamps.sort()
    return stamps


def _draw_codes(weights: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of category codes; `weights` is (n, k) or (1, k), not normalised."""
    import numpy as np

    if weights.shape[0] == 1:
        cumulative = np.cumsum(weights[0])
        return np.searchsorted(cumulative[:-1], uniform * cumulative[-1], "right").astype(np.int64)
    target = uniform * weights.sum(axis=1)
    codes = np.zeros(len(uniform), dtype=np.int64)
    running = np.zeros(len(uniform))
    for column in range(weights.shape[1] - 1):
        running += weights[:, column]
        codes += target >= running
    return codes


def _categorical(codes: np.ndarray, levels: tuple[str, ...]) -> pd.Categorical:
    import pandas as pd

    return pd.Categorical.from_codes(codes, categories=list(levels))


def _application_ids(n: int, batch: int) -> pd.Series:
    """IDs like ``A003-0000042``: batch number, then a 1-based row number in time order."""
    import numpy as np
    import pandas as pd

    numbers = pd.Series(np.arange(1, n + 1, dtype=np.int64)).astype("str").str.zfill(7)
    return f"A{batch:03d}-" + numbers
