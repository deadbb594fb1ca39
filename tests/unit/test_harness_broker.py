"""The broker probe: scenario settings, names, the broker's log, its judgement, its report. Pure."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from support.factories import cell, good, result, seen, write

from harness import probes
from harness.evidence.result import CellResult
from harness.evidence.verdicts import decide
from harness.model.scenarios import ScenarioError, load_cells, load_scenario
from harness.probes.broker import (
    BrokerObservation,
    close_in_log,
    find_broker_log,
    judge_at_broker,
    messages_expected,
    observation_fields,
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


def broker_cell(per_invocation: int = 10, **changes: object) -> object:
    return cell(probes=(("broker", (("messages_per_invocation", per_invocation),)),), **changes)


def test_each_run_of_a_cell_gets_its_own_queue_in_the_functions_env() -> None:
    c = broker_cell(10, invocations=5)
    assert c.id.endswith("-broker") and messages_expected(c) == 50
    assert not cell().id.endswith("-broker") and messages_expected(cell()) == 0
    first, second = target_for(c, "amqp://x/", "t1"), target_for(c, "amqp://x/", "t2")
    assert first.queue != second.queue and c.id in first.queue
    env = dict(with_target(c, first).env)
    assert env["LAB_OUTBOX_QUEUE"] == first.queue
    assert env["LAB_OUTBOX_CONNECTION_NAME"] == first.connection_name
    assert env["LAB_OUTBOX_PER_INVOCATION"] == "10"
    assert env["LAB_OUTBOX_URI"] == "amqp://x/"


def test_the_scenario_names_the_probe_and_the_functions_packages(
    tmp_path: Path, function_dir: Path
) -> None:
    text = (
        good(function_dir).replace("invocations = 2\n", 'invocations = 2\npackages = ["pika"]\n')
        + "\n[probes.broker]\nmessages_per_invocation = 4\n"
    )
    scenario = load_scenario(write(tmp_path, text), probes.check_settings)
    assert scenario.probes == (("broker", (("messages_per_invocation", 4),)),)
    assert scenario.packages == ("pika==1.3.2",)
    cells = load_cells(tmp_path / "scenarios", probes.check_settings)
    assert all(c.probe_settings("broker") == {"messages_per_invocation": 4} for c in cells)
    for bad, words in (
        ("messages_per_invocation = 0", "an integer from 1 to 10000"),
        ("messages_per_invocation = true", "an integer from 1 to 10000"),
        ("queue = 'x'", "unknown: queue"),
        ("", "an integer from 1 to 10000, got None"),
    ):
        path = write(tmp_path, good(function_dir) + f"\n[probes.broker]\n{bad}\n", "bad.toml")
        with pytest.raises(ScenarioError, match="probes.broker.*" + words):
            load_scenario(path, probes.check_settings)
    unknown = write(tmp_path, good(function_dir) + "\n[probes.tracer]\nx = 1\n", "u.toml")
    with pytest.raises(ScenarioError, match=r"'probes.tracer': expected a probe from broker"):
        load_scenario(unknown, probes.check_settings)
    with pytest.raises(ScenarioError, match=r"packages pinned in pins\.toml"):
        text = good(function_dir).replace("invocations = 2\n", 'packages = ["left-pad"]\n')
        load_scenario(write(tmp_path, text, "p.toml"))


def at_broker(delivered: int, clean: bool) -> BrokerObservation:
    detail = "closed by the client" if clean else "client unexpectedly closed TCP connection"
    return BrokerObservation(50, delivered, clean, detail)


def test_the_broker_holds_the_cell_to_its_declaration() -> None:
    keeps = broker_cell(50)  # one invocation; declared: cleanup runs
    assert judge_at_broker(keeps, at_broker(50, True)) == ()
    failed = judge_at_broker(keeps, at_broker(20, False))
    assert any("all 50 buffered messages" in r and "20 arrived" in r for r in failed)
    assert any("connection closed" in r for r in failed)
    unknown = BrokerObservation(50, None, None, "", ("counting at the broker: down",))
    assert "broker: counting at the broker: down" in judge_at_broker(keeps, unknown)

    loses = dataclasses.replace(
        keeps, expectation=dataclasses.replace(keeps.expectation, cleanup=False)
    )
    lost = judge_at_broker(loses, at_broker(0, False))
    assert not any(r.startswith("expected") and "messages" in r for r in lost)
    assert any("50 of 50 arrived" in r for r in judge_at_broker(loses, at_broker(50, True)))


def test_a_probes_reasons_fail_the_cell_whatever_the_event_log_says() -> None:
    keeps = broker_cell(50)
    assert decide(keeps, seen(), None, ()).passed
    reasons = judge_at_broker(keeps, at_broker(20, False))
    verdict = decide(keeps, seen(), None, reasons)
    assert not verdict.passed and set(reasons) <= set(verdict.reasons)


def broker_result(**fields: object) -> CellResult:
    seen_at_broker = {
        "messages_expected": 50,
        "messages_delivered": 0,
        "connection_closed_cleanly": False,
        "connection_close": "client unexpectedly closed TCP connection",
    }
    seen_at_broker.update(fields)
    return result(
        "3.8", strategy="signal", scenario="outbox-broker", probes={"broker": seen_at_broker}
    )


def test_the_report_states_the_loss_in_words() -> None:
    lost = broker_result()
    line = delivery_line(lost)
    assert line.startswith(
        "- outbox-broker, Python 3.8 + signal handler: **0 of 50 messages delivered**"
    )
    assert "(50 lost)" in line and "client unexpectedly closed TCP connection" in line
    kept = dataclasses.replace(
        broker_result(messages_delivered=50, connection_closed_cleanly=True), strategy="wakeup-fd"
    )
    assert "wakeup-fd fix: 50 of 50 messages delivered; the connection was closed cleanly" in (
        delivery_line(kept)
    )
    section = render_broker_markdown([result("3.12"), kept, lost])
    assert section[1].startswith("## Judged at the broker") and len(section) == 7
    assert render_broker_markdown([result("3.12")]) == []
    assert probes.report_markdown([result("3.12"), kept, lost]) == section


def test_results_json_keeps_what_the_probe_saw_under_its_name() -> None:
    lost = broker_result()
    data = lost.to_json()
    assert data["probes"]["broker"]["messages_delivered"] == 0
    assert "probes" not in result("3.12").to_json(), "other cells stay as they were"
    assert CellResult.from_json(data) == lost
    # results.json of report version 1 kept the broker's fields at the top level.
    legacy = {k: v for k, v in data.items() if k != "probes"}
    legacy.update(data["probes"]["broker"])
    assert CellResult.from_json(legacy).probes == lost.probes
    fields = dict(observation_fields(at_broker(50, True)))
    assert fields["messages_delivered"] == 50 and fields["connection_closed_cleanly"] is True
