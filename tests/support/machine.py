"""Drive the lifecycle machine the way the driver would, with a manual clock."""

from __future__ import annotations

from typing import List, Tuple, Type

from lambda_sandbox import lifecycle as lc
from lambda_sandbox.lifecycle import Phase

T0 = 1_000_000


def only(actions: List[lc.Action], kind: Type[lc.Action]) -> List[lc.Action]:
    return [a for a in actions if isinstance(a, kind)]


class Env:
    """Drives a Lifecycle the way the driver would, with a manual clock."""

    def __init__(self, **limits: int) -> None:
        self.machine = lc.Lifecycle(lc.Limits(**limits))  # type: ignore[arg-type]
        self.now = T0
        self.log: List[lc.Action] = []

    def send(self, event: lc.Event) -> List[lc.Action]:
        actions = self.machine.handle(event, self.now)
        self.log.extend(actions)
        return actions

    def fire(self, timer: str) -> List[lc.Action]:
        starts = [a for a in self.log if isinstance(a, lc.StartTimer) and a.timer == timer]
        assert starts, f"timer {timer} was never started"
        self.now += starts[-1].delay_ms
        return self.send(lc.TimerFired(timer, starts[-1].token))

    def warm(
        self,
        internal: int = 0,
        external: int = 0,
        invoke_subscribers: bool = False,
        unsubscribed: int = 0,
    ) -> None:
        """Init to READY with the given extensions, answering the first invoke.

        ``external`` extensions subscribe to SHUTDOWN (and INVOKE with
        ``invoke_subscribers``); ``unsubscribed`` more external ones to nothing.
        """
        names = tuple(f"ext{i}" for i in range(external))
        quiet = tuple(f"quiet{i}" for i in range(unsubscribed))
        actions = self.send(lc.InvokeRequested("r0"))
        assert only(actions, lc.SpawnExtensions)
        for name in names + quiet:
            self.send(lc.ProcessStarted(name))
        actions = self.send(lc.ExtensionsSpawned(names + quiet))
        for name in names + quiet:
            events: Tuple[str, ...] = ()
            if name in names:
                events = ("INVOKE", "SHUTDOWN") if invoke_subscribers else ("SHUTDOWN",)
            actions = self.send(lc.ExtensionRegistered("id-" + name, name, events))
        assert only(actions, lc.SpawnRuntime)
        self.send(lc.ProcessStarted(lc.RUNTIME))
        for i in range(internal):
            self.send(lc.ExtensionRegistered(f"int{i}", f"internal{i}", ()))
        for ext in list(self.machine.extensions):
            self.send(lc.ExtensionNext(ext))
        actions = self.send(lc.RuntimeNext())
        assert only(actions, lc.DeliverInvoke)
        self.send(lc.RuntimeResponded("r0"))
        for ext in self.machine.extensions.values():
            if "INVOKE" in ext.events:
                self.send(lc.ExtensionNext(ext.extension_id))
        self.send(lc.RuntimeNext())
        assert self.machine.phase is Phase.READY
