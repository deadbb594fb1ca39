"""The project's own tests: ``unit/`` (pure, fast), ``integration/`` (real processes,
Docker, broker, browser, by marker), ``support/`` (factories, fakes, the skip rule)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "fix" / "src"))  # lambda_shutdown_hook, the fix as shipped

from support.factories import make_function_dir  # noqa: E402
from support.fakes import FakeLambdaApi  # noqa: E402
from support.interpreters import awslambdaric_python  # noqa: E402


@pytest.fixture(params=["3.8", "3.12"], ids=lambda v: f"py{v}")
def ric_python(request: pytest.FixtureRequest) -> Tuple[str, Path]:
    return request.param, awslambdaric_python(request.param)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


@pytest.fixture
def function_dir(tmp_path: Path) -> Path:
    return make_function_dir(tmp_path)


@pytest.fixture
def fake_api() -> Iterator[FakeLambdaApi]:
    with FakeLambdaApi() as api:
        yield api
