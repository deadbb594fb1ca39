"""The report's outcome colours and words, shared by the grids and the headline."""

from __future__ import annotations

from typing import Dict

# Cell backgrounds by outcome. The browser test looks for these exact colours
# in the screenshot, so they are solid fills, not gradients.
OUTCOME_COLOURS: Dict[str, str] = {
    "ran": "#7fcf8b",  # the cleanup line appeared, as declared
    "lost": "#f5b365",  # no cleanup line, as declared (the quirk)
    "fail": "#e8686f",  # observed differs from declared, or the run broke
    "skipped": "#cfcfcf",  # not run here (e.g. no interpreter)
}
OUTCOME_WORDS = {"ran": "cleanup ran", "lost": "cleanup lost", "fail": "FAIL", "skipped": "skipped"}
