"""Interpreters for the integration tests: a venv per CPython with the pinned awslambdaric."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harness.model.pins import load_pins
from harness.provision.interpreters import find_interpreter, where_searched
from harness.provision.venvs import ensure_venv, venv_python
from support.skips import unavailable


def awslambdaric_python(version: str, extra: Sequence[str] = ()) -> Path:
    """The venv interpreter for ``version`` with the pinned awslambdaric (and ``extra``), or skip."""
    interpreter = find_interpreter(version)
    if interpreter is None:
        unavailable(where_searched(version), interpreter=True)
    pin = load_pins().awslambdaric_for(version)
    venv = ensure_venv(interpreter, [f"awslambdaric=={pin}", *extra])
    return venv_python(venv)
