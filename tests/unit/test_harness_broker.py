"""Cells judged at the broker: scenario key, names, the broker's log, verdict, report. Pure."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from support.factories import cell, function_dir, good, result, seen, write  # noqa: F401 - a fixture

from harness.evidence.verdicts import decide
from harness.model.clients import PIKA_PIN, requirements
from harness.model.scenarios import ScenarioError, load_cells, load_scenario
from harness.probes.broker import (
    BrokerObservation,
    close_in_log,
    find_broker_log,
    target_for,
    with_target,
)
from harness.probes.broker_report import delivery_line, render_broker_markdown

CLEAN = (
    "2026-11-27 08:30:36.344308+00:00 [info] <0.565.0> connection <0.565.0> "
    "(127.0.0.1:36158 -> 127.0.0.1:5672) has a client-provided name: NAME\n"
    "2026-11-27 08:30:36.352919+00:00 [info] <0.565.0> closing AMQP connection <0.565.0> "
    "(127.0.0.1:36158 -> 127.0.0.1:5672 - NAME, vhost: '/', user: 'guest')\n"
)
DROPPED = (
    "2026-11-27 08:30:36.533363+00:00 [warning] <0.587.0> closing AMQP connection <0.587.0> "
    "(127.0.0.1:36172 -> 127.0.0.1:5672 - NAME, vhost: '/', user: 'guest'):\n"
    "2026-11-27 08:30:36.533363+00:00 [warning] <0.587.0> client unexpectedly closed TCP "
    "connection\n"
)


def test_the_broker_log_tells_a_clean_close_from_a_drop() -> None:
    clean = close_in_log(CLEAN, "NAME")
    assert clean is not None and clean.clean
    dropped = close_in_log(DROPPED, "NAME")
    assert dropped is not None and not dropped.clean
    assert dropped.detail == "client unexpectedly closed TCP connection"
    assert close_in_log(CLEAN.replace("NAME", "OTHER"), "NAME") is None
    assert close_in_log(CLEAN, "NAM") is None, "a name is matched whole"
    half = close_in_log(DROPPED.splitlines()[0], "NAME")
    assert half is not None and not half.clean and half.detail == "", "the reason is still to come"


def test_find_broker_log(tmp_path: Path) -> None:
    assert find_broker_log({"LAB_RABBITMQ_LOG": str(tmp_path / "x.log")}) == tmp_path / "x.log"


def test_each_run_of_a_cell_gets_its_own_queue_in_the_functions_env() -> None:
    c = cell(broker_messages=10, invocations=5)
    assert c.id.endswith("-broker") and c.messages_expected == 50
    assert not cell().id.endswith("-broker") and cell().messages_expected == 0
    first, second = target_for(c, "amqp://x/", "t1"), target_for(c, "amqp://x/", "t2")
    assert first.queue != second.queue and c.id in first.queue
    env = dict(with_target(c, first).env)
    assert env["LAB_OUTBOX_QUEUE"] == first.queue
    assert env["LAB_OUTBOX_CONNECTION_NAME"] == first.connection_name
    assert env["LAB_OUTBOX_PER_INVOCATION"] == "10"
    assert env["LAB_OUTBOX_URI"] == "amqp://x/"
    assert requirements("awslambdaric", "2.2.1", broker=True) == (
        "awslambdaric==2.2.1",
        f"pika=={PIKA_PIN}",
    )


def test_the_broker_scenario_key(tmp_path: Path, function_dir: Path) -> None:  # noqa: F811
    text = good(function_dir) + "\n[broker]\nmessages_per_invocation = 4\n"
    scenario = load_scenario(write(tmp_path, text))
    assert scenario.broker_messages == 4
    assert all(c.broker_messages == 4 for c in load_cells(tmp_path / "scenarios"))
    for bad, words in (
        ("messages_per_invocation = 0", "an integer from 1 to 10000"),
        ("messages_per_invocation = true", "an integer from 1 to 10000"),
        ("queue = 'x'", "unknown key"),
        ("", "missing"),
    ):
        path = write(tmp_path, good(function_dir) + f"\n[broker]\n{bad}\n", "bad.toml")
        with pytest.raises(ScenarioError, match=words):
            load_scenario(path)


def at_broker(delivered: int, clean: bool) -> BrokerObservation:
    detail = "closed by the client" if clean else "client unexpectedly closed TCP connection"
    return BrokerObservation(50, delivered, clean, detail)


def test_the_verdict_holds_the_broker_to_the_declaration() -> None:
    keeps = cell(broker_messages=50)  # one invocation; declared: cleanup runs
    assert decide(keeps, seen(), None, at_broker(50, True)).passed
    failed = decide(keeps, seen(), None, at_broker(20, False))
    assert any("all 50 buffered messages" in r and "20 arrived" in r for r in failed.reasons)
    assert any("connection closed" in r for r in failed.reasons)
    assert not decide(keeps, seen(), None, None).passed, "a broker cell needs its observation"
    unknown = BrokerObservation(50, None, None, "", ("counting at the broker: down",))
    assert "broker: counting at the broker: down" in decide(keeps, seen(), None, unknown).reasons

    loses = dataclasses.replace(
        keeps, expectation=dataclasses.replace(keeps.expectation, cleanup=False)
    )
    lost = decide(loses, seen(cleanup_seen=False), None, at_broker(0, False))
    assert not any(r.startswith("expected") and "messages" in r for r in lost.reasons)
    delivered = decide(loses, seen(cleanup_seen=False), None, at_broker(50, True))
    assert any("50 of 50 arrived" in r for r in delivered.reasons)


def test_the_report_states_the_loss_in_words() -> None:
    lost = result(
        "3.8",
        strategy="signal",
        scenario="outbox-broker",
        messages_expected=50,
        messages_delivered=0,
        connection_closed_cleanly=False,
        connection_close="client unexpectedly closed TCP connection",
    )
    line = delivery_line(lost)
    assert line.startswith("- Python 3.8 + signal handler: **0 of 50 messages delivered**")
    assert "(50 lost)" in line and "client unexpectedly closed TCP connection" in line
    kept = dataclasses.replace(
        lost, strategy="wakeup-fd", messages_delivered=50, connection_closed_cleanly=True
    )
    assert "wakeup-fd fix: 50 of 50 messages delivered; the connection was closed cleanly" in (
        delivery_line(kept)
    )
    section = render_broker_markdown([result("3.12"), kept, lost])
    assert section[1].startswith("## Judged at the broker") and len(section) == 7
    assert render_broker_markdown([result("3.12")]) == []
    data = lost.to_json()
    assert (data["messages_expected"], data["messages_delivered"]) == (50, 0)
    assert data["connection_closed_cleanly"] is False
    assert "messages_expected" not in result("3.12").to_json(), "other cells stay as they were"
