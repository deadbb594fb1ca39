"""The docker backend: the same sandbox and function, run from the cell's image via docker-py.

One run, start to end: the image for the cell's Python (built or reused,
see harness/images.py); a container labelled with the session and the cell,
its event log written to a bind-mounted host folder; readiness from the
``sandbox.ready`` event (no fixed sleeps); the invocations; the trigger
(``stop``: ``container.stop`` sends SIGTERM to the sandbox, PID 1, as Lambda's
reaping looks from outside; ``idle``: the sandbox's idle timeout reaps the
environment, then the container is stopped); the output from
``container.logs()``. The ``finally`` removes the container whatever
happened, an interrupt included.

Networking: host networking with ports chosen by the kernel (port 0) where
the engine has no bridge (these machines: dockerd --bridge=none); where a
bridge exists, the Invoke API is published on a free loopback port instead.

The functions above ``DockerBackend`` are pure: they turn a cell into
docker-py arguments and are unit-tested without a daemon.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from harness import sweep
from harness.backends.base import CellRun, CellSkipped
from harness.backends.script import play_cell
from harness.cells import Cell, cell_environment
from harness.imagespec import (
    CELL_LABEL,
    PROJECT_LABEL,
    REPOSITORY,
    RUN_LABEL,
    ImageSpec,
    load_specs,
    spec_for,
)
from harness.logtail import EventLogTail

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

# Paths inside the image (images/Dockerfile.template).
TASK_ROOT = "/var/task"
EMPTY_EXTENSIONS_DIR = "/opt/extensions"  # empty: only the internal extension, if any
LAB_EXTENSIONS_DIR = "/opt/lab-extensions"  # function/extensions/
LEGACY_RUNTIME = "/opt/lab/legacy_runtime.py"
PROJECT_MOUNT = "/opt/project"  # the project, read-only, for a cell's own function dir
RUN_DIR = "/lab-run"  # the cell's host folder: the event log
INVOKE_PORT_IN_CONTAINER = 8080
NETWORKS = ("host", "bridge")


@dataclass(frozen=True)
class Timeouts:
    ready_s: float = 30.0  # container start to `sandbox.ready`
    invoke_s: float = 30.0  # one invocation, cold start included
    idle_grace_s: float = 15.0  # beyond idle timeout + shutdown limit, for `shutdown.end`
    stop_s: int = 10  # container.stop: SIGTERM, then SIGKILL after this (limit is 2 s at most)
    exit_s: float = 15.0  # container.wait after stop


def image_spec(cell: Cell, specs: Mapping[str, ImageSpec]) -> ImageSpec:
    """The image a cell runs in: its Python's, with the cell's awslambdaric version."""
    spec = spec_for(cell.python, specs)
    if cell.runtime_client == "awslambdaric":
        return spec.with_awslambdaric(cell.runtime_client_version)
    return spec


def runtime_argv(cell: Cell) -> List[str]:
    """The runtime's argv inside the container (the image's CMD for awslambdaric)."""
    if cell.runtime_client == "legacy":
        return ["python3", LEGACY_RUNTIME, cell.handler]
    return ["python3", "-m", "awslambdaric", cell.handler]


def _in_container(host_path: Path, baked: Path, baked_at: str) -> Tuple[str, Optional[str]]:
    """Where ``host_path`` is seen in the container, and a host dir to mount for it (or None).

    The image's own copy when it is that copy; the read-only project mount when it
    lies inside the project (relative symlinks keep working); else a mount of its own.
    """
    resolved = host_path.resolve()
    if resolved == baked.resolve():
        return baked_at, None
    try:
        relative = resolved.relative_to(PROJECT_ROOT)
    except ValueError:
        return baked_at, str(resolved)
    return f"{PROJECT_MOUNT}/{relative.as_posix()}", None


def container_env(cell: Cell, label: str, network: str) -> Dict[str, str]:
    """The sandbox's environment in the container. Pure."""
    task_root, _ = _in_container(cell.function_dir, PROJECT_ROOT / "function", TASK_ROOT)
    extensions = EMPTY_EXTENSIONS_DIR
    if cell.extension == "external":
        extensions, _ = _in_container(
            cell.extensions_dir, PROJECT_ROOT / "function" / "extensions", LAB_EXTENSIONS_DIR
        )
    host_net = network == "host"
    env = {
        "PYTHONUNBUFFERED": "1",
        "AWS_LAMBDA_FUNCTION_NAME": "function",
        # Host networking shares the host's ports: loopback only, kernel-chosen.
        "INVOKE_API_HOST": "127.0.0.1" if host_net else "0.0.0.0",
        "INVOKE_API_PORT": "0" if host_net else str(INVOKE_PORT_IN_CONTAINER),
        "RUNTIME_API_HOST": "127.0.0.1",
        "RUNTIME_API_PORT": "0",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_EXTENSIONS_DIR": extensions,
        "LAMBDA_SANDBOX_EVENT_LOG": f"{RUN_DIR}/events.jsonl",
        # The process sweep finds container processes by this too (same /proc).
        sweep.LABEL: label,
    }
    env.update(cell_environment(cell))
    return env


def labels(session: str, cell_id: str) -> Dict[str, str]:
    return {PROJECT_LABEL: REPOSITORY, RUN_LABEL: session, CELL_LABEL: cell_id}


def run_kwargs(
    cell: Cell, image: str, host_dir: Path, session: str, network: str
) -> Dict[str, Any]:
    """docker-py ``containers.run`` keyword arguments for ``cell``. Pure."""
    if network not in NETWORKS:
        raise ValueError(f"network: one of {NETWORKS}, got {network!r}")
    volumes: Dict[str, Dict[str, str]] = {str(host_dir): {"bind": RUN_DIR, "mode": "rw"}}
    _, task_mount = _in_container(cell.function_dir, PROJECT_ROOT / "function", TASK_ROOT)
    _, ext_mount = _in_container(
        cell.extensions_dir, PROJECT_ROOT / "function" / "extensions", LAB_EXTENSIONS_DIR
    )
    if task_mount:
        volumes[task_mount] = {"bind": TASK_ROOT, "mode": "ro"}
    if ext_mount and cell.extension == "external":
        volumes[ext_mount] = {"bind": LAB_EXTENSIONS_DIR, "mode": "ro"}
    env = container_env(cell, f"{session}/{cell.id}", network)
    if any(v.startswith(PROJECT_MOUNT + "/") for v in env.values()):
        volumes[str(PROJECT_ROOT)] = {"bind": PROJECT_MOUNT, "mode": "ro"}
    kwargs: Dict[str, Any] = {
        "image": image,
        "command": runtime_argv(cell),
        "environment": env,
        "labels": labels(session, cell.id),
        "volumes": volumes,
        "detach": True,
        "stop_signal": "SIGTERM",
    }
    if network == "host":
        kwargs["network_mode"] = "host"
    else:
        kwargs["ports"] = {f"{INVOKE_PORT_IN_CONTAINER}/tcp": ("127.0.0.1", None)}
    return kwargs


def invoke_address(ready: Mapping[str, Any], network: str, ports: Mapping[str, Any]) -> str:
    """Where the harness reaches the Invoke API: the logged address, or the published port."""
    if network == "host":
        host, _, port = str(ready["invoke_api"]).rpartition(":")
        return f"{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    bound = ports.get(f"{INVOKE_PORT_IN_CONTAINER}/tcp") or []
    if not bound:
        raise RuntimeError(f"port {INVOKE_PORT_IN_CONTAINER}/tcp is not published: {ports}")
    return f"127.0.0.1:{bound[0]['HostPort']}"


def engine_required() -> bool:
    """In CI the Docker cells must run; elsewhere they skip when no engine answers."""
    return os.environ.get("CI") == "true"


def network_for(engine: Any, env: Mapping[str, str]) -> str:
    """``LAB_DOCKER_NETWORK``, else bridge when the engine has one, else host."""
    chosen = env.get("LAB_DOCKER_NETWORK")
    if chosen:
        if chosen not in NETWORKS:
            raise ValueError(f"LAB_DOCKER_NETWORK: one of {NETWORKS}, got {chosen!r}")
        return chosen
    return "bridge" if engine.networks.list(names=["bridge"]) else "host"


def sweep_containers(engine: Any, session_prefix: str = "", running: bool = True) -> List[str]:
    """Remove the lab's containers of sessions starting with ``session_prefix``.

    ``running=False`` spares running ones: at a session's start, a container
    still running may belong to another live session; a stopped one is a leftover.
    """
    removed = []
    for container in engine.containers.list(all=True, filters={"label": PROJECT_LABEL}):
        if not str((container.labels or {}).get(RUN_LABEL, "")).startswith(session_prefix):
            continue
        if not running and container.status == "running":
            continue
        container.remove(force=True)
        removed.append(str(container.short_id))
    return removed


class DockerBackend:
    name = "docker"

    def __init__(self, cells_dir: Path, session: str, timeouts: Timeouts = Timeouts()) -> None:
        self.cells_dir = cells_dir
        self.session = session
        self.timeouts = timeouts
        self._engine: Any = None
        self._built: Dict[str, Any] = {}  # tag -> images.Built, per worker
        self._versions: Dict[str, str] = {}  # image id -> full Python version

    def _engine_or_skip(self) -> Any:
        if self._engine is None:
            from harness import dockerbuild

            try:
                self._engine = dockerbuild.client()
            except dockerbuild.ImageBuildError as err:
                if engine_required():
                    raise RuntimeError(f"CI=true and {err}") from None
                raise CellSkipped(str(err)) from None
        return self._engine

    def _image(self, cell: Cell) -> Any:
        from harness import images
        from harness.baseimage import InterpreterMissing

        spec = image_spec(cell, load_specs())
        if spec.tag not in self._built:
            try:
                built = images.ensure_image(self._engine_or_skip(), spec, echo=False)
            except InterpreterMissing as err:
                raise CellSkipped(str(err)) from None
            self._built[spec.tag] = built
        return self._built[spec.tag]

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

    def run(self, cell: Cell) -> CellRun:
        workdir = self.cells_dir / cell.id
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        # The sandbox runs as uid 993 in the container and writes its log here.
        workdir.chmod(0o777)
        event_log = workdir / "events.jsonl"
        output_log = workdir / "output.log"
        started = time.time()
        problem: Optional[str] = None
        returncode: Optional[int] = None
        python_version = ""
        try:
            built = self._image(cell)
            python_version = self._python_version(built)
        except CellSkipped:
            raise
        except Exception as err:  # a failed build fails the cell, with its reason
            problem = f"image for Python {cell.python}: {type(err).__name__}: {err}"
            output_log.write_text(str(err), encoding="utf-8")
        else:
            problem, returncode = self._run_container(cell, built, workdir, output_log)
        return CellRun(
            cell=cell,
            backend=self.name,
            python_full_version=python_version,
            event_lines=tuple(_read_lines(event_log)),
            output=_read_text(output_log),
            event_log=event_log,
            output_log=output_log,
            started=started,
            ended=time.time(),
            sandbox_returncode=returncode,
            problem=problem,
        )

    def _run_container(
        self, cell: Cell, built: Any, workdir: Path, output_log: Path
    ) -> Tuple[Optional[str], Optional[int]]:
        engine = self._engine
        network = network_for(engine, os.environ)
        kwargs = run_kwargs(cell, built.spec.tag, workdir, self.session, network)
        container = engine.containers.run(**kwargs)
        problem: Optional[str] = None
        returncode: Optional[int] = None
        try:
            problem = self._drive(cell, container, network, EventLogTail(workdir / "events.jsonl"))
            # SIGTERM to the sandbox; SIGKILL after stop_s (a no-op if it has exited).
            container.stop(timeout=self.timeouts.stop_s)
            status = container.wait(timeout=self.timeouts.exit_s)
            returncode = int(status.get("StatusCode", -1))
            if problem is None and returncode != 0:
                problem = f"the sandbox exited with code {returncode} after SIGTERM, expected 0"
        finally:
            try:
                output_log.write_bytes(container.logs(stdout=True, stderr=True))
            finally:
                container.remove(force=True)
        return problem, returncode

    def _drive(self, cell: Cell, container: Any, network: str, log: EventLogTail) -> Optional[str]:
        """Ready, invoke, trigger. A problem description, or None."""
        alive = _throttled(lambda: _is_running(container))
        ready = log.wait_for("sandbox.ready", self.timeouts.ready_s, alive)
        if ready is None:
            return f"the sandbox did not log sandbox.ready within {self.timeouts.ready_s:g} s"
        if network != "host":
            container.reload()
        address = invoke_address(ready, network, container.ports if network != "host" else {})
        return play_cell(
            cell, address, log, alive, self.timeouts.invoke_s, self.timeouts.idle_grace_s
        )


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


def _read_lines(path: Path) -> List[str]:
    return _read_text(path).splitlines()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
