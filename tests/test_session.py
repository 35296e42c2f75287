"""Tests of the session and audit rooms: one poll per step for all services, port failures as problems and
events, the run loop on the virtual clock, intent routing, the journal and its redaction, and the audit
Events left in the cluster.
"""

from __future__ import annotations

import asyncio
import json

from console.engine.audit import Journal, redact
from console.engine.clock import VirtualClock
from console.engine.config import Config
from console.engine.model import Event, EventKind, ServiceSnapshot, State, Track
from console.engine.ports import ClusterError, LogLine
from console.engine.session import Session
from tests.fakes import FakeCluster, FakeMetrics, Rig


def make(*, read_only: bool = False, journal: Journal | None = None, identity: str | None = None):
    config = Config()
    clock = VirtualClock()
    cluster = FakeCluster(clock, config.service_names, identity=identity)
    metrics = FakeMetrics(cluster, rps=400.0)
    session = Session(config, cluster, metrics, clock, read_only=read_only, journal=journal)
    events: list[Event] = []
    session.bus.subscribe(events.append)
    return session, cluster, metrics, clock, events


def kinds(events: list[Event], kind: EventKind) -> list[Event]:
    return [e for e in events if e.kind is kind]


async def test_one_snapshot_and_one_metrics_poll_per_step_for_all_services():
    session, cluster, metrics, _clock, events = make()
    for _ in range(3):
        await session.step()
    assert cluster.calls["snapshot_all"] == 3 and len(metrics.polls) == 3
    assert all(sorted(polled) == sorted(session.config.service_names) for _, polled in metrics.polls)
    statuses = kinds(events, EventKind.STATUS)
    assert len(statuses) == 3 * 6 and statuses[-1].data["status"].service in session.controllers
    assert [s.service for s in session.status_all()] == session.config.service_names
    assert all(s.state is State.IDLE for s in session.status_all())


async def test_run_steps_every_check_interval_on_the_clock_and_stops_when_told():
    session, cluster, _metrics, clock, _events = make()
    stop = asyncio.Event()
    task = asyncio.create_task(session.run(stop))
    await clock.run_until(95)
    assert session.steps == 10  # at 0, 10, …, 90
    stop.set()
    await task
    await clock.run_until(200)
    assert session.steps == 10 and cluster.calls["snapshot_all"] == 10


async def test_a_slow_snapshot_never_makes_steps_overlap():
    session, cluster, _metrics, clock, _events = make()
    active, most = 0, 0
    original = cluster.snapshot_all

    async def slow_snapshot(services):
        nonlocal active, most
        active += 1
        most = max(most, active)
        await clock.sleep(25)  # longer than the 10 s check interval
        active -= 1
        return await original(services)

    cluster.snapshot_all = slow_snapshot
    rig = Rig(session, clock)
    await rig.until(100)
    extra = asyncio.gather(session.step(), session.step())  # callers outside run() wait their turn too
    await rig.until(300)
    await extra
    await rig.close()
    assert most == 1 and session.steps >= 4


async def test_port_failures_become_problems_and_one_error_event_each_never_exceptions():
    session, cluster, metrics, _clock, events = make()
    await session.step()
    cluster.fail_next("snapshot_all", times=2, error=ClusterError("API server unreachable: token=hunter2"))
    metrics.fail_polls = 2
    await session.step()
    await session.step()
    perception = session.controllers["perception"].status
    assert perception.snapshot.problem.startswith("cluster unreachable: API server unreachable")
    assert "hunter2" not in perception.snapshot.problem
    assert perception.metrics.problem == "Prometheus unreachable: connection refused"
    assert perception.snapshot.pods == (await cluster.snapshot_all(["perception"]))["perception"].pods
    errors = [e for e in kinds(events, EventKind.ERROR) if e.service == "perception"]
    assert [e.data["port"] for e in errors] == ["cluster", "metrics"]  # reported once, not every step
    await session.step()
    back = [e.message for e in kinds(events, EventKind.INFO) if e.service == "perception"]
    assert back == ["cluster is back", "metrics is back"]
    assert session.controllers["perception"].status.to_json()["problems"] == []


async def test_intents_route_to_controllers_and_unknown_ones_are_refused():
    session, cluster, _metrics, _clock, events = make()
    result = await session.intent("capsule", "start", version="2.0.0")
    assert result.ok and cluster.writes_of("start_canary") == [(0, ("2.0.0", 0))]
    assert session.controllers["capsule"].state is State.DEPLOYING
    assert session.controllers["perception"].state is State.IDLE
    unknown = await session.intent("kafka", "start", version="1")
    assert not unknown.ok and unknown.message.startswith("unknown service 'kafka'")
    assert kinds(events, EventKind.REFUSED)[-1].message == unknown.message


async def test_follow_logs_delegates_to_the_cluster_and_keeps_text_as_data():
    session, cluster, *_ = make()
    cluster.logs = [LogLine("perception-stable-0", Track.STABLE, "[@click=app.quit] \x1b[31m"),
                    LogLine("perception-canary-0", Track.CANARY, "ok")]
    got = [line async for line in session.follow_logs("perception", Track.STABLE)]
    assert got == cluster.logs[:1]


async def test_the_journal_writes_one_redacted_line_per_action(tmp_path):
    path = tmp_path / "deep" / "er" / "journal.jsonl"
    session, cluster, _metrics, clock, _events = make(journal=Journal(path), identity="kube-admin@prod")
    await session.intent("perception", "start", version="1.2.4")
    await session.step()
    await clock.advance(10)
    await session.intent("perception", "rollback", reason="Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2ln "
                                                          "password=swordfish token=abc123")
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    lines = [e for e in entries if e["entry"] == "action"]  # the others are the report's decisions and samples
    assert {e["entry"] for e in entries} >= {"action", "state", "decision"}
    assert [(e["what"], e["why"], e["from_weight"], e["to_weight"]) for e in lines] == \
        [("start_canary", "key", 0, 0), ("set_weight", "automatic", 0, 10), ("rollback", "key", 10, 0)]
    assert lines[0]["who"]["cluster"] == "kube-admin@prod" and lines[0]["who"]["user"]
    assert lines[0]["service"] == "perception" and lines[0]["time"].startswith("1970-01-01T00:00:00")
    text = path.read_text()
    for secret in ("eyJhbGciOi", "swordfish", "abc123"):
        assert secret not in text
    assert "password=[REDACTED]" in text
    # the same actions were left as Kubernetes Events on the canary, best effort
    await session.drain()
    assert [reason for _, reason, _ in cluster.events] == ["CanaryStarted", "CanaryWeightChanged", "CanaryRolledBack"]
    assert "swordfish" not in cluster.events[2][2]


async def test_a_failed_journal_write_is_an_error_event_not_an_exception(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    session, _cluster, _metrics, _clock, events = make(journal=Journal(blocker / "journal.jsonl"))
    result = await session.intent("perception", "start", version="1.2.4")
    assert result.ok
    errors = [e for e in kinds(events, EventKind.ERROR) if e.data.get("journal")]
    assert len(errors) == 1 and "journal write" in errors[0].message  # said once, though every line failed
    assert session.journal.failures >= 2


async def test_audit_events_are_best_effort_and_never_sent_when_read_only():
    session, cluster, _metrics, _clock, events = make()
    cluster.fail_next("record_event")
    await session.intent("perception", "start", version="1.2.4")
    await session.drain()
    assert any("recording the Kubernetes Event failed" in e.message for e in kinds(events, EventKind.ERROR))
    watcher, watched, *_ = make(read_only=True)
    assert not (await watcher.intent("perception", "start", version="1.2.4")).ok
    await watcher.drain()
    assert watched.attempts == []


def test_redaction_covers_bearer_tokens_key_values_and_jwts():
    assert redact("Authorization: Bearer abc.DEF-123") == "Authorization: Bearer [REDACTED]"
    assert redact({"m": ["token=abc", "api_key: xyz", "x"]}) == {"m": ["token=[REDACTED]", "api_key: [REDACTED]", "x"]}
    assert redact("id eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.sflKxwRJSMeKKF2QT4") == "id [REDACTED]"
    assert redact("weight 25 → 0 (key, alice)") == "weight 25 → 0 (key, alice)"


async def test_a_missing_service_in_the_cluster_answer_is_a_problem_not_a_crash():
    session, cluster, _metrics, _clock, _events = make()

    async def partial(services):
        return {"perception": ServiceSnapshot("perception", stable_version="1.2.3")}

    cluster.snapshot_all = partial
    await session.step()
    assert session.controllers["capsule"].status.snapshot.problem == "no snapshot for this service"
    assert session.controllers["perception"].status.stable_version == "1.2.3"


async def test_a_session_over_the_read_only_port_records_no_events_and_its_controllers_cannot_write():
    """The read-only port (ReadOnlyCluster) has no write method at all, and the session takes it as it is (it
    was once cast to a Cluster): however the session is flagged, no Kubernetes-Event sink is made over it, and a
    controller asked for its writer gets ReadOnlyError, not an AttributeError."""
    import pytest

    from console.engine.ports import ReadOnlyCluster, ReadOnlyError

    config = Config()
    clock = VirtualClock()
    cluster = FakeCluster(clock, config.service_names)
    session = Session(config, ReadOnlyCluster(cluster), FakeMetrics(cluster, rps=400.0), clock)
    assert "kubernetes" not in {sink.kind for sink in session.sinks.sinks}
    assert "kubernetes" in {sink.kind for sink in make()[0].sinks.sinks}
    controller = session.controllers[config.service_names[0]]
    with pytest.raises(ReadOnlyError, match="read-only"):
        controller._writer()
    await session.step()
    assert cluster.writes == []
