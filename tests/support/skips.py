"""The one rule for what is missing here: skip with the reason, or fail under CI.

``harness.errors.must_run`` decides (CI=true: fail); an interpreter may be
let off in CI with ``LAB_ALLOW_MISSING_PYTHON=1`` (for CI machines that lack
one of the matrix's CPythons on purpose).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from harness.errors import must_run


def unavailable(reason: str, *, interpreter: bool = False) -> NoReturn:
    """Skip the test with ``reason``; under CI fail it instead."""
    let_off = interpreter and os.environ.get("LAB_ALLOW_MISSING_PYTHON") == "1"
    if must_run() and not let_off:
        pytest.fail(f"{reason} (CI must have it)", pytrace=False)
    pytest.skip(reason)
