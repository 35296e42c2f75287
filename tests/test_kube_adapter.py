"""The Kubernetes adapter against the API double over real HTTP: snapshots from the pod watch and the
canary Ingress, the runbook's actions (start, advance, rollback, promote, delete), the record round-trip,
audit Events, log follow, and the objects it creates validated against the OpenAPI schema."""

from __future__ import annotations

import asyncio

import kubernetes_validate
import pytest

from console.adapters.kube_objects import WEIGHT, pod_of
from console.engine.config import Kube
from console.engine.model import RolloutRecord, State, Track
from console.engine.ports import Cluster, ClusterError
from tests.kubedouble.harness import SERVICES, console_on, seeded_double
from tests.kubedouble.stepclock import StepClock
from tests.kubedouble.workloads import reconcile


def _valid(obj: dict) -> None:
    kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)


async def test_snapshot_reads_pods_versions_and_no_canary(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        assert isinstance(cluster, Cluster)
        snaps = await cluster.snapshot_all(list(SERVICES))
        snap = snaps["perception"]
        assert snap.stable_version == "1.2.3" and snap.canary_version is None
        assert snap.canary_exists is False and snap.weight == 0 and snap.record is None
        assert snap.ready_count(Track.STABLE) == (2, 2) and snap.pods_of(Track.CANARY) == ()
        assert snap.problem is None and snap.driver is None
        # one pod LIST for the whole namespace, all services in one selector
        pod_lists = [r for r in double.requests if r.path.endswith("/pods") and r.query.get("watch") != "true"]
        assert len(pod_lists) == 1 and "perception" in pod_lists[0].query["labelSelector"]


def test_a_terminating_pod_whose_status_still_says_ready_is_not_ready():
    """A kubelet keeps a deleted pod's Ready condition True through its grace period, but the pod is no
    endpoint any more (EndpointSlice: not ready once terminating): it serves no share of traffic."""
    pod = {"metadata": {"name": "perception-canary-x", "labels": {"app.kubernetes.io/name": "perception",
                                                                   "track": "canary"}},
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    serving = pod_of(pod, Kube())
    terminating = pod_of({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-12-01T04:50:00Z"}},
                         Kube())
    assert serving is not None and serving[1].ready and serving[1].track is Track.CANARY
    assert terminating is not None and not terminating[1].ready and terminating[1].reason == "Terminating"


async def test_start_advance_rollback_then_delete(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.start_canary("perception", "1.2.4", 10)
        deploy = double.obj("deployments", "perception-canary")
        ingress = double.obj("ingresses", "perception-canary")
        service = double.obj("services", "perception-canary")
        for obj in (deploy, ingress, service):
            _valid(obj)
        assert deploy["spec"]["replicas"] == 1
        assert deploy["spec"]["template"]["metadata"]["labels"]["track"] == "canary"
        containers = deploy["spec"]["template"]["spec"]["containers"]
        assert containers[0]["image"].endswith("butterfly-perception:1.2.4")
        assert containers[0]["readinessProbe"]["httpGet"]["path"] == "/actuator/health/readiness"
        assert containers[1]["image"] == "envoyproxy/envoy:v1.30.1"  # sidecars kept as they are
        notes = ingress["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/canary"] == "true" and notes[WEIGHT] == "10"
        assert ingress["spec"]["rules"][0]["host"] == "perception.butterfly.io"
        assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "perception-canary"
        assert service["spec"]["selector"] == {"app.kubernetes.io/name": "perception", "track": "canary"}

        await cluster.watcher.wait_for(lambda: any("perception-canary" in p["metadata"]["name"]
                                                   for p in cluster.watcher.objects.values()))
        snap = (await cluster.snapshot_all(["perception"]))["perception"]
        assert snap.canary_exists and snap.canary_version == "1.2.4" and snap.weight == 10
        assert snap.ready_count(Track.CANARY) == (1, 1)

        await cluster.set_weight("perception", 25)
        assert double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT] == "25"
        patches = [r for r in double.writes() if r.method == "PATCH"]
        assert patches[-1].content_type.startswith("application/merge-patch+json")

        await cluster.rollback("perception")
        assert double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT] == "0"
        assert double.obj("deployments", "perception-canary")["spec"]["replicas"] == 0
        assert any(r.path.endswith("/deployments/perception-canary/scale") for r in double.writes())
        await cluster.watcher.wait_for(lambda: not any("perception-canary" in p["metadata"]["name"]
                                                       for p in cluster.watcher.objects.values()))
        snap = (await cluster.snapshot_all(["perception"]))["perception"]
        assert snap.weight == 0 and snap.pods_of(Track.CANARY) == () and snap.canary_exists

        await cluster.delete_canary("perception")
        for resource in ("deployments", "services", "ingresses"):
            assert double.obj(resource, "perception-canary") is None
        assert (await cluster.snapshot_all(["perception"]))["perception"].canary_exists is False


async def test_promote_sets_stable_image_waits_and_cleans_up(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.start_canary("capsule", "2.0.0", 10)
        await cluster.set_weight("capsule", 100)
        await cluster.promote("capsule", "2.0.0")
        stable = double.obj("deployments", "capsule")
        _valid(stable)
        images = [c["image"] for c in stable["spec"]["template"]["spec"]["containers"]]
        assert images == ["ghcr.io/254-studioz/butterfly-capsule:2.0.0", "envoyproxy/envoy:v1.30.1"]
        smp = [r for r in double.writes() if r.path.endswith("/deployments/capsule")]
        assert smp and smp[0].content_type.startswith("application/strategic-merge-patch+json")
        for resource in ("deployments", "services", "ingresses"):
            assert double.obj(resource, "capsule-canary") is None
        snap = (await cluster.snapshot_all(["capsule"]))["capsule"]
        assert snap.stable_version == "2.0.0" and not snap.canary_exists


async def test_promote_gives_up_at_the_deadline_when_the_rollout_is_stuck(tmp_path):
    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock) as cluster:
        await cluster.start_canary("plato", "3.1.0", 10)
        double.auto_rollout = False  # the stable rollout never completes
        start = clock.now()
        try:
            await cluster.promote("plato", "3.1.0")
        except Exception as exc:  # noqa: BLE001 - asserting the type below
            error = exc
        assert type(error).__name__ == "ClusterError" and error.retryable
        assert "did not complete within 10m" in str(error) and "waiting for the controller" in str(error)
        assert 600 <= clock.now() - start <= 600 + 2 * 2.0
        assert double.obj("deployments", "plato-canary") is not None  # canary kept: nothing promoted


async def test_a_stable_held_by_kubectl_rollout_pause_is_waited_for_not_timed_out(tmp_path):
    """While a person holds the stable Deployment (`kubectl rollout pause`) the promote deadline does not run:
    the promote waits for them past three deadlines, says it in the snapshot, and finishes once resumed."""
    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock) as cluster:
        await cluster.start_canary("plato", "3.1.0", 10)
        double.auto_rollout = False  # the paused stable does not roll
        stable = double.obj("deployments", "plato")
        stable["spec"]["paused"] = True
        double.store.put("deployments", "butterfly", stable, created=False)
        assert (await cluster.snapshot_all(["plato"]))["plato"].stable_paused
        start = clock.now()
        promote = asyncio.create_task(cluster.promote("plato", "3.1.0"))
        while clock.now() - start < 3 * 600 and not promote.done():
            await asyncio.sleep(0)
        assert not promote.done(), promote.exception()  # held past three deadlines, not failed
        stable = double.obj("deployments", "plato")
        stable["spec"]["paused"] = False  # `kubectl rollout resume`
        double.store.put("deployments", "butterfly", stable, created=False)
        double.auto_rollout = True
        reconcile(double.store, "butterfly", "plato")
        await asyncio.wait_for(promote, 30)
        assert double.obj("deployments", "plato-canary") is None
        assert not (await cluster.snapshot_all(["plato"]))["plato"].stable_paused


async def test_record_round_trip_and_resume_at_fifty_percent(tmp_path):
    clock = StepClock()
    async with seeded_double() as double:
        async with console_on(double, tmp_path, clock=clock, name="first") as first:
            await first.start_canary("nexus", "1.3.0", 10)
            await first.set_weight("nexus", 50)
            record = RolloutRecord(state=State.OBSERVING, phase=2, weight=50, phase_started_at=clock.now() - 400,
                                   phase_elapsed=312.5, version="1.3.0", verdict="pass", driver=first.identity)
            await first.save_record("nexus", record)
            _valid(double.obj("ingresses", "nexus-canary"))
        # the first console is gone (its lease released on close); a new one reads the cluster
        async with console_on(double, tmp_path, clock=clock, name="second") as second:
            snap = (await second.snapshot_all(["nexus"]))["nexus"]
            assert snap.weight == 50 and snap.record == record


async def test_an_audit_event_the_server_refuses_is_said_and_counted_never_silent(tmp_path):
    """A driver whose Role lacks create on events (issue 14): record_event raises, as the in-memory cluster's
    does, so the session's Event sink says each Event that could not be written and the controller's
    /metrics counts it (before, the failure was only kept in last_event_error, and nobody heard of it)."""
    from console.controller_command import ControllerMetrics
    from console.engine.model import EventKind
    from console.engine.session import Session
    from tests.test_kube_controller import SteadyMetrics

    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock) as cluster:
        double.deny("create", "events")
        with pytest.raises(ClusterError, match="forbidden: cannot create events"):
            await cluster.record_event("odyssey", "rollback", "rolled back")
        assert cluster.last_event_error and "forbidden" in cluster.last_event_error
        session = Session(cluster.config, cluster, SteadyMetrics({}), clock, actor=cluster.identity)
        metrics, said = ControllerMetrics(), []
        session.bus.subscribe(metrics.take)
        session.bus.subscribe(lambda e: said.append(e.message) if e.kind is EventKind.ERROR else None)
        assert (await session.intent("odyssey", "start", version="1.0.1")).ok
        await session.drain()
        failed = [m for m in said if m.startswith("recording the Kubernetes Event failed")]
        assert len(failed) == 1 and "cannot create events" in failed[0], said  # the start's Event, said once
        assert metrics.registry.get_sample_value("canary_console_errors_total", {"port": "kubernetes-events"}) == 1
        assert double.store.list("events", "butterfly") == []


async def test_events_name_the_actor_and_never_a_token(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.start_canary("odyssey", "9.9.9", 10)
        await cluster.record_event("odyssey", "rollback", f"rollback 25% → 0% (key) Bearer {double.token}")
        events = double.store.list("events", "butterfly")
        assert len(events) == 1 and cluster.last_event_error is None
        event = events[0]
        _valid(event)
        assert event["involvedObject"]["name"] == "odyssey-canary" and event["involvedObject"]["kind"] == "Deployment"  # router-independent
        assert cluster.identity in event["message"] and double.token not in event["message"]
        assert event["type"] == "Warning" and event["reason"] == "Rollback"
        assert double.token not in cluster.identity and double.token not in cluster.console_id


async def test_follow_logs_streams_lines_of_the_track_as_data(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.start_canary("synapse", "4.0.0", 10)
        await cluster.snapshot_all(["synapse"])
        await cluster.watcher.wait_for(lambda: any("synapse-canary" in p["metadata"]["name"]
                                                   for p in cluster.watcher.objects.values()))
        pod = next(p["metadata"]["name"] for p in cluster.watcher.objects.values()
                   if "synapse-canary" in p["metadata"]["name"])
        await double.log(pod, "started \x1b[31mred\x1b[0m")
        lines = cluster.follow_logs("synapse", Track.CANARY)
        first = await anext(lines)
        await double.log(pod, "second line")
        second = await anext(lines)
        await lines.aclose()
        assert (first.pod, first.track) == (pod, Track.CANARY)
        assert "\x1b" not in first.text and "red" in first.text
        assert second.text == "second line"
        log_requests = [r for r in double.requests if r.path.endswith(f"/pods/{pod}/log")]
        assert log_requests[0].query["follow"] == "true" and log_requests[0].query["container"] == "synapse"


async def test_follow_logs_reconnects_when_the_server_closes_the_stream(tmp_path):
    """API servers and proxies close long log streams; the follower opens it again (sinceSeconds covering
    the gap), says so in a marker line, and keeps following."""
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.snapshot_all(["plato"])
        await cluster.watcher.wait_for(lambda: any("plato" in p["metadata"]["name"]
                                                   for p in cluster.watcher.objects.values()))
        pod = next(p["metadata"]["name"] for p in cluster.watcher.objects.values() if "plato" in p["metadata"]["name"])
        lines = cluster.follow_logs("plato", Track.STABLE)
        await double.log(pod, "before the break")
        assert (await anext(lines)).text == "before the break"
        await double.drop_log_streams()
        await double.log(pod, "after the break")
        seen = []
        while not seen or seen[-1] != "after the break":
            seen.append((await asyncio.wait_for(anext(lines), 10)).text)
        await lines.aclose()
        assert any("log stream ended; reconnected" in text for text in seen), seen
        log_requests = [r for r in double.requests if r.path.endswith(f"/pods/{pod}/log")]
        assert len(log_requests) >= 2
        assert "sinceSeconds" in log_requests[-1].query and "tailLines" not in log_requests[-1].query


async def test_a_canary_service_left_by_an_interrupted_start_is_kept_and_one_that_differs_is_refused(tmp_path):
    """The canary Service is created, never patched (the driver Role has no `patch services`): a start that
    finds its own Service from an interrupted start keeps it; a Service someone changed is not rewritten."""
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.start_canary("capsule", "2.0.0", 0)
        mark = len(double.requests)
        await cluster.start_canary("capsule", "2.0.0", 0)  # as a driver resuming an interrupted start
        assert not [r for r in double.requests[mark:] if r.method == "PATCH" and "/services/" in r.path]
        changed = double.obj("services", "capsule-canary")
        changed["spec"]["selector"] = {"app.kubernetes.io/name": "capsule", "track": "stable"}
        double.store.put("services", "butterfly", changed, created=False)
        with pytest.raises(ClusterError, match="a Service capsule-canary already exists and does not select"):
            await cluster.start_canary("capsule", "2.0.0", 0)
        assert double.obj("services", "capsule-canary")["spec"]["selector"]["track"] == "stable"


async def test_a_rollback_whose_scale_is_refused_as_read_only_says_so_and_is_not_retried(tmp_path):
    """Found by the type checker: the combined error of a rollback was built with arguments ReadOnlyError
    does not take, so a refused part raised a TypeError (retried forever) instead of the refusal."""
    from console.engine.ports import ReadOnlyError

    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.start_canary("perception", "1.2.4", 10)
        real_call = cluster.api.call

        async def refusing(method, path, *args, **kwargs):
            if method == "PATCH" and path.endswith("/scale"):
                raise ReadOnlyError("read-only: refused to send PATCH")
            return await real_call(method, path, *args, **kwargs)

        cluster.api.call = refusing
        try:
            await cluster.rollback("perception")
        except ReadOnlyError as exc:
            assert "scale to 0 of Deployment perception-canary" in str(exc) and exc.retryable is False
        else:
            raise AssertionError("the refused scale was not reported")
