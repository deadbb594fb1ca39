"""The versions the experiment pins, read from ``pins.toml`` (the one place they live)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import tomllib

from harness.errors import LabError
from harness.paths import PINS_FILE

_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)+([a-z0-9.+-]*)$")
_PYTHON = re.compile(r"^3\.[0-9]+$")
SECTIONS = ("awslambdaric", "packages", "dependencies")
OPTIONAL_SECTIONS = ("dependencies",)


class PinError(LabError):
    """pins.toml is wrong, or a pin is asked for that it does not have."""


@dataclass(frozen=True)
class Pins:
    awslambdaric: Tuple[Tuple[str, str], ...]  # (CPython "3.8", version)
    packages: Tuple[Tuple[str, str], ...]  # (name, version)
    where: str = "pins.toml"
    # What the packages depend on, pinned (name, version): constraints, never installed alone.
    dependencies: Tuple[Tuple[str, str], ...] = ()

    def awslambdaric_for(self, python: str) -> Optional[str]:
        """The pinned awslambdaric for a CPython version, or None when none is pinned."""
        return dict(self.awslambdaric).get(python)

    def version(self, package: str) -> str:
        found = dict(self.packages).get(package)
        if found is None:
            known = ", ".join(name for name, _ in self.packages)
            raise PinError(f"{self.where}: no pin for package {package!r} (pinned: {known})")
        return found

    def requirement(self, package: str) -> str:
        """``name==version`` for pip."""
        return f"{package}=={self.version(package)}"

    def constraints(self, requested: Sequence[str]) -> Tuple[str, ...]:
        """``name==version`` constraints for installing ``requested`` (pip requirements):
        every dependency pin, then every package pin, except the names requested
        themselves (their own pins win: lambda-sigterm's urllib3, say)."""
        asked = {requirement_name(r) for r in requested}
        pins: Dict[str, str] = {}
        for name, version in (*self.dependencies, *self.packages):
            pins.setdefault(canonical(name), f"{name}=={version}")
        return tuple(pin for name, pin in sorted(pins.items()) if name not in asked)

    @property
    def pythons(self) -> Tuple[str, ...]:
        return tuple(python for python, _ in self.awslambdaric)


def parse_pins(text: str, where: str) -> Pins:
    """Validate the text of pins.toml. Pure."""
    try:
        data: Dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PinError(f"{where}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise PinError(f"{where}: unknown sections {unknown}; expected {list(SECTIONS)}")
    sections: Dict[str, Tuple[Tuple[str, str], ...]] = {}
    for section in SECTIONS:
        if section in OPTIONAL_SECTIONS and section not in data:
            sections[section] = ()
            continue
        table = data.get(section)
        if not isinstance(table, dict) or not table:
            raise PinError(f'{where}: [{section}]: expected a table of name = "X.Y.Z"')
        for key, version in table.items():
            if not isinstance(version, str) or not _VERSION.match(version):
                raise PinError(f'{where}: [{section}] {key}: expected "X.Y.Z", got {version!r}')
            if section == "awslambdaric" and not _PYTHON.match(key):
                raise PinError(f"{where}: [awslambdaric]: keys are CPython versions, got {key!r}")
        sections[section] = tuple((str(k), str(v)) for k, v in table.items())
    return Pins(
        awslambdaric=sections["awslambdaric"],
        packages=sections["packages"],
        where=where,
        dependencies=sections["dependencies"],
    )


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503). Pure."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The canonical name a pinned requirement (``name==version``) is for. Pure."""
    return canonical(requirement.split("==", 1)[0])


@functools.lru_cache(maxsize=4)
def load_pins(path: Path = PINS_FILE) -> Pins:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PinError(f"{path}: cannot be read: {err}") from None
    return parse_pins(text, str(path))
