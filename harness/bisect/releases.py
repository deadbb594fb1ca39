"""Read ``releases.toml``: every awslambdaric release and the facts the bisect rests on.

The file is data. Each ``[[release]]`` names a version, its date, the CPython
range of its wheels, the ``AWS_EXECUTION_ENV`` values that make it poll
``next`` in a worker thread and whether its native ``next`` releases the GIL;
every fact carries its source. ``[subset.<name>]`` tables say which releases,
which CPython of each and which ``AWS_EXECUTION_ENV`` values a sweep runs
(``full`` is implied: everything). The whole file is validated before a cell
runs; a mistake raises ``ReleaseError`` naming the file, the entry and the key.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import tomllib

from harness.errors import LabError
from harness.paths import PROJECT_ROOT

RELEASES_FILE = PROJECT_ROOT / "releases.toml"

_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_PYTHON = re.compile(r"^3\.[0-9]+$")
_MANAGED_ENV = re.compile(r"^AWS_Lambda_python3\.[0-9]+$")

RELEASE_KEYS = (
    "version",
    "date",
    "cpython",
    "cpython_source",
    "thread_polling",
    "thread_polling_source",
    "next_releases_gil",
    "next_releases_gil_source",
    "notes",
)
SUBSET_KEYS = ("releases", "python", "execution_env")
# Which CPython of a release's usable range a subset runs.
PYTHON_CHOICES = ("both", "oldest", "newest")
# How releases.toml writes "AWS_EXECUTION_ENV unset" (TOML has no null).
UNSET = "unset"
# The implied subset: every release, oldest and newest CPython, every env value.
FULL = "full"


class ReleaseError(LabError):
    """releases.toml is wrong, or names something it does not define."""


def python_key(version: str) -> Tuple[int, int]:
    """Sortable form of "3.10" (string order would put it before "3.9")."""
    major, minor = version.split(".")
    return int(major), int(minor)


def version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class Release:
    version: str  # "2.0.8"
    date: str  # "2023-10-30", the first upload to PyPI
    cpython: Tuple[str, str]  # oldest and newest CPython with a manylinux x86_64 wheel
    cpython_source: str
    thread_polling: Tuple[str, ...]  # AWS_EXECUTION_ENV values that make it poll in a thread
    thread_polling_source: str
    next_releases_gil: bool  # False: the native `next` holds the GIL while it waits
    next_releases_gil_source: str
    notes: str = ""

    def has_wheel_for(self, python: str) -> bool:
        low, high = self.cpython
        return python_key(low) <= python_key(python) <= python_key(high)

    def polls_in_thread(self, execution_env: Optional[str]) -> bool:
        return execution_env is not None and execution_env in self.thread_polling


@dataclass(frozen=True)
class Subset:
    name: str
    releases: Tuple[str, ...]  # empty: every release
    python: str  # one of PYTHON_CHOICES
    execution_env: Tuple[Optional[str], ...]  # empty: the sweep's default; None: unset


@dataclass(frozen=True)
class ReleaseBook:
    """Every release, oldest first, and the named subsets."""

    releases: Tuple[Release, ...]
    subsets: Tuple[Subset, ...]
    where: str = "releases.toml"

    def release(self, version: str) -> Release:
        for release in self.releases:
            if release.version == version:
                return release
        raise ReleaseError(f"{self.where}: no release {version!r}")

    def subset(self, name: str) -> Subset:
        if name == FULL:
            return Subset(name=FULL, releases=(), python="both", execution_env=())
        for subset in self.subsets:
            if subset.name == name:
                return subset
        raise ReleaseError(
            f"unknown subset {name!r}: expected one of {', '.join(self.subset_names)}"
        )

    @property
    def subset_names(self) -> Tuple[str, ...]:
        return (FULL, *(s.name for s in self.subsets))

    @property
    def managed_envs(self) -> Tuple[str, ...]:
        """Every AWS_EXECUTION_ENV value some release polls in a thread for, in version order."""
        values = {env for release in self.releases for env in release.thread_polling}
        return tuple(sorted(values, key=lambda env: python_key(env.rsplit("python", 1)[1])))


def _text(
    entry: Mapping[str, Any], key: str, where: str, pattern: Optional[re.Pattern[str]] = None
) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ReleaseError(f"{where}: {key}: expected a non-empty string, got {value!r}")
    if pattern is not None and not pattern.match(value):
        raise ReleaseError(f"{where}: {key}: {value!r} does not look like {pattern.pattern}")
    return value


def _strings(entry: Mapping[str, Any], key: str, where: str) -> List[str]:
    value = entry.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReleaseError(f"{where}: {key}: expected a list of strings, got {value!r}")
    return list(value)


def _parse_release(entry: Any, where: str) -> Release:
    if not isinstance(entry, dict):
        raise ReleaseError(f"{where}: expected a table")
    version = _text(entry, "version", where, _VERSION)
    where = f"{where} ({version})"
    unknown = sorted(set(entry) - set(RELEASE_KEYS))
    if unknown:
        raise ReleaseError(f"{where}: unknown keys {unknown}; expected {list(RELEASE_KEYS)}")
    cpython = _strings(entry, "cpython", where)
    if len(cpython) != 2 or not all(_PYTHON.match(p) for p in cpython):
        raise ReleaseError(f'{where}: cpython: expected ["3.X", "3.Y"], got {cpython!r}')
    if python_key(cpython[0]) > python_key(cpython[1]):
        raise ReleaseError(f"{where}: cpython: the oldest comes first, got {cpython!r}")
    polling = _strings(entry, "thread_polling", where)
    for env in polling:
        if not _MANAGED_ENV.match(env):
            raise ReleaseError(
                f"{where}: thread_polling: {env!r} is not a managed runtime's "
                "AWS_EXECUTION_ENV (AWS_Lambda_python3.X)"
            )
    if len(set(polling)) != len(polling):
        raise ReleaseError(f"{where}: thread_polling: a value is listed twice: {polling!r}")
    gil = entry.get("next_releases_gil")
    if not isinstance(gil, bool):
        raise ReleaseError(f"{where}: next_releases_gil: expected true or false, got {gil!r}")
    notes = entry.get("notes", "")
    if not isinstance(notes, str):
        raise ReleaseError(f"{where}: notes: expected a string, got {notes!r}")
    return Release(
        version=version,
        date=_text(entry, "date", where, _DATE),
        cpython=(cpython[0], cpython[1]),
        cpython_source=_text(entry, "cpython_source", where),
        thread_polling=tuple(polling),
        thread_polling_source=_text(entry, "thread_polling_source", where),
        next_releases_gil=gil,
        next_releases_gil_source=_text(entry, "next_releases_gil_source", where),
        notes=notes,
    )


def _parse_subset(name: str, table: Any, versions: Tuple[str, ...], where: str) -> Subset:
    where = f"{where}: [subset.{name}]"
    if name == FULL:
        raise ReleaseError(f"{where}: {FULL!r} is implied (every release) and cannot be redefined")
    if not isinstance(table, dict):
        raise ReleaseError(f"{where}: expected a table")
    unknown = sorted(set(table) - set(SUBSET_KEYS))
    if unknown:
        raise ReleaseError(f"{where}: unknown keys {unknown}; expected {list(SUBSET_KEYS)}")
    releases = _strings(table, "releases", where) if "releases" in table else []
    for version in releases:
        if version not in versions:
            raise ReleaseError(f"{where}: releases: {version!r} is not a [[release]] of the file")
    python = table.get("python", "both")
    if python not in PYTHON_CHOICES:
        raise ReleaseError(
            f"{where}: python: expected one of {', '.join(PYTHON_CHOICES)}, got {python!r}"
        )
    envs = _strings(table, "execution_env", where) if "execution_env" in table else []
    for env in envs:
        if env != UNSET and not env.startswith("AWS_Lambda_"):
            raise ReleaseError(
                f"{where}: execution_env: expected {UNSET!r} or an AWS_Lambda_* value, got {env!r}"
            )
    return Subset(
        name=name,
        releases=tuple(releases),
        python=str(python),
        execution_env=tuple(None if env == UNSET else env for env in envs),
    )


def parse_releases(text: str, where: str) -> ReleaseBook:
    """Validate the text of releases.toml. Pure."""
    try:
        data: Dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ReleaseError(f"{where}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"release", "subset"})
    if unknown:
        raise ReleaseError(
            f"{where}: unknown top-level keys {unknown}; expected [[release]], [subset.*]"
        )
    entries = data.get("release")
    if not isinstance(entries, list) or not entries:
        raise ReleaseError(f"{where}: expected at least one [[release]]")
    releases = tuple(
        _parse_release(e, f"{where}: [[release]] #{i + 1}") for i, e in enumerate(entries)
    )
    versions = tuple(r.version for r in releases)
    if len(set(versions)) != len(versions):
        twice = sorted({v for v in versions if versions.count(v) > 1}, key=version_key)
        raise ReleaseError(f"{where}: releases listed twice: {twice}")
    if list(versions) != sorted(versions, key=version_key):
        raise ReleaseError(f"{where}: [[release]] entries must be in version order, oldest first")
    subsets = data.get("subset", {})
    if not isinstance(subsets, dict):
        raise ReleaseError(f"{where}: subset: expected [subset.<name>] tables")
    return ReleaseBook(
        releases=releases,
        subsets=tuple(_parse_subset(n, t, versions, where) for n, t in subsets.items()),
        where=where,
    )


@functools.lru_cache(maxsize=4)
def load_releases(path: Path = RELEASES_FILE) -> ReleaseBook:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ReleaseError(f"{path}: cannot be read: {err}") from None
    return parse_releases(text, str(path))
