"""Invoke overhead: a warm invoke through the sandbox against bare stdlib HTTP on loopback.

Three paths, measured in interleaved rounds within one run (the machine's
drift hits all of them alike), each over one keep-alive connection:

- ``sandbox``: Invoke API -> Runtime API -> awslambdaric -> response, the
  fixture function (tests/fixtures/fn) answering a small JSON event;
- ``floor_relay``: the same two exchanges through ``bench.loopback_floor``
  (a stdlib server relaying to a stdlib runtime loop in its own process);
- ``floor_awslambdaric``: that stdlib server relaying to the sandbox's own
  runtime (awslambdaric and the fixture function) on the Runtime API's paths:
  what a Python server with a thread per connection costs before any of the
  sandbox's own work (lifecycle, evidence, console, freeze and thaw);
- ``floor_selector``: the same relay to the same runtime from one thread and
  one ``selectors`` loop (``bench.selector_floor``): the least a CPython
  server spends per invoke, with nothing of its own to do;
- ``floor_round_trips``: two plain request/response round trips to that server;
- the peers, when found (``bench.peers``: AWS's ``aws-lambda-rie`` and the
  ``lambda-runtime-api-daemon``), running the same runtime command on the
  same function: what a user would pick instead of the sandbox.

    python -m bench.invoke_overhead [--invokes 2000] [--rounds 10] [--python 3.12]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from bench.common import awslambdaric_python, latency_stats
from bench.loopback_floor import Floor
from bench.peers import PEERS, RunningPeer, find_peer
from harness.model.pins import load_pins
from harness.paths import TEST_FIXTURES
from harness.provision.interpreters import find_interpreter, where_searched
from harness.sandbox.running import RunningSandbox

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
PAYLOAD = json.dumps({"bench": "invoke-overhead", "n": 0}).encode()


class Exchange:
    """POSTs over one persistent connection; raises on anything but the expected status."""

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def post(self, path: str, body: bytes = PAYLOAD, expect: int = 200) -> bytes:
        self.conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        reply = self.conn.getresponse()
        data = reply.read()
        if reply.status != expect:
            raise RuntimeError(f"POST {path}: {reply.status} {data[:200]!r}")
        return data

    def close(self) -> None:
        self.conn.close()


def _timed(call: Callable[[], Any], n: int) -> List[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def measure(
    python: Path,
    python_full: str,
    client: str,
    invokes: int,
    rounds: int,
    warmup: int = 20,
    peer_names: Sequence[str] = PEERS,
) -> Dict[str, Any]:
    """Run the paths side by side; figures in ms, ratios sandbox ÷ floor and ÷ peer."""
    per_round = max(1, invokes // rounds)
    runtime_cmd = [str(python), "-m", "awslambdaric", "app.handler"]
    exchanges: List[Exchange] = []
    peers_found: Dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-invoke-"))
        floor = stack.enter_context(Floor(python))
        runtime_floor = stack.enter_context(Floor(python, runtime_cmd, TEST_FIXTURES / "fn"))
        selector_floor = stack.enter_context(
            Floor(python, runtime_cmd, TEST_FIXTURES / "fn", selector=True)
        )
        sandbox = stack.enter_context(
            RunningSandbox(
                python, runtime_cmd, Path(tmp), env={"PYTHONUNBUFFERED": "1", "TMPDIR": tmp}
            )
        )
        box = Exchange(sandbox.invoke_api)
        bare = Exchange(floor.address)
        relayed = Exchange(runtime_floor.address)
        selected = Exchange(selector_floor.address)
        exchanges += [box, bare, relayed, selected]
        paths: Dict[str, Callable[[], Any]] = {
            "sandbox": lambda: box.post(INVOKE_PATH),
            "floor_relay": lambda: bare.post("/invoke"),
            "floor_awslambdaric": lambda: relayed.post(INVOKE_PATH),
            "floor_selector": lambda: selected.post(INVOKE_PATH),
            "floor_round_trips": lambda: (bare.post("/echo"), bare.post("/echo")),
        }
        for name in peer_names:
            binary = find_peer(name)
            if binary is None:
                peers_found[name] = "peer not found (LAB_PEERS_BIN, PATH)"
                continue
            peer = stack.enter_context(
                RunningPeer(
                    name, binary, runtime_cmd, TEST_FIXTURES / "fn", Path(tmp) / f"{name}.log"
                )
            )
            peers_found[name] = str(binary)
            exchange = Exchange(peer.address)
            exchanges.append(exchange)
            paths[name] = lambda exchange=exchange: exchange.post(INVOKE_PATH)  # type: ignore[misc]
        samples: Dict[str, List[float]] = {name: [] for name in paths}
        try:
            for call in paths.values():
                _timed(call, warmup)  # first init, connections, caches
            for _ in range(rounds):
                for name, call in paths.items():
                    samples[name].extend(_timed(call, per_round))
            assert sandbox.proc is not None
            rss_kb = held_rss_kb(sandbox.proc.pid)
        finally:
            for exchange in exchanges:
                exchange.close()
    stats = {name: latency_stats(values) for name, values in samples.items()}
    sandbox_stats = stats["sandbox"]

    def ratio(other: str) -> Dict[str, float]:
        return {
            q: round(sandbox_stats[q] / stats[other][q], 2) if stats[other][q] else 0.0
            for q in ("p50", "p99")
        }

    measured_peers = [name for name in peer_names if name in stats]
    return {
        "python": python_full,
        "client": client,
        "invokes": per_round * rounds,
        "rounds": rounds,
        "warmup": warmup,
        "paths": stats,
        "ratio": ratio("floor_relay"),
        "ratio_vs_round_trips": ratio("floor_round_trips"),
        "ratio_vs_floor_awslambdaric": ratio("floor_awslambdaric"),
        "ratio_vs_floor_selector": ratio("floor_selector"),
        "peers": peers_found,
        "ratio_vs_peers": {name: ratio(name) for name in measured_peers},
        "sandbox_rss_kb": rss_kb,
    }


def held_rss_kb(pid: int) -> int:
    """The process's resident size now (VmRSS), kB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def floor_relay_p50(python: Path, invokes: int = 200) -> float:
    """Only the relay floor's p50 (ms), for benchmarks that need one invoke's floor."""
    with Floor(python) as floor:
        bare = Exchange(floor.address)
        try:
            _timed(lambda: bare.post("/invoke"), 20)
            return latency_stats(_timed(lambda: bare.post("/invoke"), invokes))["p50"]
        finally:
            bare.close()


def run(python_version: str, invokes: int, rounds: int) -> Dict[str, Any]:
    interpreter = find_interpreter(python_version)
    if interpreter is None:
        raise LookupError(where_searched(python_version))
    python, pin = awslambdaric_python(interpreter, python_version)
    return measure(python, interpreter.full_version, f"awslambdaric {pin}", invokes, rounds)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--invokes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--python", default="3.12", choices=load_pins().pythons)
    args = parser.parse_args(argv)
    try:
        figures = run(args.python, args.invokes, args.rounds)
    except LookupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
