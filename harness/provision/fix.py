"""The fix as cells use it: lambda-shutdown-hook's wheel and layer, built from fix/.

Built with the fix's own builder (``fix/lsh_build.py``, standard library
only, reproducible) into ``<cache>/fix/<digest of fix/>/`` the first time a
cell needs it, by whichever worker gets there first (built beside, renamed
into place). The layer is extracted there too, with its modes (the wrapper
script must stay executable), as Lambda extracts a layer into /opt.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Optional

from harness.errors import LabError
from harness.paths import FIX_DIR, cache_dir
from harness.provision.built_once import MARKER, build_once


class FixBuildError(LabError, RuntimeError):
    """The fix could not be built; the message says why."""


@dataclass(frozen=True)
class BuiltFix:
    wheel: Path
    layer_zip: Path
    layer_dir: Path  # the layer, extracted: what plays /opt

    @property
    def requirement(self) -> str:
        """A pip requirement for exactly this wheel (its hash pins the bytes)."""
        digest = hashlib.sha256(self.wheel.read_bytes()).hexdigest()
        return f"lambda-shutdown-hook @ {self.wheel.as_uri()}#sha256={digest}"


def builder(fix_dir: Path = FIX_DIR) -> ModuleType:
    """fix/lsh_build.py, loaded from its file (fix/ is its own distribution)."""
    spec = importlib.util.spec_from_file_location("lsh_build", fix_dir / "lsh_build.py")
    if spec is None or spec.loader is None:
        raise FixBuildError(f"{fix_dir / 'lsh_build.py'}: cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sources_digest(fix_dir: Path = FIX_DIR) -> str:
    outer = hashlib.sha256()
    for path in sorted(
        p for p in fix_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        outer.update(path.relative_to(fix_dir).as_posix().encode() + b"\0")
        outer.update(hashlib.sha256(path.read_bytes()).digest())
        outer.update(b"x" if os.access(path, os.X_OK) else b"-")
    return outer.hexdigest()[:16]


def extract_layer(layer_zip: Path, target: Path) -> None:
    """Unzip keeping each entry's Unix mode (zipfile's extractall drops them)."""
    with zipfile.ZipFile(layer_zip) as archive:
        for info in archive.infolist():
            path = target / info.filename
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(info))
            path.chmod(((info.external_attr >> 16) & 0o777) or 0o644)
    for directory in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        directory.chmod(0o755)  # readable by a container's unprivileged user


def ensure_fix(root: Optional[Path] = None, fix_dir: Path = FIX_DIR) -> BuiltFix:
    """The built wheel and layer of the current fix/ sources."""
    root = cache_dir() / "fix" if root is None else root

    def build(staging: Path) -> str:
        try:
            wheel, layer = builder(fix_dir).build_all(staging)
        except (OSError, SystemExit) as err:
            raise FixBuildError(f"building the fix from {fix_dir}: {err}") from None
        extract_layer(layer, staging / "layer")
        return f"{wheel.name}\n{layer.name}\n"

    target = build_once(root / sources_digest(fix_dir), build)
    found = _built(target)
    if found is None:
        raise FixBuildError(f"{target}: the fix's build is incomplete")
    return found


def _built(target: Path) -> Optional[BuiltFix]:
    marker = target / MARKER
    if not marker.is_file():
        return None
    wheel, layer = marker.read_text(encoding="utf-8").split()
    return BuiltFix(target / wheel, target / layer, target / "layer")
