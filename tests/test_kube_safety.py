"""The Kubernetes adapter's safety rules against the API double: one driver per service (Leases, takeover,
a lost lease stops writes at once), read-only sends no write, and the 401/403, 404, 409, 410 and 500
paths become states, retries or ClusterErrors that name what failed."""

from __future__ import annotations

import asyncio

import pytest

from console.engine.clock import VirtualClock
from console.engine.config import Config
from console.engine.model import RolloutRecord, State
from console.engine.ports import ClusterError, ReadOnlyError
from tests.kubedouble.harness import SERVICES, console_on, seeded_double
from tests.kubedouble.stepclock import StepClock

LEASES = r"/leases"


async def test_two_consoles_one_driver_until_takeover(tmp_path):
    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock, name="a") as a, \
            console_on(double, tmp_path, clock=clock, name="b") as b:
        await a.start_canary("perception", "1.2.4", 10)
        lease = double.obj("leases", "canary-console-perception")
        assert lease["spec"]["holderIdentity"] == "a"
        writes_before = len(double.writes())
        with pytest.raises(ReadOnlyError, match="^read-only: a drives"):
            await b.set_weight("perception", 25)
        assert len(double.writes()) == writes_before  # b sent nothing
        snap = (await b.snapshot_all(["perception"]))["perception"]
        assert snap.driver == "a"
        assert (await a.snapshot_all(["perception"]))["perception"].driver == a.identity
        await b.take_over("perception")
        await b.set_weight("perception", 25)
        assert double.obj("leases", "canary-console-perception")["spec"]["leaseTransitions"] == 1
        # a sees b in the snapshot and stops writing at once
        assert (await a.snapshot_all(["perception"]))["perception"].driver == "b"
        with pytest.raises(ReadOnlyError):
            await a.set_weight("perception", 50)
        assert double.obj("ingresses", "perception-canary")["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/canary-weight"] == "25"


async def test_the_console_that_loses_the_race_to_create_the_lease_is_told_who_drives(tmp_path):
    """b reads no Lease, a creates it, b's create gets 409 AlreadyExists: b reads the Lease again and is
    refused with the winner's name (the real server's race, tests/test_real_watch_and_lease.py)."""
    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock, name="a") as a, \
            console_on(double, tmp_path, clock=clock, name="b") as b:
        await a.start_canary("odyssey", "1.2.4", 10)
        double.fail(r"/leases/canary-console-odyssey$", 404, times=1, method="GET")  # b read before a created
        writes_before = len(double.writes())
        with pytest.raises(ReadOnlyError, match="^read-only: a drives odyssey"):
            await b.start_canary("odyssey", "1.2.4", 10)
        assert [r.method for r in double.writes()[writes_before:]] == ["POST"]  # the refused create, no more
        assert double.obj("leases", "canary-console-odyssey")["spec"]["holderIdentity"] == "a"


async def test_an_expired_lease_can_be_taken_without_takeover(tmp_path):
    clock = StepClock()
    async with seeded_double() as double:
        config = Config()
        config.kube.lease_seconds = 15
        async with console_on(double, tmp_path, clock=clock, name="a", config=config) as a, \
                console_on(double, tmp_path, clock=clock, name="b", config=config) as b:
            await a.start_canary("capsule", "2.0.0", 10)
            with pytest.raises(ReadOnlyError):
                await b.set_weight("capsule", 25)
            clock.advance(16)  # a crashed: no renewal for longer than the lease
            await b.set_weight("capsule", 25)
            assert double.obj("leases", "canary-console-capsule")["spec"]["holderIdentity"] == "b"


async def test_renewal_loop_and_a_lost_lease_stops_writes_at_once(tmp_path):
    clock = VirtualClock(start=1_700_000_000.0)
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock, renew=True) as a:
        await a.start_canary("odyssey", "1.0.1", 10)
        renew_time = double.obj("leases", "canary-console-odyssey")["spec"]["renewTime"]
        await clock.advance(5.0)  # a third of the 15 s lease
        await a.leases.wait_rounds(1)
        assert double.obj("leases", "canary-console-odyssey")["spec"]["renewTime"] != renew_time
        await a.set_weight("odyssey", 25)
        double.fail(LEASES, 500, times=100)  # the API server fails the renewals
        await clock.advance(5.0)
        await a.leases.wait_rounds(2)
        writes = len(double.writes())
        with pytest.raises(ReadOnlyError, match="could not renew"):
            await a.set_weight("odyssey", 50)
        assert len(double.writes()) == writes
        # the lease is still ours (renewed 5 s ago, 15 s lease): a failing renewal never blocks a rollback
        await a.rollback("odyssey")
        assert double.obj("ingresses", "odyssey-canary")["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/canary-weight"] == "0"
        double.faults.clear()  # the server is back and nobody took the lease: driving again
        await clock.advance(5.0)
        await a.leases.wait_rounds(3)
        await a.set_weight("odyssey", 50)


async def test_a_rollback_is_refused_once_a_lease_that_could_not_be_renewed_has_expired(tmp_path):
    clock = VirtualClock(start=1_700_000_000.0)
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock, renew=True) as a:
        await a.start_canary("odyssey", "1.0.1", 10)
        double.fail(LEASES, 500, times=1000)
        for rounds in (1, 2, 3):  # every renewal fails and the lease runs out: another console may hold it
            await clock.advance(5.5)
            await a.leases.wait_rounds(rounds)
        writes = len(double.writes())
        with pytest.raises(ReadOnlyError):
            await a.rollback("odyssey")
        assert len(double.writes()) == writes


async def test_a_console_whose_clock_runs_ahead_cannot_take_a_live_lease(tmp_path):
    # client-go's rule: a record is expired only when it has stood unchanged for its duration by our own
    # clock; renewTime compared with a skewed wall clock would let b take a's live lease at once
    a_clock, b_clock = StepClock(), StepClock(start=1_700_000_000.0 + 30)
    async with seeded_double() as double:
        config = Config()
        config.kube.lease_seconds = 15
        async with console_on(double, tmp_path, clock=a_clock, name="a", config=config) as a, \
                console_on(double, tmp_path, clock=b_clock, name="b", config=config) as b:
            await a.start_canary("nexus", "2.0.0", 10)
            with pytest.raises(ReadOnlyError, match="^read-only: a drives"):
                await b.set_weight("nexus", 25)
            assert (await b.snapshot_all(["nexus"]))["nexus"].driver == "a"
            a_clock.advance(10)
            b_clock.advance(10)
            await a.leases.renew("nexus")  # a is alive: its record changes, b's observation starts again
            a_clock.advance(10)
            b_clock.advance(10)
            with pytest.raises(ReadOnlyError, match="^read-only: a drives"):
                await b.set_weight("nexus", 25)
            b_clock.advance(16)  # a stopped renewing: unchanged for a whole lease by b's own clock
            await b.set_weight("nexus", 25)
            assert double.obj("leases", "canary-console-nexus")["spec"]["holderIdentity"] == "b"


async def test_a_watched_lease_is_judged_from_its_renewal_not_from_the_next_snapshot(tmp_path):
    """A console waiting to take a Lease over watches the Leases (issue 14): a renewal the watch delivers
    starts that record's clock when it happens, so a snapshot 4 s later gives the Lease its duration less
    4 s. Without the watch the first snapshot to see it starts the clock (up to a check late)."""
    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock, name="a") as a, \
            console_on(double, tmp_path, clock=clock, name="b") as b:
        await a.start_canary("perception", "1.2.4", 10)
        b.watch_leases()
        clock.advance(60)
        await a.leases.renew("perception")
        renewed = double.obj("leases", "canary-console-perception")["spec"]["renewTime"]
        seen = lambda: any(o["spec"].get("renewTime") == renewed for o in b.lease_watch.objects.values())  # noqa: E731
        await asyncio.wait_for(b.lease_watch.wait_for(seen), 30)  # a bound against hanging
        clock.advance(4)
        snap = (await b.snapshot_all(["perception"]))["perception"]
        assert snap.driver == "a"
        assert snap.driver_left == pytest.approx(b.leases.seconds - 4)
        assert any(r.query.get("watch") == "true" and r.path.endswith("/leases") for r in double.requests)


async def test_read_only_sends_no_write_request(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path, read_only=True) as cluster:
        snaps = await cluster.snapshot_all(list(SERVICES))
        assert snaps["perception"].stable_version == "1.2.3"
        record = RolloutRecord(state=State.OBSERVING, phase=0, weight=10, phase_started_at=0, phase_elapsed=0)
        for call in (cluster.start_canary("perception", "1.2.4", 10), cluster.set_weight("perception", 25),
                     cluster.rollback("perception"), cluster.promote("perception", "1.2.4"),
                     cluster.delete_canary("perception"), cluster.save_record("perception", record),
                     cluster.take_over("perception")):
            with pytest.raises(ReadOnlyError):
                await call
        await cluster.record_event("perception", "rollback", "refused")
        # the boundary itself: even a raw write through the API client is refused before it is sent
        with pytest.raises(ReadOnlyError):
            await cluster.api.call("DELETE", "/apis/apps/v1/namespaces/butterfly/deployments/perception")
        assert double.writes() == []


async def test_forbidden_names_the_verb_and_resource(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.start_canary("plato", "3.1.0", 10)
        await cluster.snapshot_all(["plato"])
        double.deny("patch", "ingresses")
        with pytest.raises(ClusterError) as caught:
            await cluster.set_weight("plato", 25)
        assert str(caught.value) == "forbidden: cannot patch ingresses in namespace butterfly"
        assert caught.value.retryable is False and caught.value.status == 403
        double.denied.clear()
        double.deny("patch", "deployments/scale")
        with pytest.raises(ClusterError, match="cannot patch deployments/scale"):
            await cluster.rollback("plato")
        double.deny("list", "ingresses")
        snap = (await cluster.snapshot_all(["plato"]))["plato"]
        assert snap.problem == "forbidden: cannot list ingresses in namespace butterfly"
        assert snap.canary_exists and snap.weight == 10  # the last good picture, marked with the problem


async def test_unauthorized_is_not_retried(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        double.token = "rotated"
        with pytest.raises(ClusterError, match="unauthorized") as caught:
            await cluster.check()
        # the pod watch runs on its own task and may or may not have listed yet: count only the check's probe
        probes = [r for r in double.requests if r.query.get("limit") == "1"]
        assert caught.value.retryable is False and len(probes) == 1


async def test_missing_canary_is_no_canary_not_an_error(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        snap = (await cluster.snapshot_all(["nexus"]))["nexus"]
        assert snap.canary_exists is False and snap.problem is None
        await cluster.rollback("nexus")  # nothing to roll back: done
        record = RolloutRecord(state=State.PROMOTED, phase=4, weight=100, phase_started_at=0, phase_elapsed=0)
        await cluster.save_record("nexus", record)
        with pytest.raises(ClusterError, match="no canary Ingress nexus-canary"):
            await cluster.set_weight("nexus", 25)


async def test_server_errors_retry_with_backoff_then_give_up(tmp_path):
    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock) as cluster:
        await cluster.start_canary("synapse", "4.0.0", 10)
        double.fail(r"/ingresses/synapse-canary$", 500, times=2, method="PATCH")
        clock.slept.clear()
        await cluster.set_weight("synapse", 25)
        assert clock.slept == [0.5, 1.0]
        assert double.obj("ingresses", "synapse-canary")["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/canary-weight"] == "25"
        double.fail(r"/ingresses/synapse-canary$", 503, times=10, method="PATCH")
        with pytest.raises(ClusterError) as caught:
            await cluster.set_weight("synapse", 50)
        assert caught.value.retryable and "API server error 503 on patch ingresses" in str(caught.value)
        attempts = [r for r in double.requests if r.method == "PATCH" and r.path.endswith("synapse-canary")]
        assert len(attempts) == 3 + 4  # the first call: 2 failures + success; the second: 1 + 3 retries


async def test_lease_conflict_rereads_and_retries(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path, name="a") as a:
        await a.start_canary("capsule", "2.0.0", 10)
        lease = double.obj("leases", "canary-console-capsule")
        double.store.put("leases", "butterfly", lease, created=False)  # someone touched it: our view is stale
        double.fail(LEASES, 409, times=1, method="PUT")
        await a.take_over("capsule")
        puts = [r for r in double.requests if r.method == "PUT" and "leases" in r.path]
        gets = [r for r in double.requests if r.method == "GET" and r.path.endswith("canary-console-capsule")]
        assert len(puts) == 2 and len(gets) >= 2  # 409 → re-read → PUT again
        assert double.obj("leases", "canary-console-capsule")["spec"]["holderIdentity"] == "a"


async def test_watch_relists_on_410_and_reconnects_after_failures(tmp_path):
    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock) as cluster:
        await cluster.snapshot_all(["perception"])
        await cluster.watcher.wait_for(lambda: cluster.watcher.state == "watching")
        assert cluster.watcher.lists == 1
        double.expire_watches()  # ERROR 410 Expired down the open watch, history compacted
        await cluster.watcher.wait_for(lambda: cluster.watcher.lists == 2 and cluster.watcher.state == "watching")
        double.fail(r"/pods$", 500, times=2, method="GET")
        double.store.end_watches()  # the stream breaks; the next watch and list fail twice
        await cluster.start_canary("perception", "1.2.4", 10)
        await cluster.watcher.wait_for(lambda: any("perception-canary" in p["metadata"]["name"]
                                                   for p in cluster.watcher.objects.values()))
        waits = [s for s in clock.slept if s > 0][:3]  # the stream's end, then two failures: jittered backoff
        assert 0.5 <= waits[0] < 1.0 <= waits[1] < 2.0 <= waits[2] < 4.0, clock.slept
        assert cluster.watcher.problem is None
        snap = (await cluster.snapshot_all(["perception"]))["perception"]
        assert len(snap.pods) == 3 and snap.problem is None


async def test_unreachable_api_server_is_a_problem_not_a_traceback(tmp_path):
    async with seeded_double() as double:
        pass  # the double is gone: its port now refuses connections
    async with console_on(double, tmp_path) as cluster:
        snaps = await cluster.snapshot_all(["perception", "capsule"])
        assert all("unreachable" in (s.problem or "") for s in snaps.values())
        with pytest.raises(ClusterError, match="unreachable") as caught:
            await cluster.check()
        assert caught.value.retryable


async def test_slow_lease_renewals_never_hold_back_a_rollback(tmp_path):
    """Issue 13's slow-Lease case (the rollback came 45 s after the breach, with 135 error lines): a Lease
    endpoint that takes 8 s per request, four times the bound of a Lease request. The rollback goes out while
    the renewal still waits on the server; once the renewal gives up at its bound, writes other than a
    rollback stop, and a rollback still goes out while the lease is legitimately ours."""
    clock = VirtualClock(start=1_700_000_000.0)
    config = Config()
    config.kube.lease_seconds = 6.0  # renewed every 2 s, each Lease request bounded to 2 s
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock, renew=True, config=config) as a:
        await a.start_canary("perception", "1.2.4", 25)
        double.slow[r"/leases/"] = 8.0  # the server answers Lease requests after 8 s
        await clock.advance(2.0)  # a renewal round starts and waits on the slow server
        await a.rollback("perception")  # the breach: it does not wait for the renewal
        assert a.leases.rounds == 0, "the rollback waited for the slow renewal"
        assert double.obj("ingresses", "perception-canary")["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/canary-weight"] == "0"
        await a.leases.wait_rounds(1)  # the renewal gave up at its bound (2 s), not after 8 s
        holding = a.leases.held["perception"]
        assert holding.failing and "could not renew" in holding.failing
        with pytest.raises(ReadOnlyError, match="could not renew"):
            await a.set_weight("perception", 50)
        await a.rollback("perception")  # still legitimately ours: a rollback may go on
