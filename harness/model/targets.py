"""Deployment targets, read from ``targets.toml``: what a user deploys to, as data.

A target names the CPython, the runtime client and version it bundles, the
``AWS_EXECUTION_ENV`` it sets and how it starts, each fact with a source. A
scenario expands over targets (matrix key ``target``); a target ``same_as``
another (an AWS base image and its managed runtime) has no cells of its own.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import tomllib

from harness.errors import LabError
from harness.model.clients import CLIENT_NAMES
from harness.paths import TARGETS_FILE

STARTS = ("direct", "managed")  # `python -m awslambdaric` | the managed runtime's bootstrap
KEYS = (
    "name",
    "kind",
    "python",
    "client",
    "client_version",
    "execution_env",
    "start",
    "stand_in",
    "sources",
    "same_as",
)
_PYTHON = re.compile(r"^3\.[0-9]+$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)+$")


class TargetError(LabError, ValueError):
    """targets.toml is wrong, or a scenario names a target it does not have."""


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    python: str
    client: str  # "awslambdaric" | "legacy"
    client_version: Optional[str]  # None: the pin (legacy: requests)
    execution_env: Optional[str]  # None: unset
    start: str  # one of STARTS
    stand_in: str
    sources: Tuple[str, ...]
    same_as: Optional[str] = None

    @property
    def has_cells(self) -> bool:
        return self.same_as is None

    @property
    def slug(self) -> str:
        """The name as it can stand in a cell id."""
        return re.sub(r"[^a-z0-9.]+", "_", self.name.lower()).strip("_")


def _string(where: str, table: Mapping[str, Any], key: str, required: bool = True) -> str:
    value = table.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise TargetError(f"{where}: key '{key}': expected a non-empty string, got {value!r}")
    return value


def parse_targets(text: str, where: str) -> Tuple[Target, ...]:
    """Validate the text of targets.toml. Pure."""
    try:
        data: Dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise TargetError(f"{where}: not valid TOML: {err}") from None
    rows = data.get("target")
    if set(data) != {"target"} or not isinstance(rows, list) or not rows:
        raise TargetError(f"{where}: expected [[target]] tables and nothing else")
    targets: List[Target] = []
    for index, row in enumerate(rows):
        here = f"{where}: target[{index}]"
        unknown = sorted(set(row) - set(KEYS))
        if unknown:
            raise TargetError(f"{here}: unknown keys {unknown}; expected some of {list(KEYS)}")
        name = _string(here, row, "name")
        here = f"{where}: target {name!r}"
        sources = row.get("sources")
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(s, str) and s.strip() for s in sources)
        ):
            raise TargetError(f"{here}: key 'sources': expected a non-empty list of strings")
        if "same_as" in row:
            targets.append(
                Target(
                    name,
                    _string(here, row, "kind"),
                    "",
                    "",
                    None,
                    None,
                    "direct",
                    "",
                    tuple(sources),
                    _string(here, row, "same_as"),
                )
            )
            continue
        python = _string(here, row, "python")
        if not _PYTHON.match(python):
            raise TargetError(f"{here}: key 'python': expected 3.N, got {python!r}")
        client = _string(here, row, "client")
        if client not in CLIENT_NAMES:
            raise TargetError(f"{here}: key 'client': expected one of {CLIENT_NAMES}")
        version = _string(here, row, "client_version", required=False) or None
        if version is not None and not _VERSION.match(version):
            raise TargetError(f"{here}: key 'client_version': expected X.Y.Z, got {version!r}")
        if client == "awslambdaric" and version is None:
            raise TargetError(f"{here}: key 'client_version': awslambdaric needs its version")
        start = _string(here, row, "start")
        if start not in STARTS:
            raise TargetError(f"{here}: key 'start': expected one of {STARTS}, got {start!r}")
        if start == "managed" and client != "awslambdaric":
            raise TargetError(f"{here}: the managed start hands over to awslambdaric")
        targets.append(
            Target(
                name=name,
                kind=_string(here, row, "kind"),
                python=python,
                client=client,
                client_version=version,
                execution_env=_string(here, row, "execution_env", required=False) or None,
                start=start,
                stand_in=_string(here, row, "stand_in", required=False),
                sources=tuple(sources),
            )
        )
    names = [t.name for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TargetError(f"{where}: target names used twice: {duplicates}")
    slugs = [t.slug for t in targets]
    if len(set(slugs)) != len(slugs):
        raise TargetError(f"{where}: two target names differ only in punctuation")
    by_name = {t.name: t for t in targets}
    for t in targets:
        if t.same_as is not None and not (t.same_as in by_name and by_name[t.same_as].has_cells):
            raise TargetError(
                f"{where}: target {t.name!r}: same_as names no target with cells: {t.same_as!r}"
            )
    return tuple(targets)


@functools.lru_cache(maxsize=4)
def load_targets(path: Path = TARGETS_FILE) -> Tuple[Target, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TargetError(f"{path}: cannot be read: {err}") from None
    return parse_targets(text, str(path))


def select(names: Tuple[str, ...], targets: Tuple[Target, ...]) -> List[Target]:
    """The targets with cells that ``names`` asks for ("all": every one)."""
    runnable = [t for t in targets if t.has_cells]
    if names == ("all",):
        return runnable
    by_name = {t.name: t for t in runnable}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise TargetError(f"no target with cells named {missing}; known: {', '.join(by_name)}")
    return [by_name[n] for n in names]
