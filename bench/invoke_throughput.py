"""Invocations per second and latency against MAX_CONCURRENCY, side by side with the peers.

For each MAX_CONCURRENCY in the list, starts the sandbox (awslambdaric on the
given Python, the fixture function), warms every environment, then drives a
fixed number of RequestResponse invocations from a fixed number of keep-alive
clients and reports throughput and p50/p99 latency. Then the same against the
peers, when found (``bench.peers``): the Lambda Runtime API Daemon with the
same ``MAX_CONCURRENCY`` (its own variable: it starts up to that many runtime
instances), and AWS's emulator, which runs one runtime and serves one
invocation at a time: a second client's connection is reset while one runs
(measured here), so it is driven by one client. A benchmark, not a test: the
figures depend on the machine; nothing is asserted.

With every figure, two more from /proc around the timed invocations: the
server's own CPU per invocation (its process, all its threads, not the
runtimes it started) and how busy the whole machine was. When the machine is
nearly all busy, invocations per second come to about the cores divided by
the CPU one invocation costs all the processes together (client, runtime,
server): the server's own CPU per invocation is then what sets it apart.
Beside them, ``floor_selector``: a CPython server with one thread and one
``selectors`` loop relaying to as many runtimes (``bench.selector_floor``),
with no work of its own, the most a Python server could serve.

    python -m bench.invoke_throughput [--python 3.12] [--invocations 1000] [--clients 16]
                                      [--concurrency 1,2,4] [--json PATH]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from bench.common import awslambdaric_python, busy_fraction, cpu_seconds, machine_ticks
from bench.loopback_floor import Floor
from bench.peers import DAEMON, PEERS, RIE, RunningPeer, find_peer
from harness.model.pins import load_pins
from harness.paths import TEST_FIXTURES
from harness.provision.interpreters import find_interpreter, where_searched
from harness.sandbox.running import RunningSandbox

# The floor beside the servers: one thread and one selectors loop relaying to as
# many runtimes as MAX_CONCURRENCY, with no work of its own (bench.selector_floor).
FLOOR = "floor_selector"


def drive(address: str, count: int) -> List[float]:
    """``count`` invocations on one keep-alive connection; their latencies in ms."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    latencies = []
    try:
        for n in range(count):
            began = time.perf_counter()
            connection.request(
                "POST", "/2015-03-31/functions/function/invocations", body=json.dumps({"n": n})
            )
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"invocation answered {response.status}")
            latencies.append((time.perf_counter() - began) * 1000)
    finally:
        connection.close()
    return latencies


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def drive_all(
    address: str, invocations: int, clients: int, server_pid: Optional[int] = None
) -> Dict[str, Any]:
    """Warm every environment, then ``invocations`` from ``clients`` keep-alive clients;
    with ``server_pid``, also that process's CPU per invocation while they ran."""
    per_client = invocations // clients
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        # Warm-up: every environment initialised before timing starts.
        list(pool.map(lambda _: drive(address, 5), range(clients)))
        server_before = cpu_seconds(server_pid) if server_pid is not None else 0.0
        machine_before = machine_ticks()
        began = time.perf_counter()
        results = list(pool.map(lambda _: drive(address, per_client), range(clients)))
        elapsed = time.perf_counter() - began
        machine_after = machine_ticks()
        server_after = cpu_seconds(server_pid) if server_pid is not None else 0.0
    latencies = [ms for chunk in results for ms in chunk]
    figures: Dict[str, Any] = {
        "clients": clients,
        "invocations": len(latencies),
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "machine_busy": busy_fraction(machine_before, machine_after),
    }
    if server_pid is not None:
        figures["server_cpu_ms_per_invocation"] = round(
            (server_after - server_before) * 1000 / len(latencies), 3
        )
    return figures


def measure(
    python: Path,
    concurrency: int,
    invocations: int,
    clients: int,
    peer_names: Sequence[str] = PEERS,
) -> Dict[str, Any]:
    runtime_cmd = [str(python), "-m", "awslambdaric", "app.handler"]
    env = {"MAX_CONCURRENCY": str(concurrency), "LAMBDA_SANDBOX_QUEUE_LIMIT": str(clients)}
    servers: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        with RunningSandbox(python, runtime_cmd, Path(tmp), env=env) as sandbox:
            assert sandbox.proc is not None
            servers["sandbox"] = drive_all(
                sandbox.invoke_api, invocations, clients, sandbox.proc.pid
            )
            sandbox.stop()
        with Floor(
            python, runtime_cmd, TEST_FIXTURES / "fn", selector=True, runtimes=concurrency
        ) as floor:
            servers[FLOOR] = drive_all(floor.address, invocations, clients, floor.server_pid)
        for name in peer_names:
            binary = find_peer(name)
            if binary is None:
                servers[name] = "peer not found (LAB_PEERS_BIN, PATH)"
                continue
            peer_env = {"MAX_CONCURRENCY": str(concurrency)} if name == DAEMON else {}
            with RunningPeer(
                name, binary, runtime_cmd, TEST_FIXTURES / "fn", Path(tmp) / f"{name}.log",
                extra_env=peer_env,
            ) as peer:  # fmt: skip
                servers[name] = drive_all(
                    peer.address, invocations, 1 if name == RIE else clients, peer.pid
                )
    return {"max_concurrency": concurrency, "clients": clients, "servers": servers}


def rows_text(rows: Sequence[Mapping[str, Any]]) -> List[str]:
    """The table printed: one line per level and server. Pure."""
    lines = [
        f"{'MAX_CONCURRENCY':>16}  {'server':<28}{'clients':>8}{'per second':>12}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/inv':>12}{'busy':>7}"
    ]
    for row in rows:
        for name, figures in row["servers"].items():
            if isinstance(figures, str):
                lines.append(f"{row['max_concurrency']:>16}  {name:<28}{figures}")
                continue
            cpu = figures.get("server_cpu_ms_per_invocation")
            busy = figures.get("machine_busy")
            lines.append(
                f"{row['max_concurrency']:>16}  {name:<28}{figures['clients']:>8}"
                f"{figures['per_second']:>12}{figures['p50_ms']:>9}{figures['p99_ms']:>9}"
                f"{'-' if cpu is None else f'{cpu:.3f}':>12}"
                f"{'-' if busy is None else f'{busy:.0%}':>7}"
            )
    return lines


def run(python_version: str, concurrency: int, invocations: int, clients: int) -> Dict[str, Any]:
    """One level, for ``python -m bench``: LookupError when the interpreter is missing."""
    interpreter = find_interpreter(python_version)
    if interpreter is None:
        raise LookupError(where_searched(python_version))
    python, pin = awslambdaric_python(interpreter, python_version)
    return {
        "python": interpreter.full_version,
        "runtime": f"awslambdaric {pin}",
        "rows": [measure(python, concurrency, invocations, clients)],
    }


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="3.12", choices=load_pins().pythons)
    parser.add_argument("--invocations", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        levels = [int(x) for x in args.concurrency.split(",")]
    except ValueError:
        parser.error("--concurrency takes whole numbers separated by commas, e.g. 1,2,4")
    if args.invocations < args.clients or args.clients < 1 or min(levels) < 1:
        parser.error("need --clients >= 1, --invocations >= --clients, concurrency >= 1")
    interpreter = find_interpreter(args.python)
    if interpreter is None:
        print(f"error: {where_searched(args.python)}", file=sys.stderr)
        return 2
    python, _ = awslambdaric_python(interpreter, args.python)
    rows = [measure(python, level, args.invocations, args.clients) for level in levels]
    print(f"invoke throughput: CPython {interpreter.full_version}, {args.clients} clients")
    print("\n".join(rows_text(rows)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"python": interpreter.full_version, "rows": rows}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
