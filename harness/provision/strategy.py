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
from harness.provision.venvs import PIP_INSTALL, constraint_arguments


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


def user_site(
    python: str,
    wanted: Sequence[str],
    root: Optional[Path] = None,
    resolved: Sequence[str] = (),
    constraints: Sequence[str] = (),
) -> Path:
    """A user base (``PYTHONUSERBASE``) whose ``lib/pythonX.Y/site-packages`` holds ``wanted``
    (pure-Python wheels, without their dependencies: a strategy's packages) and
    ``resolved`` (wheels for CPython ``python`` on this platform, with their
    dependencies held to ``constraints``: a function's own packages), cached by
    all three.
    """
    root = cache_dir() / "userbase" if root is None else root
    key_text = "\n".join([python, *sorted(wanted)])
    if resolved:
        key_text += "\n--resolved\n" + "\n".join([*sorted(resolved), *sorted(constraints)])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:12]
    target = root / f"py{python}-{key}"

    def build(staging: Path) -> str:
        site = staging / "lib" / f"python{python}" / "site-packages"
        if wanted:
            _pip_target(python, site, ["--no-deps", *wanted])
        if resolved:
            pinned = constraint_arguments(staging, constraints)
            _pip_target(python, site, [*pinned, *resolved])
            if pinned:
                Path(pinned[1]).unlink()
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the container's user
        return "\n".join([*wanted, *resolved]) + "\n"

    return build_once(target, build)


def _pip_target(python: str, site: Path, arguments: Sequence[str]) -> None:
    """pip install into ``site`` for CPython ``python``: binary wheels only, never built."""
    done = subprocess.run(
        [
            sys.executable,
            *PIP_INSTALL,
            "--only-binary=:all:",
            "--python-version",
            python,
            "--target",
            str(site),
            *arguments,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise StrategyProvisionError(
            f"installing {' '.join(arguments)} for CPython {python}: {done.stderr[-2000:]}"
        )
