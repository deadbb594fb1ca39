from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from harness.clients import AWSLAMBDARIC_PINS  # noqa: E402
from harness.interpreters import find_interpreter, where_searched  # noqa: E402
from harness.venvs import ensure_venv, venv_python  # noqa: E402


def awslambdaric_python(version: str) -> Path:
    """The venv interpreter for ``version`` with the pinned awslambdaric, or skip."""
    interpreter = find_interpreter(version)
    if interpreter is None:
        if os.environ.get("CI") == "true" and os.environ.get("LAB_ALLOW_MISSING_PYTHON") != "1":
            pytest.fail(where_searched(version) + " (CI must have it)")
        pytest.skip(where_searched(version))
    venv = ensure_venv(interpreter, [f"awslambdaric=={AWSLAMBDARIC_PINS[version]}"])
    return venv_python(venv)


@pytest.fixture(params=["3.8", "3.12"], ids=lambda v: f"py{v}")
def ric_python(request: pytest.FixtureRequest) -> Tuple[str, Path]:
    return request.param, awslambdaric_python(request.param)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
