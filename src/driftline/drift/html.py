"""Render a drift report (the dict the monitor writes as drift.json) as one HTML page.

`render_drift_html` is a pure function of the report: no I/O, no clock, no randomness, so
the same report always gives the same string. The page is self-contained — CSS in a
``<style>`` tag, every plot an inline SVG, no script, font, image or link to fetch — so it
opens from disk, offline, years later.

What a reader sees, top to bottom: the verdict (retrain or not) with its reasons and the
dataset-level flags; the model-level signals (prediction drift, multivariate drift,
performance); a table of columns, drifted first, then by severity; one card per column, in
the same order, with the reference-vs-current distribution. Reference is always blue and
drawn as filled bars, current always orange and drawn as a step line (numeric) or the lower
bar of each pair (categories) — the Okabe–Ito pair, which colour-blind readers tell apart,
and the shapes differ too.

Everything from the report is escaped: column names and categories are user data. Missing
or non-finite numbers are shown as "—", never as "None" or "nan".
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

#: Okabe–Ito blue and orange (a darker orange for lines, so they stand out on white).
REFERENCE_COLOUR = "#0072B2"
CURRENT_COLOUR = "#E69F00"
CURRENT_LINE_COLOUR = "#C77C00"
DASH = "—"

_MAX_CATEGORIES_PLOTTED = 30
_MAX_SPARK_CATEGORIES = 24
_MAX_UNSEEN_LISTED = 20
_MAX_X_TICKS = 7


# --------------------------------------------------------------------------- formatting


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite(value: Any) -> float | None:
    """The value as a finite float, or None (null, NaN, ±inf, not a number)."""
    if not _is_number(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_number(value: Any) -> str:
    """A number for people: 3 significant digits, thousands separators, "—" for nothing."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value or DASH
    if not _is_number(value):
        return DASH
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
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


def format_share(value: Any) -> str:
    """A share in [0, 1] as a percentage: 0.031 → "3.1%", 0.4 → "40%"."""
    share = _finite(value)
    if share is None:
        return DASH
    percent = share * 100
    if percent == 0:
        return "0%"
    if abs(percent) < 0.1:
        return "<0.1%"
    if abs(percent) < 99.95:
        text = f"{percent:.1f}"
        return (text[:-2] if text.endswith(".0") else text) + "%"
    return f"{percent:.0f}%"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _c(value: float) -> str:
    """An SVG coordinate: one decimal, so output is short and deterministic."""
    text = f"{value:.1f}"
    return "0" if text == "-0.0" else (text[:-2] if text.endswith(".0") else text)


def _bool_attr(value: Any) -> str:
    return "true" if value is True else "false"


def _shares(values: Any, count: int) -> list[float]:
    """`count` bin shares; absent, null, negative or non-finite entries count as 0."""
    items = list(values) if isinstance(values, Sequence) and not isinstance(values, str) else []
    shares = [max(_finite(v) or 0.0, 0.0) for v in items[:count]]
    return shares + [0.0] * (count - len(shares))


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


# --------------------------------------------------------------------------- histograms


def _numeric_bins(histogram: Any) -> tuple[list[str], list[float], list[float]] | None:
    """Edge labels and the two share lists of a numeric histogram, or None if unusable."""
    if not isinstance(histogram, Mapping):
        return None
    edges = histogram.get("edges")
    if not isinstance(edges, Sequence) or isinstance(edges, str) or len(edges) < 2:
        return None
    count = len(edges) - 1
    labels = []
    for index, edge in enumerate(edges):
        if _finite(edge) is not None:
            labels.append(format_number(edge))
        elif index == 0:
            labels.append("−∞")
        elif index == count:
            labels.append("∞")
        else:
            labels.append(format_number(edge))
    return labels, _shares(histogram.get("reference"), count), _shares(histogram.get("current"), count)


def _categorical_bins(histogram: Any) -> tuple[list[str], list[float], list[float]] | None:
    if not isinstance(histogram, Mapping):
        return None
    categories = histogram.get("categories")
    if not isinstance(categories, Sequence) or isinstance(categories, str) or not categories:
        return None
    names = [DASH if c is None else str(c) for c in categories]
    count = len(names)
    return names, _shares(histogram.get("reference"), count), _shares(histogram.get("current"), count)


def _step_path(shares: Sequence[float], x0: float, slot: float, y_of: Any, close: bool) -> str:
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


def _placeholder_svg(label: str, message: str, width: int = 560, height: int = 80) -> str:
    return (
        f'<svg class="plot" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">'
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" fill="#f6f7f9" '
        f'stroke="#d0d5dd" stroke-dasharray="4 3"/>'
        f'<text x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" text-anchor="middle" fill="#667085" '
        f'font-size="13">{_e(message)}</text></svg>'
    )


def numeric_plot(histogram: Any, label: str) -> str:
    """Reference bins as blue bars, current as an orange step line, on equal-width slots.

    Bins are drawn at equal width whatever their edges (reference-quantile bins would
    otherwise squash the tails); the ticks give the real edges.
    """
    bins = _numeric_bins(histogram)
    if bins is None:
        return _placeholder_svg(label, "no distribution to plot")
    edge_labels, reference, current = bins
    width, height = 560, 230
    left, right, top, bottom = 46, 12, 30, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(reference)
    slot = plot_w / count
    y_max = _nice_max(max(reference + current + [0.0]))

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
    return "".join(parts)


def categorical_plot(histogram: Any, label: str, unseen: Sequence[str] = ()) -> str:
    """Grouped horizontal bars per category: reference (blue) above current (orange)."""
    bins = _categorical_bins(histogram)
    if bins is None:
        return _placeholder_svg(label, "no distribution to plot")
    names, reference, current = bins
    hidden = max(0, len(names) - _MAX_CATEGORIES_PLOTTED)
    if hidden:
        # Keep the categories that weigh most on either side, in the report's order.
        weight = sorted(range(len(names)), key=lambda i: (-max(reference[i], current[i]), i))
        kept = sorted(weight[:_MAX_CATEGORIES_PLOTTED])
        names, reference, current = [names[i] for i in kept], [reference[i] for i in kept], [current[i] for i in kept]
    new = {str(name) for name in unseen}
    row, bar = 21, 8
    width, left, right, top = 560, 168, 46, 30
    height = top + row * len(names) + 24 + (16 if hidden else 0)
    plot_w = width - left - right
    x_max = _nice_max(max(reference + current + [0.0]))

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
        text = _truncate(name, 22)
        style = ' fill="#b42318" font-weight="600"' if is_new else ' fill="#344054"'
        parts.append(
            f'<text x="{left - 8}" y="{_c(y + row / 2 + 3)}" text-anchor="end" font-size="11"{style}>'
            f"<title>{_e(name)}{' (not seen in reference)' if is_new else ''}</title>"
            f"{_e(text)}{' ★' if is_new else ''}</text>"
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
    return "".join(parts)


def distribution_plot(histogram: Any, label: str, unseen: Sequence[str] = ()) -> str:
    """The right plot for the histogram's shape (edges → numeric, categories → bars)."""
    if isinstance(histogram, Mapping) and "categories" in histogram:
        return categorical_plot(histogram, label, unseen)
    return numeric_plot(histogram, label)


def sparkline(histogram: Any) -> str:
    """A 120×28 thumbnail of the two distributions for the summary table ("—" if none)."""
    width, height, pad = 120, 28, 2
    numeric = _numeric_bins(histogram)
    categorical = None if numeric else _categorical_bins(histogram)
    if numeric is None and categorical is None:
        return f'<span class="na">{DASH}</span>'
    if numeric is not None:
        _, reference, current = numeric
        y_max = max(reference + current + [0.0]) or 1.0
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
        assert categorical is not None
        _, reference, current = categorical
        reference, current = reference[:_MAX_SPARK_CATEGORIES], current[:_MAX_SPARK_CATEGORIES]
        y_max = max(reference + current + [0.0]) or 1.0
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
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-hidden="true">{body}<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" '
        f'y2="{height - pad}" stroke="#98a2b3" stroke-width="0.5"/></svg>'
    )


# --------------------------------------------------------------------------- page parts


def _severity(column: Mapping[str, Any]) -> float:
    return _finite(column.get("severity")) or 0.0


def columns_by_severity(columns: Any) -> list[Mapping[str, Any]]:
    """Drifted columns first, then by severity (highest first), then by name."""
    usable = [c for c in (columns or []) if isinstance(c, Mapping)]
    return sorted(usable, key=lambda c: (c.get("drifted") is not True, -_severity(c), str(c.get("name", ""))))


def _badge(state: str, text: str, title: str = "") -> str:
    """`state` is drift / ok / na; the symbol repeats the colour's meaning for colour-blind readers."""
    symbol = {"drift": "▲", "ok": "✓", "na": "·"}[state]
    title_attr = f' title="{_e(title)}"' if title else ""
    return f'<span class="badge {state}"{title_attr}><span class="sym">{symbol}</span>{text}</span>'


def _state(flag: Any) -> str:
    return "drift" if flag is True else "ok" if flag is False else "na"


def _flag_badge(flag: Any, drifted: str, stable: str) -> str:
    return _badge(_state(flag), drifted if flag is True else stable)


def _column_badge(column: Mapping[str, Any]) -> str:
    if column.get("drifted") is True:
        return _badge("drift", "drifted")
    if _finite(column.get("statistic")) is None:
        return _badge("na", "not tested")
    return _badge("ok", "stable")


def _missing_text(missing: Any) -> str:
    if not isinstance(missing, Mapping):
        return DASH
    text = f"{_e(format_share(missing.get('reference')))} → {_e(format_share(missing.get('current')))}"
    if missing.get("drifted") is True:
        text += ' <span class="flag" title="missing share rose">▲ rose</span>'
    return text


def _unseen(column: Mapping[str, Any]) -> list[str]:
    values = column.get("unseen_categories")
    if not isinstance(values, Sequence) or isinstance(values, str):
        return []
    return [DASH if v is None else str(v) for v in values]


def _anchor(name: str) -> str:
    return f"col-{_e(name)}"


def _head(pipeline: str, verdict: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        "<!-- GENERATED by driftline's monitor from drift.json; do not edit. "
        "Rerun the monitor stage (dvc repro) to regenerate. -->\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="driftline">'
        f"<title>{_e(pipeline)} · {_e(verdict)} · driftline drift report</title>"
        f"<style>{_CSS}</style></head>"
    )


def _flag_badges(report: Mapping[str, Any]) -> str:
    badges = []
    dataset = report.get("dataset_drift")
    badges.append(
        _badge(
            _state(dataset),
            f"dataset drift <b>{_e(format_number(dataset) if isinstance(dataset, bool) else DASH)}</b>",
        )
    )
    prediction = report.get("prediction")
    if isinstance(prediction, Mapping):
        badges.append(
            _badge(
                _state(prediction.get("drifted")),
                f"prediction drift <b>{_e(prediction.get('test') or '')} "
                f"{_e(format_number(prediction.get('statistic')))}</b>",
                f"threshold {format_number(prediction.get('threshold'))}",
            )
        )
    else:
        badges.append(_badge("na", f"prediction drift <b>{DASH}</b>", "not measured"))
    multivariate = report.get("multivariate")
    if isinstance(multivariate, Mapping):
        badges.append(
            _badge(
                _state(multivariate.get("drifted")),
                f"multivariate AUC <b>{_e(format_number(multivariate.get('auc')))}</b>",
                f"domain classifier; threshold {format_number(multivariate.get('threshold'))}",
            )
        )
    else:
        badges.append(_badge("na", f"multivariate AUC <b>{DASH}</b>", "not measured"))
    performance = report.get("performance")
    if isinstance(performance, Mapping):
        badges.append(
            _badge(
                _state(performance.get("drifted")),
                f"{_e(performance.get('metric') or 'metric')} drop "
                f"<b>{_e(format_number(performance.get('drop')))}</b>",
                f"{format_number(performance.get('reference'))} → {format_number(performance.get('current'))}; "
                f"threshold {format_number(performance.get('threshold'))}",
            )
        )
    else:
        badges.append(_badge("na", f"performance <b>{DASH}</b>", "no labels in the current data"))
    return "".join(badges)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = []
        for key in sorted(value, key=str):
            items.extend(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return items
    return [(prefix, value)]


def _format_any(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_any(v) for v in value) or DASH
    return format_number(value) if value is not None else DASH


def _banner(report: Mapping[str, Any], columns: Sequence[Mapping[str, Any]], retrain: bool) -> str:
    decision = report.get("decision") if isinstance(report.get("decision"), Mapping) else {}
    reasons = decision.get("reasons")
    reasons = [reasons] if isinstance(reasons, str) else list(reasons) if isinstance(reasons, Sequence) else []
    reference = report.get("reference") if isinstance(report.get("reference"), Mapping) else {}
    current = report.get("current") if isinstance(report.get("current"), Mapping) else {}
    batches = current.get("batches") if isinstance(current.get("batches"), Sequence) else []
    batches = [] if isinstance(batches, str) else [str(b) for b in batches]
    drifted = sum(1 for c in columns if c.get("drifted") is True)

    reason_items = "".join(f"<li>{_e(r)}</li>" for r in reasons) or (
        "<li>no rule of the retraining policy fired</li>" if not retrain else f"<li>{DASH}</li>"
    )
    if len(batches) == 1:
        batch_html = f"<code>{_e(batches[0])}</code>"
    elif batches:
        batch_html = (
            f"<details><summary>{len(batches)} batches</summary>"
            + "".join(f"<div><code>{_e(b)}</code></div>" for b in batches)
            + "</details>"
        )
    else:
        batch_html = DASH
    facts = [
        ("pipeline", f"<b>{_e(report.get('pipeline') or DASH)}</b>"),
        ("generated for", _e(report.get("generated_for") or DASH)),
        (
            "reference",
            f"{_e(reference.get('version') or DASH)} · {_e(format_number(reference.get('rows')))} rows",
        ),
        (
            "current",
            f"{_e(format_number(current.get('rows')))} rows · "
            f"{_e(format_number(current.get('labelled_rows')))} labelled",
        ),
        ("batches", batch_html),
        (
            "columns drifted",
            f"<b>{_e(format_share(report.get('share_drifted')))}</b> ({drifted} of {len(columns)})",
        ),
    ]
    fact_html = "".join(f'<div class="fact"><span>{label}</span><div>{value}</div></div>' for label, value in facts)
    policy = decision.get("policy")
    policy_html = ""
    if isinstance(policy, Mapping) and policy:
        rows = "".join(
            f"<tr><th>{_e(key)}</th><td>{_e(_format_any(value))}</td></tr>" for key, value in _flatten(policy)
        )
        policy_html = f'<details class="policy"><summary>retraining policy</summary><table>{rows}</table></details>'
    verdict = "Retrain" if retrain else "No retrain"
    return (
        f'<header id="verdict" class="verdict {"retrain" if retrain else "keep"}" data-retrain="{_bool_attr(retrain)}">'
        f'<div class="verdict-main"><div class="verdict-word"><span class="sym">{"▲" if retrain else "✓"}</span>'
        f"{verdict}</div>"
        f'<ul class="reasons">{reason_items}</ul>{policy_html}</div>'
        f'<div class="verdict-side"><div class="facts">{fact_html}</div>'
        f'<div class="flags">{_flag_badges(report)}</div></div></header>'
    )


def _prediction_panel(prediction: Any) -> str:
    if not isinstance(prediction, Mapping):
        return (
            '<section class="panel"><h3>Prediction drift</h3>'
            f'<p class="muted">{DASH} not measured</p></section>'
        )
    statistic = (
        f"{_e(prediction.get('test') or 'statistic')} <b>{_e(format_number(prediction.get('statistic')))}</b>"
        f" · threshold {_e(format_number(prediction.get('threshold')))}"
    )
    return (
        '<section class="panel wide" id="prediction" '
        f'data-drifted="{_bool_attr(prediction.get("drifted"))}"><h3>Prediction drift '
        f"{_flag_badge(prediction.get('drifted'), 'drifted', 'stable')}</h3>"
        f'<p class="stat">{statistic}</p>'
        f"{numeric_plot(prediction.get('histogram'), 'Distribution of model scores: reference vs current')}"
        "</section>"
    )


def _performance_panel(performance: Any) -> str:
    if not isinstance(performance, Mapping):
        return (
            '<section class="panel"><h3>Performance</h3>'
            f'<p class="muted">{DASH} no labels in the current data</p></section>'
        )
    metric = str(performance.get("metric") or "metric")
    values = [
        ("reference", performance.get("reference"), REFERENCE_COLOUR),
        ("current", performance.get("current"), CURRENT_COLOUR),
    ]
    top = _nice_max(max([_finite(v) or 0.0 for _, v, _ in values] + [0.0]))
    if top <= 1.0 and all((_finite(v) or 0.0) >= 0 for _, v, _ in values):
        top = 1.0
    width, left, bar = 320, 72, 18
    rows = []
    for index, (label, value, colour) in enumerate(values):
        y = 8 + index * 30
        number = _finite(value)
        w = (width - left - 50) * max(number or 0.0, 0.0) / top
        rows.append(
            f'<text x="{left - 8}" y="{y + 13}" text-anchor="end" font-size="11" fill="#344054">{label}</text>'
            f'<rect x="{left}" y="{y}" width="{_c(w)}" height="{bar}" fill="{colour}"/>'
            f'<text x="{_c(left + w + 5)}" y="{y + 13}" font-size="11" fill="#101828">'
            f"{_e(format_number(value))}</text>"
        )
    svg = (
        f'<svg class="plot small" viewBox="0 0 {width} 70" role="img" '
        f'aria-label="{_e(metric)}: reference vs current">{"".join(rows)}</svg>'
    )
    return (
        f'<section class="panel" id="performance" data-drifted="{_bool_attr(performance.get("drifted"))}">'
        f"<h3>Performance: {_e(metric)} "
        f"{_flag_badge(performance.get('drifted'), 'dropped', 'holding')}</h3>"
        f"{svg}"
        f'<p class="stat">drop <b>{_e(format_number(performance.get("drop")))}</b> · threshold '
        f'{_e(format_number(performance.get("threshold")))}</p></section>'
    )


def _multivariate_panel(multivariate: Any) -> str:
    if not isinstance(multivariate, Mapping):
        return (
            '<section class="panel"><h3>Multivariate drift</h3>'
            f'<p class="muted">{DASH} not measured</p></section>'
        )
    auc, threshold = _finite(multivariate.get("auc")), _finite(multivariate.get("threshold"))
    width, left, right = 320, 14, 14

    def x_of(value: float) -> float:
        return left + (width - left - right) * (min(max(value, 0.5), 1.0) - 0.5) / 0.5

    marks = [
        f'<rect x="{left}" y="24" width="{width - left - right}" height="8" rx="4" fill="#e4e7ec"/>',
        f'<text x="{left}" y="50" font-size="10" fill="#667085">0.5 no signal</text>',
        f'<text x="{width - right}" y="50" text-anchor="end" font-size="10" fill="#667085">1.0 separable</text>',
    ]
    if threshold is not None:
        x = x_of(threshold)
        marks.append(
            f'<line x1="{_c(x)}" y1="18" x2="{_c(x)}" y2="38" stroke="#344054" stroke-width="1.5" '
            'stroke-dasharray="2 2"/>'
            f'<text x="{_c(x)}" y="13" text-anchor="middle" font-size="10" fill="#344054">'
            f"threshold {_e(format_number(threshold))}</text>"
        )
    if auc is not None:
        x = x_of(auc)
        colour = "#b42318" if multivariate.get("drifted") is True else "#067647"
        marks.append(f'<circle cx="{_c(x)}" cy="28" r="7" fill="{colour}" stroke="#fff" stroke-width="2"/>')
    svg = (
        f'<svg class="plot small" viewBox="0 0 {width} 56" role="img" '
        f'aria-label="domain classifier AUC">{"".join(marks)}</svg>'
    )
    return (
        f'<section class="panel" id="multivariate" data-drifted="{_bool_attr(multivariate.get("drifted"))}">'
        f"<h3>Multivariate drift "
        f"{_flag_badge(multivariate.get('drifted'), 'drifted', 'stable')}</h3>"
        f"{svg}"
        f'<p class="stat">{_e(multivariate.get("test") or "classifier")} AUC <b>{_e(format_number(auc))}</b>'
        f" — how well a model tells current rows from reference rows</p></section>"
    )


def _summary_table(columns: Sequence[Mapping[str, Any]]) -> str:
    if not columns:
        return '<p class="muted">No columns were compared.</p>'
    top = max([_severity(c) for c in columns] + [0.0]) or 1.0
    rows = []
    for column in columns:
        name = str(column.get("name", DASH))
        unseen = _unseen(column)
        unseen_html = (
            f'<span class="new" title="{_e(", ".join(unseen))}">{len(unseen)}: '
            f"{_e(_truncate(', '.join(unseen), 28))}</span>"
            if unseen
            else DASH
        )
        severity = _severity(column)
        note = column.get("note")
        note_html = f'<div class="note">{_e(note)}</div>' if note else ""
        rows.append(
            f'<tr data-drifted="{_bool_attr(column.get("drifted"))}">'
            f'<td class="name"><a href="#{_e(quote("col-" + name, safe=""))}">{_e(name)}</a>{note_html}</td>'
            f"<td>{_e(column.get('kind') or DASH)}</td><td>{_e(column.get('test') or DASH)}</td>"
            f'<td class="num">{_e(format_number(column.get("statistic")))}</td>'
            f'<td class="num">{_e(format_number(column.get("threshold")))}</td>'
            f'<td class="num">{_e(format_number(column.get("p_value")))}</td>'
            f'<td class="num sev"><span class="sevbar" style="width:{_c(40 * severity / top)}px"></span>'
            f"{_e(format_number(column.get('severity')))}</td>"
            f'<td class="num">{_missing_text(column.get("missing"))}</td>'
            f"<td>{unseen_html}</td><td>{_column_badge(column)}</td>"
            f"<td>{sparkline(column.get('histogram'))}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="summary"><thead><tr>'
        "<th>column</th><th>kind</th><th>test</th><th>statistic</th><th>threshold</th><th>p-value</th>"
        "<th>severity</th><th>missing ref→cur</th><th>unseen</th><th>drift</th>"
        f'<th><span class="k ref"></span>ref <span class="k cur"></span>cur</th></tr></thead><tbody>{"".join(rows)}'
        "</tbody></table></div>"
    )


def _tests_table(column: Mapping[str, Any]) -> str:
    rows = [
        f'<tr class="main"><th>{_e(column.get("test") or DASH)}</th>'
        f'<td>{_e(format_number(column.get("statistic")))}</td>'
        f'<td>{_e(format_number(column.get("p_value")))}</td>'
        f'<td>{_e(format_number(column.get("threshold")))}</td></tr>'
    ]
    others = column.get("other_tests")
    if isinstance(others, Mapping):
        for test in sorted(others, key=str):
            result = others[test] if isinstance(others[test], Mapping) else {}
            rows.append(
                f"<tr><th>{_e(test)}</th><td>{_e(format_number(result.get('statistic')))}</td>"
                f"<td>{_e(format_number(result.get('p_value')))}</td><td>{DASH}</td></tr>"
            )
    return (
        '<table class="tests"><thead><tr><th>test</th><th>statistic</th><th>p-value</th>'
        f'<th>threshold</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _card(column: Mapping[str, Any]) -> str:
    name = str(column.get("name", DASH))
    drifted = column.get("drifted") is True
    unseen = _unseen(column)
    unseen_html = ""
    if unseen:
        chips = "".join(f'<span class="chip">{_e(u)}</span>' for u in unseen[:_MAX_UNSEEN_LISTED])
        more = f" +{len(unseen) - _MAX_UNSEEN_LISTED} more" if len(unseen) > _MAX_UNSEEN_LISTED else ""
        unseen_html = f'<div class="unseen"><span>★ not seen in reference:</span> {chips}{_e(more)}</div>'
    note = column.get("note")
    note_html = f'<p class="note">{_e(note)}</p>' if note else ""
    plot = distribution_plot(column.get("histogram"), f"Distribution of {name}: reference vs current", unseen)
    return (
        f'<details class="card{" drifted" if drifted else ""}" id="{_anchor(name)}" '
        f'data-drifted="{_bool_attr(column.get("drifted"))}"{" open" if drifted else ""}>'
        f'<summary><span class="cname">{_e(name)}</span><span class="kind">{_e(column.get("kind") or DASH)}</span>'
        f"{_column_badge(column)}"
        f'<span class="cstat">{_e(column.get("test") or DASH)} {_e(format_number(column.get("statistic")))}'
        f" / {_e(format_number(column.get('threshold')))}</span>"
        f"{sparkline(column.get('histogram'))}</summary>"
        f'<div class="card-body">{note_html}{plot}{unseen_html}'
        f'<div class="card-facts">{_tests_table(column)}'
        f'<div class="missing"><span>missing</span> {_missing_text(column.get("missing"))}</div>'
        f'<div class="missing"><span>severity</span> {_e(format_number(column.get("severity")))}</div>'
        "</div></div></details>"
    )


def _model_signals(report: Mapping[str, Any]) -> str:
    """Prediction plot beside performance and multivariate; a compact row when there is no plot."""
    prediction, performance, multivariate = (report.get(k) for k in ("prediction", "performance", "multivariate"))
    if isinstance(prediction, Mapping):
        body = (
            '<div class="panels">'
            f'{_prediction_panel(prediction)}<div class="panel-stack">'
            f"{_performance_panel(performance)}{_multivariate_panel(multivariate)}</div></div>"
        )
    else:
        body = (
            '<div class="panels compact">'
            f"{_prediction_panel(prediction)}{_performance_panel(performance)}{_multivariate_panel(multivariate)}</div>"
        )
    return f"<h2>Model signals</h2>{body}"


def render_drift_html(report: Mapping[str, Any]) -> str:
    """The drift report as one self-contained, deterministic HTML page (see the module doc)."""
    decision = report.get("decision") if isinstance(report.get("decision"), Mapping) else {}
    retrain = decision.get("retrain") is True
    columns = columns_by_severity(report.get("columns"))
    drifted = [c for c in columns if c.get("drifted") is True]
    stable = [c for c in columns if c.get("drifted") is not True]
    pipeline = str(report.get("pipeline") or "drift report")
    sections = [
        _head(pipeline, "Retrain" if retrain else "No retrain"),
        "<body><main>",
        _banner(report, columns, retrain),
        _model_signals(report),
        f"<h2>Columns <small>{len(drifted)} drifted of {len(columns)}, most severe first</small></h2>",
        _summary_table(columns),
    ]
    if drifted:
        sections.append(f'<h2>Drifted columns <small>{len(drifted)}</small></h2><div class="cards">')
        sections.extend(_card(c) for c in drifted)
        sections.append("</div>")
    if stable:
        sections.append(
            f"<h2>Stable columns <small>{len(stable)} · click one to open its plot</small></h2>"
            '<div class="cards">'
        )
        sections.extend(_card(c) for c in stable)
        sections.append("</div>")
    sections.append(
        '<footer>Generated by driftline from drift.json. Reference is blue (bars), current is orange '
        "(line or bars); shares are the fraction of non-missing rows per bin or category. "
        "Numeric bins are drawn at equal width; the ticks give their edges.</footer>"
        "</main></body></html>\n"
    )
    return "".join(sections)


_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f2f4f7;color:#101828;
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 20px 40px}
h2{font-size:17px;margin:28px 0 10px}
h2 small{font-weight:400;color:#667085;font-size:13px;margin-left:6px}
h3{font-size:14px;margin:0 0 6px;display:flex;align-items:center;gap:8px}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.muted,.note{color:#667085}
.note{font-size:12px;margin:2px 0}
.verdict{display:flex;gap:28px;flex-wrap:wrap;padding:22px 26px;border-radius:12px;color:#fff}
.verdict.retrain{background:linear-gradient(135deg,#b42318,#912018)}
.verdict.keep{background:linear-gradient(135deg,#067647,#05603a)}
.verdict-main{flex:1 1 320px}
.verdict-word{font-size:38px;font-weight:750;letter-spacing:-.5px;line-height:1.1}
.verdict-word .sym{font-size:24px;margin-right:10px;vertical-align:middle}
.reasons{margin:10px 0 0;padding-left:20px;font-size:15px}
.reasons li{margin:2px 0}
.policy{margin-top:10px;font-size:12px;opacity:.9}
.policy summary{cursor:pointer}
.policy table{border-collapse:collapse;margin-top:4px}
.policy th{text-align:left;font-weight:500;padding:1px 12px 1px 0}
.verdict-side{flex:1 1 460px}
.facts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:10px 18px}
.fact span{display:block;font-size:11px;text-transform:uppercase;letter-spacing:.05em;opacity:.75}
.fact code{color:#fff}
.fact details summary{cursor:pointer}
.flags{display:flex;flex-wrap:wrap;gap:6px;margin-top:14px}
.badge{display:inline-flex;align-items:center;gap:4px;border-radius:999px;padding:2px 10px;
  font-size:12px;font-weight:500;white-space:nowrap;border:1px solid transparent}
.badge .sym{font-size:10px}
.badge.drift{background:#fef3f2;color:#b42318;border-color:#fecdca}
.badge.ok{background:#ecfdf3;color:#067647;border-color:#abefc6}
.badge.na{background:#f2f4f7;color:#475467;border-color:#d0d5dd}
.verdict .badge{font-size:13px;padding:3px 12px}
.panels{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:14px}
.panels.compact{grid-template-columns:repeat(auto-fit,minmax(280px,1fr))}
.panel-stack{display:flex;flex-direction:column;gap:14px}
.panel{background:#fff;border:1px solid #e4e7ec;border-radius:10px;padding:14px 16px}
.panel .stat{margin:4px 0 0;color:#344054}
.plot{display:block;width:100%;height:auto;max-width:640px;font-family:inherit}
.plot.small{max-width:380px}
.table-wrap{overflow-x:auto;background:#fff;border:1px solid #e4e7ec;border-radius:10px}
table.summary{border-collapse:collapse;width:100%;font-size:13px}
.summary th{text-align:left;font-weight:600;color:#475467;background:#f9fafb;padding:8px 8px;
  border-bottom:1px solid #e4e7ec;white-space:nowrap}
.summary td{padding:4px 8px;border-bottom:1px solid #f2f4f7;vertical-align:middle}
.summary .name{max-width:220px;overflow-wrap:anywhere}
.summary tr[data-drifted=true] td.name{box-shadow:inset 3px 0 0 #d92d20}
.summary .name a{color:#101828;font-weight:600;text-decoration:none}
.summary .name a:hover{text-decoration:underline}
.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.sev{min-width:80px}
.sevbar{display:inline-block;height:8px;background:#98a2b3;border-radius:2px;margin-right:6px;vertical-align:middle}
tr[data-drifted=true] .sevbar{background:#d92d20}
.flag{color:#b42318;font-size:11px;font-weight:600;margin-left:4px}
.new{color:#b42318}
.k{display:inline-block;width:10px;height:10px;border-radius:2px;vertical-align:-1px;margin-left:4px}
.k.ref{background:#0072B2;opacity:.7}.k.cur{background:#E69F00}
.spark{display:block}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:14px;align-items:start}
.card{background:#fff;border:1px solid #e4e7ec;border-radius:10px;overflow:hidden}
.card.drifted{border-left:4px solid #d92d20}
.card summary{display:flex;align-items:center;gap:10px;padding:10px 14px;cursor:pointer;list-style:none}
.card summary::-webkit-details-marker{display:none}
.card summary::before{content:"▸";color:#98a2b3;font-size:12px}
.card[open] summary::before{content:"▾"}
.card[open] summary{border-bottom:1px solid #f2f4f7}
.card[open] summary .spark{display:none}
.cname{font-weight:650;font-size:15px;overflow-wrap:anywhere}
.kind{font-size:11px;color:#475467;background:#f2f4f7;border-radius:4px;padding:1px 6px}
.cstat{margin-left:auto;color:#475467;font-size:12px;font-variant-numeric:tabular-nums;white-space:nowrap}
.card-body{padding:10px 14px 14px}
.card-facts{display:flex;flex-wrap:wrap;gap:6px 22px;align-items:flex-start;margin-top:8px}
table.tests{border-collapse:collapse;font-size:12px}
.tests th,.tests td{padding:2px 12px 2px 0;text-align:left;font-variant-numeric:tabular-nums}
.tests thead th{color:#667085;font-weight:500;border-bottom:1px solid #e4e7ec}
.tests tbody th{font-weight:500}
.tests tr.main th,.tests tr.main td{font-weight:650}
.missing{font-size:12px}
.missing span{color:#667085;margin-right:4px}
.unseen{font-size:12px;margin-top:6px;color:#b42318}
.chip{display:inline-block;background:#fef3f2;border:1px solid #fecdca;border-radius:4px;padding:0 6px;
  margin:2px 2px 0 0;color:#912018;overflow-wrap:anywhere}
.na{color:#98a2b3}
footer{margin-top:30px;color:#667085;font-size:12px}
@media (max-width:900px){.panels{grid-template-columns:1fr}.cards{grid-template-columns:1fr}
  .facts{grid-template-columns:repeat(2,minmax(0,1fr))}}
"""
