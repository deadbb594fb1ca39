"""lambda-shutdown-hook's pure parts: when it switches on, one call per SIGTERM, the builds."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lambda_shutdown_hook.activation import refusal
from lambda_shutdown_hook.ledger import MAIN, WATCHER, Ledger
from support.fix import FIX_DIR, builder

RUNTIME = {
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
    "_HANDLER": "app.h",
    "LAMBDA_TASK_ROOT": "/var/task",
}


# --- when it switches on -------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "argv0", "why_not"),
    [
        (RUNTIME, "/var/runtime/bootstrap.py", None),
        ({**RUNTIME, "_HANDLER": ""}, "-m", None),  # a container image: task root only
        ({}, "", "not in a Lambda execution environment"),
        ({**RUNTIME, "AWS_LAMBDA_RUNTIME_API": ""}, "", "not in a Lambda execution environment"),
        ({"AWS_LAMBDA_RUNTIME_API": "x:1"}, "/opt/extensions/ext", "not the runtime process"),
        ({**RUNTIME}, "/opt/extensions/telemetry", "is an external extension"),
        ({**RUNTIME}, "-c", "a python -c command"),
        ({**RUNTIME, "LAMBDA_SHUTDOWN_HOOK": "off"}, "", "disabled by LAMBDA_SHUTDOWN_HOOK=off"),
        ({**RUNTIME, "LAMBDA_SHUTDOWN_HOOK": "0"}, "", "disabled"),
        ({**RUNTIME, "LAMBDA_SHUTDOWN_HOOK": "on"}, "", None),
        ({**RUNTIME, "_LAMBDA_SHUTDOWN_HOOK_PID": "41"}, "", "a process started by the runtime"),
        ({**RUNTIME, "_LAMBDA_SHUTDOWN_HOOK_PID": "42"}, "", None),  # itself, after os.exec
    ],
)
def test_it_switches_on_only_in_a_lambda_runtime_process(
    env: dict, argv0: str, why_not: "str | None"
) -> None:
    answer = refusal(env, 42, argv0)
    if why_not is None:
        assert answer is None
    else:
        assert answer is not None and why_not in answer


# --- one handler call per SIGTERM ------------------------------------------------


@pytest.mark.parametrize(
    ("arrivals", "calls"),
    [
        ([WATCHER], 1),  # the main thread waits in native code until SIGKILL
        ([MAIN], 1),  # the watcher has not read the byte yet
        ([WATCHER, MAIN], 1),  # both saw the same SIGTERM
        ([MAIN, WATCHER], 1),
        ([WATCHER, WATCHER, MAIN], 2),  # two SIGTERMs folded into one main-thread call
        ([WATCHER, MAIN, WATCHER, MAIN], 2),
        ([MAIN, MAIN, WATCHER, WATCHER], 2),
        ([WATCHER, WATCHER, WATCHER], 3),
    ],
)
def test_each_sigterm_is_dispatched_once_whichever_path_sees_it_first(
    arrivals: list, calls: int
) -> None:
    ledger = Ledger()
    made = sum(ledger.claim(path) for path in arrivals)
    assert made == calls == ledger.dispatched


# --- the builds ---------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_and_layer_are_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = builder()
    first = build.build_all(tmp_path / "a")
    second = build.build_all(tmp_path / "b")
    assert [_sha(p) for p in first] == [_sha(p) for p in second]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    later = build.build_all(tmp_path / "c")
    assert [_sha(p) for p in later] != [_sha(p) for p in first]


def test_layer_has_lambdas_layout_with_an_executable_wrapper(tmp_path: Path) -> None:
    _, layer = builder().build_all(tmp_path)
    with zipfile.ZipFile(layer) as archive:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert modes["lambda-shutdown-hook"] == 0o755
    assert modes["python/lambda_shutdown_hook.pth"] == 0o644
    assert "python/lambda_shutdown_hook/dispatch.py" in modes
    assert all(n == "lambda-shutdown-hook" or n.startswith("python/") for n in modes)


def test_wheel_record_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    wheel, _ = builder().build_all(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = archive.read("lambda_shutdown_hook-0.1.0.dist-info/RECORD").decode()
        rows = [line.split(",") for line in record.splitlines()]
        for name, digest, size in rows:
            if name.endswith("RECORD"):
                assert digest == size == ""
                continue
            data = archive.read(name)
            assert digest.startswith("sha256=") and int(size) == len(data)
    assert names[-1].endswith("RECORD")
    assert sorted(r[0] for r in rows) == sorted(names)
    assert "lambda_shutdown_hook.pth" in names


@pytest.mark.integration
def test_pip_builds_the_same_wheel_offline_through_the_pep517_backend(tmp_path: Path) -> None:
    wheel, _ = builder().build_all(tmp_path / "cli")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(FIX_DIR),
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "-w",
            str(tmp_path / "pip"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _sha(tmp_path / "pip" / wheel.name) == _sha(wheel)


def test_a_bad_source_date_epoch_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(SystemExit, match="SOURCE_DATE_EPOCH='yesterday': expected whole seconds"):
        builder().build_all(tmp_path)
