"""Tests of the notable rule (engine/notable.py) and the sink seam (engine/sinks.py) on their own: which
events are notable and how they are said; bounded queues that drop the oldest and count it, retries with
backoff and jitter and the rate limit on the virtual clock, an inline (journal) sink that loses nothing,
and a publisher that never waits for a sink.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from console.engine.bus import EventBus
from console.engine.clock import VirtualClock
from console.engine.config import Config
from console.engine.model import (Event, EventKind, RolloutStatus, ServiceMetrics, State, TrackWindow)
from console.engine.notable import Notable, NotableRule
from console.engine.sinks import Delivery, SinkError, SinkHub, SinkPolicy


def action(what: str, *, why: str = "automatic", actor: str = "alice", shadow: bool = False, at: float = 0.0, **data) -> Event:
    return Event(EventKind.ACTION, "perception", at, f"{what} ({why}, {actor})",
                 {"what": what, "why": why, "actor": actor, "version": "1.2.4",
                  **({"shadow": True} if shadow else {}), **data})


def state(to: str, reason: str = "", at: float = 0.0) -> Event:
    return Event(EventKind.STATE, "perception", at, f"x → {to}: {reason}", {"from": "observing", "to": to,
                                                                            "reason": reason})


def status(state_: State, at: float, *, stable_errors: float = 0.0, canary_errors: float = 0.0,
           requests: float = 1000.0) -> Event:
    metrics = ServiceMetrics("perception", stable=TrackWindow(requests, requests * stable_errors, 0.1, 0.2),
                             canary=TrackWindow(requests, requests * canary_errors, 0.1, 0.2), at=at)
    snapshot = RolloutStatus("perception", state_, 10, 0, 10, 0.0, 900.0, "auto", None, "why", "1.2.3", "1.2.4",
                             None, metrics, at=at)
    return Event(EventKind.STATUS, "perception", at, "", {"status": snapshot})


def kinds(rule: NotableRule, events: list[Event]) -> list[tuple[str, str | None]]:
    notices = [rule.see(e) for e in events]
    return [(n.kind.value, n.stop_at) if n else (None, None) for n in notices]  # type: ignore[misc]


def test_the_rule_names_what_the_engine_emits_today():
    rule = NotableRule()
    events = [
        Event(EventKind.INFO, "perception", 0, "canary of perception 1.2.4 starting", {"pre_canary": True}),
        action("start_canary", why="key"),
        action("set_weight"),
        state("awaiting_approval", "manual review: p99"),
        action("approve", why="key"),
        state("paused", "paused by alice"),
        action("resume", why="key"),
        state("paused", "no usable data for 10m: Prometheus unreachable"),
        state("idle", "the canary was removed outside this console"),
        action("rollback", shadow=True),
        Event(EventKind.VERDICT, "perception", 0, "pass", {"verdict": {}}),
        Event(EventKind.DECISION, "perception", 0, "hold", {"action": "hold"}),
        state("promoted", "1.2.4 is stable"),
        state("failed", "it broke"),
    ]
    assert kinds(rule, events) == [
        ("starting", None), ("started", None), ("advanced", None), ("awaiting_approval", "awaiting_approval"),
        ("approved", None), ("paused", "paused"), ("resumed", None), ("stuck", "paused"), ("override", None),
        ("would_roll_back", "awaiting_approval"), (None, None), (None, None), ("promoted", "promoted"),
        ("failed", "failed")]


def test_a_rollback_says_automatically_or_by_whom_when_it_has_landed():
    rule = NotableRule()
    assert rule.see(state("rolling_back", "error rate 4%")) is None
    assert rule.see(action("rollback")) is None  # said once, when the state says rolled back
    auto = rule.see(state("rolled_back", "rolled back from 25%: error rate 4%"))
    assert auto and auto.automatic and auto.needs_person and auto.severity == "critical"
    assert "rolled back automatically" in auto.summary and auto.stop_at == "rolled_back"
    rule.see(action("rollback", why="key", actor="bob"))
    person = rule.see(state("rolled_back", "rollback by bob"))
    assert person and not person.automatic and person.actor == "bob" and not person.needs_person
    assert "rolled back by bob" in person.summary and person.severity == "warning"


def test_a_person_pausing_needs_nobody_but_a_pause_for_no_data_does():
    rule = NotableRule()
    by_person = rule.see(state("paused", "paused by alice"))
    assert by_person and not by_person.needs_person and by_person.actor == "alice"
    found = rule.see(state("paused", "canary found at 25% without a rollout record: resume to drive it"))
    assert found and found.kind is Notable.OVERRIDE and found.needs_person


def test_stuck_is_a_slow_state_held_past_the_progress_deadline_said_once():
    rule = NotableRule(progress_deadline=600)
    rule.see(state("rolling_back", "error rate 4%", at=100))
    assert rule.see(status(State.ROLLING_BACK, 650)) is None
    stuck = rule.see(status(State.ROLLING_BACK, 700))
    assert stuck and stuck.kind is Notable.STUCK and stuck.needs_person and "rolling back for 10m" in stuck.summary
    assert rule.see(status(State.ROLLING_BACK, 800)) is None
    rule.see(state("observing", "", at=900))
    assert rule.see(status(State.OBSERVING, 99999)) is None  # observing is judged by the controller's clock


def test_an_incident_is_both_tracks_over_the_bound_said_when_it_begins_and_ends():
    rule = NotableRule.for_config(Config())  # bound 1 − 0.99 = 1 %, at least 50 requests each
    assert rule.see(status(State.OBSERVING, 10, stable_errors=0.005, canary_errors=0.05)) is None  # canary only
    begins = rule.see(status(State.OBSERVING, 20, stable_errors=0.03, canary_errors=0.04))
    assert begins and begins.kind is Notable.INCIDENT and begins.needs_person and not begins.cleared
    assert "stable 3.00%" in begins.summary
    assert rule.see(status(State.OBSERVING, 30, stable_errors=0.03, canary_errors=0.04)) is None
    assert rule.see(status(State.OBSERVING, 40, stable_errors=0.0, canary_errors=0.0, requests=10)) is None  # thin
    ends = rule.see(status(State.OBSERVING, 50, stable_errors=0.001, canary_errors=0.001))
    assert ends and ends.kind is Notable.INCIDENT and ends.cleared and not ends.needs_person


# ---- the hub ---------------------------------------------------------------------------------------------

class Recorder:
    """A queued sink: records (time, event message); can be told to fail, or to block until released."""

    kind = "test"

    def __init__(self, clock, name: str = "recorder", *, fail: int = 0, block: bool = False) -> None:
        self.clock, self.name, self.fail = clock, name, fail
        self.got: list[tuple[float, str]] = []
        self.attempts: list[float] = []
        self.release = asyncio.Event()
        if not block:
            self.release.set()

    def wants(self, delivery: Delivery) -> bool:
        return delivery.notice is not None and delivery.notice.kind is not Notable.SINK_FAILING

    async def send(self, delivery: Delivery) -> None:
        self.attempts.append(self.clock.now())
        await self.release.wait()
        if self.fail:
            self.fail -= 1
            raise SinkError("HTTP 503")
        self.got.append((self.clock.now(), delivery.event.at))


def hub_with(clock, *sinks_and_policies, seed: int = 1):
    bus = EventBus()
    hub = SinkHub(bus, clock, NotableRule(), rng=random.Random(seed))
    inline: list[Delivery] = []
    hub.add_inline(inline.append)
    for sink, policy in sinks_and_policies:
        hub.add(sink, policy)
    return bus, hub, inline


def started(n: int) -> Event:
    return action("start_canary", why="key", at=float(n), message_n=n)


async def test_a_full_queue_drops_the_oldest_counts_it_and_the_inline_journal_loses_nothing():
    clock = VirtualClock()
    stuck = Recorder(clock, block=True)
    bus, hub, inline = hub_with(clock, (stuck, SinkPolicy(queue_size=3, rate_per_minute=0)))
    bus.publish(started(0))
    await clock.settle()  # the sink took the first and hangs on it
    for n in range(1, 10):
        bus.publish(started(n))  # returns at once: nothing waits for the hanging sink
    health = hub.health()[0]
    assert [d.event.at for d in inline] == [float(n) for n in range(10)]  # the journal's side saw all, in order
    assert health.dropped == 6 and health.queued == 4  # one in flight, the 3 newest waiting
    stuck.release.set()
    await hub.drain()
    assert [at for _, at in stuck.got] == [0.0, 7.0, 8.0, 9.0]  # the oldest waiting ones were dropped
    await hub.aclose()


async def test_failures_are_retried_with_exponential_backoff_and_jitter_on_the_clock():
    clock = VirtualClock()
    flaky = Recorder(clock, fail=3)
    bus, hub, _inline = hub_with(clock, (flaky, SinkPolicy(retries=4, backoff=2.0, rate_per_minute=0)))
    bus.publish(started(0))
    await clock.run_until(100)
    await hub.drain()
    gaps = [b - a for a, b in zip(flaky.attempts, flaky.attempts[1:])]
    assert len(flaky.attempts) == 4 and len(flaky.got) == 1
    for k, gap in enumerate(gaps):  # full jitter in [ceiling/2, ceiling], ceiling doubling from 2 s
        assert 2.0 * 2 ** k / 2 <= gap <= 2.0 * 2 ** k
    assert len(set(round(g / 2 ** k, 6) for k, g in enumerate(gaps))) > 1  # jittered, not a fixed schedule
    health = hub.health()[0]
    assert health.failed_attempts == 3 and health.delivered == 1 and health.state == "ok"
    await hub.aclose()


async def test_a_sink_that_keeps_failing_is_said_once_and_its_recovery_too():
    clock = VirtualClock()
    flaky = Recorder(clock, fail=5)
    bus, hub, _inline = hub_with(clock, (flaky, SinkPolicy(retries=10, backoff=1.0, rate_per_minute=0)))
    said: list[Event] = []
    bus.subscribe(lambda e: said.append(e) if e.data.get("sink") else None)
    bus.publish(started(0))
    await clock.run_until(500)
    await hub.drain()
    assert [(e.kind, bool(e.data.get("failing"))) for e in said] == [(EventKind.ERROR, True), (EventKind.INFO, False)]
    assert "keep failing: HTTP 503" in said[0].message
    await hub.aclose()


async def test_the_rate_limit_spaces_sends_on_the_clock():
    clock = VirtualClock()
    fast = Recorder(clock)
    bus, hub, _inline = hub_with(clock, (fast, SinkPolicy(rate_per_minute=6)))
    for n in range(4):
        bus.publish(started(n))
    await clock.run_until(100)
    await hub.drain()
    assert [t for t, _ in fast.got] == [0.0, 10.0, 20.0, 30.0]
    await hub.aclose()


@pytest.mark.parametrize("retryable", [False])
async def test_a_permanent_failure_is_not_retried(retryable):
    clock = VirtualClock()

    class Refused(Recorder):
        async def send(self, delivery: Delivery) -> None:
            self.attempts.append(self.clock.now())
            raise SinkError("HTTP 400", retryable=retryable)

    refused = Refused(clock)
    bus, hub, _inline = hub_with(clock, (refused, SinkPolicy(retries=5, rate_per_minute=0)))
    bus.publish(started(0))
    await clock.run_until(100)
    assert len(refused.attempts) == 1 and hub.health()[0].given_up == 1
    await hub.aclose()


def test_a_change_the_driver_did_not_make_is_an_override_that_needs_a_person():
    rule = NotableRule()
    seen = rule.see(action("override", why="outside", from_weight=25, to_weight=40))
    assert seen and seen.kind is Notable.OVERRIDE and seen.needs_person and seen.severity == "warning"
    flagged = rule.see(Event(EventKind.INFO, "perception", 0, "weight changed by someone else", {"override": True}))
    assert flagged and flagged.kind is Notable.OVERRIDE
