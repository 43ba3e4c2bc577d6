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
from functools import cache
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from driftline.drift.report import CategoricalHistogram, ColumnDrift, DriftReport, Histogram, NumericHistogram

#: Okabe–Ito blue and orange (a darker orange for lines, so they stand out on white).
REFERENCE_COLOUR = "#0072B2"
CURRENT_COLOUR = "#E69F00"
CURRENT_LINE_COLOUR = "#C77C00"
DASH = "—"

_MAX_CATEGORIES_PLOTTED = 30
_MAX_SPARK_CATEGORIES = 24
_MAX_X_TICKS = 7


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
    width, left, right, top = 560, 168, 46, 30
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
            bar_w = x_of(share) - left
            opacity = ' fill-opacity="0.8"' if colour == REFERENCE_COLOUR else ""
            parts.append(
                f'<rect x="{left}" y="{_c(y + offset)}" width="{_c(max(bar_w, 0.0))}" height="{bar}" '
                f'fill="{colour}"{opacity}/>'
                f'<text x="{_c(left + bar_w + 4)}" y="{_c(y + offset + bar - 1)}" font-size="9" fill="#475467">'
                f"{_e(format_share(share))}</text>"
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


def auc_plot(auc: float, threshold: float, drifted: bool) -> Markup:
    """The domain classifier's AUC on a 0.5 (no signal) to 1.0 (separable) scale, with the threshold."""
    width, left, right = 320, 14, 14

    def x_of(value: float) -> float:
        return left + (width - left - right) * (min(max(value, 0.5), 1.0) - 0.5) / 0.5

    colour = "#b42318" if drifted else "#067647"
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


# --------------------------------------------------------------------------- page


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
                       performance_plot=performance_plot, auc_plot=auc_plot, DASH=DASH)
    return env.get_template("drift_report.html.j2")


def render_drift_html(report: DriftReport | Mapping[str, Any]) -> str:
    """The drift report as one self-contained, deterministic HTML page (see the module doc).

    Takes the model, or a drift.json document (validated into the model first).
    """
    if not isinstance(report, DriftReport):
        report = DriftReport.model_validate(report)
    columns = columns_by_severity(report.columns)
    return _template().render(
        r=report,
        columns=columns,
        drifted=[c for c in columns if c.drifted],
        stable=[c for c in columns if not c.drifted],
        policy=_flatten(report.decision.policy.model_dump(mode="json")),
        format_leaf=_format_leaf,
        top_severity=max([c.severity for c in columns] + [0.0]) or 1.0,
    )
