"""The drift report page as a browser shows it: headless Chromium, opened from disk, offline.

Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`). Without it the tests fail —
a report nobody checked in a browser is not tested.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from driftline.drift.html import CURRENT_COLOUR, REFERENCE_COLOUR, render_drift_html
from tests.unit.test_drift_html import EVIL, categorical_column, sample_report

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1280, 2000)
RETRAIN_RED = "#b42318"


def chromium() -> str:
    found = shutil.which("chromium") or (str(CHROMIUM) if CHROMIUM.exists() else None)
    if found is None:
        pytest.fail(
            "headless Chromium is needed for the drift report browser tests but /usr/bin/chromium is "
            "missing. Install it with `apt-get install -y chromium` (Debian package; CI does this in .ci/run)."
        )
    return found


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    """Chromium with everything that could reach the network or a user profile turned off."""
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise AssertionError(f"chromium exited {proc.returncode}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


class DomSummary(HTMLParser):
    """What the tests look for in the rendered DOM: the verdict, cards and any script."""

    def __init__(self) -> None:
        super().__init__()
        self.verdict: dict[str, str | None] | None = None
        self.cards: list[dict[str, str | None]] = []
        self.svgs = 0
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id") == "verdict":
            self.verdict = attributes
        if tag == "details" and "card" in (attributes.get("class") or "").split():
            self.cards.append(attributes)
        self.svgs += tag == "svg"
        self.scripts += tag == "script"


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


def report_with_evil_column(retrain: bool) -> dict:
    report = sample_report(retrain=retrain)
    report["columns"].append(categorical_column(EVIL, 0.2, False))
    return report


@pytest.mark.parametrize("retrain", [True, False], ids=["retrain", "keep"])
def test_browser_renders_the_verdict_and_one_card_per_column(retrain: bool, tmp_path: Path) -> None:
    report = report_with_evil_column(retrain)
    page = write_page(tmp_path, report)
    proc = run_chromium(["--dump-dom", page.as_uri()], tmp_path / "profile")
    dom = DomSummary()
    dom.feed(proc.stdout)
    assert dom.verdict is not None, f"no #verdict in the rendered DOM:\n{proc.stdout[:2000]}"
    assert dom.verdict.get("data-retrain") == ("true" if retrain else "false")
    names = [column["name"] for column in report["columns"]]
    assert sorted(card["id"] or "" for card in dom.cards) == sorted(f"col-{name}" for name in names)
    assert [card["data-drifted"] for card in dom.cards][:2] == ["true", "true"]
    assert dom.svgs >= len(names)
    assert dom.scripts == 0, "a column name was turned into a script element"


def test_screenshot_shows_the_banner_and_both_distributions(tmp_path: Path) -> None:
    page = write_page(tmp_path, report_with_evil_column(retrain=True))
    png = tmp_path / "drift.png"
    run_chromium([f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri()], tmp_path / "profile")
    assert png.exists(), "chromium wrote no screenshot"
    assert png.stat().st_size > 20_000, f"screenshot is only {png.stat().st_size} bytes: blank page?"
    image = decode_png(png.read_bytes())
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])
    background = np.median(image.reshape(-1, 3), axis=0)
    assert np.mean(np.any(np.abs(image.astype(np.int16) - background) > 24, axis=2)) > 0.05, "page looks blank"
    assert share_of_colour(image[:400], RETRAIN_RED, tolerance=40) > 0.05, "no red retrain banner at the top"
    assert share_of_colour(image, REFERENCE_COLOUR) > 0.0005, "no reference (blue) marks in the plots"
    assert share_of_colour(image, CURRENT_COLOUR) > 0.0005, "no current (orange) marks in the plots"
