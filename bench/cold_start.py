"""Cold start: Init Duration per Python and runtime client, against a bare interpreter.

For each (CPython, client) a fresh sandbox runs the function under test
(function/app.py, no extension) and is invoked once; the Init Duration is the
``duration_ms`` of its ``init.end`` event (the figure the ``REPORT`` line
prints as Init Duration). In the same run, the floor: the same interpreter
started bare and importing the same client (``python -c 'import ...'``).

    python -m bench.cold_start [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.common import spread, time_command_ms
from harness.model.clients import (
    CLIENT_NAMES,
    ClientSpec,
    requirements,
    resolve_version,
    runtime_command,
)
from harness.paths import FUNCTION_DIR
from harness.provision.interpreters import find_interpreter, where_searched
from harness.provision.venvs import ensure_venv, venv_python
from harness.sandbox.running import RunningSandbox
from lambda_sandbox.eventlog import Kind

PYTHONS = ("3.7", "3.8", "3.12")
CLIENT_IMPORT = {"awslambdaric": "import awslambdaric.bootstrap", "legacy": "import requests"}


def init_duration_ms(python: Path, client: str, workdir: Path) -> float:
    """One cold start: the init.end duration_ms of a fresh sandbox's first invoke."""
    with RunningSandbox(
        python,
        runtime_command(client, python, "app.handler"),
        workdir,
        # The function's SQLite file goes to the run's own temp folder.
        env={
            "LAB_EXTENSION": "none",
            "LAB_STRATEGY": "signal",
            "PYTHONUNBUFFERED": "1",
            "TMPDIR": str(workdir),
        },
        task_root=FUNCTION_DIR,
    ) as sandbox:
        reply = sandbox.invoke({"bench": "cold-start"})
        if reply.status != 200 or reply.headers.get("X-Amz-Function-Error"):
            raise RuntimeError(f"invoke failed: {reply.status} {reply.body[:300]!r}")
        event = sandbox.wait_for(lambda e: e["kind"] == Kind.INIT_END, timeout=15)
    if event.get("status") != "ok":
        raise RuntimeError(f"init ended {event.get('status')}: {event}")
    return float(event["duration_ms"])


def measure(
    pythons: Sequence[str] = PYTHONS, clients: Sequence[str] = CLIENT_NAMES, runs: int = 10
) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The rows, and why any (Python, client) was left out."""
    rows: List[Dict[str, Any]] = []
    skipped: Dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        for version in pythons:
            interpreter = find_interpreter(version)
            if interpreter is None:
                skipped[f"cold start {version}"] = where_searched(version)
                continue
            for client in clients:
                client_version = resolve_version(ClientSpec(client, None), version)
                if client_version is None:
                    skipped[f"cold start {version} {client}"] = "no pinned version"
                    continue
                python = venv_python(ensure_venv(interpreter, requirements(client, client_version)))
                inits = []
                for n in range(runs):
                    workdir = Path(tmp) / f"{version}-{client}-{n}"
                    workdir.mkdir()
                    inits.append(init_duration_ms(python, client, workdir))
                imports = time_command_ms([str(python), "-c", CLIENT_IMPORT[client]], runs)
                init = spread(inits, 1)
                bare = spread(imports, 1)
                rows.append(
                    {
                        "python": version,
                        "python_full": interpreter.full_version,
                        "client": client,
                        "client_version": client_version,
                        "runs": runs,
                        "init_ms": init,
                        "import_ms": bare,
                        "ratio": round(init["median"] / bare["median"], 2)
                        if bare["median"]
                        else None,
                    }
                )
    return {"rows": rows}, skipped


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    figures, skipped = measure(runs=args.runs)
    print(json.dumps({"cold_start": figures, "skipped": skipped}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
