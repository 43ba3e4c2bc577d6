"""The drift report page as a browser shows it: headless Chromium, opened from disk, offline.

Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`). Without it the tests fail —
a report nobody checked in a browser is not tested.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from driftline.drift.html import CURRENT_COLOUR, REFERENCE_COLOUR, render_drift_html

WINDOW = (1280, 2000)
RETRAIN_RED = "#b42318"


def decode_png(data: bytes) -> np.ndarray:
    """Pixels (height × width × channels) of an 8-bit RGB/RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None, "PNG without IHDR"
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour_type in (2, 6), f"unexpected PNG format {header}"
    bpp = 3 if colour_type == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    assert len(raw) == height * (stride + 1), "truncated PNG data"
    pixels = bytearray(height * stride)
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            total = np.frombuffer(line, np.uint8).astype(np.uint16) + np.frombuffer(previous, np.uint8)
            line = bytearray((total & 0xFF).astype(np.uint8))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        pixels[y * stride : (y + 1) * stride] = line
        previous = line
    return np.frombuffer(bytes(pixels), np.uint8).reshape(height, width, bpp)[:, :, :3]


def share_of_colour(image: np.ndarray, hex_colour: str, tolerance: int = 16) -> float:
    target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    close = np.all(np.abs(image.astype(np.int16) - target) <= tolerance, axis=2)
    return float(close.mean())


def write_page(folder: Path, report: dict) -> Path:
    path = folder / "drift.html"
    path.write_text(render_drift_html(report), encoding="utf-8")
    return path


def report_with_evil_column(drift_reports, retrain: bool) -> dict:
    report = drift_reports.sample(retrain=retrain)
    report["columns"].append(drift_reports.categorical(drift_reports.evil, 0.2, False))
    return report


@pytest.mark.parametrize("retrain", [True, False], ids=["retrain", "keep"])
def test_browser_renders_the_verdict_and_one_card_per_column(browser, drift_reports, retrain: bool, tmp_path: Path) -> None:
    report = report_with_evil_column(drift_reports, retrain)
    page = write_page(tmp_path, report)
    dom, text = browser.dom(page, tmp_path / "profile")
    assert dom.verdict is not None, f"no #verdict in the rendered DOM:\n{text[:2000]}"
    assert dom.verdict.get("data-retrain") == ("true" if retrain else "false")
    names = [column["name"] for column in report["columns"]]
    assert sorted(card["id"] or "" for card in dom.cards) == sorted(f"col-{name}" for name in names)
    assert [card["data-drifted"] for card in dom.cards][:2] == ["true", "true"]
    assert dom.svgs >= len(names)
    assert dom.scripts == 0, "a column name was turned into a script element"


def test_screenshot_shows_the_banner_and_both_distributions(browser, drift_reports, tmp_path: Path) -> None:
    page = write_page(tmp_path, report_with_evil_column(drift_reports, retrain=True))
    png = tmp_path / "drift.png"
    browser.run([f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri()], tmp_path / "profile")
    assert png.exists(), "chromium wrote no screenshot"
    assert png.stat().st_size > 20_000, f"screenshot is only {png.stat().st_size} bytes: blank page?"
    image = decode_png(png.read_bytes())
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])
    background = np.median(image.reshape(-1, 3), axis=0)
    assert np.mean(np.any(np.abs(image.astype(np.int16) - background) > 24, axis=2)) > 0.05, "page looks blank"
    assert share_of_colour(image[:400], RETRAIN_RED, tolerance=40) > 0.05, "no red retrain banner at the top"
    assert share_of_colour(image, REFERENCE_COLOUR) > 0.0005, "no reference (blue) marks in the plots"
    assert share_of_colour(image, CURRENT_COLOUR) > 0.0005, "no current (orange) marks in the plots"


# --------------------------------------------------------------------------- the trend panel, measured


LONG_NAME = "applicant_reported_household_income_after_tax_in_local_curre"  # 60 characters
#: Run inside a copy of the page (the report itself has no script): what a reader's browser lays out.
MEASURE = """<script>
(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; };
  const panel = document.getElementById("trend");
  const texts = [...document.querySelectorAll(
    "svg text, h1, h2, h3, .spark-title, .spark-last, .cname, .kind, .cstat, .badge, .verdict-word, .fact span, .fact div, .note")]
    .filter((e) => e.checkVisibility({contentVisibilityAuto: true, opacityProperty: false, visibilityProperty: true}))
    .filter((e) => box(e).w > 0 && box(e).h > 0);
  const overlaps = [];
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i], b = texts[j];
      if (a.contains(b) || b.contains(a)) continue;
      const p = box(a), q = box(b);
      const w = Math.min(p.x + p.w, q.x + q.w) - Math.max(p.x, q.x);
      const h = Math.min(p.y + p.h, q.y + q.h) - Math.max(p.y, q.y);
      if (w > 1 && h > 1) overlaps.push([a.textContent.slice(0, 40), b.textContent.slice(0, 40)]);
    }
  }
  const result = {
    panel: box(panel),
    sparks: [...document.querySelectorAll("#trend-columns .spark-card")].map((c) => ({
      name: c.dataset.series, svg: box(c.querySelector("svg")), title: box(c.querySelector(".spark-title")),
      card: box(c), titleScroll: c.querySelector(".spark-title").scrollWidth})),
    decisions: document.querySelectorAll("#trend .decision").length,
    sketchNotes: [...document.querySelectorAll(".card .sketch")].map((n) => ({
      note: box(n), card: box(n.closest(".card")), scroll: n.scrollWidth, text: n.textContent})),
    texts: texts.length,
    overlaps: overlaps,
  };
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
})();
</script>"""


def measured(browser, report: dict, rows: list, folder: Path) -> dict:
    """The page as Chromium lays it out at 1280 px: boxes of the trend panel, its sparklines and every text."""
    import html
    import json
    import re

    page = folder / "measured.html"
    page.write_text(render_drift_html(report, rows).replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    text = browser.run(["--dump-dom", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri()], folder / "profile").stdout
    found = re.search(r'<pre id="measured">(.*?)</pre>', text, re.S)
    assert found, f"the measuring script did not run:\n{text[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def trend_history(columns: list[str], runs: int) -> list:
    from driftline.drift.history import HistoryRow

    decisions = ["no retrain", "not evaluated", "retrain", "rejected"]
    rows = []
    for run in range(1, runs + 1):
        batch, time = f"batch-{run:04d}", f"2026-12-{run:02d}T10:00:00Z"
        for index, column in enumerate(columns):
            statistic = 0.01 * (index % 5 + 1) * run
            rows.append(HistoryRow(run, time, batch, "column", column, statistic, 0.1, statistic >= 0.1, rows=3000))
        rows.append(HistoryRow(run, time, batch, "prediction", "psi", 0.03 * run, 0.2, 0.03 * run >= 0.2, rows=3000))
        rows.append(HistoryRow(run, time, batch, "decision", decisions[run % 4], 0.3, 0.3))
    return rows


SKETCH = {"method": "kll", "k": 200, "rank_error": 0.013295, "statistic_error_bound": 0.124, "within_error_bound": True}


def report_with_long_names(drift_reports) -> dict:
    report = drift_reports.sample(retrain=True)
    categories = [f"category_number_{i:02d}_with_a_long_label" for i in range(25)]
    report["columns"].append(drift_reports.numeric("income_sketched", 2.5, True, sketch=SKETCH))
    report["columns"].append(drift_reports.categorical(LONG_NAME, 3.0, True, unseen_categories=[], histogram={
        "categories": categories, "reference": [0.04] * 25, "current": [0.04] * 25}))
    report["estimated"] = {
        "method": "cbpe", "rows": 5000, "confidence": 0.9, "headline": "roc_auc", "drop": 0.06, "threshold": 0.05, "drifted": True,
        "metrics": [{"metric": "roc_auc", "reference": 0.78, "estimate": 0.72, "low": 0.7, "high": 0.74, "realised": 0.69},
                    {"metric": "precision_at_the_decision_threshold", "reference": 0.6, "estimate": 0.58, "low": 0.55, "high": 0.61}],
    }
    report["quality"] = [{"file": "batch-0002.parquet", "rows": 5000, "bad_rows": 1875, "bad_share": 0.375, "max_bad_share": 0.05,
                          "reasons": {"id: must be <= 50000": 1875}, "rejected": True, "reason": "37.5% of rows fail `id <= 50000`"}]
    return report


def test_trend_panel_renders_one_sparkline_per_column_and_nothing_overlaps(browser, drift_reports, tmp_path: Path) -> None:
    report = report_with_long_names(drift_reports)
    columns = [column["name"] for column in report["columns"]]
    result = measured(browser, report, trend_history(columns, 12), tmp_path)
    assert result["panel"]["w"] > 600 and result["panel"]["h"] > 200, f"trend panel laid out at {result['panel']}"
    assert sorted(spark["name"] for spark in result["sparks"]) == sorted(columns), "one sparkline per column"
    for spark in result["sparks"]:
        assert spark["svg"]["w"] > 150 and spark["svg"]["h"] > 25, spark
        assert spark["title"]["x"] + spark["title"]["w"] <= spark["card"]["x"] + spark["card"]["w"], "title stays in its card"
    long = next(spark for spark in result["sparks"] if spark["name"] == LONG_NAME)
    assert long["titleScroll"] > long["title"]["w"], "the 60-character name is cut with an ellipsis, not overflowing"
    assert result["decisions"] == 12
    assert result["texts"] > 100, "the overlap check saw the page's titles and labels"
    assert result["overlaps"] == [], f"titles or labels overlap: {result['overlaps'][:10]}"
    [sketch] = result["sketchNotes"]  # the sketched column's card is open (drifted): its bound is laid out
    assert "KLL sketch (k=200), rank error ≤ 1.33%" in sketch["text"] and sketch["note"]["h"] > 0
    assert sketch["note"]["x"] + sketch["note"]["w"] <= sketch["card"]["x"] + sketch["card"]["w"]
    assert sketch["scroll"] <= sketch["note"]["w"] + 1, "the bound's text wraps inside its card"


def test_thirty_columns_of_history_each_get_a_visible_sparkline(browser, drift_reports, tmp_path: Path) -> None:
    report = drift_reports.sample(retrain=False)
    names = [f"feature_{i:02d}" for i in range(30)]
    report["columns"] = [drift_reports.numeric(name, i / 10, False) for i, name in enumerate(names)]
    report["share_drifted"], report["dataset_drift"] = 0.0, False
    result = measured(browser, report, trend_history(names, 50), tmp_path)
    assert len(result["sparks"]) == 30
    assert all(spark["svg"]["w"] > 150 and spark["svg"]["h"] > 25 for spark in result["sparks"])
    assert result["overlaps"] == [], f"titles or labels overlap: {result['overlaps'][:10]}"


def test_a_not_evaluated_page_has_a_neutral_banner(browser, drift_reports, tmp_path: Path) -> None:
    report = drift_reports.sample(retrain=False)
    report["decision"].update(evaluated=False, reasons=["waiting for more data: 3 new rows < min_batch_rows 200"])
    page = tmp_path / "drift.html"
    page.write_text(render_drift_html(report), encoding="utf-8")
    png = tmp_path / "drift.png"
    browser.run([f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri()], tmp_path / "profile")
    top = decode_png(png.read_bytes())[:400]
    assert share_of_colour(top, "#067647", tolerance=40) < 0.01, "a green 'No retrain' banner on a page with no verdict"
    assert share_of_colour(top, RETRAIN_RED, tolerance=40) < 0.01
    dom, text = browser.dom(page, tmp_path / "profile")
    assert dom.verdict is not None and dom.verdict.get("data-evaluated") == "false"
    assert "Not evaluated" in text and "3 new rows &lt; min_batch_rows 200" in text
