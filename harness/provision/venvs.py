"""Cached virtual environments, one per (Python, packages), built on first use.

A venv lives under ``LAB_CACHE_DIR`` (default ``.cache/`` in the project) in a
folder named from its Python version and a hash of its pinned requirements.
It is built into a temporary folder and renamed into place when complete, so
an interrupted build never leaves a half-made venv that looks usable, and
parallel workers racing to build the same venv both end with a good one.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from harness.errors import LabError
from harness.paths import cache_dir
from harness.provision.interpreters import Interpreter


class VenvBuildError(LabError, RuntimeError):
    """A venv could not be made; the message has pip's reason."""


def venv_name(interpreter: Interpreter, requirements: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    return f"py{interpreter.full_version}-{digest}"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(
    interpreter: Interpreter,
    requirements: Sequence[str],
    root: Optional[Path] = None,
) -> Path:
    """The path of a ready venv with ``requirements`` installed; builds it if needed."""
    root = cache_dir() / "venvs" if root is None else root
    target = root / venv_name(interpreter, requirements)
    if (target / ".complete").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"[lab] building venv for Python {interpreter.full_version} with "
        f"{', '.join(requirements) or 'no packages'} -> {target}",
        file=sys.stderr,
        flush=True,
    )
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".building-", dir=root))
    try:
        # The venv is built at its final path's sibling and renamed; scripts in
        # bin/ carry the staging path in their shebang, so everything is run as
        # `python -m ...` instead.
        _run([str(interpreter.path), "-m", "venv", str(staging)], "create the venv")
        if requirements:
            _run(
                [
                    str(venv_python(staging)),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-input",
                    *requirements,
                ],
                "install " + " ".join(requirements),
            )
        (staging / ".complete").write_text("\n".join(requirements) + "\n")
        try:
            staging.rename(target)
        except OSError:
            # Another worker finished the same venv first; theirs is as good.
            if not (target / ".complete").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _run(argv: Sequence[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise VenvBuildError(
            f"could not {what} (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
