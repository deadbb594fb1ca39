"""The runtime interface clients under test: their pins, packages and command lines.

A runtime client is named in a scenario as ``awslambdaric`` (the pinned
version for the cell's Python), ``awslambdaric==X.Y.Z`` (an explicit version:
the client version is an experiment variable) or ``legacy`` (the project's
pure-Python runtime loop, ``function/legacy_runtime.py``, over ``requests``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

PROJECT_ROOT = Path(__file__).resolve().parent.parent

CLIENT_NAMES = ("awslambdaric", "legacy")

# The newest awslambdaric with binary wheels for each CPython (FACTS.md,
# "The quirk being demonstrated": 2.2.1 is the last for 3.7 and 3.8).
AWSLAMBDARIC_PINS: Dict[str, str] = {
    "3.7": "2.2.1",
    "3.8": "2.2.1",
    "3.12": "4.2.2",
    "3.13": "4.2.2",
}

# The newest requests that still installs on CPython 3.7, used for every Python
# so that the legacy client is the same code everywhere.
REQUESTS_PIN = "2.31.0"

# The AMQP client for cells judged at the broker (function/outbox.py) and for
# the sandbox's AMQP consumer: pure Python, installs on CPython 3.7 to 3.13.
PIKA_PIN = "1.3.2"

LEGACY_RUNTIME = PROJECT_ROOT / "function" / "legacy_runtime.py"


@dataclass(frozen=True)
class ClientSpec:
    """A runtime client as a scenario names it, before a Python is chosen."""

    name: str
    version: Optional[str]  # None: the pin for the cell's Python


class UnknownClient(ValueError):
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
    if spec.name == "legacy":
        return f"requests-{REQUESTS_PIN}"
    return spec.version or AWSLAMBDARIC_PINS.get(python)


def requirements(client: str, version: str, broker: bool = False) -> Tuple[str, ...]:
    """The pip requirements of a venv that runs ``client`` at ``version`` (and pika)."""
    extra = (f"pika=={PIKA_PIN}",) if broker else ()
    if client == "legacy":
        return (f"requests=={version.split('-', 1)[1]}", *extra)
    return (f"awslambdaric=={version}", *extra)


def runtime_command(client: str, python: Path, handler: str) -> List[str]:
    """The runtime's argv, as the sandbox starts it after ``--``."""
    if client == "legacy":
        return [str(python), str(LEGACY_RUNTIME), handler]
    return [str(python), "-m", "awslambdaric", handler]
