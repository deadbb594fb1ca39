"""Every event has one handler in the machine; every action has one executor in the driver.

The vocabulary is found by introspecting lambda_sandbox.lifecycle_events, so a
new event or action without a handler fails here, not at run time.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Set

import pytest

from lambda_sandbox import lifecycle, lifecycle_events
from lambda_sandbox.environment import EXECUTORS, ExecutionEnvironment
from lambda_sandbox.lifecycle import HANDLERS, Lifecycle


def defined_subclasses(base: type) -> Set[type]:
    """Classes defined in lifecycle_events that derive from ``base`` (not ``base`` itself)."""
    return {
        cls
        for _, cls in inspect.getmembers(lifecycle_events, inspect.isclass)
        if cls.__module__ == lifecycle_events.__name__ and issubclass(cls, base) and cls is not base
    }


EVENTS = defined_subclasses(lifecycle_events.Event)
ACTIONS = defined_subclasses(lifecycle_events.Action)


def test_the_vocabulary_is_found() -> None:
    # Guards the introspection itself: an empty set would make the tests below vacuous.
    assert lifecycle_events.InvokeRequested in EVENTS
    assert lifecycle_events.StopRequested in EVENTS
    assert lifecycle_events.AnswerInvoker in ACTIONS
    assert lifecycle_events.Exit in ACTIONS
    assert not EVENTS & ACTIONS


def test_every_dataclass_of_the_vocabulary_is_an_event_or_an_action() -> None:
    # A new message that forgot its base class would escape both tables.
    not_messages = {lifecycle_events.Limits}
    dataclasses_defined = {
        cls
        for _, cls in inspect.getmembers(lifecycle_events, inspect.isclass)
        if cls.__module__ == lifecycle_events.__name__ and dataclasses.is_dataclass(cls)
    }
    assert dataclasses_defined - not_messages == EVENTS | ACTIONS


def test_every_event_has_a_handler_and_every_handler_an_event() -> None:
    assert set(HANDLERS) == EVENTS


def test_every_action_has_an_executor_and_every_executor_an_action() -> None:
    assert set(EXECUTORS) == ACTIONS


@pytest.mark.parametrize("event_type", sorted(EVENTS, key=lambda c: c.__name__))
def test_each_handler_is_a_method_of_the_machine(event_type: type) -> None:
    handler = HANDLERS[event_type]
    assert getattr(Lifecycle, handler.__name__) is handler


@pytest.mark.parametrize("action_type", sorted(ACTIONS, key=lambda c: c.__name__))
def test_each_executor_is_a_method_of_the_driver(action_type: type) -> None:
    executor = EXECUTORS[action_type]
    assert getattr(ExecutionEnvironment, executor.__name__) is executor


def test_handle_dispatches_through_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def record(machine: Lifecycle, event: object) -> None:
        seen.append(event)

    monkeypatch.setitem(lifecycle.HANDLERS, lifecycle_events.StopRequested, record)
    event = lifecycle_events.StopRequested()
    assert Lifecycle(lifecycle_events.Limits()).handle(event, 0) == []
    assert seen == [event]


def test_handle_of_something_that_is_not_an_event_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        Lifecycle(lifecycle_events.Limits()).handle(lifecycle_events.Exit(0), 0)
