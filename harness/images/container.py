"""A cell in a container, as values: paths inside the image, docker-py run arguments.

Facts about the image (where the task root, the extensions and the legacy
client are, which port the Invoke API listens on) live here, next to the
functions that turn a cell into ``containers.run`` keyword arguments. All of
it is pure and unit-tested without a daemon, except ``network_for`` and
``sweep_containers``, which ask the engine they are given.

Networking: host networking with ports chosen by the kernel (port 0) where
the engine has no bridge (these machines: dockerd --bridge=none); where a
bridge exists, the Invoke API is published on a free loopback port instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from harness.images.spec import (
    CELL_LABEL,
    PROJECT_LABEL,
    REPOSITORY,
    RUN_LABEL,
    ImageSpec,
    spec_for,
)
from harness.model.cells import Cell, cell_environment, layer_environment
from harness.paths import FUNCTION_DIR, PROJECT_ROOT
from harness.sandbox import sweep

# Paths inside the image (images/Dockerfile.template).
TASK_ROOT = "/var/task"
EMPTY_EXTENSIONS_DIR = "/opt/extensions"  # empty: only the internal extension, if any
LAB_EXTENSIONS_DIR = "/opt/lab-extensions"  # function/extensions/
LEGACY_RUNTIME = "/opt/lab/legacy_runtime.py"
PROJECT_MOUNT = "/opt/project"  # the project, read-only, for a cell's own function dir
RUN_DIR = "/lab-run"  # the cell's host folder: the event log
LAYER_DIR = "/opt/lab-layer"  # a strategy's layer (the fix's), playing /opt for the runtime
USER_BASE = (
    "/opt/lab-userbase"  # a strategy's packages: the interpreter's user site (PYTHONUSERBASE)
)
INVOKE_PORT_IN_CONTAINER = 8080
# The sandbox starting the managed runtime's bootstrap with the image's python3.
MANAGED_ENTRYPOINT = ["python3", "-m", "lambda_sandbox", "--managed-python", "python3"]
NETWORKS = ("host", "bridge")


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
    task_root, _ = _in_container(cell.function_dir, FUNCTION_DIR, TASK_ROOT)
    extensions = EMPTY_EXTENSIONS_DIR
    if cell.extension == "external":
        extensions, _ = _in_container(
            cell.extensions_dir, FUNCTION_DIR / "extensions", LAB_EXTENSIONS_DIR
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
    cell: Cell,
    image: str,
    host_dir: Path,
    session: str,
    network: str,
    layer: Optional[Path] = None,
    user_base: Optional[Path] = None,
    key: Optional[bytes] = None,
) -> Dict[str, Any]:
    """docker-py ``containers.run`` keyword arguments for ``cell``; ``layer`` and
    ``user_base`` are host folders the cell's strategy adds (mounted read-only). Pure."""
    if network not in NETWORKS:
        raise ValueError(f"network: one of {NETWORKS}, got {network!r}")
    volumes: Dict[str, Dict[str, str]] = {str(host_dir): {"bind": RUN_DIR, "mode": "rw"}}
    _, task_mount = _in_container(cell.function_dir, FUNCTION_DIR, TASK_ROOT)
    _, ext_mount = _in_container(
        cell.extensions_dir, FUNCTION_DIR / "extensions", LAB_EXTENSIONS_DIR
    )
    if task_mount:
        volumes[task_mount] = {"bind": TASK_ROOT, "mode": "ro"}
    if ext_mount and cell.extension == "external":
        volumes[ext_mount] = {"bind": LAB_EXTENSIONS_DIR, "mode": "ro"}
    env = container_env(cell, f"{session}/{cell.id}", network)
    if layer is not None:
        volumes[str(layer)] = {"bind": LAYER_DIR, "mode": "ro"}
        env.update(layer_environment(cell, LAYER_DIR))
    if user_base is not None:
        # Processed at interpreter start like site-packages (pip install in an image).
        volumes[str(user_base)] = {"bind": USER_BASE, "mode": "ro"}
        env["PYTHONUSERBASE"] = USER_BASE
    if key is not None:
        env["LAMBDA_SANDBOX_EVIDENCE_KEY"] = key.hex()
    if any(v.startswith(PROJECT_MOUNT + "/") for v in env.values()):
        volumes[str(PROJECT_ROOT)] = {"bind": PROJECT_MOUNT, "mode": "ro"}
    kwargs: Dict[str, Any] = {
        "image": image,
        "command": runtime_argv(cell) if cell.start != "managed" else [cell.handler],
        "environment": env,
        "labels": labels(session, cell.id),
        "volumes": volumes,
        "detach": True,
        "stop_signal": "SIGTERM",
        # Lambda's names for the execution environment, where telemetry
        # extensions listen (the container's own loopback).
        "extra_hosts": {"sandbox.localdomain": "127.0.0.1", "sandbox": "127.0.0.1"},
    }
    if cell.start == "managed":
        # The image's ENTRYPOINT ends with "--": the managed start is an option before it.
        kwargs["entrypoint"] = MANAGED_ENTRYPOINT
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
