"""How the benchmark finds and starts the peers (AWS's emulator, the Runtime API
Daemon): looked up, never built; each told its loopback ports its own way."""

from __future__ import annotations

from pathlib import Path

from bench.peers import DAEMON, RIE, find_peer, peer_command, peer_env


def test_a_peer_is_found_in_lab_peers_bin_then_on_path(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    binary = folder / RIE
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert find_peer(RIE, {"LAB_PEERS_BIN": str(folder), "PATH": ""}) == binary
    assert find_peer(RIE, {"PATH": str(folder)}) == binary
    assert find_peer(DAEMON, {"LAB_PEERS_BIN": str(folder), "PATH": ""}) is None


def test_a_file_that_is_not_executable_is_not_a_peer(tmp_path: Path) -> None:
    (tmp_path / RIE).write_text("")
    assert find_peer(RIE, {"LAB_PEERS_BIN": str(tmp_path), "PATH": ""}) is None


def test_rie_takes_its_addresses_as_flags_before_the_runtime_command() -> None:
    argv = peer_command(RIE, Path("/b/rie"), ["python", "-m", "awslambdaric", "app.handler"], 1, 2)
    assert argv == [
        "/b/rie",
        "--runtime-interface-emulator-address",
        "127.0.0.1:1",
        "--runtime-api-address",
        "127.0.0.1:2",
        "python",
        "-m",
        "awslambdaric",
        "app.handler",
    ]


def test_the_daemon_takes_its_ports_from_the_environment() -> None:
    assert peer_command(DAEMON, Path("/b/d"), ["python", "x"], 1, 2) == ["/b/d", "python", "x"]
    env = peer_env(DAEMON, {"HOME": "/root"}, Path("/task"), 8080, 9001)
    assert env["PORT"] == "8080" and env["RUNTIME_API_PORT"] == "9001"
    assert env["INVOKE_API_HOST"] == "127.0.0.1" and env["LAMBDA_TASK_ROOT"] == "/task"
    assert "PORT" not in peer_env(RIE, {}, Path("/task"), 8080, 9001)


def test_the_throughput_table_names_every_server_and_a_peer_not_found() -> None:
    from bench.invoke_throughput import rows_text

    figures = {
        "clients": 16,
        "per_second": 812.5,
        "p50_ms": 18.1,
        "p99_ms": 40.2,
        "server_cpu_ms_per_invocation": 1.25,
        "machine_busy": 0.734,
    }
    lines = rows_text(
        [
            {
                "max_concurrency": 4,
                "servers": {"sandbox": figures, "aws-lambda-rie": "peer not found"},
            }
        ]
    )
    assert lines[0].split()[-2:] == ["ms/inv", "busy"]
    assert lines[1].split() == ["4", "sandbox", "16", "812.5", "18.1", "40.2", "1.250", "73%"]
    assert lines[2].split()[:2] == ["4", "aws-lambda-rie"] and lines[2].endswith("peer not found")
