"""The drift report page: verdict, column order, plots, nulls, escaping, self-containment."""

from __future__ import annotations

import copy
import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from pydantic import ValidationError

from driftline.drift.html import format_number, format_share, render_drift_html
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
