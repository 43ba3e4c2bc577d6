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
