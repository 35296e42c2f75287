"""The rollout record's ConfigMap as an intent log, against the API double: an interrupted weight write at
each step is finished by the next driver (and only by it), a change nobody in the log made is an override,
a refused router write leaves no pending intent, and reconcile's rules on their own."""

from __future__ import annotations

import pytest

from console.adapters import kube_record as kr
from console.engine.model import RolloutRecord, State
from console.engine.ports import ClusterError
from tests.kubedouble.harness import console_on, seeded_double

WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
RECORD = RolloutRecord(State.OBSERVING, 0, 10, 1.0, 0.0, version="1.2.4")


def test_reconcile_rules():
    stored = kr.Stored(RECORD, pending=25, replaced=10)
    assert kr.reconcile(stored, 25, "Ingress x") == kr.Reconciled(RolloutRecord(
        State.OBSERVING, 0, 25, 1.0, 0.0, version="1.2.4"), "confirm")
    assert kr.reconcile(stored, 10, "Ingress x").action == "reapply"
    other = kr.reconcile(stored, 0, "Ingress x")
    assert other.action == "" and other.override == ("weight 0% on Ingress x set outside the console "
                                                     "(it was setting 25% from 10%)")
    assert kr.reconcile(kr.Stored(RECORD), 10, "Ingress x") == kr.Reconciled(RECORD)
    assert kr.reconcile(kr.Stored(RECORD), 50, "Ingress x").override is not None
    promoting = kr.Stored(RolloutRecord(State.PROMOTING, 4, 100, 1.0, 0.0))
    assert kr.reconcile(promoting, 0, "Ingress x").override is None  # the console's own promote moves it
    assert kr.reconcile(kr.Stored(None, pending=25, replaced=10), 0, "x") == kr.Reconciled(None)


async def _under_way(double, tmp_path) -> None:
    """perception at 10 % with its record, driven by console "a", which then stops."""
    async with console_on(double, tmp_path, name="a") as a:
        await a.start_canary("perception", "1.2.4", 0)
        await a.save_record("perception", RECORD)
        await a.set_weight("perception", 10)


async def _crash_during_a_write(double, tmp_path, *, router_written: bool) -> None:
    """A console writes 10 % → 25 % and dies after the intent (and, with ``router_written``, after the
    router's write too), before confirming."""
    async with console_on(double, tmp_path, name="crashing") as crashing:
        router = await crashing._router("perception")
        await crashing._intend("perception", router, 25)
        if router_written:
            await router.set_weight(25)


def _cm(double) -> dict:
    return double.obj("configmaps", "perception-canary-rollout")["data"]


async def test_crash_before_the_router_write_is_reapplied_by_the_next_driver_only(tmp_path):
    async with seeded_double() as double:
        await _under_way(double, tmp_path)
        await _crash_during_a_write(double, tmp_path, router_written=False)
        assert _cm(double)[kr.PENDING] == "25" and _cm(double)[kr.REPLACED] == "10"

        async with console_on(double, tmp_path, name="watcher", read_only=True) as watcher:
            writes = len(double.writes())
            snap = (await watcher.snapshot_all(["perception"]))["perception"]
            assert snap.weight == 10 and snap.record.weight == 25 and snap.override is None
            assert len(double.writes()) == writes  # a reader never finishes anyone's write
        async with console_on(double, tmp_path, name="b") as b:
            await b.snapshot_all(["perception"])
            assert kr.PENDING in _cm(double)  # b does not drive perception yet: nothing written
            await b.save_record("perception", RolloutRecord(State.OBSERVING, 1, 25, 2.0, 0.0, version="1.2.4"))
            assert double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT] == "25"
            assert kr.PENDING not in _cm(double) and _cm(double)["weight"] == "25"
            snap = (await b.snapshot_all(["perception"]))["perception"]
            assert snap.weight == 25 and snap.override is None and snap.record.phase == 1


async def test_crash_after_the_router_write_is_confirmed_by_the_driver(tmp_path):
    async with seeded_double() as double:
        await _under_way(double, tmp_path)
        await _crash_during_a_write(double, tmp_path, router_written=True)
        async with console_on(double, tmp_path, name="b") as b:
            snap = (await b.snapshot_all(["perception"]))["perception"]
            assert snap.weight == 25 and snap.record.weight == 25 and snap.override is None
            assert kr.PENDING in _cm(double)
            await b.leases.ensure("perception")  # b becomes the driver
            await b.snapshot_all(["perception"])
            assert kr.PENDING not in _cm(double) and _cm(double)["weight"] == "25"


async def test_a_change_nobody_logged_is_an_override_even_for_the_driver(tmp_path):
    async with seeded_double() as double:
        await _under_way(double, tmp_path)
        async with console_on(double, tmp_path, name="b") as b:
            router = await b._router("perception")
            await b._intend("perception", router, 25)
            ingress = double.obj("ingresses", "perception-canary")
            ingress["metadata"]["annotations"][WEIGHT] = "0"  # the runbook's emergency stop, by hand
            double.store.put("ingresses", "butterfly", ingress, created=False)
            writes = len(double.writes())
            snap = (await b.snapshot_all(["perception"]))["perception"]
            assert snap.weight == 0 and snap.override == ("weight 0% on Ingress perception-canary set outside "
                                                          "the console (it was setting 25% from 10%)")
            assert len(double.writes()) == writes
            assert ingress["metadata"]["annotations"][WEIGHT] == "0"


async def test_a_refused_router_write_leaves_no_pending_intent(tmp_path):
    async with seeded_double() as double:
        await _under_way(double, tmp_path)
        async with console_on(double, tmp_path, name="b") as b:
            double.deny("patch", "ingresses")
            with pytest.raises(ClusterError, match="forbidden: cannot patch ingresses"):
                await b.set_weight("perception", 25)
            assert kr.PENDING not in _cm(double) and _cm(double)["weight"] == "10"
            snap = (await b.snapshot_all(["perception"]))["perception"]
            assert snap.weight == 10 and snap.override is None


async def test_an_intent_that_sets_the_state_from_what_it_read_is_guarded_by_resource_version(tmp_path):
    """A rollback's intent writes the state only into a record it read: sent with that resourceVersion.
    (A weight change's intent reads nothing, so it is sent unread: see the test after this one.)"""
    async with seeded_double() as double:
        await _under_way(double, tmp_path)
        async with console_on(double, tmp_path, name="b") as b:
            real_get = b._get

            async def get_then_someone_edits(resource, name):
                found = await real_get(resource, name)
                if resource == "configmaps":
                    reads.append(name)
                if len(reads) == 2 and not edited:  # the intent's read (the first is the new driver's look)
                    edited.append(True)
                    cm = double.obj("configmaps", "perception-canary-rollout")
                    cm["metadata"]["annotations"] = {"note": "looked at by alice"}
                    double.store.put("configmaps", "butterfly", cm, created=False)
                return found

            edited: list[bool] = []
            reads: list[str] = []
            b._get = get_then_someone_edits
            before = len(double.writes())
            await b.rollback("perception")
        cm_patches = [r for r in double.writes()[before:] if r.method == "PATCH" and "/configmaps/" in r.path]
        assert len(cm_patches) == 3  # the intent refused (stale resourceVersion), sent again, then confirmed
        cm = double.obj("configmaps", "perception-canary-rollout")
        assert cm["data"]["weight"] == "0" and cm["data"]["state"] == "rolling_back" and kr.PENDING not in cm["data"]
        assert cm["metadata"]["annotations"] == {"note": "looked at by alice"}


async def test_a_resumed_driver_reapplies_the_interrupted_write_and_sees_no_override(tmp_path):
    from console.engine.session import Session
    from tests.kubedouble.stepclock import StepClock
    from tests.test_kube_gateway_rollout import WeightedMetrics

    async with seeded_double() as double:
        await _under_way(double, tmp_path)
        await _crash_during_a_write(double, tmp_path, router_written=False)
        clock = StepClock()
        async with console_on(double, tmp_path, name="next", clock=clock) as cluster:
            metrics = WeightedMetrics()
            metrics.weights["perception"] = 10
            session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity, drive=["perception"])
            await session.step()
            clock.advance(10)
            await session.step()
            status = session.controllers["perception"].status
            assert status.state is State.OBSERVING and status.weight == 25, status.reason
            assert double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT] == "25"
            assert kr.PENDING not in _cm(double)
            assert not [e for e in double.store.list("events", "butterfly") if e["reason"] == "CanaryOverridden"]


async def test_a_weight_change_with_nginx_costs_one_read_and_three_writes(tmp_path):
    """The live weight is read, then the intent, the weight and its confirmation are written: the record's
    ConfigMap is patched without reading it first (a merge patch of the intent's own keys; only the
    Lease holder writes it)."""
    async with seeded_double() as double:
        await _under_way(double, tmp_path)
        async with console_on(double, tmp_path, name="b") as b:
            await b.set_weight("perception", 10)  # the first write takes the Lease
            before = len(double.requests)
            await b.set_weight("perception", 25)
            made = [(r.method, r.path.rsplit("/", 2)[-2]) for r in double.requests[before:]]
        assert made == [("GET", "ingresses"), ("PATCH", "configmaps"), ("PATCH", "ingresses"),
                        ("PATCH", "configmaps")], made
        assert double.obj("configmaps", "perception-canary-rollout")["data"]["weight"] == "25"
        assert double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT] == "25"
