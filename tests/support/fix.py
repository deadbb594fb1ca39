"""The fix as built: lambda-shutdown-hook's wheel and layer, made by fix/lsh_build.py."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType
from typing import List

from harness.paths import PROJECT_ROOT
from harness.provision.interpreters import find_interpreter

FIX_DIR = PROJECT_ROOT / "fix"
# Every CPython the fix supports; the tests run on each one found here.
SUPPORTED = ("3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15")


def builder() -> ModuleType:
    """fix/lsh_build.py, loaded from its file (it is not a package of the project)."""
    spec = importlib.util.spec_from_file_location("lsh_build", FIX_DIR / "lsh_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def found_versions() -> List[str]:
    """The supported CPython versions this machine has (``pyenv``, PATH, LAB_PYTHON_*)."""
    return [v for v in SUPPORTED if find_interpreter(v) is not None]


def installed_site_dir(wheel: Path, target: Path) -> Path:
    """``target`` holding the wheel's files, as pip would lay them into a site directory."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target
