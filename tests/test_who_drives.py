"""Tests of who drives (issue 12) on the in-memory fakes and a VirtualClock: a session drives only the services
it started, resumed, took over or was told to drive; an orphaned rollout is shown, never silently taken over;
the cluster is the truth (a weight, a replica count, a Deployment or a stable image changed by someone else
pauses the service and is never written over); a canary with no ready pod past the deploy phase gets its
traffic taken away at once; every pause and override leaves a CamelCase audit Event with the numbers.
"""

from __future__ import annotations

from typing import Any

from console.engine.audit import EVENT_REASONS
from console.engine.clock import VirtualClock
from console.engine.config import Config, Service
from console.engine.model import Event, EventKind, RolloutRecord, State, Track
from console.engine.session import Session
from tests.fakes import FakeCluster, FakeMetrics, Rig, Traffic


def make(*, services=("perception", "capsule"), drive=(), canary=None, **config: Any):
    config_obj = Config(services=[Service(name=s) for s in services], **config)
    clock = VirtualClock()
    cluster = FakeCluster(clock, services, identity="me@here")
    metrics = FakeMetrics(cluster, rps=400.0, canary=canary or {})
    session = Session(config_obj, cluster, metrics, clock, drive=drive)
    events: list[Event] = []
    session.bus.subscribe(events.append)
    return session, cluster, clock, events


def under_way(cluster: FakeCluster, service: str, weight: int, record: RolloutRecord) -> None:
    """A canary another (gone) console started: pod up, traffic at ``weight``, its record saved."""
    svc = cluster.services[service]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at = record.version, 1, -5000.0
    svc.weight, svc.weights, svc.record = weight, [(float("-inf"), 0), (-3000.0, weight)], record


def phase_done(weight: int = 10, phase: int = 0) -> RolloutRecord:
    """A record whose phase is already complete: a driver would advance at its first passing check."""
    return RolloutRecord(State.OBSERVING, phase, weight, -900, 900.0, "1.2.4", driver="alice on bastion-2",
                         updated_at=1000.0)


def written(cluster: FakeCluster, service: str) -> list[str]:
    return [op for _t, op, svc, _a in cluster.writes if svc == service]


async def started(session: Session, clock: VirtualClock, until: float, service: str = "perception") -> Rig:
    assert (await session.intent(service, "start", version="1.2.4")).ok
    rig = Rig(session, clock)
    await rig.until(until)
    return rig


async def test_a_session_drives_only_the_service_it_started():
    session, cluster, clock, _events = make()
    under_way(cluster, "capsule", 10, phase_done())
    rig = await started(session, clock, 600)
    await rig.close()
    assert written(cluster, "capsule") == []  # capsule's phase was complete: a driver would have advanced it
    assert cluster.services["capsule"].weight == 10
    assert session.controllers["perception"].status.driving
    assert not session.controllers["capsule"].status.driving


async def test_an_orphaned_rollout_is_shown_with_its_last_driver_never_taken_over():
    session, cluster, clock, _events = make()
    under_way(cluster, "capsule", 10, phase_done())
    rig = Rig(session, clock)
    await rig.until(300)
    await rig.close()
    status = session.controllers["capsule"].status
    assert written(cluster, "capsule") == []
    assert status.state is State.OBSERVING and status.weight == 10
    assert "no driver since" in status.reason and "(last: alice on bastion-2)" in status.reason
    assert "run capsule" in status.reason


async def test_told_to_drive_resumes_a_rollout_already_under_way():
    session, cluster, clock, _events = make(drive=("capsule",))
    under_way(cluster, "capsule", 10, phase_done())
    rig = Rig(session, clock)
    await rig.until(60)
    await rig.close()
    assert [w for _t, w in cluster.writes_of("set_weight", "capsule")] == [25]
    assert cluster.services["capsule"].record.driver == "me@here"


async def test_a_weight_of_0_set_by_hand_is_a_stop_never_overwritten():
    session, cluster, clock, events = make()
    rig = await started(session, clock, 300)
    assert cluster.services["perception"].weight == 10
    cluster.services["perception"].weight = 0  # kubectl annotate … canary-weight=0 --overwrite
    cluster.services["perception"].weights.append((clock.now(), 0))
    await rig.until(300 + 10)  # one check
    controller = session.controllers["perception"]
    assert controller.state is State.PAUSED
    assert "weight set to 0 outside the console" in controller.reason and "was 10%" in controller.reason
    assert controller.status.weight == 0
    await rig.until(4000)  # long past every phase end
    await rig.close()
    assert cluster.services["perception"].weight == 0
    assert [w for _t, w in cluster.writes_of("set_weight")] == [10]  # only the console's own first weight
    reasons = [reason for _s, reason, _m in cluster.events]
    assert "CanaryOverridden" in reasons and "CanaryPaused" in reasons
    override = next(m for _s, r, m in cluster.events if r == "CanaryOverridden")
    assert "10%" in override and "0%" in override


async def test_a_hand_set_weight_is_respected_and_shown_live():
    session, cluster, clock, _events = make()
    rig = await started(session, clock, 300)
    cluster.services["perception"].weight = 50
    await rig.until(2000)
    await rig.close()
    controller = session.controllers["perception"]
    assert controller.state is State.PAUSED and controller.status.weight == 50
    assert "weight set to 50 outside the console" in controller.reason
    assert cluster.services["perception"].weight == 50 and cluster.services["perception"].record.weight == 50
    assert [w for _t, w in cluster.writes_of("set_weight")] == [10]


async def test_a_canary_scaled_to_0_loses_its_traffic_at_once_and_never_advances():
    session, cluster, clock, events = make()
    rig = await started(session, clock, 300)
    cluster.services["perception"].canary_replicas = 0  # kubectl scale deploy perception-canary --replicas=0
    await rig.until(310)
    controller = session.controllers["perception"]
    assert cluster.services["perception"].weight == 0
    assert controller.state is State.PAUSED
    assert "no ready canary pod" in controller.reason and "scaled to 0 replicas outside the console" in controller.reason
    refused = await session.intent("perception", "advance")
    assert not refused.ok and "no ready canary pod" in refused.message and "force" in refused.message
    refused = await session.intent("perception", "resume")
    assert not refused.ok and "no ready canary pod" in refused.message
    await rig.until(3000)
    await rig.close()
    assert [w for _t, w in cluster.writes_of("set_weight")] == [10, 0]
    assert cluster.writes_of("rollback") == []


async def test_a_canary_scaled_to_0_whose_pod_is_still_ready_loses_its_traffic_in_the_check_that_sees_it():
    """The ReplicaSet controller of a busy cluster deletes the pod after the check that sees replicas 0 (CI's
    clean-clone run of e4d1e8f: paused at 10 % with the traffic still on, and a headless run ends there)."""
    session, cluster, clock, _events = make()
    rig = await started(session, clock, 300)
    cluster.services["perception"].pods_linger = True
    cluster.services["perception"].canary_replicas = 0
    await rig.until(310)  # the next check, the pod still Ready
    controller = session.controllers["perception"]
    assert controller.snapshot.ready_count(Track.CANARY) == (1, 1)
    assert controller.state is State.PAUSED and cluster.services["perception"].weight == 0
    assert "scaled to 0 replicas outside the console" in controller.reason
    assert "canary pods going away with their Deployment scaled to 0 (1/1 ready)" in controller.reason
    await rig.close()


async def test_a_deleted_canary_deployment_is_named_and_its_traffic_taken_away():
    session, cluster, clock, _events = make()
    rig = await started(session, clock, 300)
    cluster.services["perception"].canary_deployment = False  # kubectl delete deploy perception-canary
    await rig.until(310)
    await rig.close()
    controller = session.controllers["perception"]
    assert controller.state is State.PAUSED and cluster.services["perception"].weight == 0
    assert "canary Deployment perception-canary was deleted outside the console" in controller.reason


async def test_the_stable_image_changed_by_hand_pauses_the_rollout():
    session, cluster, clock, _events = make()
    rig = await started(session, clock, 300)
    cluster.services["perception"].stable_version = "1.2.5"  # kubectl set image deploy/perception …
    await rig.until(2000)
    await rig.close()
    controller = session.controllers["perception"]
    assert controller.state is State.PAUSED
    assert "stable image changed to 1.2.5 outside the console (was 1.2.3)" in controller.reason
    assert [w for _t, w in cluster.writes_of("set_weight")] == [10]


async def test_a_forced_advance_with_no_ready_canary_pod_goes_and_says_why():
    session, cluster, clock, _events = make()
    rig = await started(session, clock, 300)
    cluster.services["perception"].canary_replicas = 0
    await rig.until(310)
    cluster.services["perception"].canary_replicas = 1
    cluster.services["perception"].canary_created_at = clock.now() + 1000  # the new pod is not ready yet
    forced = await session.intent("perception", "advance", force=True)
    await rig.close()
    assert forced.ok


async def test_audit_events_are_camel_case_with_numbers_and_the_actor_kind():
    bad = Traffic(error_rate=0.04)
    session, cluster, clock, events = make(canary={"perception": lambda _t, w: bad if w >= 25 else Traffic()})
    rig = await started(session, clock, 3000)
    await rig.close()
    reasons = [reason for _s, reason, _m in cluster.events]
    assert set(reasons) <= set(EVENT_REASONS.values()), reasons
    assert "CanaryWeightChanged" in reasons and "CanaryRolledBack" in reasons
    rolled = next(m for _s, r, m in cluster.events if r == "CanaryRolledBack")
    assert rolled.startswith("rolled back at 25%: ") and "%" in rolled.split(":", 1)[1], rolled
    kinds = {e.data.get("why") for e in events if e.kind is EventKind.ACTION}
    assert kinds <= {"key", "command", "automatic", "controller", "outside"}, kinds
    record = cluster.services["perception"].record
    assert record.state is State.ROLLED_BACK and record.verdict == "fail" and record.weight == 0
    assert record.reason.startswith("rolled back from 25%")


async def test_a_person_rolling_back_leaves_no_passing_verdict_beside_rolled_back():
    session, cluster, clock, _events = make()
    rig = await started(session, clock, 400)
    assert (await session.intent("perception", "rollback")).ok
    await rig.close()
    record = cluster.services["perception"].record
    assert record.state is State.ROLLED_BACK and record.verdict != "pass"


async def test_close_out_saves_the_final_record_and_clears_the_driver():
    session, cluster, clock, _events = make()
    rig = await started(session, clock, 300)
    await rig.close()
    await session.close_out()
    record = cluster.services["perception"].record
    assert record.state is State.OBSERVING and record.weight == 10
    assert record.driver == "" and record.last_driver == "me@here" and record.updated_at == clock.now()
    assert written(cluster, "capsule") == []  # nothing driven, nothing saved


async def test_a_refused_intent_makes_no_one_the_driver():
    session, cluster, clock, _events = make()
    under_way(cluster, "capsule", 10, phase_done())
    await session.step()
    refused = await session.intent("capsule", "resume")  # it is observing, not paused
    assert not refused.ok
    rig = Rig(session, clock)
    await rig.until(300)
    await rig.close()
    await session.close_out()
    assert not session.controllers["capsule"].status.driving
    assert written(cluster, "capsule") == []
