"""Tests of the controller room: whole rollouts on a VirtualClock through a Session, the real judge, and the
in-memory fakes (tests/fakes.py). Nothing sleeps; times asserted are virtual seconds.
"""

from __future__ import annotations

from dataclasses import replace

from typing import Any

import pytest

from console.engine import judge
from console.engine.stable_window import StableBaseline
from console.engine.clock import VirtualClock
from console.engine.config import Config, Service
from console.engine.model import (Event, EventKind, Outcome, RolloutRecord, ServiceMetrics, State, TrackWindow,
                                  Verdict)
from console.engine.session import Session
from tests.fakes import FakeCluster, FakeMetrics, Rig, Traffic

INTERVAL = 10.0


def make(*, services=("perception",), rps=400.0, canary=None, gaps=(), ready_after=0.0, read_only=False,
         judge_fn=None, drive=(), **config: Any):
    config_obj = Config(services=[Service(name=s) for s in services], **config)
    clock = VirtualClock()
    cluster = FakeCluster(clock, services, ready_after=ready_after)
    metrics = FakeMetrics(cluster, rps=rps, canary=canary or {}, gaps=gaps)
    session = Session(config_obj, cluster, metrics, clock, read_only=read_only, judge=judge_fn, drive=drive)
    events: list[Event] = []
    session.bus.subscribe(events.append)
    return session, cluster, metrics, clock, events


def existing_rollout(cluster: FakeCluster, weight: int, record: RolloutRecord, driver: str | None = None) -> None:
    """A canary someone already runs: pod up, traffic at ``weight`` since long before the test starts."""
    svc = cluster.services["perception"]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at = record.version, 1, -5000.0
    svc.weight, svc.weights, svc.record, svc.driver = weight, [(float("-inf"), 0), (-3000.0, weight)], record, driver


def weights(cluster: FakeCluster) -> list[int]:
    return [w for _, w in cluster.writes_of("set_weight")]


def of(events: list[Event], kind: EventKind) -> list[Event]:
    return [e for e in events if e.kind is kind]


async def started(until: float, **kwargs: Any):
    """make(), start perception's canary 1.2.4 at time 0, and run the session on the clock until ``until``."""
    session, cluster, metrics, clock, events = make(**kwargs)
    rig = Rig(session, clock)
    assert (await session.intent("perception", "start", version="1.2.4")).ok
    await rig.until(until)
    return session, cluster, metrics, clock, events, rig


def after_weight(weight: int, traffic: Traffic):
    return lambda _t, w: traffic if w >= weight else Traffic()


ERRORS_4PCT = Traffic(error_rate=0.04)
P99_REGRESSION = Traffic(p95=0.15 * 1.05, p99=0.22 * 1.8)


async def test_healthy_rollout_walks_every_phase_on_the_configured_durations():
    session, cluster, _metrics, clock, events, rig = await started(5000)
    await rig.close()
    controller = session.controllers["perception"]
    assert controller.state is State.PROMOTED and controller.outcome == "promoted"
    changes = cluster.weight_changes("perception")
    # deployed at 0 %, 10 % once the pod is ready, … and 0 when promote removed the canary
    assert [w for _, w in changes] == [0, 10, 25, 50, 75, 100, 0]
    times = [t for t, _ in changes][1:]
    first_pass = min(e.at for e in of(events, EventKind.VERDICT) if e.data["verdict"]["verdict"] == "pass")
    # the phase clock counts from the tick before the first usable (PASS) verdict, never the inconclusive start
    assert times[1] == first_pass - INTERVAL + 900
    assert [b - a for a, b in zip(times[1:], times[2:])] == [900, 900, 900, 300]
    assert [d.action for d in controller.decisions if d.action != "hold"] == \
        ["advance", "advance", "advance", "advance", "advance", "promote"]
    assert cluster.services["perception"].stable_version == "1.2.4"
    assert cluster.services["perception"].record.state is State.PROMOTED


def _breaches(metrics: ServiceMetrics, config: Config, limit: float) -> bool:
    """The window's point estimate is past a rollback threshold of the early phase."""
    canary, stable = metrics.canary, metrics.stable
    if not canary or not stable or not canary.requests or not stable.requests:
        return False
    return (canary.error_rate - stable.error_rate > limit
            or canary.success_rate < config.criteria.min_success_rate)


async def _detection_delay(rps: float) -> tuple[float, float, Session, FakeCluster, list[Event]]:
    """Run an error regression that starts at 25 %; return (delay from the window first showing the
    breach to the rollback decision, delay from the first FAIL verdict to the rollback write)."""
    session, cluster, metrics, clock, events, rig = await started(3000, rps=rps, canary={"perception": after_weight(25, ERRORS_4PCT)})
    await rig.close()
    config = session.config
    early = config.phases[1]
    limit = min(config.criteria.error_rate_increase, early.error_rate_increase or 1.0)
    at_25 = cluster.writes_of("set_weight")[1][0]
    breach_seen = min(t for t, polled in metrics.polls if t >= at_25 and _breaches(polled["perception"], config, limit))
    rollback = next(d for d in session.controllers["perception"].decisions if d.action == "rollback")
    decided_at = rollback.t  # the rollout started at virtual time 0
    first_fail = min(e.at for e in of(events, EventKind.VERDICT) if e.data["verdict"]["verdict"] == "fail")
    written_at = cluster.writes_of("rollback")[0][0]
    return decided_at - breach_seen, written_at - first_fail, session, cluster, events


async def test_error_regression_at_25_percent_is_rolled_back_within_one_interval_of_showing():
    delay, act_delay, session, cluster, events = await _detection_delay(rps=1000.0)
    assert 0 <= delay <= INTERVAL
    assert act_delay == 0  # the rollback write goes out on the very tick whose verdict is FAIL
    controller = session.controllers["perception"]
    assert controller.state is State.ROLLED_BACK and controller.outcome == "rolled_back"
    assert [w for _, w in cluster.weight_changes("perception")] == [0, 10, 25, 0]
    action = next(e for e in of(events, EventKind.ACTION) if e.data["what"] == "rollback")
    assert action.data["why"] == "automatic"
    assert (action.data["from_weight"], action.data["to_weight"], action.data["verdict"]) == (25, 0, "fail")
    assert weights(cluster) == [10, 25]  # nothing advanced after 25 %


async def test_error_regression_detection_at_modest_traffic_is_bounded_by_the_judges_evidence():
    # 100 rps total (25 rps to the canary): the window's point estimate crosses the limit one tick before
    # the judge has significant evidence (alpha 0.01); the controller adds no delay of its own.
    delay, act_delay, *_ = await _detection_delay(rps=100.0)
    assert 0 <= delay <= 2 * INTERVAL
    assert act_delay == 0


async def test_p99_regression_waits_for_approval_and_approve_continues():
    session, cluster, _m, clock, events, rig = await started(600, canary={"perception": lambda _t, _w: P99_REGRESSION})
    controller = session.controllers["perception"]
    assert controller.state is State.AWAITING_APPROVAL
    assert controller.verdict.outcome is Outcome.MANUAL_REVIEW and "p99" in controller.reason
    frozen = controller.phase_elapsed
    await rig.until(900)
    assert controller.phase_elapsed == frozen and weights(cluster) == [10]
    assert (await session.intent("perception", "approve")).ok
    assert controller.state is State.OBSERVING
    await rig.until(900 + 900)
    # the approval covers the rest of the phase: the clock ran and the rollout advanced to 25 %
    assert weights(cluster) == [10, 25]
    assert any(d.action == "await_approval" for d in controller.decisions)
    await rig.close()


async def test_p99_regression_rollback_from_awaiting_approval_rolls_back():
    session, cluster, _m, clock, _events, rig = await started(600, canary={"perception": lambda _t, _w: P99_REGRESSION})
    assert session.controllers["perception"].state is State.AWAITING_APPROVAL
    result = await session.intent("perception", "rollback", reason="p99 too slow for checkout")
    assert result.ok
    assert session.controllers["perception"].state is State.ROLLED_BACK
    assert cluster.writes_of("rollback") == [(600, None)]
    assert session.controllers["perception"].decisions[-1].reason == "p99 too slow for checkout"
    await rig.close()


async def test_pause_freezes_the_phase_clock_and_resume_continues_it():
    session, cluster, _m, clock, _events, rig = await started(305)
    controller = session.controllers["perception"]
    assert (await session.intent("perception", "pause")).ok
    elapsed = controller.phase_elapsed
    assert elapsed > 0
    await rig.until(1305)
    assert controller.state is State.PAUSED and controller.phase_elapsed == elapsed
    assert weights(cluster) == [10]
    assert (await session.intent("perception", "resume")).ok
    await rig.until(3000)
    first_advance = cluster.writes_of("set_weight")[1][0]
    # the remaining time after the resume at 1305, to the tick: ticks fall on multiples of 10 s
    assert first_advance == pytest.approx(1305 + (900 - elapsed), abs=INTERVAL)
    await rig.close()


async def test_no_data_never_advances_and_pauses_at_the_progress_deadline():
    session, cluster, _m, clock, events, rig = await started(3000, gaps=[(1.0, 10_000.0)])
    await rig.close()
    controller = session.controllers["perception"]
    assert controller.state is State.PAUSED and controller.phase_elapsed == 0
    assert controller.reason.startswith("no usable data for 10m") and "scrape gap" in controller.reason
    assert weights(cluster) == [10] and cluster.writes_of("rollback") == []
    paused = next(e for e in of(events, EventKind.STATE) if e.data["to"] == "paused")
    assert paused.at == 600 and controller.outcome == "paused"


async def test_a_rollback_whose_first_writes_fail_is_retried_with_backoff_until_it_succeeds():
    session, cluster, _m, clock, events = make()
    rig = Rig(session, clock)
    await session.intent("perception", "start", version="1.2.4")
    await rig.until(1003)  # the rollout advanced to 25 % at ~1000
    weights_before = len(cluster.writes_of("set_weight"))
    cluster.fail_next("rollback", times=4)
    result = await session.intent("perception", "rollback", reason="operator saw alarms")
    controller = session.controllers["perception"]
    assert result.ok and controller.state is State.ROLLING_BACK  # not waiting for any tick
    await rig.until(1003 + 60)
    tries = [t - 1003 for t, op, _ in cluster.attempts if op == "rollback"]
    assert tries == [0, 1, 3, 7, 15]  # backoff 1, 2, 4, 8 (capped at the check interval: 10)
    assert controller.state is State.ROLLED_BACK
    assert len(cluster.writes_of("set_weight")) == weights_before  # no tick advanced while rolling back
    assert len(of(events, EventKind.ERROR)) >= 4
    await rig.close()


async def test_backoff_is_capped_at_the_check_interval():
    session, cluster, _m, clock, _e, rig = await started(50)
    cluster.fail_next("rollback", times=6)
    await session.intent("perception", "rollback")
    await rig.until(200)
    tries = [t for t, op, _ in cluster.attempts if op == "rollback"]
    assert [b - a for a, b in zip(tries, tries[1:])] == [1, 2, 4, 8, 10, 10]
    assert session.controllers["perception"].state is State.ROLLED_BACK
    await rig.close()


async def test_no_ready_canary_within_the_deadline_rolls_back_with_the_reason():
    session, cluster, _m, clock, _e, rig = await started(700, ready_after=10_000)
    await rig.close()
    controller = session.controllers["perception"]
    assert controller.state is State.ROLLED_BACK
    assert "no ready canary pod within 10m (0/1 ready)" in controller.decisions[-1].reason
    assert cluster.writes_of("rollback")[0][0] == 600


@pytest.mark.parametrize("intent,kwargs,expected", [
    ("advance", {}, "cannot advance while no canary"),
    ("approve", {}, "cannot approve while no canary"),
    ("resume", {}, "cannot resume while no canary"),
    ("rollback", {}, "cannot rollback while no canary"),
    ("promote", {}, "cannot promote while no canary"),
])
async def test_intents_in_the_wrong_state_are_refused_with_a_reason(intent, kwargs, expected):
    session, cluster, _m, _c, events = make()
    result = await session.intent("perception", intent, **kwargs)
    assert not result.ok and result.message == expected
    assert of(events, EventKind.REFUSED)[-1].message == expected
    assert cluster.writes == []


async def test_intents_refused_while_observing_and_unknown_names():
    session, cluster, _m, clock, _e, rig = await started(20)
    assert (await session.intent("perception", "start", version="1.2.5")).message == \
        "cannot start while observing"
    assert (await session.intent("perception", "approve")).message == "cannot approve while observing"
    assert (await session.intent("perception", "resume")).message == "cannot resume while observing"
    assert "cannot delete the canary while observing" in (await session.intent("perception", "delete_canary")).message
    assert "unknown service 'nope'" in (await session.intent("nope", "pause")).message
    assert "unknown intent 'explode'" in (await session.intent("perception", "explode")).message
    assert "bad arguments" in (await session.intent("perception", "pause", hard=True)).message
    assert [op for _, op, _, _ in cluster.writes if op != "save_record"] == ["start_canary", "set_weight"]
    await rig.close()


async def test_advance_and_promote_are_refused_on_fail_unless_forced():
    session, cluster, _m, clock, _e = make(canary={"perception": lambda _t, _w: ERRORS_4PCT},
                                           auto_rollback=False)
    rig = Rig(session, clock)
    await session.intent("perception", "start", version="1.2.4")
    await rig.until(200)
    controller = session.controllers["perception"]
    assert controller.state is State.AWAITING_APPROVAL and controller.verdict.outcome is Outcome.FAIL
    assert cluster.writes_of("rollback") == []  # auto-rollback is off: a person decides
    refused = await session.intent("perception", "advance")
    assert not refused.ok and "last verdict is FAIL" in refused.message
    assert "last verdict is FAIL" in (await session.intent("perception", "promote")).message
    forced = await session.intent("perception", "advance", force=True)
    assert forced.ok and weights(cluster) == [10, 25]
    await rig.close()


async def test_read_only_refuses_every_write_intent_and_writes_nothing():
    session, cluster, _m, clock, events = make(read_only=True)
    existing_rollout(cluster, 10, RolloutRecord(State.OBSERVING, 0, 10, -100, 0, "1.2.4", driver="ci"))
    rig = Rig(session, clock)
    for name, kwargs in [("start", {"version": "9"}), ("advance", {}), ("pause", {}), ("rollback", {}),
                         ("promote", {}), ("set_mode", {"auto": False}), ("delete_canary", {})]:
        result = await session.intent("perception", name, **kwargs)
        assert not result.ok and result.message.startswith("read-only: "), (name, result)
    await rig.until(2000)
    await rig.close()
    assert cluster.writes == [] and cluster.events == []
    controller = session.controllers["perception"]
    assert controller.state is State.OBSERVING and controller.status.read_only
    would = [e for e in of(events, EventKind.ACTION) if e.data.get("shadow")]
    assert would and would[0].message == "would advance to 25%"


async def test_another_driver_makes_the_console_watch_only():
    session, cluster, _m, clock, events = make(canary={"perception": lambda _t, _w: ERRORS_4PCT})
    existing_rollout(cluster, 10, RolloutRecord(State.OBSERVING, 0, 10, -100, 0, "1.2.4", driver="alice@laptop"),
                     driver="alice@laptop")
    rig = Rig(session, clock)
    await rig.until(300)
    assert (await session.intent("perception", "rollback")).message.startswith("read-only: alice@laptop drives")
    await rig.close()
    assert cluster.writes == []
    assert any(e.message.startswith("would roll back: ") for e in of(events, EventKind.ACTION))


async def test_resume_from_a_saved_record_keeps_phase_and_elapsed_time():
    session, cluster, _m, clock, events = make(drive=("perception",))  # run perception: told to drive it
    existing_rollout(cluster, 50, RolloutRecord(State.OBSERVING, 2, 50, -600, 600.0, "1.2.4", mode="auto"))
    rig = Rig(session, clock)
    await rig.until(1)
    controller = session.controllers["perception"]
    status = controller.status
    assert (status.state, status.phase, status.weight, status.phase_elapsed) == (State.OBSERVING, 2, 50, 600.0)
    assert "resumed from the saved record" in of(events, EventKind.STATE)[0].message
    await rig.until(400)
    await rig.close()
    advance_at = cluster.writes_of("set_weight")[0]
    assert advance_at == (300, 75)  # the 300 s left of the mid phase, counted from the first tick at 0


async def test_records_are_saved_on_transitions_and_every_minute_of_progress():
    session, cluster, _m, clock, _e, rig = await started(500)
    await rig.close()
    saves = cluster.writes_of("save_record")
    states = [r.state for _, r in saves]
    assert states[:2] == [State.DEPLOYING, State.OBSERVING]
    progress = [r.phase_elapsed for _, r in saves if r.state is State.OBSERVING][1:]
    assert progress and all(b - a >= 60 for a, b in zip(progress, progress[1:]))


async def test_shadow_mode_never_rolls_back_and_says_what_it_would_do():
    session, cluster, _m, clock, events, rig = await started(3000, canary={"perception": after_weight(25, ERRORS_4PCT)}, shadow=True)
    await rig.close()
    controller = session.controllers["perception"]
    assert cluster.writes_of("rollback") == [] and controller.state is State.OBSERVING
    assert controller.weight == 25  # FAIL never runs the phase clock: it holds at 25 %
    would = [e for e in of(events, EventKind.ACTION) if e.data.get("shadow")]
    assert len(would) == 1 and would[0].message.startswith("would roll back: ")
    holds = [d for d in controller.decisions if d.reason.startswith("would roll back")]
    assert len(holds) == 1 and holds[0].action == "hold" and holds[0].values["verdict"] == "fail"


async def test_manual_mode_waits_at_phase_end_and_advance_continues():
    session, cluster, _m, clock, _e, rig = await started(1500, auto=False)
    controller = session.controllers["perception"]
    assert controller.state is State.AWAITING_APPROVAL
    assert controller.reason == "phase complete: advance to continue"
    assert weights(cluster) == [10]
    assert (await session.intent("perception", "approve")).ok
    assert controller.weight == 25 and controller.phase_elapsed == 0 and controller.state is State.OBSERVING
    await rig.close()


async def test_the_last_usable_stable_window_is_carried_over_at_weight_100():
    seen: list[tuple[int, bool, float]] = []

    def spy(config, service, phase, stable, canary, **kwargs):
        seen.append((phase.weight, kwargs.get("stable_carried_over", False), stable.requests if stable else 0))
        return judge.evaluate(config, service, phase, stable, canary, **kwargs)

    session, _cluster, _m, clock, _e = make(judge_fn=spy)
    rig = Rig(session, clock)
    await session.intent("perception", "start", version="1.2.4")
    await rig.until(5000)
    await rig.close()
    at_100 = [s for s in seen if s[0] == 100]
    assert at_100 and all(carried and requests > 0 for _, carried, requests in at_100)
    assert not any(carried for weight, carried, _ in seen if weight < 100)
    assert session.controllers["perception"].state is State.PROMOTED


async def test_port_errors_in_ticks_and_intents_become_events_never_exceptions():
    session, cluster, metrics, clock, events = make()
    cluster.fail_next("start_canary", error=RuntimeError("boom Bearer abc.def.ghi"))
    result = await session.intent("perception", "start", version="1.2.4")
    assert not result.ok and session.controllers["perception"].state is State.IDLE
    assert "boom" in of(events, EventKind.ERROR)[-1].message
    assert "abc.def.ghi" not in of(events, EventKind.ERROR)[-1].message
    assert (await session.intent("perception", "start", version="1.2.4")).ok
    cluster.fail_next("save_record", times=2)
    metrics.fail_polls = 3
    rig = Rig(session, clock)
    await rig.until(100)
    await rig.close()
    assert session.controllers["perception"].state is State.OBSERVING
    assert cluster.services["perception"].record.state is State.OBSERVING  # the failed save was retried


async def test_a_judge_that_raises_is_an_error_event_and_the_next_tick_tries_again():
    calls = []

    def flaky(config, service, phase, stable, canary, **kwargs) -> Verdict:
        calls.append(kwargs["at"])
        if len(calls) == 1:
            raise ZeroDivisionError("bad window")
        return judge.evaluate(config, service, phase, stable, canary, **kwargs)

    session, _cluster, _m, clock, events = make(judge_fn=flaky)
    controller = session.controllers["perception"]
    await session.intent("perception", "start", version="1.2.4")
    window = TrackWindow(1000, 5, 0.15, 0.22)
    snapshot = (await session.cluster.snapshot_all(["perception"]))["perception"]
    for _ in range(3):  # deploying → observing, then two judged ticks
        await controller.tick(snapshot, ServiceMetrics("perception", window, window))
        await clock.advance(INTERVAL)
    assert any("bad window" in e.message for e in of(events, EventKind.ERROR))
    assert len(calls) == 2 and controller.verdict is not None


# ---- the stable baseline (console/engine/stable_window.py) ------------------------------------------------

FULL = TrackWindow(27000, 135, 0.15, 0.22)


def test_the_baseline_is_the_current_stable_window_while_it_is_full():
    baseline = StableBaseline(Config())
    assert baseline.choose(FULL, 10, 0) == (FULL, False)
    smaller = TrackWindow(9000, 45, 0.15, 0.22)  # weight went up: stable's share shrinks, still full
    assert baseline.choose(smaller, 75, 10) == (smaller, False)


def test_the_last_full_window_is_carried_at_100_and_when_stable_fades_or_thins():
    baseline = StableBaseline(Config())
    baseline.choose(FULL, 75, 0)
    assert baseline.choose(TrackWindow(26000, 130, 0.15, 0.22), 100, 10) == (replace(FULL, age=10), True)
    fading = TrackWindow(700, 4, 0.15, 0.27)  # same weight, lost most of its traffic within one window
    assert baseline.choose(fading, 75, 20) == (replace(FULL, age=20), True)
    thin = TrackWindow(120, 1, 0.15, None)
    assert baseline.choose(thin, 75, 30) == (replace(FULL, age=30), True)
    assert baseline.choose(None, 75, 40) == (None, False)  # a missing track is no data (issue 13)
    later = TrackWindow(12000, 60, 0.15, 0.22)  # a lasting dip: after one window length it is the baseline
    assert baseline.choose(later, 75, 400) == (later, False)


def test_a_low_traffic_stable_is_used_as_it_is_and_not_stood_in_for_when_it_goes_silent():
    baseline = StableBaseline(Config())
    thin = TrackWindow(300, 2, 0.2, 0.3)
    assert baseline.choose(thin, 10, 0) == (thin, False)
    silent = TrackWindow(0, 0)
    assert baseline.choose(silent, 10, 10) == (silent, False)  # no traffic is no data (issue 13)


async def test_a_canary_gets_no_traffic_until_its_pod_is_ready():
    # nginx answers a weighted canary with no ready endpoint with 503s: users would see them and the first
    # windows of a healthy canary would fail. The canary is deployed at 0 % and gets 10 % once ready.
    session, cluster, _m, clock, events, rig = await started(200, ready_after=35)
    await rig.close()
    assert cluster.writes_of("start_canary") == [(0, ("1.2.4", 0))]
    assert cluster.writes_of("set_weight")[0] == (40, 10)  # the first tick that saw the pod ready
    first = session.controllers["perception"].decisions[0]
    assert (first.t, first.action, first.weight, first.values["to_weight"]) == (40, "advance", 10, 10)
    assert session.controllers["perception"].state is State.OBSERVING
    assert not of(events, EventKind.ERROR)


async def test_on_the_simulated_world_healthy_canaries_advance_and_regressions_roll_back_at_25():
    from console.sim.demo import build_demo

    config, clock = Config(), VirtualClock()
    scenario = {name: "error-regression" if name in ("capsule", "nexus") else "healthy"
                for name in config.service_names}
    _world, cluster, metrics = build_demo(config, seed=3, scenario=scenario, clock=clock)
    session = Session(config, cluster, metrics, clock)
    for name in config.service_names:
        assert (await session.intent(name, "start", version="1.2.4")).ok
    rig = Rig(session, clock)
    await rig.until(40 * 60)
    await rig.close()
    for name, controller in session.controllers.items():
        if scenario[name] == "healthy":
            assert controller.state is State.OBSERVING and controller.weight >= 25, (name, controller.reason)
        else:
            assert controller.state is State.ROLLED_BACK and "from 25%" in controller.reason, name


async def test_a_resumed_phase_complete_wait_is_approved_by_advancing():
    session, cluster, *_ = make(auto=False)
    existing_rollout(cluster, 25, RolloutRecord(State.AWAITING_APPROVAL, 1, 25, -900, 900.0, "1.2.4", mode="manual"))
    await session.step()
    controller = session.controllers["perception"]
    assert controller.state is State.AWAITING_APPROVAL and not controller.auto
    assert (await session.intent("perception", "approve")).ok
    assert weights(cluster) == [50] and controller.phase == 2 and controller.state is State.OBSERVING


async def test_transitions_in_a_tick_are_saved_in_that_tick_and_a_second_rollback_says_it_is_retrying():
    session, cluster, _m, _clock, events, rig = await started(600, canary={"perception": lambda _t, _w: P99_REGRESSION})
    waited = next(e.at for e in events if e.kind is EventKind.STATE and e.data["to"] == "awaiting_approval")
    saved = [t for t, record in cluster.writes_of("save_record") if record.state is State.AWAITING_APPROVAL]
    assert saved[0] == waited
    cluster.fail_next("rollback", times=3)
    first = await session.intent("perception", "rollback")
    second = await session.intent("perception", "rollback")
    assert first.message == second.message == "perception: rolling back; retrying the write"
    await rig.until(700)
    assert session.controllers["perception"].state is State.ROLLED_BACK
    await rig.close()


async def test_an_advance_whose_phase_was_not_saved_is_not_written_again_by_the_next_driver():
    # the last driver's write of 25 % landed and was confirmed, then it died before saving phase 1
    session, cluster, _m, clock, events = make(drive=("perception",))
    existing_rollout(cluster, 25, RolloutRecord(State.OBSERVING, 0, 25, -600, 300.0, "1.2.4", mode="auto"))
    rig = Rig(session, clock)
    await rig.until(1)
    status = session.controllers["perception"].status
    assert (status.state, status.phase, status.weight, status.phase_elapsed) == (State.OBSERVING, 1, 25, 0.0)
    await rig.until(3000)
    await rig.close()
    assert weights(cluster) == [50, 75, 100]  # 25 % is not written twice; the phase at 25 % is observed whole


async def test_a_watching_console_follows_the_drivers_phase_in_its_reason():
    # a controller replica waiting for the Lease watches; when it takes over it acts under this reason
    session, cluster, _m, clock, events = make()
    existing_rollout(cluster, 10, RolloutRecord(State.OBSERVING, 0, 10, -100, 0, "1.2.4", driver="alice@laptop"),
                     driver="alice@laptop")
    rig = Rig(session, clock)
    await rig.until(10)
    controller = session.controllers["perception"]
    first, second = session.config.phases[0], session.config.phases[1]
    assert f"phase {first.name} ({first.weight}%)" in controller.reason, controller.reason
    cluster.services["perception"].weight = second.weight  # alice's console advanced and saved its phase
    cluster.services["perception"].record = RolloutRecord(State.OBSERVING, 1, second.weight, 10, 0, "1.2.4",
                                                          driver="alice@laptop")
    await rig.until(20)
    await rig.close()
    assert f"phase {second.name} ({second.weight}%)" in controller.reason, controller.reason
    assert controller.status.phase == 1 and cluster.writes == []


async def test_a_held_promote_that_ended_leaves_no_held_flag_to_the_next_rollouts_promote():
    """The stable Deployment paused (`kubectl rollout pause`) holds a promote; the person resumes it and the promote
    ends before the next check sees the resume. The next rollout's promote, retried once, must not announce that
    "the stable Deployment was resumed": nobody paused it."""
    session, cluster, _metrics, _clock, events, rig = await started(120.0)
    stable = cluster.services["perception"]
    stable.stable_paused = True
    assert (await session.intent("perception", "promote", force=True)).ok
    await rig.until(200.0)
    assert any("held at" in e.message for e in of(events, EventKind.ACTION)), "the held promote was not said"
    stable.stable_paused = False
    await rig.until(260.0)
    assert session.controllers["perception"].state is State.PROMOTED
    assert (await session.intent("perception", "start", version="1.2.5")).ok
    await rig.until(400.0)
    cluster.fail_next("promote")  # the write fails once: the promote stays in PROMOTING over a check
    assert (await session.intent("perception", "promote", force=True)).ok
    await rig.until(500.0)
    assert session.controllers["perception"].state is State.PROMOTED
    said = [e.message for e in of(events, EventKind.ACTION) if "1.2.5" in e.message]
    assert not any("resumed" in m or "held" in m for m in said), said
    await rig.close()
