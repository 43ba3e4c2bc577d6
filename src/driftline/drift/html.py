"""Render a drift report (`driftline.drift.report.DriftReport`) as one HTML page.

`render_drift_html` is a pure function of the report: no I/O beyond reading its own template,
no clock, no randomness, so the same report always gives the same string. The page is
self-contained — CSS in a ``<style>`` tag, every plot an inline SVG, no script, font, image or
link to fetch — so it opens from disk, offline, years later.

The page's layout is the Jinja template ``templates/drift_report.html.j2`` (with its CSS in
``templates/drift_report.css``); this module draws the plots, which are geometry, and formats
numbers. What a reader sees, top to bottom: the verdict (retrain or not) with its reasons and
the dataset-level flags; the model-level signals (prediction drift, multivariate drift,
performance); a table of columns, drifted first, then by severity; one card per column, in
the same order, with the reference-vs-current distribution. Reference is always blue and
drawn as filled bars, current always orange and drawn as a step line (numeric) or the lower
bar of each pair (categories) — the Okabe–Ito pair, which colour-blind readers tell apart,
and the shapes differ too.

Everything from the report is escaped (autoescaping in the template, `markupsafe.escape` in
the plots): column names and categories are user data. Missing numbers are shown as "—",
never as "None".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from driftline.drift.history import HistoryRow, report_rows
from driftline.drift.report import CategoricalHistogram, ColumnDrift, DriftReport, EstimatedPerformance, Histogram, NumericHistogram

#: Okabe–Ito blue and orange (a darker orange for lines, so they stand out on white).
REFERENCE_COLOUR = "#0072B2"
CURRENT_COLOUR = "#E69F00"
CURRENT_LINE_COLOUR = "#C77C00"
DASH = "—"

_MAX_CATEGORIES_PLOTTED = 30
_MAX_SPARK_CATEGORIES = 24
_MAX_X_TICKS = 7
#: The trend panel shows at most this many batches (and chunks), the latest.
MAX_TREND_POINTS = 50
DRIFT_RED = "#b42318"
NEUTRAL_GREY = "#98a2b3"
#: How each decision is drawn on the timeline: (colour, shape).
DECISION_MARKS = {"retrain": (DRIFT_RED, "triangle"), "no retrain": ("#067647", "circle"),
                  "not evaluated": (NEUTRAL_GREY, "ring"), "rejected": ("#6941c6", "cross")}


# --------------------------------------------------------------------------- formatting


def format_number(value: float | int | bool | str | None) -> str:
    """A number for people: 3 significant digits, thousands separators, "—" for nothing."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value or DASH
    if isinstance(value, int):
        return f"{value:,}"
    number = float(value)
    if math.isnan(number):
        return DASH
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if number == 0:
        return "0"
    size = abs(number)
    if size >= 1e9 or size < 1e-3:
        mantissa, exponent = f"{number:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    if size >= 100:
        text = f"{number:,.1f}"
        return text[:-2] if text.endswith(".0") else text
    return f"{number:.3g}"


def format_share(value: float | None) -> str:
    """A share in [0, 1] as a percentage: 0.031 → "3.1%", 0.4 → "40%"."""
    if value is None:
        return DASH
    percent = value * 100
    if percent == 0:
        return "0%"
    if abs(percent) < 0.1:
        return "<0.1%"
    if abs(percent) < 99.95:
        text = f"{percent:.1f}"
        return (text[:-2] if text.endswith(".0") else text) + "%"
    return f"{percent:.0f}%"


def _e(value: object) -> str:
    return str(escape(value))


def _c(value: float) -> str:
    """An SVG coordinate: one decimal, so output is short and deterministic."""
    text = f"{value:.1f}"
    return "0" if text == "-0.0" else (text[:-2] if text.endswith(".0") else text)


def _nice_max(value: float) -> float:
    """The smallest round number ≥ value, for the top of a y axis."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- plots


def _step_path(shares: Sequence[float], x0: float, slot: float, y_of: Callable[[float], float], close: bool) -> str:
    """An SVG path tracing the tops of the bins; closed down to the axis when `close`."""
    base = y_of(0.0)
    points = [f"M{_c(x0)},{_c(base)}"]
    for index, share in enumerate(shares):
        y = y_of(share)
        points.append(f"L{_c(x0 + index * slot)},{_c(y)}")
        points.append(f"L{_c(x0 + (index + 1) * slot)},{_c(y)}")
    points.append(f"L{_c(x0 + len(shares) * slot)},{_c(base)}")
    return " ".join(points) + (" Z" if close else "")


def _legend(x: float, y: float, numeric: bool) -> str:
    current_key = (
        f'<line x1="{_c(x + 92)}" y1="{_c(y)}" x2="{_c(x + 106)}" y2="{_c(y)}" '
        f'stroke="{CURRENT_LINE_COLOUR}" stroke-width="2.5"/>'
        if numeric
        else f'<rect x="{_c(x + 92)}" y="{_c(y - 5)}" width="12" height="10" fill="{CURRENT_COLOUR}"/>'
    )
    return (
        f'<g class="legend" font-size="11">'
        f'<rect x="{_c(x)}" y="{_c(y - 5)}" width="12" height="10" fill="{REFERENCE_COLOUR}" fill-opacity="0.55"/>'
        f'<text x="{_c(x + 16)}" y="{_c(y + 4)}">reference</text>'
        f"{current_key}"
        f'<text x="{_c(x + 110)}" y="{_c(y + 4)}">current</text></g>'
    )


def _placeholder_svg(label: str, message: str, width: int = 560, height: int = 80) -> Markup:
    return Markup(
        f'<svg class="plot" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">'
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" fill="#f6f7f9" '
        f'stroke="#d0d5dd" stroke-dasharray="4 3"/>'
        f'<text x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" text-anchor="middle" fill="#667085" '
        f'font-size="13">{_e(message)}</text></svg>'
    )


def numeric_plot(histogram: NumericHistogram | None, label: str) -> Markup:
    """Reference bins as blue bars, current as an orange step line, on equal-width slots.

    Bins are drawn at equal width whatever their edges (reference-quantile bins would
    otherwise squash the tails); the ticks give the real edges.
    """
    if histogram is None:
        return _placeholder_svg(label, "no distribution to plot")
    edge_labels = [format_number(edge) for edge in histogram.edges]
    reference, current = histogram.reference, histogram.current
    width, height = 560, 230
    left, right, top, bottom = 46, 12, 30, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(reference)
    slot = plot_w / count
    y_max = _nice_max(max([*reference, *current, 0.0]))

    def y_of(share: float) -> float:
        return top + plot_h * (1 - min(share, y_max) / y_max)

    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">']
    for fraction in (0.0, 0.5, 1.0):
        y = y_of(y_max * fraction)
        parts.append(
            f'<line x1="{left}" y1="{_c(y)}" x2="{width - right}" y2="{_c(y)}" stroke="#e4e7ec"/>'
            f'<text x="{left - 6}" y="{_c(y + 4)}" text-anchor="end" font-size="10" fill="#667085">'
            f"{_e(format_share(y_max * fraction))}</text>"
        )
    gap = min(2.0, slot * 0.15)
    for index, share in enumerate(reference):
        if share > 0:
            y = y_of(share)
            parts.append(
                f'<rect x="{_c(left + index * slot + gap / 2)}" y="{_c(y)}" width="{_c(slot - gap)}" '
                f'height="{_c(y_of(0.0) - y)}" fill="{REFERENCE_COLOUR}" fill-opacity="0.55">'
                f"<title>{_e(edge_labels[index])} to {_e(edge_labels[index + 1])}: reference "
                f"{_e(format_share(share))}, current {_e(format_share(current[index]))}</title></rect>"
            )
    parts.append(
        f'<path d="{_step_path(current, left, slot, y_of, close=False)}" fill="none" '
        f'stroke="{CURRENT_LINE_COLOUR}" stroke-width="2.5" stroke-linejoin="round"/>'
    )
    axis_y = y_of(0.0)
    parts.append(f'<line x1="{left}" y1="{_c(axis_y)}" x2="{width - right}" y2="{_c(axis_y)}" stroke="#98a2b3"/>')
    stride = max(1, math.ceil((count + 1) / _MAX_X_TICKS))
    ticks = list(range(0, count + 1, stride))
    if ticks[-1] != count:
        if count - ticks[-1] < stride / 2 and len(ticks) > 1:
            ticks[-1] = count
        else:
            ticks.append(count)
    for index in ticks:
        x = left + index * slot
        anchor = "start" if index == 0 and count > 1 else "end" if index == count and count > 1 else "middle"
        parts.append(
            f'<line x1="{_c(x)}" y1="{_c(axis_y)}" x2="{_c(x)}" y2="{_c(axis_y + 4)}" stroke="#98a2b3"/>'
            f'<text x="{_c(x)}" y="{_c(axis_y + 16)}" text-anchor="{anchor}" font-size="10" '
            f'fill="#475467">{_e(edge_labels[index])}</text>'
        )
    parts.append(_legend(width - right - 160, 12, numeric=True))
    parts.append("</svg>")
    return Markup("".join(parts))


def categorical_plot(histogram: CategoricalHistogram | None, label: str, unseen: Sequence[str] = ()) -> Markup:
    """Grouped horizontal bars per category: reference (blue) above current (orange)."""
    if histogram is None or not histogram.categories:
        return _placeholder_svg(label, "no distribution to plot")
    names, reference, current = histogram.categories, histogram.reference, histogram.current
    hidden = max(0, len(names) - _MAX_CATEGORIES_PLOTTED)
    if hidden:
        # Keep the categories that weigh most on either side, in the report's order.
        weight = sorted(range(len(names)), key=lambda i: (-max(reference[i], current[i]), i))
        kept = sorted(weight[:_MAX_CATEGORIES_PLOTTED])
        names, reference, current = [names[i] for i in kept], [reference[i] for i in kept], [current[i] for i in kept]
    new = set(unseen)
    row, bar = 21, 8
    width, left, right, top = 560, 168, 76, 30
    height = top + row * len(names) + 24 + (16 if hidden else 0)
    plot_w = width - left - right
    x_max = _nice_max(max([*reference, *current, 0.0]))

    def x_of(share: float) -> float:
        return left + plot_w * min(share, x_max) / x_max

    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">']
    bottom_y = top + row * len(names)
    for fraction in (0.0, 0.5, 1.0):
        x = x_of(x_max * fraction)
        parts.append(
            f'<line x1="{_c(x)}" y1="{top - 4}" x2="{_c(x)}" y2="{bottom_y}" stroke="#e4e7ec"/>'
            f'<text x="{_c(x)}" y="{bottom_y + 14}" text-anchor="middle" font-size="10" fill="#667085">'
            f"{_e(format_share(x_max * fraction))}</text>"
        )
    for index, name in enumerate(names):
        y = top + index * row
        is_new = name in new
        style = ' fill="#b42318" font-weight="600"' if is_new else ' fill="#344054"'
        parts.append(
            f'<text x="{left - 8}" y="{_c(y + row / 2 + 3)}" text-anchor="end" font-size="11"{style}>'
            f"<title>{_e(name)}{' (not seen in reference)' if is_new else ''}</title>"
            f"{_e(_truncate(name, 22))}{' ★' if is_new else ''}</text>"
        )
        pair = ((2, reference[index], REFERENCE_COLOUR), (2 + bar, current[index], CURRENT_COLOUR))
        for offset, share, colour in pair:
            opacity = ' fill-opacity="0.8"' if colour == REFERENCE_COLOUR else ""
            parts.append(
                f'<rect x="{left}" y="{_c(y + offset)}" width="{_c(max(x_of(share) - left, 0.0))}" height="{bar}" '
                f'fill="{colour}"{opacity}/>'
            )
        # One label per pair, right of the longer bar: two labels 8 px apart would overlap.
        parts.append(
            f'<text x="{_c(x_of(max(reference[index], current[index])) + 4)}" y="{_c(y + 2 + bar + 3)}" font-size="9" '
            f'fill="#475467">{_e(format_share(reference[index]))} → {_e(format_share(current[index]))}</text>'
        )
    if hidden:
        parts.append(
            f'<text x="{left}" y="{bottom_y + 32}" font-size="11" fill="#667085">'
            f"+{hidden} smaller categories not drawn</text>"
        )
    parts.append(_legend(width - right - 120, 12, numeric=False))
    parts.append("</svg>")
    return Markup("".join(parts))


def distribution_plot(histogram: Histogram | None, label: str, unseen: Sequence[str] = ()) -> Markup:
    """The right plot for the histogram's shape (edges → numeric, categories → bars)."""
    if isinstance(histogram, CategoricalHistogram):
        return categorical_plot(histogram, label, unseen)
    return numeric_plot(histogram, label)


def sparkline(histogram: Histogram | None) -> Markup:
    """A 120×28 thumbnail of the two distributions for the summary table ("—" if none)."""
    width, height, pad = 120, 28, 2
    if histogram is None or isinstance(histogram, CategoricalHistogram) and not histogram.categories:
        return Markup(f'<span class="na">{DASH}</span>')
    if isinstance(histogram, NumericHistogram):
        reference, current = histogram.reference, histogram.current
        y_max = max([*reference, *current, 0.0]) or 1.0
        slot = (width - 2 * pad) / len(reference)

        def y_of(share: float) -> float:
            return pad + (height - 2 * pad) * (1 - share / y_max)

        body = (
            f'<path d="{_step_path(reference, pad, slot, y_of, close=True)}" fill="{REFERENCE_COLOUR}" '
            f'fill-opacity="0.45" stroke="none"/>'
            f'<path d="{_step_path(current, pad, slot, y_of, close=False)}" fill="none" '
            f'stroke="{CURRENT_LINE_COLOUR}" stroke-width="1.5"/>'
        )
    else:
        reference = histogram.reference[:_MAX_SPARK_CATEGORIES]
        current = histogram.current[:_MAX_SPARK_CATEGORIES]
        y_max = max([*reference, *current, 0.0]) or 1.0
        slot = (width - 2 * pad) / len(reference)
        bar = max(slot / 2 - 0.5, 0.5)
        rects = []
        for index, (ref, cur) in enumerate(zip(reference, current)):
            for offset, share, colour in ((0.0, ref, REFERENCE_COLOUR), (bar, cur, CURRENT_COLOUR)):
                h = (height - 2 * pad) * share / y_max
                rects.append(
                    f'<rect x="{_c(pad + index * slot + offset)}" y="{_c(height - pad - h)}" '
                    f'width="{_c(bar)}" height="{_c(h)}" fill="{colour}"/>'
                )
        body = "".join(rects)
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-hidden="true">{body}<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" '
        f'y2="{height - pad}" stroke="#98a2b3" stroke-width="0.5"/></svg>'
    )


def performance_plot(metric: str, reference: float, current: float) -> Markup:
    """The champion's metric at registration (blue) and on the labelled new rows (orange)."""
    values = [("reference", reference, REFERENCE_COLOUR), ("current", current, CURRENT_COLOUR)]
    top = _nice_max(max(reference, current, 0.0))
    if top <= 1.0 and min(reference, current) >= 0:
        top = 1.0
    width, left, bar = 320, 72, 18
    rows = []
    for index, (label, value, colour) in enumerate(values):
        y = 8 + index * 30
        w = (width - left - 50) * max(value, 0.0) / top
        rows.append(
            f'<text x="{left - 8}" y="{y + 13}" text-anchor="end" font-size="11" fill="#344054">{label}</text>'
            f'<rect x="{left}" y="{y}" width="{_c(w)}" height="{bar}" fill="{colour}"/>'
            f'<text x="{_c(left + w + 5)}" y="{y + 13}" font-size="11" fill="#101828">'
            f"{_e(format_number(value))}</text>"
        )
    return Markup(
        f'<svg class="plot small" viewBox="0 0 {width} 70" role="img" '
        f'aria-label="{_e(metric)}: reference vs current">{"".join(rows)}</svg>'
    )


def auc_plot(auc: float, threshold: float, drifted: bool | None) -> Markup:
    """The domain classifier's AUC on a 0.5 (no signal) to 1.0 (separable) scale, with the threshold.

    The dot is red when drifted, green when not, grey when there is no verdict (`None`: not evaluated).
    """
    width, left, right = 320, 14, 14

    def x_of(value: float) -> float:
        return left + (width - left - right) * (min(max(value, 0.5), 1.0) - 0.5) / 0.5

    colour = NEUTRAL_GREY if drifted is None else DRIFT_RED if drifted else "#067647"
    marks = (
        f'<rect x="{left}" y="24" width="{width - left - right}" height="8" rx="4" fill="#e4e7ec"/>'
        f'<text x="{left}" y="50" font-size="10" fill="#667085">0.5 no signal</text>'
        f'<text x="{width - right}" y="50" text-anchor="end" font-size="10" fill="#667085">1.0 separable</text>'
        f'<line x1="{_c(x_of(threshold))}" y1="18" x2="{_c(x_of(threshold))}" y2="38" stroke="#344054" '
        'stroke-width="1.5" stroke-dasharray="2 2"/>'
        f'<text x="{_c(x_of(threshold))}" y="13" text-anchor="middle" font-size="10" fill="#344054">'
        f"threshold {_e(format_number(threshold))}</text>"
        f'<circle cx="{_c(x_of(auc))}" cy="28" r="7" fill="{colour}" stroke="#fff" stroke-width="2"/>'
    )
    return Markup(
        f'<svg class="plot small" viewBox="0 0 {width} 56" role="img" aria-label="domain classifier AUC">{marks}</svg>'
    )


def estimate_plot(estimated: EstimatedPerformance) -> Markup:
    """Each metric estimated without labels: its band (bar), the estimate (orange dot), the reference
    (blue tick) and, once labels are in, the realised value (black diamond)."""
    metrics = [m for m in estimated.metrics if m.estimate is not None or m.reference is not None]
    if not metrics:
        return _placeholder_svg("estimated performance", "no estimate", width=380, height=60)
    values = [v for m in metrics for v in (m.reference, m.estimate, m.low, m.high, m.realised) if v is not None]
    low, high = min(values), max(values)
    margin = (high - low) * 0.1 or 0.05
    low, high = low - margin, high + margin
    width, left, right, row, top = 380, 96, 16, 26, 8

    def x_of(value: float) -> float:
        return left + (width - left - right) * (value - low) / (high - low)

    parts = [f'<svg class="plot small" viewBox="0 0 {width} {top + row * len(metrics) + 22}" role="img" '
             f'aria-label="estimated performance">']
    for index, m in enumerate(metrics):
        y = top + index * row + row / 2
        parts.append(f'<text x="{left - 8}" y="{_c(y + 4)}" text-anchor="end" font-size="11" fill="#344054">'
                     f"<title>{_e(m.metric)}</title>{_e(_truncate(m.metric, 14))}</text>")
        parts.append(f'<line x1="{left}" y1="{_c(y)}" x2="{width - right}" y2="{_c(y)}" stroke="#f2f4f7"/>')
        if m.low is not None and m.high is not None:
            parts.append(f'<rect x="{_c(x_of(m.low))}" y="{_c(y - 5)}" width="{_c(max(x_of(m.high) - x_of(m.low), 1.0))}" '
                         f'height="10" rx="3" fill="{CURRENT_COLOUR}" fill-opacity="0.3"><title>band '
                         f"{_e(format_number(m.low))} to {_e(format_number(m.high))}</title></rect>")
        if m.reference is not None:
            x = x_of(m.reference)
            parts.append(f'<line x1="{_c(x)}" y1="{_c(y - 8)}" x2="{_c(x)}" y2="{_c(y + 8)}" stroke="{REFERENCE_COLOUR}" '
                         f'stroke-width="2.5"><title>reference {_e(format_number(m.reference))}</title></line>')
        if m.estimate is not None:
            parts.append(f'<circle cx="{_c(x_of(m.estimate))}" cy="{_c(y)}" r="4.5" fill="{CURRENT_LINE_COLOUR}">'
                         f"<title>estimate {_e(format_number(m.estimate))}</title></circle>")
        if m.realised is not None:
            x = x_of(m.realised)
            parts.append(f'<path d="M{_c(x)},{_c(y - 5)} L{_c(x + 5)},{_c(y)} L{_c(x)},{_c(y + 5)} L{_c(x - 5)},{_c(y)} Z" '
                         f'fill="#101828"><title>realised {_e(format_number(m.realised))}</title></path>')
    base = top + row * len(metrics) + 14
    parts.append(f'<text x="{left}" y="{base}" font-size="10" fill="#667085">{_e(format_number(low))}</text>'
                 f'<text x="{width - right}" y="{base}" text-anchor="end" font-size="10" fill="#667085">'
                 f"{_e(format_number(high))}</text></svg>")
    return Markup("".join(parts))


# --------------------------------------------------------------------------- drift over time


@dataclass(frozen=True)
class Series:
    """One line of the trend panel: a value per x slot (None where absent), with its threshold and verdicts."""

    label: str
    values: tuple[float | None, ...]
    thresholds: tuple[float | None, ...]
    drifted: tuple[bool | None, ...]
    rows: tuple[int | None, ...]

    @property
    def last(self) -> int | None:
        """The slot of the latest value (None when the series has no value at all)."""
        found = [i for i, v in enumerate(self.values) if v is not None]
        return found[-1] if found else None


@dataclass(frozen=True)
class Trend:
    """The history laid on one shared x axis: slots are (run, batch, chunk), oldest first, the latest kept."""

    slots: tuple[str, ...]  # the x labels: "batch-0003" or "batch-0003 · 2025-01-06"
    runs: tuple[int, ...]  # the run of each slot
    informational: tuple[bool, ...]  # the slot's run was not evaluated: its values carry no verdict
    columns: tuple[Series, ...]
    model: tuple[Series, ...]  # prediction psi, estimated / realised metrics, data quality
    decisions: tuple[tuple[int, str, str, str], ...]  # (slot, decision, run label, batch)
    hidden: int  # older slots left out
    total_runs: int


def build_trend(report: DriftReport, history: Sequence[HistoryRow] | None) -> Trend | None:
    """The trend panel's data: the history (this run included), else this run's chunks; None when both are empty."""
    rows = list(history) if history else report_rows(report, 0, "") if report.chunks else []
    if not rows:
        return None
    # Slots in file order, one per (run, batch, chunk); a run with nothing but its decision gets one slot.
    slot_of: dict[tuple[int, str], int] = {}
    keys: list[tuple[int, str]] = []
    for row in rows:
        if row.signal != "decision" and (row.run, row.point) not in slot_of:
            slot_of[(row.run, row.point)] = len(keys)
            keys.append((row.run, row.point))
    decisions = {}
    for row in rows:
        if row.signal == "decision":
            if not any(run == row.run for run, _ in keys):
                slot_of[(row.run, row.point)] = len(keys)
                keys.append((row.run, row.point))
            decisions[row.run] = row
    # Order slots by run (file order within a run), keep the latest MAX_TREND_POINTS.
    order = sorted(range(len(keys)), key=lambda i: (keys[i][0], i))
    hidden = max(0, len(order) - MAX_TREND_POINTS)
    kept = order[hidden:]
    position = {keys[i]: x for x, i in enumerate(kept)}
    runs = tuple(keys[i][0] for i in kept)
    not_evaluated = {run for run, row in decisions.items() if row.name == "not evaluated"}

    def series(label: str, picked: list[HistoryRow]) -> Series:
        values: list[float | None] = [None] * len(kept)
        thresholds: list[float | None] = [None] * len(kept)
        drifted: list[bool | None] = [None] * len(kept)
        counts: list[int | None] = [None] * len(kept)
        for row in picked:
            x = position.get((row.run, row.point))
            if x is not None:
                values[x], thresholds[x], counts[x] = row.statistic, row.threshold, row.rows
                drifted[x] = None if row.run in not_evaluated else row.drifted
        return Series(label, tuple(values), tuple(thresholds), tuple(drifted), tuple(counts))

    by_name: dict[tuple[str, str], list[HistoryRow]] = {}
    for row in rows:
        by_name.setdefault((row.signal, row.name), []).append(row)
    ranked = [c.name for c in columns_by_severity(report.columns)]
    names = sorted({name for signal, name in by_name if signal == "column"},
                   key=lambda n: (ranked.index(n) if n in ranked else len(ranked), n))
    columns = tuple(s for s in (series(n, by_name[("column", n)]) for n in names) if s.last is not None)
    model_keys = sorted((k for k in by_name if k[0] in ("prediction", "estimated", "realised", "quality")),
                        key=lambda k: (("prediction", "estimated", "realised", "quality").index(k[0]), k[1]))
    labels = {"prediction": "prediction {}", "estimated": "{} estimated", "realised": "{} realised", "quality": "bad rows ({})"}
    model = tuple(s for s in (series(labels[k[0]].format(k[1]), by_name[k]) for k in model_keys) if s.last is not None)
    marks = []
    for run, row in sorted(decisions.items()):
        at = [x for x, r in enumerate(runs) if r == run]
        if at:
            marks.append((at[-1], row.name, f"run {run}" if run else "this run", row.point))
    return Trend(slots=tuple(keys[i][1] for i in kept), runs=runs, informational=tuple(r in not_evaluated for r in runs),
                 columns=columns, model=model, decisions=tuple(marks), hidden=hidden,
                 total_runs=len({run for run, _ in keys}))


_SPARK_W, _SPARK_H, _SPARK_PAD = 260, 54, 6


def _slot_x(index: int, count: int, width: float = _SPARK_W, pad: float = _SPARK_PAD) -> float:
    """The x of slot `index` of `count`, shared by every sparkline and the timeline so they line up."""
    if count <= 1:
        return width / 2
    return pad + (width - 2 * pad) * index / (count - 1)


def trend_sparkline(series: Series, trend: Trend, label: str) -> Markup:
    """The statistic over batches (line), its threshold (dashed), drifted points red; <title> on each point."""
    count = len(trend.slots)
    present = [v for v in series.values if v is not None] + [t for t in series.thresholds if t is not None]
    low = min([0.0, *present])
    high = _nice_max(max([*present, 0.0]) * 1.08) if present else 1.0
    span = (high - low) or 1.0

    def y_of(value: float) -> float:
        return _SPARK_PAD + (_SPARK_H - 2 * _SPARK_PAD) * (1 - (value - low) / span)

    parts = [f'<svg class="trend-spark" viewBox="0 0 {_SPARK_W} {_SPARK_H}" role="img" aria-label="{_e(label)}">',
             f'<line x1="0" y1="{_c(y_of(low))}" x2="{_SPARK_W}" y2="{_c(y_of(low))}" stroke="#e4e7ec"/>']
    # Threshold: a dashed step line through the slots that have one.
    steps = [(i, t) for i, t in enumerate(series.thresholds) if t is not None]
    if steps:
        half = (_SPARK_W - 2 * _SPARK_PAD) / max(count - 1, 1) / 2
        path = []
        for index, (i, t) in enumerate(steps):
            x0 = 0.0 if index == 0 else _slot_x(i, count) - half
            x1 = float(_SPARK_W) if index == len(steps) - 1 else _slot_x(i, count) + half
            path.append(f"{'M' if index == 0 else 'L'}{_c(x0)},{_c(y_of(t))} L{_c(x1)},{_c(y_of(t))}")
        parts.append(f'<path class="threshold" d="{" ".join(path)}" fill="none" stroke="#475467" stroke-width="1" '
                     f'stroke-dasharray="4 3"><title>threshold {_e(format_number(steps[-1][1]))}</title></path>')
    # The value line joins the batches that have a value (labels, say, arrive for some batches only).
    points = [f"{_c(_slot_x(i, count))},{_c(y_of(v))}" for i, v in enumerate(series.values) if v is not None]
    if len(points) > 1:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{REFERENCE_COLOUR}" stroke-width="1.5"/>')
    for i, value in enumerate(series.values):
        if value is None:
            continue
        x, y = _slot_x(i, count), y_of(value)
        drifted = series.drifted[i]
        verdict = "for information (not evaluated)" if trend.informational[i] else \
            "drifted" if drifted else "holding" if drifted is not None else ""
        threshold = series.thresholds[i]
        tip = (f"{trend.slots[i]}: {series.label} {format_number(value)}"
               + (f" (threshold {format_number(threshold)})" if threshold is not None else "")
               + (f", {format_number(series.rows[i])} rows" if series.rows[i] is not None else "")
               + (f": {verdict}" if verdict else ""))
        if drifted:
            shape = f'<circle cx="{_c(x)}" cy="{_c(y)}" r="3.5" fill="{DRIFT_RED}" stroke="#fff" stroke-width="1">'
        elif trend.informational[i]:
            shape = f'<circle cx="{_c(x)}" cy="{_c(y)}" r="2.5" fill="#fff" stroke="{NEUTRAL_GREY}" stroke-width="1.2">'
        else:
            shape = f'<circle cx="{_c(x)}" cy="{_c(y)}" r="2.2" fill="{REFERENCE_COLOUR}">'
        parts.append(f'{shape}<title>{_e(tip)}</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _decision_mark(x: float, y: float, decision: str, title: str) -> str:
    colour, shape = DECISION_MARKS.get(decision, (NEUTRAL_GREY, "ring"))
    tip = f"<title>{_e(title)}</title>"
    if shape == "triangle":
        return f'<path d="M{_c(x)},{_c(y - 7)} L{_c(x + 7)},{_c(y + 5)} L{_c(x - 7)},{_c(y + 5)} Z" fill="{colour}">{tip}</path>'
    if shape == "cross":
        return (f'<path d="M{_c(x - 5)},{_c(y - 5)} L{_c(x + 5)},{_c(y + 5)} M{_c(x + 5)},{_c(y - 5)} L{_c(x - 5)},{_c(y + 5)}" '
                f'stroke="{colour}" stroke-width="3" fill="none">{tip}</path>')
    if shape == "ring":
        return f'<circle cx="{_c(x)}" cy="{_c(y)}" r="5" fill="#fff" stroke="{colour}" stroke-width="2">{tip}</circle>'
    return f'<circle cx="{_c(x)}" cy="{_c(y)}" r="6" fill="{colour}">{tip}</circle>'


def decision_timeline(trend: Trend) -> Markup:
    """One mark per run on the batch axis (retrain ▲ red, no retrain ● green, not evaluated ○ grey, rejected ✕).

    The axis is labelled at its two ends only (truncated, the full name in <title>), so labels never collide;
    each mark names its run, batch and decision in its <title>.
    """
    width, height, pad = 560, 58, 14
    count = len(trend.slots)
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height}" role="img" aria-label="decision per monitor run">',
             f'<line x1="{pad}" y1="20" x2="{width - pad}" y2="20" stroke="#d0d5dd" stroke-width="2"/>']
    for slot, decision, run, batch in trend.decisions:
        x = _slot_x(slot, count, width, pad)
        parts.append(f'<g class="decision" data-decision="{_e(decision)}">'
                     f"{_decision_mark(x, 20, decision, f'{run} · {batch}: {decision}')}</g>")
    for i in [0] if count == 1 else [0, count - 1]:
        anchor = "middle" if count == 1 else "start" if i == 0 else "end"
        x = width / 2 if count == 1 else pad if i == 0 else width - pad
        parts.append(f'<text class="axis-label" x="{_c(x)}" y="46" text-anchor="{anchor}" font-size="11" fill="#475467">'
                     f"<title>{_e(trend.slots[i])}</title>{_e(_truncate(trend.slots[i], 30))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


# --------------------------------------------------------------------------- page


def sketch_text(column: ColumnDrift) -> str:
    """What a sketched reference means for this column's verdict, e.g.
    "Reference: KLL sketch (k=200), rank error ≤ 1.33%; wasserstein statistic ± 0.124 at most from it"."""
    sketch = column.sketch
    if sketch is None:
        return ""
    method = (f"KLL sketch (k={sketch.k}), rank error ≤ {sketch.rank_error:.2%}" if sketch.rank_error
              else f"KLL sketch (k={sketch.k}), exact: it holds every value")
    text = f"Reference: {method}"
    if sketch.statistic_error_bound:
        text += f"; {column.test} statistic ± {format_number(sketch.statistic_error_bound)} at most from it"
    if sketch.within_error_bound:
        text += ": within the error bound of the threshold, the exact reference could decide otherwise"
    return text


def columns_by_severity(columns: Sequence[ColumnDrift]) -> list[ColumnDrift]:
    """Drifted columns first, then by severity (highest first), then by name."""
    return sorted(columns, key=lambda c: (not c.drifted, -c.severity, c.name))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """A JSON document's leaves as (dotted key, value), keys sorted."""
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = []
        for key in sorted(value):
            items.extend(_flatten(value[key], f"{prefix}.{key}" if prefix else key))
        return items
    return [(prefix, value)]


def _format_leaf(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_format_leaf(v) for v in value) or DASH
    return format_number(value)


def _anchor(name: str) -> str:
    """The URL fragment of a column's card (the card's id is the name itself, escaped)."""
    return quote("col-" + name, safe="")


@cache
def _template() -> Any:
    # Imported here: only the monitor stage renders a page, and jinja2 is not free to import.
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("driftline.drift", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(number=format_number, share=format_share, truncate_to=_truncate, anchor=_anchor, coord=_c,
                       attr=lambda flag: "true" if flag else "false")
    env.globals.update(distribution_plot=distribution_plot, numeric_plot=numeric_plot, sparkline=sparkline,
                       performance_plot=performance_plot, auc_plot=auc_plot, trend_sparkline=trend_sparkline,
                       decision_timeline=decision_timeline, estimate_plot=estimate_plot, sketch_text=sketch_text, DECISION_MARKS=DECISION_MARKS, DASH=DASH)
    return env.get_template("drift_report.html.j2")


def render_drift_html(report: DriftReport | Mapping[str, Any], history: Sequence[HistoryRow] | None = None) -> str:
    """The drift report as one self-contained, deterministic HTML page (see the module doc).

    Takes the model, or a drift.json document (validated into the model first), and optionally the
    drift history's rows (`driftline.drift.history.read_history`), this run's included: the
    "Drift over time" panel draws them. Without a history it draws this run's batches (report.chunks).
    """
    if not isinstance(report, DriftReport):
        report = DriftReport.model_validate(report)
    columns = columns_by_severity(report.columns)
    judged = report.decision.evaluated
    return _template().render(
        r=report,
        judged=judged,
        columns=columns,
        drifted=[c for c in columns if c.drifted] if judged else [],
        stable=[c for c in columns if not c.drifted] if judged else columns,
        policy=_flatten(report.decision.policy.model_dump(mode="json")),
        format_leaf=_format_leaf,
        top_severity=max([c.severity for c in columns] + [0.0]) or 1.0,
        trend=build_trend(report, history),
        top_reasons=_top_reasons,
    )


def _top_reasons(reasons: Mapping[str, int], limit: int = 3) -> list[tuple[str, int]]:
    """The rules that fail most rows, most first (ties by name)."""
    return sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:limit]
