"""Tests of the controller room (console/engine/controller.py) on each path of a tick and at each edge of its
clocks: a canary removed behind our back, a deploy whose first write fails, the phase clock's cap and its
exact end, manual review and inconclusive verdicts, the progress deadline, shadow and watching consoles,
resuming without a record, following the driving console, what is saved and when, what is published, and
the status a screen reads. The judge answers a fixed outcome (tests/driving.py); nothing sleeps.
"""

from __future__ import annotations

import pytest

from console.engine.model import Check, CheckResult, EventKind, Outcome, RolloutRecord, State
from console.engine.ports import ReadOnlyError
from tests.driving import SERVICE, WEIGHTS, Rollout


async def tick(rollout: Rollout, seconds: float = 10.0) -> None:
    await rollout.clock.advance(seconds)
    await rollout.session.step()


# ---------------------------------------------------------------- the phase clock

async def test_pass_verdicts_run_the_phase_clock_capped_at_two_intervals():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1, elapsed=100.0)
    await tick(rollout, 10)
    assert rollout.controller.phase_elapsed == 110.0
    await tick(rollout, 100)  # a late tick counts at most 2 × check_interval
    assert rollout.controller.phase_elapsed == 130.0


async def test_the_phase_ends_exactly_at_its_duration():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1, elapsed=880.0)
    await tick(rollout)
    assert rollout.controller.phase == 1 and rollout.controller.phase_elapsed == 890.0
    await tick(rollout)
    assert rollout.controller.phase == 2 and rollout.writes("set_weight") == [50]
    decision = rollout.controller.decisions[-1]
    assert (decision.action, decision.reason) == ("advance", "phase early (25%) complete → 50%")
    assert rollout.of(EventKind.ACTION)[-1].data["why"] == "automatic"


async def test_the_last_phase_complete_promotes():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 4, elapsed=295.0)
    await tick(rollout)
    await rollout.controller.drain()
    assert rollout.controller.state is State.PROMOTED and rollout.writes("promote") == ["1.2.4"]
    promote = next(d for d in rollout.controller.decisions if d.action == "promote")
    assert promote.reason == "phase complete (100%) complete → promote"
    assert rollout.controller.outcome == "promoted" and rollout.saved().state is State.PROMOTED


async def test_a_resumed_promotion_is_finished_by_the_next_tick():
    rollout = Rollout()
    await rollout.resume_at(State.PROMOTING, 4, judged=True)
    await rollout.controller.drain()
    assert rollout.controller.state is State.PROMOTED and rollout.writes("promote") == ["1.2.4"]


async def test_manual_mode_waits_at_the_end_of_a_phase():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 2, elapsed=895.0, mode="manual")
    await tick(rollout)
    assert rollout.controller.state is State.AWAITING_APPROVAL
    assert rollout.controller.reason == "phase complete: advance to continue"
    assert rollout.writes("set_weight") == []


async def test_records_are_saved_every_minute_of_progress_exactly():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    for _ in range(13):
        await tick(rollout)
    progress = [r.phase_elapsed for _, r in rollout.cluster.writes_of("save_record")]
    assert progress == [60.0, 120.0]


# ---------------------------------------------------------------- verdicts that stop the clock

async def test_manual_review_awaits_approval_and_the_clock_stands_still():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1, elapsed=100.0)
    rollout.outcome = Outcome.MANUAL_REVIEW
    await tick(rollout)
    controller = rollout.controller
    assert controller.state is State.AWAITING_APPROVAL and controller.reason == "manual review: judged by the test"
    assert controller.decisions[-1].action == "await_approval" and rollout.saved().state is State.AWAITING_APPROVAL
    await tick(rollout)
    assert controller.phase_elapsed == 100.0


async def test_a_paused_rollout_is_judged_but_does_not_move():
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1, elapsed=100.0)
    rollout.outcome = Outcome.MANUAL_REVIEW
    await tick(rollout)
    assert rollout.controller.state is State.PAUSED and rollout.controller.phase_elapsed == 100.0
    assert rollout.judged == 2 and rollout.controller.verdict.outcome is Outcome.MANUAL_REVIEW


def no_data() -> tuple[Check, ...]:
    return (Check("error_rate", CheckResult.NO_DATA, None, None, 0.01, "no canary metrics in this window"),)


async def test_inconclusive_holds_once_and_pauses_exactly_at_the_progress_deadline():
    rollout = Rollout(outcome=Outcome.INCONCLUSIVE)
    rollout.checks = no_data()
    await rollout.resume_at(State.OBSERVING, 1, elapsed=100.0)
    holds = [d for d in rollout.controller.decisions if d.action == "hold"]
    assert [d.reason for d in holds] == ["inconclusive: judged by the test"]
    for _ in range(59):
        await tick(rollout)
    assert rollout.controller.state is State.OBSERVING and rollout.controller.phase_elapsed == 100.0
    assert len([d for d in rollout.controller.decisions if d.action == "hold"]) == 1  # said once
    await tick(rollout)  # 600 s without a usable verdict
    assert rollout.controller.state is State.PAUSED
    assert rollout.controller.reason == "no usable data for 10m: judged by the test"


async def test_a_thin_window_gets_one_phase_longer_before_pausing():
    rollout = Rollout(outcome=Outcome.INCONCLUSIVE)
    rollout.checks = (Check("error_rate", CheckResult.INSUFFICIENT_DATA, 0.0, 0.005, 0.01, "too few"),)
    await rollout.resume_at(State.OBSERVING, 1)
    for _ in range(60 + 89):
        await tick(rollout)
    assert rollout.controller.state is State.OBSERVING
    await tick(rollout)  # progress_deadline + the phase's 15 minutes
    assert rollout.controller.state is State.PAUSED and rollout.controller.reason.startswith("no usable data for 25m")


async def test_a_usable_verdict_restarts_the_progress_deadline():
    rollout = Rollout(outcome=Outcome.INCONCLUSIVE)
    rollout.checks = no_data()
    await rollout.resume_at(State.OBSERVING, 1)
    for _ in range(50):
        await tick(rollout)
    rollout.outcome = Outcome.PASS
    await tick(rollout)
    rollout.outcome = Outcome.INCONCLUSIVE
    for _ in range(59):
        await tick(rollout)
    assert rollout.controller.state is State.OBSERVING


async def test_a_fail_with_auto_rollback_off_awaits_a_person_once():
    rollout = Rollout(outcome=Outcome.FAIL, auto_rollback=False)
    await rollout.resume_at(State.OBSERVING, 1, judged=True)
    assert rollout.controller.reason == "failing (judged by the test); auto-rollback is off: rollback or approve"
    transitions = len(rollout.of(EventKind.STATE))
    await tick(rollout)
    assert len(rollout.of(EventKind.STATE)) == transitions and rollout.writes("rollback") == []


async def test_a_fail_rolls_back_at_once_with_the_verdicts_reason():
    rollout = Rollout(outcome=Outcome.FAIL)
    await rollout.resume_at(State.OBSERVING, 2, judged=True)
    assert rollout.controller.state is State.ROLLED_BACK and rollout.writes("rollback") == [None]
    assert rollout.controller.reason == "rolled back from 50%: judged by the test"
    assert rollout.controller.decisions[-1].reason == "judged by the test"


async def test_shadow_mode_says_once_what_it_would_do():
    rollout = Rollout(outcome=Outcome.FAIL, shadow=True)
    await rollout.resume_at(State.OBSERVING, 1, judged=True)
    await tick(rollout)
    shadows = [e for e in rollout.of(EventKind.ACTION) if e.data.get("shadow")]
    assert [e.message for e in shadows] == ["would roll back: judged by the test"]
    assert shadows[0].data["what"] == "rollback" and shadows[0].data["verdict"] == "fail"
    assert rollout.controller.state is State.OBSERVING and rollout.writes("rollback") == []
    assert not any(e.data.get("shadow") for e in rollout.of(EventKind.ACTION) if e not in shadows)


# ---------------------------------------------------------------- a console that watches

async def test_a_watching_console_says_it_would_advance_then_promote():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 3, elapsed=895.0, driver="alice@laptop")
    await tick(rollout)
    await tick(rollout)
    would = [e.message for e in rollout.of(EventKind.ACTION) if e.data.get("shadow")]
    assert would == ["would advance to 100%"]
    assert rollout.cluster.writes == []
    other = Rollout()
    await other.resume_at(State.OBSERVING, 4, elapsed=295.0, driver="alice@laptop")
    await tick(other)
    assert [e.message for e in other.of(EventKind.ACTION) if e.data.get("shadow")] == ["would promote"]


async def test_a_watching_console_follows_the_drivers_record():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1, driver="alice@laptop")
    svc = rollout.cluster.services[SERVICE]
    svc.weight = 50
    svc.record = RolloutRecord(State.OBSERVING, 2, 50, 5.0, 30.0, "1.2.4", driver="alice@laptop")
    await tick(rollout)
    controller = rollout.controller
    assert (controller.phase, controller.weight, controller.phase_elapsed) == (2, 50, 40.0)  # 30 + this tick
    assert rollout.cluster.writes == []
    svc.record = RolloutRecord(State.PAUSED, 2, 50, 5.0, 40.0, "1.2.4", driver="alice@laptop")
    await tick(rollout)
    assert controller.state is State.PAUSED
    assert controller.reason == "following the driving console (phase mid (50%), 40s counted)"


async def test_a_console_with_its_own_identity_as_driver_drives():
    rollout = Rollout(identity="me@host")
    await rollout.resume_at(State.OBSERVING, 1, elapsed=895.0, driver="me@host")
    await tick(rollout)
    assert rollout.writes("set_weight") == [50]
    assert rollout.saved().driver == "me@host"


# ---------------------------------------------------------------- resuming what the cluster shows

@pytest.mark.parametrize("weight,phase", [(30, 1), (5, 0), (75, 3)])
async def test_a_canary_without_a_record_is_adopted_paused_at_the_phase_that_fits(weight, phase):
    rollout = Rollout()
    svc = rollout.cluster.services[SERVICE]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at, svc.weight = "9.9.9", 1, -100.0, weight
    await rollout.session.step()
    controller = rollout.controller
    assert (controller.state, controller.phase, controller.weight, controller.version) == \
        (State.PAUSED, phase, weight, "9.9.9")
    assert controller.reason == f"canary found at {weight}% without a rollout record: resume to drive it"
    assert controller.outcome == "paused" and rollout.cluster.writes == []


async def test_an_idle_canary_at_weight_zero_and_a_finished_record_are_left_alone():
    rollout = Rollout()
    svc = rollout.cluster.services[SERVICE]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at, svc.weight = "9.9.9", 1, -100.0, 0
    await rollout.session.step()
    assert rollout.controller.state is State.IDLE and rollout.controller.outcome is None
    done = Rollout()
    svc = done.cluster.services[SERVICE]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at, svc.weight = "9.9.9", 1, -100.0, 0
    svc.record = RolloutRecord(State.ROLLED_BACK, 2, 0, -100.0, 10.0, "9.9.9")
    await done.session.step()
    assert done.controller.state is State.IDLE


async def test_a_rollback_interrupted_before_a_restart_is_finished():
    rollout = Rollout()
    await rollout.resume_at(State.ROLLING_BACK, 2, judged=True)
    assert rollout.controller.busy and rollout.writes("rollback") == []
    await rollout.clock.advance(1)  # the retry's first wait
    assert rollout.controller.state is State.ROLLED_BACK and rollout.writes("rollback") == [None]


async def test_an_awaiting_record_within_its_phase_resumes_as_a_review():
    rollout = Rollout()
    await rollout.resume_at(State.AWAITING_APPROVAL, 1, elapsed=300.0)
    assert (await rollout.intent("approve")).ok
    assert rollout.controller.phase == 1 and rollout.controller.state is State.OBSERVING


# ---------------------------------------------------------------- outside changes and failures

async def test_a_canary_removed_outside_the_console_ends_the_rollout():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    svc = rollout.cluster.services[SERVICE]
    svc.canary_version, svc.canary_replicas = None, 0
    await tick(rollout)
    assert rollout.controller.state is State.IDLE
    assert rollout.controller.reason == "the canary was removed outside this console"
    assert rollout.saved().state is State.OBSERVING  # the record is not rewritten


async def test_an_unreachable_cluster_is_not_a_removed_canary():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    rollout.cluster.fail_next("snapshot_all")
    await tick(rollout)
    assert rollout.controller.state is State.OBSERVING


async def test_a_deploy_whose_first_weight_write_fails_retries_on_the_next_tick():
    rollout = Rollout()
    assert (await rollout.intent("start", version="1.2.4")).ok
    rollout.cluster.fail_next("set_weight")
    await tick(rollout)
    assert rollout.controller.state is State.DEPLOYING and rollout.controller.weight == 0
    await tick(rollout)
    assert rollout.controller.state is State.OBSERVING and rollout.writes("set_weight") == [10]
    assert rollout.controller.reason == "canary ready; observing phase initial (10%)"


async def test_a_read_only_refusal_from_the_cluster_is_not_retryable():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    rollout.cluster.fail_next("set_weight", error=ReadOnlyError("forbidden by RBAC"))
    assert not (await rollout.intent("advance")).ok
    error = rollout.of(EventKind.ERROR)[-1]
    assert error.message == "set weight failed: forbidden by RBAC" and error.data["retryable"] is False
    rollout.cluster.fail_next("set_weight")
    assert not (await rollout.intent("advance")).ok
    assert rollout.of(EventKind.ERROR)[-1].data["retryable"] is True


async def test_a_failed_save_is_retried_on_the_next_tick():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    rollout.cluster.fail_next("save_record")
    assert (await rollout.intent("pause")).ok
    assert rollout.saved().state is State.OBSERVING
    assert rollout.of(EventKind.ERROR)[-1].message.startswith("saving the rollout record failed: ")
    await tick(rollout)
    assert rollout.saved().state is State.PAUSED


async def test_nothing_overrides_a_rollback_in_flight():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 2)
    rollout.cluster.fail_next("rollback", times=100)
    assert (await rollout.intent("rollback")).ok
    assert rollout.controller.busy
    assert not (await rollout.intent("pause")).ok
    assert rollout.controller.state is State.ROLLING_BACK
    await rollout.controller.cancel_background()
    assert not rollout.controller.busy and rollout.controller.state is State.ROLLING_BACK


# ---------------------------------------------------------------- what is published and saved

async def test_a_saved_record_carries_the_rollout():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1, elapsed=50.0)
    await tick(rollout)
    assert (await rollout.intent("set_mode", auto=False)).ok
    record = rollout.saved()
    assert (record.state, record.phase, record.weight, record.phase_elapsed, record.version, record.verdict,
            record.driver, record.mode) == (State.OBSERVING, 1, 25, 60.0, "1.2.4", "pass", "console", "manual")
    assert record.phase_started_at == -100.0


async def test_actions_and_decisions_carry_their_context():
    rollout = Rollout()
    await rollout.clock.advance(100)
    assert (await rollout.intent("start", version="1.2.4")).ok
    start = rollout.of(EventKind.ACTION)[0]
    assert start.message == "canary 1.2.4 deployed at 0% (key, console)"
    assert start.data == {"what": "start_canary", "actor": "console", "why": "key", "from_weight": 0, "to_weight": 0,
                          "verdict": None, "reason": "no canary", "version": "1.2.4"}
    await tick(rollout, 30)
    first = rollout.controller.decisions[0]
    assert (first.t, first.action, first.weight, first.reason) == (30.0, "advance", 10, "canary 1.2.4 ready: 10% of traffic")
    state = [e for e in rollout.of(EventKind.STATE)][-1]
    assert state.data == {"from": "deploying", "to": "observing", "reason": "canary ready; observing phase initial (10%)"}
    assert state.message == "deploying → observing: canary ready; observing phase initial (10%)"


async def test_decisions_carry_the_verdicts_numbers():
    rollout = Rollout()
    rollout.checks = (Check("error_rate", CheckResult.PASS, 0.004, 0.005, 0.01, "fine", value=-0.001),)
    await rollout.resume_at(State.OBSERVING, 1, elapsed=895.0)
    await tick(rollout)
    advance = rollout.controller.decisions[-1]
    assert advance.values == {"verdict": "pass", "to_weight": 50, "checks": {"error_rate": {
        "result": "pass", "canary": 0.004, "stable": 0.005, "value": -0.001, "threshold": 0.01}}}


async def test_status_shows_what_a_screen_needs():
    rollout = Rollout()
    svc = rollout.cluster.services[SERVICE]
    svc.weight = 0
    await rollout.session.step()
    idle = rollout.controller.status
    assert (idle.state, idle.weight, idle.phase, idle.phase_weight, idle.phase_duration, idle.mode) == \
        (State.IDLE, 0, -1, 0, 0.0, "auto")
    assert (idle.stable_version, idle.canary_version, idle.read_only, idle.driver) == ("1.2.3", None, False, None)
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 2, elapsed=120.0, mode="manual")
    status = rollout.controller.status
    assert (status.state, status.weight, status.phase, status.phase_weight, status.phase_elapsed,
            status.phase_duration, status.mode) == (State.OBSERVING, 50, 2, 50, 120.0, 900.0, "manual")
    assert (status.canary_version, status.at) == ("1.2.4", rollout.clock.now())
    watching = Rollout(read_only=True)
    await watching.session.step()
    assert watching.controller.status.read_only


@pytest.mark.parametrize("state,outcome", [
    (State.PAUSED, "paused"), (State.AWAITING_APPROVAL, "awaiting_approval"), (State.OBSERVING, "incomplete"),
    (State.ROLLING_BACK, "rolled_back")])
async def test_outcome_of_a_resumed_rollout(state, outcome):
    rollout = Rollout()
    await rollout.resume_at(state, 1, judged=True)
    assert rollout.controller.outcome == outcome


async def test_errors_are_redacted():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    rollout.cluster.fail_next("set_weight", error=RuntimeError("denied for Bearer abc.def.ghi"))
    await rollout.intent("advance")
    assert "abc.def.ghi" not in rollout.of(EventKind.ERROR)[-1].message
    assert WEIGHTS[1] == rollout.controller.weight
