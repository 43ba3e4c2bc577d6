"""The drift report page: verdict, column order, plots, nulls, escaping, self-containment."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any

import pytest
from pydantic import ValidationError

from driftline.drift.history import HistoryRow, history_rows_to_csv, read_history
from driftline.drift.html import DRIFT_RED, format_number, format_share, render_drift_html
from driftline.drift.report import DriftReport
from tests.drift_samples import EDGES, EVIL, EVIL_CATEGORY, categorical_column, numeric_column, sample_report, sparse_report


def card_ids(page: str) -> list[str]:
    return re.findall(r'<details class="card[^"]*" id="([^"]*)"', page)


def cards(page: str) -> list[str]:
    return page.split('<details class="card')[1:]


def visible_text(page: str) -> str:
    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.chunks: list[str] = []
            self.skip = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.skip = tag == "style"

        def handle_endtag(self, tag: str) -> None:
            self.skip = False

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.chunks.append(data)

    parser = Text()
    parser.feed(page)
    return " ".join(parser.chunks)


VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "line", "path", "circle"}


def unbalanced_tags(page: str) -> list[str]:
    """Tags closed out of order or never closed (SVG shapes here are written self-closing)."""

    class Balance(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.errors: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag not in VOID:
                self.stack.append(tag)

        def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            pass

        def handle_endtag(self, tag: str) -> None:
            if tag in VOID:
                return
            if not self.stack or self.stack[-1] != tag:
                self.errors.append(f"</{tag}> but open: {self.stack[-3:]}")
            else:
                self.stack.pop()

    parser = Balance()
    parser.feed(page)
    parser.close()
    return parser.errors + [f"<{tag}> never closed" for tag in parser.stack]


@pytest.mark.parametrize(
    ("retrain", "word", "attr"), [(True, "Retrain", "true"), (False, "No retrain", "false")], ids=["retrain", "keep"]
)
def test_verdict_banner_states_the_decision(retrain: bool, word: str, attr: str) -> None:
    page = render_drift_html(sample_report(retrain))
    banner = re.search(r'<header id="verdict"[^>]*>.*?</header>', page, re.S)
    assert banner, "no verdict banner"
    assert f'data-retrain="{attr}"' in banner.group(0)
    assert f"</span>{word}</div>" in banner.group(0)
    assert f"<title>credit · {word} · driftline drift report</title>" in page
    assert page.index('id="verdict"') < page.index("<h2>"), "the verdict comes first"


def test_banner_lists_reasons_context_and_flags() -> None:
    page = render_drift_html(sample_report())
    banner = re.search(r'<header id="verdict".*?</header>', page, re.S).group(0)  # type: ignore[union-attr]
    for text in (
        "2 of 5 columns drifted (40% &gt;= 30%)",
        "prediction drift: psi 0.31 &gt;= 0.2",
        "v0001 · 35,001 rows",
        "5,000 rows",
        "data/credit/incoming/batch-0002.parquet",
        "<b>40%</b> (2 of 5)",
        "dataset drift <b>yes</b>",
        "prediction drift <b>psi 0.31</b>",
        "multivariate AUC <b>0.71</b>",
        "roc_auc drop <b>0.08</b>",
    ):
        assert text in banner, text


def test_columns_appear_drifted_first_then_by_severity() -> None:
    page = render_drift_html(sample_report())
    expected = ["credit_score", "region", "age", "income", "empty_col"]
    assert card_ids(page) == [f"col-{name}" for name in expected]
    table_order = re.findall(r'<td class="name"><a href="#col-([^"]+)"', page)
    assert table_order == expected
    assert re.findall(r'id="col-[^"]*" data-drifted="(\w+)"', page) == ["true", "true", "false", "false", "false"]


def test_every_column_card_has_a_plot() -> None:
    page = render_drift_html(sample_report())
    assert len(cards(page)) == 5
    for card in cards(page):
        assert "<svg" in card.split("</details>")[0]


def test_numeric_plot_has_edge_ticks_legend_and_other_tests() -> None:
    page = render_drift_html(sample_report())
    card = next(c for c in cards(page) if 'id="col-credit_score"' in c).split("</details>")[0]
    for edge in EDGES:
        assert f">{edge}</text>" in card
    assert ">reference</text>" in card and ">current</text>" in card
    assert "<th>ks</th><td>0.21</td><td>1.0e-30</td>" in card
    assert "<th>psi</th><td>0.35</td><td>—</td>" in card


def test_categorical_plot_marks_unseen_categories() -> None:
    page = render_drift_html(sample_report())
    card = next(c for c in cards(page) if 'id="col-region"' in c).split("</details>")[0]
    assert "north</text>" in card and "south</text>" in card
    assert "atlantis ★</text>" in card
    assert '<span class="chip">atlantis</span>' in card
    assert "<th>chi2</th><td>812.3</td><td>1.0e-170</td>" in card


def test_open_ended_numeric_bins_are_labelled_with_infinity() -> None:
    report = sample_report()
    report["columns"] = [
        numeric_column(
            "x",
            2.0,
            True,
            histogram={
                "edges": [float("-inf"), 1.0, 2.0, float("inf")],
                "reference": [0.2, 0.5, 0.3],
                "current": [0.1, 0.4, 0.5],
            },
        )
    ]
    page = render_drift_html(report)
    assert ">−∞</text>" in page and ">∞</text>" in page


def test_model_signals_panels() -> None:
    page = render_drift_html(sample_report())
    assert re.search(r'<section class="panel wide" id="prediction" data-drifted="true">.*?<svg', page, re.S)
    assert 'id="performance" data-drifted="true"' in page
    assert ">0.78</text>" in page and ">0.7</text>" in page
    assert 'id="multivariate" data-drifted="true"' in page


def test_nulls_are_shown_as_a_dash_never_as_none_or_nan() -> None:
    page = render_drift_html(sparse_report())
    text = visible_text(page)
    assert not re.search(r"\b(None|nan|NaN|inf|null|True|False)\b", page)
    assert "—" in text
    assert re.search(r"prediction drift\s+—", text) and "not measured" in text
    assert "no labels in the current data" in text
    assert len(cards(page)) == 3
    for card in cards(page):
        assert "<svg" in card
    placeholders = [c for c in cards(page) if "no distribution to plot" in c]
    assert len(placeholders) == 2, "the two columns without a histogram say so"
    assert 'id="prediction"' not in page and 'id="performance"' not in page


def test_no_columns_still_renders_a_page() -> None:
    report = sample_report(retrain=False)
    report["columns"] = []
    page = render_drift_html(report)
    assert "No columns were compared." in page
    assert card_ids(page) == []
    assert 'data-retrain="false"' in page


def test_user_strings_are_escaped() -> None:
    report = sample_report()
    report["pipeline"] = "credit<b>"
    report["decision"]["reasons"] = [f"column {EVIL} drifted"]
    report["current"]["batches"] = ['x/"><script>y.parquet']
    report["columns"].append(
        categorical_column(
            EVIL,
            9.0,
            True,
            unseen_categories=[EVIL_CATEGORY],
            note=EVIL,
            histogram={"categories": ["a", EVIL_CATEGORY], "reference": [1.0, 0.0], "current": [0.5, 0.5]},
        )
    )
    page = render_drift_html(report)
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "credit<b>" not in page and "credit&lt;b&gt;" in page
    assert 'id="col-&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert html.unescape(card_ids(page)[0]) == f"col-{EVIL}", "the most severe card, named as the user named it"
    assert unbalanced_tags(page) == []


def test_page_is_self_contained() -> None:
    page = render_drift_html(sample_report())
    lowered = page.lower()
    for forbidden in ("http://", "https://", "<link", "<script", "<img", "<iframe", "@import", "url(", " src="):
        assert forbidden not in lowered, forbidden
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', page))
    assert '<meta charset="utf-8">' in page
    assert page.startswith("<!DOCTYPE html>")


def test_markup_is_well_nested() -> None:
    for report in (sample_report(), sparse_report()):
        assert unbalanced_tags(render_drift_html(report)) == []


def test_rendering_is_deterministic_and_leaves_the_report_alone() -> None:
    report = sample_report()
    before = copy.deepcopy(report)
    first = render_drift_html(report)
    assert render_drift_html(copy.deepcopy(report)) == first
    assert report == before
    reordered = copy.deepcopy(report)
    reordered["columns"] = list(reversed(reordered["columns"]))
    assert render_drift_html(reordered) == first, "column order in drift.json must not matter"


def test_thirty_columns_stay_compact() -> None:
    report = sample_report()
    report["columns"] = [numeric_column(f"f{i:02d}", i / 10, i % 7 == 0) for i in range(40)]
    page = render_drift_html(report)
    ids = card_ids(page)
    assert len(ids) == 40
    open_cards = re.findall(r'<details class="card[^"]*" id="[^"]*" data-drifted="true" open>', page)
    assert len(open_cards) == 6, "only drifted columns open their plot"
    assert len(page) < 400_000


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (float("nan"), "—"),
        (float("inf"), "∞"),
        (float("-inf"), "−∞"),
        (0.0, "0"),
        (0.41, "0.41"),
        (812.3, "812.3"),
        (35001, "35,001"),
        (35001.0, "35,001"),
        (1e-30, "1.0e-30"),
        (1e-170, "1.0e-170"),
        (5e-324, "4.9e-324"),
        (1.7e308, "1.7e308"),
        (-0.0004, "-4.0e-4"),
        (123456.789, "123,456.8"),
        (True, "yes"),
        ("text", "text"),
    ],
    ids=lambda v: repr(v),
)
def test_format_number(value: Any, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (0.0, "0%"), (0.4, "40%"), (0.031, "3.1%"), (0.125, "12.5%"), (0.00001, "<0.1%"), (1.0, "100%")],
    ids=lambda v: repr(v),
)
def test_format_share(value: Any, text: str) -> None:
    assert format_share(value) == text


def test_the_model_and_its_drift_json_render_the_same_page() -> None:
    report = DriftReport.model_validate(sample_report())
    assert render_drift_html(report) == render_drift_html(report.to_json()) == render_drift_html(sample_report())


def test_a_report_that_drift_json_could_not_hold_is_refused_before_rendering() -> None:
    report = sample_report()
    report["columns"][0]["statistic"] = float("nan")
    with pytest.raises(ValidationError, match="statistic"):
        render_drift_html(report)


# --------------------------------------------------------------------------- drift over time, not evaluated, new parts


def history(runs: int, columns: Sequence[str] = ("income", "region", "credit_score"), decisions: Sequence[str] = ()) -> list[HistoryRow]:
    """`runs` monitor runs of one batch each; a column drifts once its statistic reaches 0.1."""
    rows = []
    for run in range(1, runs + 1):
        batch, time = f"batch-{run:04d}", f"2026-12-01T{run % 24:02d}:00:00Z"
        for index, column in enumerate(columns):
            statistic = round(0.02 * run * (index + 1), 6)
            rows.append(HistoryRow(run, time, batch, "column", column, statistic, 0.1, statistic >= 0.1, rows=3000))
        rows.append(HistoryRow(run, time, batch, "prediction", "psi", 0.05 * run, 0.2, 0.05 * run >= 0.2, rows=3000))
        rows.append(HistoryRow(run, time, batch, "estimated", "roc_auc", 0.78 - 0.01 * run, rows=3000))
        decision = decisions[run - 1] if decisions else "no retrain"
        rows.append(HistoryRow(run, time, batch, "decision", decision, 0.3, 0.3))
    return rows


def trend_panel(page: str) -> str:
    match = re.search(r'<section class="panel trend" id="trend">.*?</section>', page, re.S)
    assert match, "no trend panel"
    return match.group(0)


def spark_cards(page: str) -> list[str]:
    return [html.unescape(name) for name in re.findall(r'<div class="spark-card" data-series="([^"]*)"', page)]


def not_evaluated_report() -> dict[str, Any]:
    report = sample_report(retrain=False)
    report["decision"]["evaluated"] = False
    report["decision"]["reasons"] = ["waiting for more data: 3 new rows < min_batch_rows 200"]
    report["current"]["rows"] = 3
    return report


def test_trend_panel_has_a_sparkline_per_column_and_one_decision_per_run() -> None:
    rows = history(3, decisions=["no retrain", "not evaluated", "retrain"])
    panel = trend_panel(render_drift_html(sample_report(), rows))
    columns = spark_cards(panel)[2:]
    assert columns == ["credit_score", "region", "income"], "one sparkline per column, in the report's severity order"
    assert spark_cards(panel)[:2] == ["prediction psi", "roc_auc estimated"]
    assert panel.count('<svg class="trend-spark"') == 5
    assert re.findall(r'data-decision="([^"]+)"', panel) == ["no retrain", "not evaluated", "retrain"]
    assert "<title>run 3 · batch-0003: retrain</title>" in panel, "each decision names its run and batch on hover"
    assert "3 batches" in render_drift_html(sample_report(), rows) and "3 runs" in render_drift_html(sample_report(), rows)


def test_trend_sparkline_marks_drifted_points_and_draws_the_threshold() -> None:
    page = render_drift_html(sample_report(), history(4, columns=("income",)))
    card = trend_panel(page).split('data-series="income"')[1].split("</svg>")[0]
    assert 'class="threshold"' in card and "<title>threshold 0.1</title>" in card
    assert f'fill="{DRIFT_RED}"' not in card, "income stays under its threshold in four runs"
    titles = re.findall(r"<title>(batch-[^<]*)</title>", card)
    assert titles == [
        "batch-0001: income 0.02 (threshold 0.1), 3,000 rows: holding",
        "batch-0002: income 0.04 (threshold 0.1), 3,000 rows: holding",
        "batch-0003: income 0.06 (threshold 0.1), 3,000 rows: holding",
        "batch-0004: income 0.08 (threshold 0.1), 3,000 rows: holding",
    ]
    region = trend_panel(render_drift_html(sample_report(), history(3))).split('data-series="region"')[1].split("</svg>")[0]
    assert len(re.findall(rf'fill="{DRIFT_RED}"', region)) == 1, "only batch-0003's 0.12 is past the threshold"
    assert "batch-0003: region 0.12 (threshold 0.1), 3,000 rows: drifted" in region


def test_a_run_that_was_not_evaluated_has_no_verdict_on_its_points() -> None:
    page = render_drift_html(sample_report(), history(3, columns=("credit_score",), decisions=["no retrain", "not evaluated", "retrain"]))
    card = trend_panel(page).split('data-series="credit_score"')[1].split("</svg>")[0]
    assert "batch-0002: credit_score 0.04 (threshold 0.1), 3,000 rows: for information (not evaluated)" in card
    assert "hollow: not evaluated" in page


def test_no_history_says_so() -> None:
    for given in (None, []):
        panel = trend_panel(render_drift_html(sample_report(), given))
        assert "No history yet" in panel and "<svg" not in panel


def test_without_a_history_file_the_trend_shows_this_runs_chunks() -> None:
    report = sample_report()
    report["chunks"] = [
        {"batch": "batch-0002", "chunk": f"rows {i * 1000}-{i * 1000 + 999}", "rows": 1000,
         "columns": [{"name": "income", "statistic": 0.05 * (i + 1), "threshold": 0.1, "drifted": 0.05 * (i + 1) >= 0.1}],
         "share_drifted": 0.0, "prediction_psi": 0.1, "estimated": None, "realised": None}
        for i in range(3)
    ]
    panel = trend_panel(render_drift_html(report))
    assert spark_cards(panel) == ["prediction psi", "income"]
    assert "batch-0002 · rows 2000-2999: income 0.15 (threshold 0.1), 1,000 rows: drifted" in panel
    assert re.findall(r'data-decision="([^"]+)"', panel) == ["retrain"]


def test_one_batch_of_history_renders() -> None:
    panel = trend_panel(render_drift_html(sample_report(), history(1)))
    assert len(spark_cards(panel)) == 5
    assert len(re.findall(r'class="axis-label"', panel)) == 1 and ">batch-0001</text>" in panel
    assert "<polyline" not in panel, "one point is a dot, not a line"


def test_only_the_latest_fifty_batches_are_drawn() -> None:
    page = render_drift_html(sample_report(), history(60, columns=("income",)))
    panel = trend_panel(page)
    card = panel.split('data-series="income"')[1].split("</svg>")[0]
    assert len(re.findall(r"<circle", card)) == 50
    assert "batch-0011:" in card and "batch-0010:" not in card
    assert "10 older not shown" in page
    assert len(re.findall(r'data-decision="', panel)) == 50


def test_thirty_columns_of_history_stay_compact() -> None:
    names = [f"f{i:02d}" for i in range(30)]
    report = sample_report()
    report["columns"] = [numeric_column(name, i / 10, i % 7 == 0) for i, name in enumerate(names)]
    page = render_drift_html(report, history(50, columns=names))
    assert len(spark_cards(trend_panel(page))) == 30 + 2
    assert len(page) < 900_000


def test_history_names_are_escaped_and_long_ones_keep_their_full_text() -> None:
    long_name = "applicant_reported_household_income_after_tax_in_local_curre"
    assert len(long_name) == 60
    page = render_drift_html(sample_report(), history(2, columns=(EVIL, long_name)))
    assert "<script" not in page.lower()
    assert f'<span class="spark-title" title="{long_name}">{long_name}</span>' in page, "CSS ellipsis, full name on hover"
    assert unbalanced_tags(page) == []
    long_batch = [HistoryRow(1, "t", "batch-2026-12-01-from-the-upstream-warehouse-export", "column", "x", 0.1, 0.2, False)]
    timeline = trend_panel(render_drift_html(sample_report(), long_batch)).split('<svg class="timeline"')[1]
    assert "<title>batch-2026-12-01-from-the-upstream-warehouse-export</title>batch-2026-12-01-from-the-ups…</text>" in timeline


def test_history_read_from_the_file_renders_the_same_page() -> None:
    rows = history(3)
    assert render_drift_html(sample_report(), read_history(history_rows_to_csv(rows))) == render_drift_html(sample_report(), rows)
    assert render_drift_html(sample_report(), rows) == render_drift_html(sample_report(), list(rows)), "deterministic"


def test_not_evaluated_shows_why_and_no_verdict_anywhere() -> None:
    page = render_drift_html(not_evaluated_report(), history(2, decisions=["no retrain", "not evaluated"]))
    banner = re.search(r'<header id="verdict".*?</header>', page, re.S).group(0)  # type: ignore[union-attr]
    assert 'class="verdict na"' in banner and 'data-evaluated="false"' in banner and 'data-retrain="false"' in banner
    assert "</span>Not evaluated</div>" in banner
    assert "waiting for more data: 3 new rows &lt; min_batch_rows 200" in banner
    assert "<title>credit · Not evaluated · driftline drift report</title>" in page
    panel = trend_panel(page)
    assert "batch-0002: income 0.04 (threshold 0.1), 3,000 rows: for information (not evaluated)" in panel
    assert "batch-0001: income 0.02 (threshold 0.1), 3,000 rows: holding" in panel, "earlier runs keep their verdicts"
    text = visible_text(page.replace(panel, ""))
    for verdict in ("No retrain", "holding", "stable", "drifted", "dropped", "✓"):
        assert not re.search(rf"(?<![-\w]){verdict}(?![-\w])", text), f"a not-evaluated page says {verdict!r}"
    assert 'class="badge ok"' not in page and 'class="badge drift"' not in page
    assert 'data-drifted="true"' not in page and " open>" not in page
    assert "for information" in text and "not judged" in text
    assert "psi <b>0.31</b>" in page, "the statistics are still shown"


def test_quality_table_names_rejected_batches_and_their_top_reasons() -> None:
    report = sample_report()
    reasons = {"id: must be <= 50000": 1875, "age: must be >= 18": 3, "income: must be >= 0": 3, "region: not in the categories": 1}
    report["quality"] = [
        {"file": "batch-0006.parquet", "rows": 5000, "bad_rows": 1876, "bad_share": 0.3752, "max_bad_share": 0.05,
         "reasons": reasons, "rejected": True, "reason": "batch-0006 rejected: 37.5% of rows fail `id <= 50000`"},
        {"file": "batch-0007.parquet", "rows": 4000, "bad_rows": 0, "bad_share": 0.0, "max_bad_share": 0.05, "reasons": {}, "rejected": False},
    ]
    page = render_drift_html(report)
    table = re.search(r'<table class="summary quality" id="quality">.*?</table>', page, re.S).group(0)  # type: ignore[union-attr]
    rejected, absorbed = table.split("<tr data-rejected=")[1:]
    assert rejected.startswith('"true"') and absorbed.startswith('"false"')
    assert re.findall(r'<span class="rule">([^<]*)</span>', rejected) == [
        "id: must be &lt;= 50000", "age: must be &gt;= 18", "income: must be &gt;= 0"]
    assert "+1 more rules" in rejected and "37.5%" in rejected and "1,876" in rejected
    assert "batch-0006 rejected: 37.5% of rows fail `id &lt;= 50000`" in rejected
    assert "absorbed" in absorbed and "—" in absorbed
    assert 'id="quality"' not in render_drift_html(sample_report()), "no table when no batch was checked"


def test_estimated_performance_shows_estimate_band_reference_and_realised() -> None:
    report = sample_report()
    report["estimated"] = {
        "method": "cbpe", "rows": 5000, "confidence": 0.9, "headline": "roc_auc", "drop": 0.06, "threshold": 0.05, "drifted": True,
        "metrics": [{"metric": "roc_auc", "reference": 0.78, "estimate": 0.72, "low": 0.7, "high": 0.74, "realised": 0.69},
                    {"metric": "accuracy", "reference": 0.85, "estimate": 0.83, "low": 0.82, "high": 0.84}],
    }
    page = render_drift_html(report)
    panel = re.search(r'<section class="panel" id="estimated".*?</section>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "Estimated performance (CBPE)" in panel and "90% band" in panel
    assert '<tr class="main"><th>roc_auc</th><td>0.78</td><td>0.72</td><td>0.7 – 0.74</td><td>0.69</td></tr>' in panel
    assert "<th>accuracy</th><td>0.85</td><td>0.83</td><td>0.82 – 0.84</td><td>—</td>" in panel
    for tip in ("band 0.7 to 0.74", "reference 0.78", "estimate 0.72", "realised 0.69"):
        assert f"<title>{tip}</title>" in panel
    assert "estimated drop <b>0.06</b>" in panel and 'data-drifted="true"' in panel


def test_baseline_note_says_what_drift_was_measured_against() -> None:
    report = sample_report()
    assert "measured against" not in render_drift_html(report)
    report["decision"]["baseline"] = "the data challenger v0003 saw"
    assert '<p class="baseline">measured against the data challenger v0003 saw</p>' in render_drift_html(report)


def test_long_column_names_and_many_categories_are_truncated_with_their_full_text_kept() -> None:
    long_name = "x" * 60
    categories = [f"category_number_{i:02d}_with_a_long_label" for i in range(25)]
    report = sample_report()
    report["columns"].append(categorical_column(long_name, 2.0, True, unseen_categories=[], histogram={
        "categories": categories, "reference": [0.04] * 25, "current": [0.04] * 25}))
    card = next(c for c in cards(render_drift_html(report)) if f'id="col-{long_name}"' in c).split("</details>")[0]
    labels = re.findall(r"<title>([^<]*)</title>([^<]*)</text>", card)
    assert len(labels) == 25
    for full, shown in labels:
        assert full in categories and len(shown) <= 22 and shown.endswith("…") and full.startswith(shown[:-1])
