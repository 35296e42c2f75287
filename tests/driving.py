"""Test room: a Session driving one service on the in-memory fakes (tests/fakes.py) and a VirtualClock, set
up mid-rollout from a saved record the first step adopts, with a judge that answers a fixed outcome so the
controller's reaction is what a test sees. Used by tests/test_intents.py and tests/test_controller_paths.py.
"""

from __future__ import annotations

from typing import Any

from console.engine.clock import VirtualClock
from console.engine.config import Config, Service
from console.engine.model import Check, EventKind, Outcome, RolloutRecord, State, Verdict
from console.engine.session import Session
from tests.fakes import FakeCluster, FakeMetrics

SERVICE = "perception"
WEIGHTS = [p.weight for p in Config().phases]  # 10, 25, 50, 75, 100


class Rollout:
    """A session driving one service (``drive``, as Session takes it), its fake cluster, the clock and every
    event published."""

    def __init__(self, *, outcome: Outcome = Outcome.PASS, read_only: bool = False, identity: str | None = None,
                 drive: Any = "all", **config: Any) -> None:
        self.config = Config(services=[Service(name=SERVICE)], **config)
        self.clock = VirtualClock()
        self.cluster = FakeCluster(self.clock, [SERVICE], identity=identity)
        self.outcome, self.judged = outcome, 0  # what the judge answers (a test may change it), and how often
        self.checks: tuple[Check, ...] = ()
        self.metrics = FakeMetrics(self.cluster)
        self.session = Session(self.config, self.cluster, self.metrics, self.clock, read_only=read_only,
                               judge=self._judge, drive=drive)
        self.events: list = []
        self.session.bus.subscribe(self.events.append)
        self.controller = self.session.controllers[SERVICE]

    def _judge(self, config, service, phase, stable, canary, **kwargs: Any) -> Verdict:
        self.judged += 1
        return Verdict(self.outcome, self.checks, "judged by the test", phase.weight, kwargs.get("at", 0.0), {})

    async def resume_at(self, state: State, phase: int, *, elapsed: float = 0.0, mode: str = "auto",
                        driver: str | None = None, judged: bool = False) -> None:
        """A canary already at ``phase`` in ``state``, its record saved; one step adopts it (and, with
        ``judged``, acts on the judge's first verdict)."""
        svc = self.cluster.services[SERVICE]
        weight = WEIGHTS[phase]
        svc.canary_version, svc.canary_replicas, svc.canary_created_at = "1.2.4", 1, -5000.0
        svc.weight, svc.weights = weight, [(float("-inf"), 0), (-3000.0, weight)]
        svc.record = RolloutRecord(state, phase, weight, -100.0, elapsed, "1.2.4", mode=mode, driver=driver or "")
        svc.driver = driver
        await self.session.step()
        assert judged or self.controller.state is state
        assert self.controller.phase == phase

    async def intent(self, name: str, **kwargs: Any):
        return await self.session.intent(SERVICE, name, **kwargs)

    def of(self, kind: EventKind) -> list:
        return [e for e in self.events if e.kind is kind]

    def writes(self, operation: str) -> list:
        return [arg for _, arg in self.cluster.writes_of(operation)]

    def saved(self) -> RolloutRecord:
        return self.cluster.services[SERVICE].record
