"""Invocations per second and latency against MAX_CONCURRENCY.

For each MAX_CONCURRENCY in the list, starts the sandbox (awslambdaric on the
given Python, the fixture function), warms every environment, then drives a
fixed number of RequestResponse invocations from a fixed number of keep-alive
clients and reports throughput and p50/p99 latency. A benchmark, not a test:
the figures depend on the machine; nothing is asserted.

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
from typing import Any, Dict, List

from harness.model.pins import load_pins
from harness.provision.interpreters import find_interpreter, where_searched
from harness.provision.venvs import ensure_venv, venv_python
from harness.sandbox.running import RunningSandbox


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


def measure(python: Path, concurrency: int, invocations: int, clients: int) -> Dict[str, Any]:
    env = {"MAX_CONCURRENCY": str(concurrency), "LAMBDA_SANDBOX_QUEUE_LIMIT": str(clients)}
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp, RunningSandbox(
        python, [str(python), "-m", "awslambdaric", "app.handler"], Path(tmp), env=env
    ) as sandbox:
        per_client = invocations // clients
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            # Warm-up: every environment initialised before timing starts.
            list(pool.map(lambda _: drive(sandbox.invoke_api, 5), range(clients)))
            began = time.perf_counter()
            results = list(
                pool.map(lambda _: drive(sandbox.invoke_api, per_client), range(clients))
            )
            elapsed = time.perf_counter() - began
        sandbox.stop()
    latencies = [ms for chunk in results for ms in chunk]
    return {
        "max_concurrency": concurrency,
        "invocations": len(latencies),
        "clients": clients,
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
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
    python = venv_python(
        ensure_venv(interpreter, [f"awslambdaric=={load_pins().awslambdaric_for(args.python)}"])
    )
    rows = [measure(python, level, args.invocations, args.clients) for level in levels]
    print(f"invoke throughput: CPython {interpreter.full_version}, {args.clients} clients")
    print(f"{'MAX_CONCURRENCY':>16}{'invocations':>13}{'per second':>12}{'p50 ms':>9}{'p99 ms':>9}")
    for row in rows:
        print(
            f"{row['max_concurrency']:>16}{row['invocations']:>13}{row['per_second']:>12}"
            f"{row['p50_ms']:>9}{row['p99_ms']:>9}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"python": interpreter.full_version, "rows": rows}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
