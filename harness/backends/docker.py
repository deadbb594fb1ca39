"""The docker backend: the same sandbox and function, run from the cell's image via docker-py.

Provisioning is the image for the cell's Python (built or reused, see
``harness.images.build``); launching is a container labelled with the session
and the cell (its arguments: ``harness.images.container``), its event log
written to a bind-mounted host folder. The run skeleton (``BackendBase``)
does the rest: readiness from ``sandbox.ready``, the invocations, the stop
(``container.stop``: SIGTERM to the sandbox, PID 1, then SIGKILL after
``term_s``). ``close`` keeps the container's output and removes it whatever
happened, an interrupt included.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

from harness.backends.base import (
    DEFAULT_TIMEOUTS,
    BackendBase,
    CellSkipped,
    Launched,
    Provisioned,
    ProvisionFailed,
    Timeouts,
)
from harness.errors import must_run
from harness.images import build as images
from harness.images import engine as dockerbuild
from harness.images.base import InterpreterMissing
from harness.images.container import (
    image_spec,
    invoke_address,
    labels,
    network_for,
    run_kwargs,
)
from harness.images.spec import ImageSpecError, load_specs
from harness.model.cells import Cell
from harness.model.pins import PinError, load_pins, requirement_name
from harness.provision import strategy
from harness.provision.fix import FixBuildError
from harness.provision.interpreters import find_interpreter, where_searched
from harness.provision.strategy import StrategyProvisionError
from lambda_sandbox.eventlog import Event

# The sandbox runs as uid 993 in the container and writes its log to the
# cell's host folder, which is bind-mounted.
CONTAINER_WRITABLE = 0o777


@dataclass(frozen=True)
class _Ready:
    """A provisioned cell: its image, and the host folders its strategy adds."""

    built: Any
    layer: Optional[Path] = None
    user_base: Optional[Path] = None


class _Container:
    """A launched container, as the run skeleton sees it."""

    def __init__(self, container: Any, network: str, output_log: Path) -> None:
        self.container = container
        self.network = network
        self.output_log = output_log
        self.alive = _throttled(lambda: _is_running(container))

    def invoke_address(self, ready: Event) -> str:
        if self.network != "host":
            self.container.reload()
            return invoke_address(ready.record, self.network, self.container.ports)
        return invoke_address(ready.record, self.network, {})

    def stop(self, timeouts: Timeouts) -> Tuple[Optional[int], bool]:
        # SIGTERM to the sandbox; SIGKILL after term_s (a no-op if it has exited).
        self.container.stop(timeout=int(timeouts.term_s))
        status = self.container.wait(timeout=timeouts.kill_s)
        code = int(status.get("StatusCode", -1))
        return code, code == 137  # 128 + SIGKILL: container.stop had to kill it

    def close(self) -> Optional[str]:
        try:
            self.output_log.write_bytes(self.container.logs(stdout=True, stderr=True))
        finally:
            self.container.remove(force=True)
        return None


class DockerBackend(BackendBase):
    name = "docker"

    def __init__(
        self, cells_dir: Path, session: str, timeouts: Timeouts = DEFAULT_TIMEOUTS
    ) -> None:
        super().__init__(cells_dir, session, timeouts)
        self._engine: Any = None
        self._built: Dict[str, Any] = {}  # tag -> images.Built, per worker
        self._versions: Dict[str, str] = {}  # image id -> full Python version

    def _engine_or_skip(self) -> Any:
        if self._engine is None:
            try:
                self._engine = dockerbuild.client()
            except dockerbuild.ImageBuildError as err:
                if must_run():
                    raise ProvisionFailed(f"CI=true and {err}") from None
                raise CellSkipped(str(err)) from None
        return self._engine

    def provision(self, cell: Cell) -> Provisioned:
        engine = self._engine_or_skip()
        try:
            spec = image_spec(cell, load_specs())
        except ImageSpecError as err:
            # No image folder for a Python this machine does not have either
            # (python3.14 where no CPython 3.14 is found): skipped with the reason.
            if find_interpreter(cell.python) is None:
                raise CellSkipped(where_searched(cell.python)) from None
            raise ProvisionFailed(str(err)) from None
        try:
            if spec.tag not in self._built:
                self._built[spec.tag] = images.ensure_image(engine, spec, echo=False)
            built = self._built[spec.tag]
            version = self._python_version(built)
        except InterpreterMissing as err:
            raise CellSkipped(str(err)) from None
        except Exception as err:  # a failed build fails the cell, with its reason
            raise ProvisionFailed(
                f"image for Python {cell.python}: {type(err).__name__}: {err}"
            ) from None
        try:
            extras = strategy.requirements(cell)
            # The function's own packages the image does not carry (pika is baked in)
            # go to the user site too, with their dependencies held to pins.toml's.
            baked = {requirement_name(r) for r in built.spec.requirements}
            own = [p for p in cell.packages if requirement_name(p) not in baked]
            user_base = None
            if extras or own:
                user_base = strategy.user_site(
                    cell.python,
                    extras,
                    resolved=own,
                    constraints=load_pins().constraints(own),
                )
            layer = strategy.layer_dir(cell)
        except (StrategyProvisionError, FixBuildError, PinError, OSError) as err:
            raise ProvisionFailed(f"strategy {cell.strategy!r}: {err}") from None
        return Provisioned(
            python_full_version=version, handle=_Ready(built, layer=layer, user_base=user_base)
        )

    def _python_version(self, built: Any) -> str:
        if built.python_full_version:
            return str(built.python_full_version)
        image_id = str(built.image.id)
        if image_id not in self._versions:
            out = self._engine.containers.run(
                image_id,
                entrypoint=["python3", "-c", "import platform; print(platform.python_version())"],
                command=[],
                remove=True,
                network_mode="none",
                labels=labels(self.session, "python-version"),
            )
            self._versions[image_id] = out.decode().strip()
        return self._versions[image_id]

    def launch(self, cell: Cell, ready: Provisioned, workdir: Path, key: bytes) -> Launched:
        workdir.chmod(CONTAINER_WRITABLE)
        engine = self._engine
        network = network_for(engine, os.environ)
        assert isinstance(ready.handle, _Ready)
        made = ready.handle
        container = engine.containers.run(
            **run_kwargs(
                cell,
                made.built.spec.tag,
                workdir,
                self.session,
                network,
                layer=made.layer,
                user_base=made.user_base,
                key=key,
            )
        )
        return _Container(container, network, workdir / "output.log")


def _is_running(container: Any) -> bool:
    try:
        container.reload()
    except Exception:  # gone: not running
        return False
    return str(container.status) in ("created", "running")


def _throttled(check: Callable[[], bool], every_s: float = 0.25) -> Callable[[], bool]:
    """``check`` asked at most every ``every_s`` (the log tail polls every 20 ms)."""
    state = {"at": 0.0, "value": True}

    def cached() -> bool:
        now = time.monotonic()
        if now - state["at"] >= every_s:
            state["at"], state["value"] = now, check()
        return bool(state["value"])

    return cached
