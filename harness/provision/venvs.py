"""Cached virtual environments, one per (Python, packages), built on first use.

A venv lives under ``LAB_CACHE_DIR`` (default ``.cache/`` in the project) in a
folder named from its Python version and a hash of its pinned requirements.
It is built into a temporary folder and renamed into place when complete, so
an interrupted build never leaves a half-made venv that looks usable, and
parallel workers racing to build the same venv both end with a good one.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from harness.errors import LabError
from harness.paths import cache_dir
from harness.provision.built_once import build_once, is_built
from harness.provision.interpreters import Interpreter


class VenvBuildError(LabError, RuntimeError):
    """A venv could not be made; the message has pip's reason."""


# `python` + these: pip installing quietly, asking nothing, checking no newer pip.
PIP_INSTALL = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input")


def constraint_arguments(folder: Path, constraints: Sequence[str]) -> List[str]:
    """pip's ``--constraint FILE`` for ``constraints`` (``name==version``), the file
    written into ``folder``; nothing when there are none."""
    if not constraints:
        return []
    held = folder / "lab-constraints.txt"
    held.write_text("\n".join(constraints) + "\n", encoding="utf-8")
    return ["--constraint", str(held)]


def venv_name(
    interpreter: Interpreter, requirements: Sequence[str], constraints: Sequence[str] = ()
) -> str:
    key = "\n".join(sorted(requirements))
    if constraints:
        key += "\n--constraints\n" + "\n".join(sorted(constraints))
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"py{interpreter.full_version}-{digest}"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(
    interpreter: Interpreter,
    requirements: Sequence[str],
    root: Optional[Path] = None,
    constraints: Sequence[str] = (),
) -> Path:
    """The path of a ready venv with ``requirements`` installed (their dependencies held
    to ``constraints``, ``name==version``); builds it if needed."""
    root = cache_dir() / "venvs" if root is None else root
    target = root / venv_name(interpreter, requirements, constraints)
    if is_built(target):
        return target

    def build(staging: Path) -> str:
        print(
            f"[lab] building venv for Python {interpreter.full_version} with "
            f"{', '.join(requirements) or 'no packages'} -> {target}",
            file=sys.stderr,
            flush=True,
        )
        # The venv is built at its final path's sibling and renamed; scripts in
        # bin/ carry the staging path in their shebang, so everything is run as
        # `python -m ...` instead. venv creates the (empty) staging folder's contents.
        _run([str(interpreter.path), "-m", "venv", str(staging)], "create the venv")
        if requirements:
            _run(
                [
                    str(venv_python(staging)),
                    *PIP_INSTALL,
                    *constraint_arguments(staging, constraints),
                    *requirements,
                ],
                "install " + " ".join(requirements),
            )
        return "\n".join(requirements) + "\n"

    return build_once(target, build)


def _run(argv: Sequence[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise VenvBuildError(
            f"could not {what} (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
