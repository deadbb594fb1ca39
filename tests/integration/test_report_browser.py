"""report.html in a real browser: Debian's Chromium, headless, offline.

Two pages: one rendered here from the recorded event logs (always the same,
so its checks are exact), and the latest run's report.html (results/latest/,
else the published results/). Screenshots stay in pytest's temporary folder:
no test writes under results/. For each, the
DOM after scripts ran must hold the grids and the timelines, and the
screenshot must show the grid's outcome colours, not a blank page.

Skipped, with the reason, when no Chromium is installed (``apt-get install
chromium``, or LAB_CHROMIUM=/path/to/chrome); in CI (CI=true) that is a
failure instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Set

import pytest
from support.reports import META, recorded_results
from support.skips import unavailable

from harness.paths import LATEST_RESULTS_DIR, PROJECT_ROOT, RESULTS_DIR
from harness.report.html import OUTCOME_COLOURS, render_report_html

ROOT = PROJECT_ROOT
WINDOW = (1400, 2000)
CHROMIUM_TIMEOUT_S = 120.0

# No network, no first-run UI, nothing in the background that could fetch.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]


def find_chromium() -> Optional[str]:
    explicit = os.environ.get("LAB_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        unavailable("no Chromium found (apt-get install -y chromium, or set LAB_CHROMIUM)")
    return binary


def run_chromium(binary: str, args: Sequence[str], workdir: Path) -> str:
    """Run Chromium to completion in a session of its own; its stdout. Kills the group after."""
    profile = workdir / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    argv = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HOME": str(workdir)},
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT_S)
    finally:
        # Renderer and zygote processes share the group; none may outlive the test.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait(timeout=10)
    if proc.returncode != 0:
        tail = err.decode(errors="replace")[-3000:]
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}:\n{tail}")
    return out.decode("utf-8", errors="replace")


def screenshot(binary: str, page: Path, png: Path, workdir: Path) -> bytes:
    run_chromium(
        binary,
        [f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri()],
        workdir,
    )
    assert png.is_file(), f"Chromium wrote no screenshot to {png}"
    return png.read_bytes()


def dump_dom(binary: str, page: Path, workdir: Path) -> str:
    return run_chromium(binary, ["--dump-dom", page.as_uri()], workdir)


# ------------------------------------------------------------ a tiny PNG decoder


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: List[bytes]

    def colours(self, step: int = 2) -> Set[bytes]:
        """Distinct RGB values, sampling every ``step``-th pixel of every ``step``-th row."""
        seen: Set[bytes] = set()
        c = self.channels
        for row in self.rows[::step]:
            for x in range(0, len(row), c * step):
                seen.add(row[x : x + 3])
        return seen

    def count(self, rgb: str) -> int:
        """Pixels of exactly this colour ('#rrggbb')."""
        want = bytes.fromhex(rgb.lstrip("#"))
        if self.channels == 4:
            want += b"\xff"
        c, total = self.channels, 0
        for row in self.rows:
            at = row.find(want)
            while at != -1:
                if at % c == 0:  # a match that starts on a pixel boundary
                    total += 1
                    at = row.find(want, at + c)
                else:
                    at = row.find(want, at + 1)
        return total


def _add_bytes(a: bytes, b: bytes) -> bytearray:
    """Bytewise (a + b) mod 256 for whole rows at once (SWAR on Python ints)."""
    n = len(a)
    x, y = int.from_bytes(a, "little"), int.from_bytes(b, "little")
    low = int.from_bytes(b"\x7f" * n, "little")
    high = int.from_bytes(b"\x80" * n, "little")
    return bytearray((((x & low) + (y & low)) ^ ((x ^ y) & high)).to_bytes(n, "little"))


def decode_png(data: bytes) -> Image:
    """8-bit RGB or RGBA, non-interlaced: what Chromium's screenshots are."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks = 8, []
    width = height = depth = colour = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    c = 3 if colour == 2 else 4
    stride = width * c
    raw = zlib.decompress(b"".join(chunks))
    prev = bytearray(stride)
    rows: List[bytes] = []
    for y in range(height):
        start = y * (stride + 1)
        method, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if method == 1:  # Sub
            for x in range(c, stride):
                line[x] = (line[x] + line[x - c]) & 255
        elif method == 2:  # Up
            line = _add_bytes(bytes(line), bytes(prev))
        elif method == 3:  # Average
            for x in range(stride):
                left = line[x - c] if x >= c else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif method == 4:  # Paeth
            for x in range(stride):
                a, up, ul = (line[x - c], prev[x], prev[x - c]) if x >= c else (0, prev[x], 0)
                p = a + up - ul
                pa, pb, pc = abs(p - a), abs(p - up), abs(p - ul)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else up if pb <= pc else ul)) & 255
        rows.append(bytes(line))
        prev = line
    return Image(width, height, c, rows)


def test_png_decoder_on_a_known_image() -> None:
    # 2x2 RGB, one row filtered Sub, one Up: red, green / red+up, green+up.
    rows = [b"\x01" + bytes([255, 0, 0, 1, 255, 0]), b"\x02" + bytes([0, 0, 1, 0, 0, 1])]
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
    image = decode_png(png)
    assert image.rows == [bytes([255, 0, 0, 0, 255, 0]), bytes([255, 0, 1, 0, 255, 1])]
    assert image.count("#ff0000") == 1 and len(image.colours(step=1)) == 4


# ------------------------------------------------------------ the checks


def check_page(binary: str, page: Path, png: Path, workdir: Path, cells: int) -> Image:
    dom = dump_dom(binary, page, workdir / "dom")
    assert dom.count('<table class="grid"') >= 1, "the grid did not reach the DOM"
    assert dom.count("<svg") >= 1, "no timeline in the DOM"
    assert dom.count('class="o o-') == cells
    image = decode_png(screenshot(binary, page, png, workdir / "shot"))
    assert (image.width, image.height) == WINDOW
    colours = image.colours()
    assert len(colours) > 50, f"the screenshot looks blank: {len(colours)} colours"
    drawn = {kind: image.count(OUTCOME_COLOURS[kind]) for kind in ("ran", "lost")}
    # A grid square is ~200 x 40 px: thousands of pixels of its colour.
    assert all(n > 2000 for n in drawn.values()), (
        f"grid colours missing from the screenshot: {drawn}"
    )
    return image


def test_recorded_page_renders_grid_and_timelines(chromium: str, tmp_path: Path) -> None:
    results, logs = recorded_results()
    page = tmp_path / "report.html"
    page.write_text(render_report_html(results, META, logs), encoding="utf-8")
    check_page(chromium, page, tmp_path / "report.png", tmp_path, cells=len(results))


def results_page() -> Path:
    """The latest run's report.html, else the published one."""
    latest = LATEST_RESULTS_DIR / "report.html"
    return latest if latest.is_file() else RESULTS_DIR / "report.html"


def test_results_report_renders(chromium: str, tmp_path: Path) -> None:
    page = results_page()
    if not page.is_file():
        pytest.skip(f"no {page.relative_to(ROOT)}: run ./lab matrix first")
    cells = page.read_text(encoding="utf-8").count('class="o o-')
    check_page(chromium, page, tmp_path / "report.png", tmp_path, cells=cells)
