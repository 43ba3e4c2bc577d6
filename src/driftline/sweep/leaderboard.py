"""Rank a sweep's jobs by the pipeline's primary metric; render the ranking as CSV and SVG.

`collect` reads the `result.json` each job left in its Hydra job folder; everything else is
pure and works on the rows.
"""

from __future__ import annotations

import csv
import io
import json
from html import escape
from pathlib import Path
from typing import Any

from driftline.config.metrics import HIGHER, METRICS
from driftline.sweep.job import RESULT_FILE

LEADERBOARD_CSV = "leaderboard.csv"
LEADERBOARD_SVG = "leaderboard.svg"


def collect(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every finished job's result under `sweep_dir` (Hydra's `<sweep_dir>/<job>/` layout)."""
    results = []
    for path in sorted(sweep_dir.glob(f"*/{RESULT_FILE}")):
        result = json.loads(path.read_text(encoding="utf-8"))
        result["dir"] = path.parent.name
        results.append(result)
    return results


def rank(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best first by `objective` in the metric's direction; ties keep job order. Adds `rank`."""
    if not results:
        return []
    sign = METRICS[results[0]["metric"]].sign
    ordered = sorted(results, key=lambda r: (-sign * r["objective"], r["job"]))
    return [{**r, "rank": i} for i, r in enumerate(ordered, start=1)]


def swept_keys(rows: list[dict[str, Any]]) -> list[str]:
    """The swept keys, in the order the overrides named them."""
    keys: list[str] = []
    for row in sorted(rows, key=lambda r: r["job"]):
        named = [o.split("=", 1)[0].lstrip("+~") for o in row.get("overrides", [])]
        swept = row.get("swept", {})
        keys.extend(k for k in [*(n for n in named if n in swept), *swept] if k not in keys)
    return keys


def table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and string cells: rank, job, one column per swept key, valid/test metric, trees, seconds."""
    if not rows:
        return [], []
    metric = rows[0]["metric"]
    keys = swept_keys(rows)
    header = ["rank", "job", *keys, f"valid_{metric}", f"test_{metric}", "trees", "seconds"]
    cells = []
    for row in rows:
        test = row.get("test")
        cells.append([
            str(row["rank"]), str(row["job"]), *(_fmt(row["swept"].get(k)) for k in keys),
            f"{row['objective']:.6f}", "" if test is None else f"{test:.6f}",
            str(row["best_iteration"]), f"{row['seconds']:.2f}",
        ])
    return header, cells


def to_csv(rows: list[dict[str, Any]]) -> str:
    header, cells = table(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(cells)
    return buffer.getvalue()


def to_svg(rows: list[dict[str, Any]], title: str = "") -> str:
    """A self-contained horizontal bar chart of the objective, best on top (no JavaScript, no fonts)."""
    if not rows:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="10" y="25">no finished jobs</text></svg>\n'
    metric = rows[0]["metric"]
    direction = METRICS[metric].direction
    values = [r["objective"] for r in rows]
    low, high = min(values), max(values)
    span = (high - low) or abs(high) or 1.0
    floor = low - 0.1 * span  # bars start a little below the worst value so differences show
    keys = swept_keys(rows)
    labels = [" ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(r['swept'].get(k))}" for k in keys) or f"job {r['job']}" for r in rows]
    label_w = max(80, 7 * max(len(s) for s in labels) + 20)
    bar_w, row_h, top = 360, 22, 44
    width, height = label_w + bar_w + 90, top + row_h * len(rows) + 16
    out = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
         'font-family="sans-serif" font-size="12">'),
        f'<text x="10" y="18" font-size="14" font-weight="bold">{escape(title or "sweep leaderboard")}</text>',
        f'<text x="10" y="34" fill="#555">valid {escape(metric)} ({direction} is better), best first; bars start just below the worst value</text>',
    ]
    for i, (row, label) in enumerate(zip(rows, labels)):
        y = top + i * row_h
        share = (row["objective"] - floor) / (high - floor) if direction == HIGHER else (high + 0.1 * span - row["objective"]) / (high + 0.1 * span - low)
        w = max(2.0, bar_w * share)
        colour = "#2b7a3d" if i == 0 else "#6c8ebf"
        out.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        tip = escape(" ".join(row["overrides"]))
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"><title>{tip}</title></rect>')
        out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{row["objective"]:.4f}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(sweep_dir: Path, rows: list[dict[str, Any]], title: str = "") -> list[Path]:
    from driftline.atomic import write_text

    csv_path, svg_path = sweep_dir / LEADERBOARD_CSV, sweep_dir / LEADERBOARD_SVG
    write_text(csv_path, to_csv(rows))
    write_text(svg_path, to_svg(rows, title))
    return [csv_path, svg_path]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)
