"""One test per cell: the cleanup outcome and the shutdown signals match the declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from harness.backends.base import Backend
from harness.model.cells import Cell
from harness.runner import failure_text, run_cell


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(600)  # the first cell of a (Python, client) builds its venv
def test_cell(
    backend_name: str, cell: Cell, lab_backends: Dict[str, Backend], results_dir: Path
) -> None:
    result = run_cell(cell, lab_backends[backend_name], results_dir)
    if result.verdict == "skipped":
        pytest.skip(f"{cell.id}: {'; '.join(result.reasons)}")
    if result.verdict != "pass":
        written = results_dir / "cells" / backend_name / cell.id / "failure.txt"
        text = written.read_text(encoding="utf-8") if written.is_file() else failure_text(result)
        pytest.fail(text, pytrace=False)
