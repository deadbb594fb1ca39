"""Find CPython interpreters by version, without hard-coding this machine's paths.

Search order: ``LAB_PYTHON_<MAJOR><MINOR>`` (an explicit interpreter path),
``LAB_PYTHON_PREFIXES`` (os.pathsep-separated prefixes, each searched for
``bin/pythonX.Y``), then ``pythonX.Y`` on PATH, then pyenv (``pyenv root``
or ``PYENV_ROOT``), then uv's managed interpreters (``uv python find``).
Each candidate is asked for its real version before it is accepted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional


@dataclass(frozen=True)
class Interpreter:
    version: str  # "3.8"
    path: Path
    full_version: str  # "3.8.18"


def _env_key(version: str) -> str:
    return "LAB_PYTHON_" + version.replace(".", "")


def _pyenv_roots(env: Mapping[str, str]) -> Iterator[Path]:
    if env.get("PYENV_ROOT"):
        yield Path(env["PYENV_ROOT"])
    pyenv = shutil.which("pyenv", path=env.get("PATH"))
    if pyenv:
        try:
            out = subprocess.run(
                [pyenv, "root"], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return
        if out.returncode == 0 and out.stdout.strip():
            yield Path(out.stdout.strip())


def _candidates(version: str, env: Mapping[str, str]) -> Iterator[Path]:
    explicit = env.get(_env_key(version))
    if explicit:
        yield Path(explicit)
    for prefix in filter(None, env.get("LAB_PYTHON_PREFIXES", "").split(os.pathsep)):
        yield Path(prefix) / "bin" / f"python{version}"
    on_path = shutil.which(f"python{version}", path=env.get("PATH"))
    if on_path:
        yield Path(on_path)
    for root in _pyenv_roots(env):
        versions = root / "versions"
        if versions.is_dir():
            for entry in sorted(versions.iterdir(), reverse=True):
                if entry.name == version or entry.name.startswith(version + "."):
                    yield entry / "bin" / f"python{version}"
    uv = shutil.which("uv", path=env.get("PATH"))
    if uv:
        try:
            out = subprocess.run(
                [uv, "python", "find", version],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return
        if out.returncode == 0 and out.stdout.strip():
            yield Path(out.stdout.strip())


def _probe(path: Path) -> Optional[str]:
    """The interpreter's own idea of its version, or None if it does not run."""
    if not path.is_file() or not os.access(path, os.X_OK):
        return None
    try:
        out = subprocess.run(
            [str(path), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            # pyenv shims consult PYENV_VERSION; a real binary ignores it.
            env={**os.environ, "PYENV_VERSION": ""},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


_FOUND: Dict[str, Optional[Interpreter]] = {}


def find_interpreter(
    version: str, env: Optional[Mapping[str, str]] = None
) -> Optional[Interpreter]:
    """The first working CPython ``version`` ("3.8"), or None when there is none.

    With the process's own environment the answer is remembered: probing
    costs interpreter starts, and every cell of a version asks again.
    """
    if env is None:
        if version not in _FOUND:
            _FOUND[version] = _search(version, os.environ)
        return _FOUND[version]
    return _search(version, env)


def _search(version: str, env: Mapping[str, str]) -> Optional[Interpreter]:
    seen: set[Path] = set()
    for candidate in _candidates(version, env):
        if candidate in seen:
            continue
        seen.add(candidate)
        full = _probe(candidate)
        if full is not None and (full == version or full.startswith(version + ".")):
            return Interpreter(version=version, path=candidate, full_version=full)
    return None


def where_searched(version: str) -> str:
    """One line for a skip reason: how to make an absent interpreter findable."""
    return (
        f"no CPython {version} found (set {_env_key(version)}=/path/to/python{version}, "
        f"or LAB_PYTHON_PREFIXES, or install it with pyenv or uv)"
    )
