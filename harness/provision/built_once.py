"""A cache entry built once: beside its final path, renamed into place when complete.

An interrupted build never leaves a half-made entry that looks usable (the
``.complete`` marker is written last, inside the staging folder), and
parallel workers racing to build the same entry both end with a good one:
whichever rename loses finds the winner's complete entry.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

MARKER = ".complete"


def is_built(target: Path) -> bool:
    return (target / MARKER).is_file()


def build_once(target: Path, build: Callable[[Path], str]) -> Path:
    """``target``, made by ``build(staging)`` unless it is already there.

    ``build`` fills the empty staging folder and returns the marker's text
    (what the entry holds); an exception from it leaves nothing behind.
    """
    if is_built(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".building-", dir=target.parent))
    try:
        marker = build(staging)
        (staging / MARKER).write_text(marker, encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:
            if not is_built(target):  # not another worker's finished build
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
