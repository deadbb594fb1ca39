"""``python -m harness.images``: build, run, list and sweep the lab's images.

    build [py37 py38 py312 | 3.12 | all]   build or reuse; prints sizes and times
    run py312 [--port 8080] [--extension internal|external|none] [--strategy S]
              [--client awslambdaric|legacy] [--function-name N] [-e KEY=VALUE]
                                           serve the function until Ctrl-C
    list                                   the lab's images with sizes and pins
    sweep [--images]                       remove lab containers (and images)

``run`` is the standalone way to try an image: the seed's own invocations
work against it unchanged, e.g.

    curl -XPOST "http://localhost:8080/2015-03-31/functions/function/invocations" -d '{}'
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sys
import time
import uuid
from types import FrameType
from typing import Any, Dict, List, Optional, Sequence

from harness.images import engine as dockerbuild
from harness.images.build import ensure_image
from harness.images.container import (
    EMPTY_EXTENSIONS_DIR,
    INVOKE_PORT_IN_CONTAINER,
    LAB_EXTENSIONS_DIR,
    LEGACY_RUNTIME,
    NETWORKS,
    labels,
    network_for,
    sweep_containers,
)
from harness.images.spec import (
    PINS_LABEL,
    PROJECT_LABEL,
    PYTHON_LABEL,
    ImageSpecError,
    load_specs,
    select_specs,
)

INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"


def standalone_kwargs(
    tag: str,
    port: int,
    network: str,
    extension: str = "internal",
    strategy: str = "signal",
    client: str = "awslambdaric",
    function_name: str = "function",
    extra_env: Optional[Dict[str, str]] = None,
    run_id: str = "standalone",
) -> Dict[str, Any]:
    """docker-py ``containers.run`` arguments for a container serving on ``port``. Pure."""
    if network not in NETWORKS:
        raise ValueError(f"network: one of {NETWORKS}, got {network!r}")
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "LAB_STRATEGY": strategy,
        "LAB_EXTENSION": "internal" if extension == "internal" else "none",
        "LAMBDA_EXTENSIONS_DIR": LAB_EXTENSIONS_DIR
        if extension == "external"
        else (EMPTY_EXTENSIONS_DIR),
    }
    kwargs: Dict[str, Any] = {
        "image": tag,
        "detach": True,
        "labels": labels(run_id, "standalone"),
        "stop_signal": "SIGTERM",
    }
    if network == "host":
        # The host's ports: the Invoke API where asked, the Runtime API anywhere free.
        env.update({"INVOKE_API_PORT": str(port), "RUNTIME_API_PORT": "0"})
        kwargs["network_mode"] = "host"
    else:
        kwargs["ports"] = {f"{INVOKE_PORT_IN_CONTAINER}/tcp": port}
    env.update(extra_env or {})
    kwargs["environment"] = env
    if client == "legacy":
        kwargs["command"] = ["python3", LEGACY_RUNTIME, "app.handler"]
    return kwargs


def _parse_env(items: Sequence[str]) -> Dict[str, str]:
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"-e: expected KEY=VALUE, got {item!r}")
        env[key] = value
    return env


def _wait_for_port(port: int, timeout_s: float, container: Any) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        container.reload()
        if container.status not in ("created", "running"):
            return False
        time.sleep(0.1)  # polling a port, bounded by timeout_s
    return False


def _raise_interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


def cmd_build(args: argparse.Namespace) -> int:
    engine = dockerbuild.client()
    for spec in select_specs(args.images, load_specs()):
        built = ensure_image(engine, spec, args.base)
        what = "cached" if built.cached else "built"
        print(
            f"{spec.tag}: {what} in {built.seconds:.1f} s, "
            f"{dockerbuild.size_mb(built.image):.0f} MB, "
            f"CPython {built.python_full_version or '?'}; {built.pins}",
            flush=True,
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    engine = dockerbuild.client()
    (spec,) = select_specs([args.image], load_specs())
    built = ensure_image(engine, spec, args.base)
    network = network_for(engine, {"LAB_DOCKER_NETWORK": args.network or ""})
    kwargs = standalone_kwargs(
        spec.tag,
        args.port,
        network,
        args.extension,
        args.strategy,
        args.client,
        args.function_name,
        _parse_env(args.env),
        run_id=f"standalone-{uuid.uuid4().hex[:8]}",
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    container = engine.containers.run(**kwargs)
    try:
        print(f"[lab] {spec.tag} ({built.python_full_version or '?'}) as {container.short_id}")
        if not _wait_for_port(args.port, 30, container):
            print(container.logs().decode(errors="replace"), file=sys.stderr)
            print("[lab] the Invoke API did not come up", file=sys.stderr)
            return 1
        url = f"http://localhost:{args.port}" + INVOKE_PATH.format(name=args.function_name)
        print(f'[lab] ready: curl -XPOST "{url}" -d \'{{"key": "value"}}\'')
        print(
            "[lab] Ctrl-C stops the container (SIGTERM to the sandbox) and removes it", flush=True
        )
        for chunk in container.logs(stream=True, follow=True):
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            container.stop(timeout=10)
            code = container.wait(timeout=15).get("StatusCode")
            tail = container.logs(tail=20).decode(errors="replace")
            print(f"\n[lab] stopped, exit code {code}; last lines:\n{tail}", flush=True)
        finally:
            container.remove(force=True)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    engine = dockerbuild.client()
    for image in engine.images.list(filters={"label": PROJECT_LABEL}):
        image_labels: Dict[str, str] = image.labels or {}
        print(
            f"{', '.join(image.tags) or image.short_id}: {dockerbuild.size_mb(image):.0f} MB, "
            f"CPython {image_labels.get(PYTHON_LABEL, '?')}; {image_labels.get(PINS_LABEL, '')}"
        )
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    engine = dockerbuild.client()
    removed = sweep_containers(engine)
    pruned = dockerbuild.prune_dangling(engine)
    print(f"[lab] removed {len(removed)} containers, {pruned} dangling images")
    if args.images:
        for image in engine.images.list(filters={"label": PROJECT_LABEL}):
            for tag in image.tags:
                engine.images.remove(tag, force=True)
                print(f"[lab] removed {tag}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m harness.images", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    base = argparse.ArgumentParser(add_help=False)
    base.add_argument(
        "--base",
        choices=("offline", "official"),
        default=None,
        help="offline (default; LAB_IMAGE_BASE): made from Debian's packages and a host "
        "CPython; official: python:X.Y-slim (needs a registry)",
    )
    build = sub.add_parser("build", parents=[base], help="build or reuse images")
    build.add_argument("images", nargs="*", help="py37, py38, py312, 3.12 or all (default)")
    build.set_defaults(func=cmd_build)
    run = sub.add_parser("run", parents=[base], help="serve one image until Ctrl-C")
    run.add_argument("image", help="py37, py38, py312 or 3.12")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument("--network", choices=NETWORKS, help="default: bridge if any, else host")
    run.add_argument("--extension", choices=("internal", "external", "none"), default="internal")
    run.add_argument("--strategy", choices=("signal", "wakeup-fd", "none"), default="signal")
    run.add_argument("--client", choices=("awslambdaric", "legacy"), default="awslambdaric")
    run.add_argument("--function-name", default="function")
    run.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")
    run.set_defaults(func=cmd_run)
    sub.add_parser("list", help="the lab's images").set_defaults(func=cmd_list)
    sweep = sub.add_parser("sweep", help="remove lab containers and dangling images")
    sweep.add_argument("--images", action="store_true", help="also remove the tagged images")
    sweep.set_defaults(func=cmd_sweep)
    return top


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (dockerbuild.ImageBuildError, ImageSpecError) as err:
        print(f"[lab] error: {err}", file=sys.stderr)
        return 1
