"""Where things are: the project's folders, computed once. Nothing else computes them.

``LAB_CACHE_DIR`` moves the cache (venvs, wheelhouses, image build inputs);
everything else is relative to the project root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = PROJECT_ROOT / "function"
# The fix as shipped: lambda-shutdown-hook (its package, layer and builder).
FIX_DIR = PROJECT_ROOT / "fix"
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
# The published findings (tracked) and where runs write (ignored by git).
RESULTS_DIR = PROJECT_ROOT / "results"
LATEST_RESULTS_DIR = RESULTS_DIR / "latest"
IMAGES_DIR = PROJECT_ROOT / "images"
PINS_FILE = PROJECT_ROOT / "pins.toml"
TARGETS_FILE = PROJECT_ROOT / "targets.toml"
TEST_FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
TEST_DATA = PROJECT_ROOT / "tests" / "data"


def cache_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """``LAB_CACHE_DIR``, else ``.cache/`` in the project."""
    configured = (os.environ if env is None else env).get("LAB_CACHE_DIR")
    return Path(configured) if configured else PROJECT_ROOT / ".cache"
