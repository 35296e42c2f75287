"""Tests of the intents room (console/engine/intents.py): every intent on every path — done, refused for the
state, refused because another console drives, refused on a FAIL verdict unless forced, and a cluster write
that fails reported as a failure — through a Session on the in-memory fakes and a VirtualClock. A rollout
already under way is set up as a saved record the first step resumes, so each test starts where it matters.
"""

from __future__ import annotations

import pytest

from console.engine.model import EventKind, Outcome, RolloutRecord, State
from console.engine.ports import ClusterError
from tests.driving import SERVICE, WEIGHTS, Rollout
from tests.fakes import FakeCluster


# ---------------------------------------------------------------- advance

@pytest.mark.parametrize("phase", [0, 1, 2, 3])
async def test_advance_moves_to_the_next_phase_from_every_phase_including_75_to_100(phase):
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, phase, elapsed=120.0)
    result = await rollout.intent("advance")
    target = WEIGHTS[phase + 1]
    assert (result.ok, result.message) == (True, f"perception: advanced to {target}%")
    controller = rollout.controller
    assert (controller.state, controller.phase, controller.weight, controller.phase_elapsed) == \
        (State.OBSERVING, phase + 1, target, 0.0)
    assert rollout.writes("set_weight") == [target] and rollout.writes("promote") == []
    decision = controller.decisions[-1]
    assert (decision.action, decision.reason, decision.weight) == ("advance", f"advanced by console → {target}%",
                                                                   WEIGHTS[phase])
    assert decision.values["to_weight"] == target
    assert (rollout.saved().phase, rollout.saved().weight, rollout.saved().state) == (phase + 1, target,
                                                                                      State.OBSERVING)
    action = [e for e in rollout.of(EventKind.ACTION) if e.data["what"] == "set_weight"][-1]
    assert (action.data["why"], action.data["from_weight"], action.data["to_weight"]) == ("key", WEIGHTS[phase], target)


async def test_advance_from_the_last_phase_promotes():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 4)
    result = await rollout.intent("advance")
    assert (result.ok, result.message) == (True, "perception: promoting 1.2.4")
    await rollout.controller.drain()
    assert rollout.controller.state is State.PROMOTED and rollout.writes("promote") == ["1.2.4"]
    assert rollout.controller.decisions[-1].reason == "promoted by console"


@pytest.mark.parametrize("state", [State.PAUSED, State.AWAITING_APPROVAL])
async def test_advance_works_from_every_active_state(state):
    rollout = Rollout()
    await rollout.resume_at(state, 1)
    assert (await rollout.intent("advance")).ok
    assert rollout.controller.state is State.OBSERVING and rollout.controller.weight == 50


async def test_advance_whose_write_fails_is_reported_as_a_failure():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    rollout.cluster.fail_next("set_weight")
    result = await rollout.intent("advance")
    assert (result.ok, result.message) == (False, "perception: advance failed: set weight failed: set_weight: injected failure (HTTP 500)")
    assert (rollout.controller.phase, rollout.controller.weight) == (1, 25)
    assert "set weight failed" in rollout.of(EventKind.ERROR)[-1].message


async def test_advance_is_refused_while_deploying_and_after_the_end():
    rollout = Rollout()
    assert (await rollout.intent("start", version="1.2.4")).ok
    result = await rollout.intent("advance")
    assert (result.ok, result.message) == (False, "cannot advance while deploying")
    assert rollout.of(EventKind.REFUSED)[-1].message == "cannot advance while deploying"


# ---------------------------------------------------------------- a FAIL verdict, and forcing past it

async def failing() -> Rollout:
    rollout = Rollout(outcome=Outcome.FAIL, auto_rollback=False)
    await rollout.resume_at(State.OBSERVING, 1, judged=True)
    assert rollout.controller.state is State.AWAITING_APPROVAL
    assert rollout.controller.verdict.outcome is Outcome.FAIL
    return rollout


@pytest.mark.parametrize("intent", ["advance", "promote"])
async def test_a_fail_verdict_refuses_advance_and_promote_unless_forced(intent):
    rollout = await failing()
    refused = await rollout.intent(intent)
    assert not refused.ok
    assert refused.message == (f"cannot {intent}: the last verdict is FAIL (judged by the test); "
                               "force to override")
    assert rollout.writes("set_weight") == [] and rollout.writes("promote") == []
    forced = await rollout.intent(intent, force=True)
    assert forced.ok
    await rollout.controller.drain()
    if intent == "advance":
        assert rollout.writes("set_weight") == [50]
    else:
        assert rollout.writes("promote") == ["1.2.4"] and rollout.controller.state is State.PROMOTED


async def test_promote_answers_that_it_is_promoting_and_the_write_retries_on_a_tick():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 2)
    rollout.cluster.fail_next("promote")
    result = await rollout.intent("promote")
    assert (result.ok, result.message) == (True, "perception: promoting 1.2.4")
    await rollout.controller.drain()
    assert rollout.controller.state is State.PROMOTING and rollout.saved().state is State.PROMOTING
    await rollout.session.step()
    await rollout.controller.drain()
    assert rollout.controller.state is State.PROMOTED and rollout.controller.weight == 100


async def test_a_promote_the_cluster_refuses_is_not_retried_and_waits_for_a_person():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 2)
    rollout.cluster.fail_next("promote", error=ClusterError("forbidden: cannot patch deployments in namespace "
                                                            "butterfly", retryable=False, status=403))
    assert (await rollout.intent("promote")).ok  # it answers at once; the write runs in the background
    await rollout.controller.drain()
    for _ in range(3):  # later checks do not ask again: a 403 stays a 403
        await rollout.clock.advance(10)
        await rollout.session.step()
        await rollout.controller.drain()
    assert rollout.cluster.calls["promote"] == 1
    assert rollout.controller.state is State.PAUSED and rollout.saved().state is State.PAUSED
    assert rollout.controller.reason == ("promote failed: forbidden: cannot patch deployments in namespace "
                                         "butterfly")


async def test_promote_is_refused_outside_an_active_rollout():
    rollout = Rollout()
    result = await rollout.intent("promote", force=True)
    assert (result.ok, result.message) == (False, "cannot promote while no canary")


# ---------------------------------------------------------------- start

async def test_start_deploys_at_zero_and_says_what_the_first_phase_gets():
    rollout = Rollout()
    result = await rollout.intent("start", version="1.2.4", actor="alice")
    assert (result.ok, result.message) == (True, "perception: canary 1.2.4 deployed; 10% of traffic once it is ready")
    controller = rollout.controller
    assert (controller.state, controller.weight, controller.phase, controller.actor) == (State.DEPLOYING, 0, 0, "alice")
    assert rollout.writes("start_canary") == [("1.2.4", 0)]
    assert rollout.saved().state is State.DEPLOYING and controller.outcome == "incomplete"


async def test_start_without_a_version_is_refused():
    rollout = Rollout()
    result = await rollout.intent("start", version="")
    assert (result.ok, result.message) == (False, "start needs a version")
    assert rollout.cluster.writes == [] and rollout.of(EventKind.REFUSED)[-1].message == "start needs a version"


async def test_start_whose_write_fails_is_reported_and_leaves_no_rollout():
    rollout = Rollout()
    rollout.cluster.fail_next("start_canary")
    result = await rollout.intent("start", version="1.2.4")
    assert (result.ok, result.message) == (False, "perception: start failed: start canary failed: start_canary: injected failure (HTTP 500)")
    assert rollout.controller.state is State.IDLE and rollout.controller.outcome is None


async def test_a_new_start_after_a_rollback_forgets_the_old_rollout():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 2)
    assert (await rollout.intent("rollback")).ok
    assert rollout.controller.decisions
    assert (await rollout.intent("start", version="1.2.5")).ok
    controller = rollout.controller
    assert controller.decisions == [] and controller.verdict is None and controller.version == "1.2.5"
    assert (controller.state, controller.weight, controller.phase) == (State.DEPLOYING, 0, 0)


async def test_start_is_refused_while_a_rollout_is_active():
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1)
    assert (await rollout.intent("start", version="2")).message == "cannot start while paused"


# ---------------------------------------------------------------- pause, resume, approve

@pytest.mark.parametrize("state", [State.OBSERVING, State.AWAITING_APPROVAL])
async def test_pause_holds_the_rollout_and_says_so(state):
    rollout = Rollout()
    await rollout.resume_at(state, 1)
    result = await rollout.intent("pause")
    assert (result.ok, result.message) == (True, "perception: pause at 25%")
    assert rollout.controller.state is State.PAUSED and rollout.controller.reason == "paused by console"
    assert rollout.saved().state is State.PAUSED
    hold = rollout.controller.decisions[-1]
    assert (hold.action, hold.reason) == ("hold", "paused by console")
    action = rollout.of(EventKind.ACTION)[-1]
    assert (action.data["what"], action.data["why"], action.data["from_weight"], action.data["to_weight"]) == \
        ("pause", "key", 25, 25)


async def test_pause_works_while_deploying_and_is_refused_when_paused():
    rollout = Rollout()
    assert (await rollout.intent("start", version="1.2.4")).ok
    assert (await rollout.intent("pause")).ok and rollout.controller.state is State.PAUSED
    assert (await rollout.intent("pause")).message == "cannot pause while paused"


async def test_resume_observes_again_and_the_phase_clock_counts_from_the_resume():
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1, elapsed=100.0)
    await rollout.clock.advance(500)
    result = await rollout.intent("resume")
    assert (result.ok, result.message) == (True, "perception: resume at 25%")
    assert rollout.controller.state is State.OBSERVING
    assert rollout.controller.reason == "resumed by console; observing phase early (25%)"
    assert rollout.saved().state is State.OBSERVING
    await rollout.clock.advance(10)
    await rollout.session.step()
    assert rollout.controller.phase_elapsed == 110.0  # the paused 500 s do not count


async def test_resume_is_refused_unless_paused():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    assert (await rollout.intent("resume")).message == "cannot resume while observing"


FORBIDDEN = ('configmaps "perception-canary-rollout" is forbidden: User "watcher" cannot patch resource '
             '"configmaps" in API group "" in the namespace "butterfly"')


@pytest.mark.parametrize(("intent", "state", "stays"), [("resume", State.PAUSED, State.PAUSED),
                                                         ("pause", State.OBSERVING, State.PAUSED)])
async def test_a_person_move_whose_record_the_cluster_refuses_is_a_failure_naming_the_refusal(intent, state, stays):
    """resume, pause and approve write only the record: a refused save is no "done" (issue 11's watcher
    Role); a refused resume is undone, a refused pause still stops this console (the safe side)."""
    rollout = Rollout()
    await rollout.resume_at(state, 1)
    actions = len(rollout.of(EventKind.ACTION))
    rollout.cluster.fail_next("save_record", error=ClusterError(FORBIDDEN, retryable=False, status=403))
    result = await rollout.intent(intent)
    assert (result.ok, result.message) == (False, f"perception: {intent} failed: saving the rollout record "
                                                  f"failed: {FORBIDDEN}")
    assert rollout.controller.state is stays and rollout.saved().state is state
    assert len(rollout.of(EventKind.ACTION)) == actions  # nothing announced as done


async def test_approving_a_review_covers_the_rest_of_the_phase():
    rollout = Rollout(outcome=Outcome.MANUAL_REVIEW)
    await rollout.resume_at(State.OBSERVING, 0, judged=True)
    assert rollout.controller.state is State.AWAITING_APPROVAL
    result = await rollout.intent("approve")
    assert (result.ok, result.message) == (True, "perception: approve at 10%")
    assert rollout.controller.reason == "approved by console; observing phase initial (10%)"
    for _ in range(3):
        await rollout.clock.advance(10)
        await rollout.session.step()
    assert rollout.controller.state is State.OBSERVING and rollout.controller.phase_elapsed == 30.0


async def test_approving_a_completed_phase_advances():
    rollout = Rollout(auto=False)
    await rollout.resume_at(State.AWAITING_APPROVAL, 3, elapsed=900.0, mode="manual")
    result = await rollout.intent("approve")
    assert (result.ok, result.message) == (True, "perception: advanced to 100%")
    assert rollout.controller.phase == 4 and rollout.writes("set_weight") == [100]


async def test_approve_is_refused_unless_awaiting_approval():
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1)
    assert (await rollout.intent("approve")).message == "cannot approve while paused"


# ---------------------------------------------------------------- rollback

@pytest.mark.parametrize("state", [State.OBSERVING, State.PAUSED, State.AWAITING_APPROVAL])
async def test_rollback_from_every_active_state(state):
    rollout = Rollout()
    await rollout.resume_at(state, 2)
    result = await rollout.intent("rollback")
    assert (result.ok, result.message) == (True, "perception: rolled back")
    assert rollout.controller.state is State.ROLLED_BACK and rollout.controller.weight == 0
    assert rollout.controller.decisions[-1].reason == "rollback by console"
    assert rollout.writes("rollback") == [None]


async def test_rollback_while_deploying_and_with_a_reason():
    rollout = Rollout()
    assert (await rollout.intent("start", version="1.2.4")).ok
    result = await rollout.intent("rollback", reason="wrong build")
    assert result.ok and rollout.controller.decisions[-1].reason == "wrong build"


async def test_rollback_is_refused_without_a_canary():
    rollout = Rollout()
    assert (await rollout.intent("rollback")).message == "cannot rollback while no canary"


# ---------------------------------------------------------------- set_mode

async def test_set_mode_manual_then_auto():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    manual = await rollout.intent("set_mode", auto=False)
    assert (manual.ok, manual.message) == (True, "perception: mode manual")
    assert rollout.controller.auto is False and rollout.controller.status.mode == "manual"
    assert rollout.saved().mode == "manual"
    assert rollout.of(EventKind.INFO)[-1].message == "mode manual (console)"
    automatic = await rollout.intent("set_mode", auto=True)
    assert (automatic.ok, automatic.message) == (True, "perception: mode auto")
    assert rollout.controller.auto is True and rollout.saved().mode == "auto"
    assert rollout.of(EventKind.INFO)[-1].message == "mode auto (console)"
    assert rollout.of(EventKind.STATUS)[-1].data["status"].mode == "auto"


async def test_set_mode_works_in_any_state_of_a_console_that_drives():
    rollout = Rollout(auto=False)
    result = await rollout.intent("set_mode", auto=1)
    assert result.ok and rollout.controller.auto is True


# ---------------------------------------------------------------- delete_canary

@pytest.mark.parametrize("state", [State.ROLLED_BACK, State.IDLE])
async def test_delete_canary_after_a_rollback_or_when_idle(state):
    rollout = Rollout()
    if state is State.ROLLED_BACK:
        await rollout.resume_at(State.OBSERVING, 2)
        assert (await rollout.intent("rollback")).ok
    result = await rollout.intent("delete_canary")
    assert (result.ok, result.message) == (True, "perception: canary deleted")
    controller = rollout.controller
    assert (controller.state, controller.weight, controller.phase) == (State.IDLE, 0, -1)
    assert rollout.writes("delete_canary") == [None]
    if state is State.ROLLED_BACK:
        assert controller.reason == "canary deleted by console"


async def test_delete_canary_whose_write_fails_is_reported_as_a_failure():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 2)
    assert (await rollout.intent("rollback")).ok
    rollout.cluster.fail_next("delete_canary")
    result = await rollout.intent("delete_canary")
    assert (result.ok, result.message) == (False, "perception: deleting the canary failed: delete canary failed: delete_canary: injected failure (HTTP 500)")
    assert rollout.controller.state is State.ROLLED_BACK


async def test_delete_canary_is_refused_while_a_rollout_runs():
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1)
    assert (await rollout.intent("delete_canary")).message == "cannot delete the canary while paused"
    assert rollout.writes("delete_canary") == []


# ---------------------------------------------------------------- a console that does not drive

@pytest.mark.parametrize("name,kwargs", [("advance", {}), ("promote", {}), ("pause", {}), ("resume", {}),
                                         ("approve", {}), ("rollback", {}), ("set_mode", {"auto": False}),
                                         ("delete_canary", {}), ("start", {"version": "2"})])
async def test_every_intent_is_refused_while_another_console_drives(name, kwargs):
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1, driver="alice@laptop")
    result = await rollout.intent(name, **kwargs)
    verb = {"set_mode": "change mode", "delete_canary": "delete the canary"}.get(name, name)
    assert (result.ok, result.message) == (False, f"read-only: alice@laptop drives perception; {verb} refused")
    assert rollout.of(EventKind.REFUSED)[-1].message == result.message
    assert [op for _, op, _, _ in rollout.cluster.writes] == []


async def test_a_console_whose_identity_drives_is_not_blocked():
    rollout = Rollout(identity="me@host")
    await rollout.resume_at(State.PAUSED, 1, driver="me@host")
    assert (await rollout.intent("resume")).ok


# ---------------------------------------------------------------- take_over

async def test_take_over_makes_this_console_the_driver():
    rollout = Rollout(identity="me@host")
    await rollout.resume_at(State.PAUSED, 1, driver="alice@laptop")
    result = await rollout.intent("take_over")
    assert (result.ok, result.message) == (True, "perception: this console drives it now (was alice@laptop)")
    assert rollout.controller.snapshot.driver == "me@host" and rollout.cluster.services[SERVICE].driver == "me@host"
    action = rollout.of(EventKind.ACTION)[-1]
    assert action.message == "took over perception from alice@laptop (key, console)"
    assert (action.data["what"], action.data["why"]) == ("take_over", "key")
    assert (await rollout.intent("resume")).ok


async def test_take_over_of_nobody_names_the_console_as_driver():
    rollout = Rollout()
    result = await rollout.intent("take_over")
    assert (result.ok, result.message) == (True, "perception: this console drives it now (was nobody)")
    assert rollout.cluster.services[SERVICE].driver is None


async def test_take_over_refused_read_only_or_without_leases_and_a_failure_is_reported():
    read_only = Rollout(read_only=True)
    assert (await read_only.intent("take_over")).message == "read-only: this console only watches; take over refused"
    rollout = Rollout()
    rollout.cluster.take_over = None  # a cluster without console leases (as the simulated world)
    refused = await rollout.intent("take_over")
    assert (refused.ok, refused.message) == (False, "no console leases here: there is nothing to take over")
    broken = Rollout()
    broken.cluster.fail_next("take_over", error=RuntimeError("lease conflict"))
    failed = await broken.intent("take_over")
    assert (failed.ok, failed.message) == (False, "perception: take over failed: lease conflict")
    error = broken.of(EventKind.ERROR)[-1]
    assert error.message == "take over failed: lease conflict" and error.data["retryable"] is False


# ---------------------------------------------------------------- what each intent leaves in the audit trail

def actions(rollout: Rollout, what: str) -> list:
    return [e for e in rollout.of(EventKind.ACTION) if e.data["what"] == what]


async def test_each_write_through_an_intent_is_recorded_as_a_persons():
    rollout = Rollout()
    await rollout.clock.advance(100)
    assert (await rollout.intent("start", version="1.2.4")).ok
    start = actions(rollout, "start_canary")[-1]
    assert (start.data["why"], start.data["from_weight"], start.data["to_weight"], start.at) == ("key", 0, 0, 100.0)
    await rollout.session.step()
    assert (await rollout.intent("promote")).ok
    await rollout.controller.drain()
    promote = actions(rollout, "promote")[-1]
    assert (promote.data["why"], promote.data["from_weight"], promote.data["to_weight"]) == ("key", 10, 100)
    other = Rollout()
    await other.resume_at(State.OBSERVING, 2)
    assert (await other.intent("rollback")).ok
    rollback = actions(other, "rollback")[-1]
    assert (rollback.data["why"], rollback.data["from_weight"], rollback.data["to_weight"]) == ("key", 50, 0)
    assert (await other.intent("delete_canary")).ok
    delete = actions(other, "delete_canary")[-1]
    assert (delete.data["why"], delete.data["from_weight"], delete.data["to_weight"]) == ("key", 0, 0)


async def test_refusals_and_mode_changes_name_the_service_and_the_time():
    rollout = Rollout()
    await rollout.clock.advance(42)
    await rollout.intent("resume")
    refused = rollout.of(EventKind.REFUSED)[-1]
    assert (refused.service, refused.at) == (SERVICE, 42.0)
    await rollout.intent("set_mode", auto=False)
    info = rollout.of(EventKind.INFO)[-1]
    assert (info.service, info.at) == (SERVICE, 42.0)


async def test_a_forced_advance_from_the_last_phase_promotes_past_a_fail():
    rollout = Rollout(outcome=Outcome.FAIL, auto_rollback=False)
    await rollout.resume_at(State.OBSERVING, 4, judged=True)
    assert rollout.controller.state is State.AWAITING_APPROVAL
    assert not (await rollout.intent("advance")).ok
    assert (await rollout.intent("advance", force=True)).ok
    await rollout.controller.drain()
    assert rollout.controller.state is State.PROMOTED


class WithoutLeases:
    """A cluster with no console leases at all (no take_over), as a plain kubeconfig without Lease RBAC."""

    def __init__(self, inner: FakeCluster) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        if name == "take_over":
            raise AttributeError(name)
        return getattr(self._inner, name)


async def test_take_over_without_leases_is_refused():
    rollout = Rollout()
    rollout.controller.cluster = WithoutLeases(rollout.cluster)
    result = await rollout.intent("take_over")
    assert (result.ok, result.message) == (False, "no console leases here: there is nothing to take over")


async def test_take_over_records_the_weight_and_who_drove_before():
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1)
    assert (await rollout.intent("take_over")).ok
    action = actions(rollout, "take_over")[-1]
    assert (action.data["from_weight"], action.data["to_weight"]) == (25, 25)
    assert action.message.startswith("took over perception from nobody (")


# ---------------------------------------------------------------- a canary with no ready pod

async def without_ready_pod() -> Rollout:
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1)
    rollout.cluster.ready_after = 1e9
    await rollout.clock.advance(10)
    await rollout.session.step()
    assert rollout.controller.weight == 0  # its traffic taken away
    return rollout


async def test_resume_advance_and_promote_are_refused_while_no_canary_pod_is_ready():
    rollout = await without_ready_pod()
    resume = await rollout.intent("resume")
    assert (resume.ok, resume.message) == (False, "cannot resume: no ready canary pod (1 listed); "
                                                  "it would answer its traffic with 503s")
    for intent in ("advance", "promote"):
        refused = await rollout.intent(intent)
        assert (refused.ok, refused.message) == (False, f"cannot {intent}: no ready canary pod (0/1); "
                                                        "force to do it anyway")
    assert (await rollout.intent("advance", force=True)).ok and rollout.controller.weight == 50


async def test_resume_after_the_pod_is_ready_again_restores_the_phase_weight():
    rollout = await without_ready_pod()
    rollout.cluster.ready_after = 0.0
    await rollout.clock.advance(10)
    await rollout.session.step()
    rollout.cluster.fail_next("set_weight")
    failed = await rollout.intent("resume")
    assert (failed.ok, failed.message) == (False, "perception: resume failed: set weight failed: set_weight: injected failure (HTTP 500)")
    assert rollout.controller.state is State.PAUSED and rollout.controller.weight == 0
    assert (await rollout.intent("resume")).ok
    assert rollout.controller.weight == 25 and rollout.writes("set_weight")[-1] == 25
    assert rollout.controller.state is State.OBSERVING


# ---------------------------------------------------------------- paths the mutation run found unwatched

async def test_start_waits_for_a_ready_pod_and_rolls_back_at_the_progress_deadline():
    """The deadline counts from the start, not from when the controller was made long before."""
    rollout = Rollout(progress_deadline=600.0)
    rollout.cluster.ready_after = 1e9  # the canary pod never becomes ready
    await rollout.session.step()  # a console that has looked once, as every command and the dashboard do
    await rollout.clock.advance(5000)
    assert (await rollout.intent("start", version="1.2.4")).ok
    assert rollout.controller.reason == "waiting for a ready canary pod before sending it traffic"
    for seconds, state in ((10, State.DEPLOYING), (580, State.DEPLOYING), (20, State.ROLLED_BACK)):
        await rollout.clock.advance(seconds)
        await rollout.session.step()
        await rollout.controller.drain()
        assert rollout.controller.state is state, seconds
    assert rollout.controller.reason.startswith("rolled back from 0%: no ready canary pod within 10m")


async def test_resume_after_a_pause_while_deploying_gives_the_first_phase_its_weight_as_a_persons_write():
    rollout = Rollout()
    rollout.cluster.ready_after = 1e9
    assert (await rollout.intent("start", version="1.2.4")).ok
    assert (await rollout.intent("pause")).ok
    rollout.cluster.ready_after = 0.0
    await rollout.clock.advance(10)
    await rollout.session.step()
    assert (rollout.controller.state, rollout.controller.phase, rollout.controller.weight) == (State.PAUSED, 0, 0)
    result = await rollout.intent("resume")
    assert (result.ok, result.message) == (True, "perception: resume at 10%")
    assert rollout.writes("set_weight") == [10] and rollout.controller.weight == 10
    action = actions(rollout, "set_weight")[-1]
    assert (action.data["why"], action.data["from_weight"], action.data["to_weight"]) == ("key", 0, 10)


async def test_resume_of_a_paused_record_before_any_phase_writes_no_weight():
    """A record paused before the first phase (phase −1) names no phase weight to restore."""
    rollout = Rollout()
    svc = rollout.cluster.services[SERVICE]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at = "1.2.4", 1, -5000.0
    svc.weight, svc.weights = 0, [(float("-inf"), 0)]
    svc.record = RolloutRecord(State.PAUSED, -1, 0, -100.0, 0.0, "1.2.4", mode="auto", driver="")
    await rollout.session.step()
    assert (rollout.controller.state, rollout.controller.phase) == (State.PAUSED, -1)
    assert (await rollout.intent("resume")).ok
    assert rollout.writes("set_weight") == [] and rollout.controller.weight == 0


async def test_a_refused_resume_is_undone_to_the_reason_before():
    rollout = Rollout()
    await rollout.resume_at(State.PAUSED, 1)
    reason = rollout.controller.reason
    rollout.cluster.fail_next("save_record", error=ClusterError(FORBIDDEN, retryable=False, status=403))
    result = await rollout.intent("resume")
    assert not result.ok and result.failed
    assert (rollout.controller.state, rollout.controller.reason) == (State.PAUSED, reason)
    assert rollout.of(EventKind.STATE)[-1].data == {"from": "observing", "to": "paused", "reason": reason}


async def test_a_failed_write_is_a_failure_and_a_refusal_is_not():
    rollout = Rollout()
    await rollout.resume_at(State.OBSERVING, 1)
    refused = await rollout.intent("resume")
    assert (refused.ok, refused.failed) == (False, False)
    rollout.cluster.fail_next("set_weight")
    failed = await rollout.intent("advance")
    assert (failed.ok, failed.failed) == (False, True)
    rollout.controller.write_failure = ""  # a write that failed without a word from the server
    said = rollout.controller._failed("advance")
    assert (said.ok, said.failed, said.message) == (False, True, "perception: advance failed: see the error")


async def test_a_forced_promote_goes_ahead_while_no_canary_pod_is_ready():
    rollout = await without_ready_pod()
    result = await rollout.intent("promote", force=True)
    assert (result.ok, result.message) == (True, "perception: promoting 1.2.4")
    await rollout.controller.drain()
    assert rollout.writes("promote") == ["1.2.4"]


async def test_drive_makes_this_console_the_driver_unless_it_only_watches():
    rollout = Rollout(drive=())
    await rollout.resume_at(State.PAUSED, 1)
    assert not rollout.controller.driving
    result = await rollout.intent("drive")
    assert (result.ok, result.message) == (True, "perception: this console drives it")
    assert rollout.controller.driving
    watcher = Rollout(read_only=True)
    refused = await watcher.intent("drive")
    assert (refused.ok, refused.message) == (False, "read-only: this console only watches; drive refused")
    assert watcher.of(EventKind.REFUSED)[-1].message == refused.message
