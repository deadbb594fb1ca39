"""What a cell's strategy adds around the function, made real: packages and the layer.

``requirements`` turns the strategy's packages into pip requirements (pins
from pins.toml; the lab's fix as the wheel just built). ``layer_dir`` is the
fix's layer, extracted, for strategies that use it. ``user_site`` installs a
strategy's (pure-Python) packages into a folder a container's interpreter
processes as its user site directory at start, the way a package installed
into an image's site-packages is processed: no image per package set.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence, Tuple

from harness.errors import LabError
from harness.model.cells import Cell
from harness.model.pins import load_pins
from harness.model.strategies import FIX_PACKAGE, STRATEGIES
from harness.paths import cache_dir
from harness.provision.built_once import build_once
from harness.provision.fix import ensure_fix


class StrategyProvisionError(LabError, RuntimeError):
    """A strategy's packages could not be installed; the message has pip's reason."""


def requirements(cell: Cell) -> Tuple[str, ...]:
    """pip requirements of the cell's strategy (none for most)."""
    names = STRATEGIES[cell.strategy].packages
    if not names:
        return ()
    pins = load_pins()
    return tuple(
        ensure_fix().requirement if n == FIX_PACKAGE else pins.requirement(n) for n in names
    )


def layer_dir(cell: Cell) -> Optional[Path]:
    """The fix's layer, extracted, when the cell's strategy uses it."""
    return ensure_fix().layer_dir if STRATEGIES[cell.strategy].layer else None


def user_site(python: str, wanted: Sequence[str], root: Optional[Path] = None) -> Path:
    """A user base (``PYTHONUSERBASE``) whose ``lib/pythonX.Y/site-packages`` holds ``wanted``.

    Pure-Python wheels only (pip is asked for any platform's wheels for
    CPython ``python``), cached by their requirements.
    """
    root = cache_dir() / "userbase" if root is None else root
    key = hashlib.sha256("\n".join([python, *sorted(wanted)]).encode()).hexdigest()[:12]
    target = root / f"py{python}-{key}"

    def build(staging: Path) -> str:
        site = staging / "lib" / f"python{python}" / "site-packages"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                python,
                "--target",
                str(site),
                *wanted,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise StrategyProvisionError(
                f"installing {' '.join(wanted)} for CPython {python}: {done.stderr[-2000:]}"
            )
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the container's user
        return "\n".join(wanted) + "\n"

    return build_once(target, build)
