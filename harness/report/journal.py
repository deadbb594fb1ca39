"""The per-cell result files: written by whichever worker ran the cell, read back once.

Workers (pytest-xdist) each write ``cells/<backend>/<id>/verdict.json``; the
controller reads them all back at the end of the session and writes the
report.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import List

from harness.evidence.result import CellResult

RESULT_FILE = "verdict.json"


def write_result(cells_dir: Path, result: CellResult) -> Path:
    """``cells_dir/<id>/verdict.json``, written whole or not at all."""
    folder = cells_dir / result.id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / RESULT_FILE
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".verdict-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(result.to_json(), handle, indent=2)
    os.replace(tmp, target)
    return target


def read_results(cells_dir: Path) -> List[CellResult]:
    """Every result written below ``cells_dir`` (``<backend>/<id>/``), ordered by path."""
    results = []
    for path in sorted(cells_dir.rglob(RESULT_FILE)):
        results.append(CellResult.from_json(json.loads(path.read_text(encoding="utf-8"))))
    return results
