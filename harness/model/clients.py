"""The runtime interface clients under test: their pins, packages and command lines.

A runtime client is named in a scenario as ``awslambdaric`` (the pinned
version for the cell's Python), ``awslambdaric==X.Y.Z`` (an explicit version:
the client version is an experiment variable) or ``legacy`` (the project's
pure-Python runtime loop, ``function/legacy_runtime.py``, over ``requests``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from harness.errors import LabError
from harness.model.pins import load_pins
from harness.paths import FUNCTION_DIR

CLIENT_NAMES = ("awslambdaric", "legacy")

LEGACY_RUNTIME = FUNCTION_DIR / "legacy_runtime.py"


@dataclass(frozen=True)
class ClientSpec:
    """A runtime client as a scenario names it, before a Python is chosen."""

    name: str
    version: Optional[str]  # None: the pin for the cell's Python


class UnknownClient(LabError, ValueError):
    pass


def parse_client(text: str) -> ClientSpec:
    """``awslambdaric``, ``awslambdaric==2.2.1`` or ``legacy``."""
    name, sep, version = text.partition("==")
    name, version = name.strip(), version.strip()
    if name not in CLIENT_NAMES:
        raise UnknownClient(f"one of {', '.join(CLIENT_NAMES)} (optionally 'awslambdaric==X.Y.Z')")
    if sep and name == "legacy":
        raise UnknownClient("'legacy' without a version (it is this project's own client)")
    if sep and not version:
        raise UnknownClient("a version after '==', e.g. 'awslambdaric==2.2.1'")
    return ClientSpec(name=name, version=version if sep else None)


def resolve_version(spec: ClientSpec, python: str) -> Optional[str]:
    """The version string of ``spec`` on ``python``; None when nothing is pinned."""
    pins = load_pins()
    if spec.name == "legacy":
        return f"requests-{pins.version('requests')}"
    return spec.version or pins.awslambdaric_for(python)


def requirements(client: str, version: str, packages: Sequence[str] = ()) -> Tuple[str, ...]:
    """The pip requirements of a venv that runs ``client`` at ``version``, plus the
    function's own ``packages`` (already ``name==version``)."""
    if client == "legacy":
        return (f"requests=={version.split('-', 1)[1]}", *packages)
    return (f"awslambdaric=={version}", *packages)


def runtime_command(client: str, python: Path, handler: str) -> List[str]:
    """The runtime's argv, as the sandbox starts it after ``--``."""
    if client == "legacy":
        return [str(python), str(LEGACY_RUNTIME), handler]
    return [str(python), "-m", "awslambdaric", handler]
