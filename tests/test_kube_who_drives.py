"""Issue 12 against the Kubernetes API double, over real HTTP: reading commands send no write; `run SERVICE`
drives only that service, resumes a rollout already under way, and on SIGTERM/SIGHUP saves its final record,
clears the driver and releases its Lease; a SIGKILLed run leaves a record the next run resumes; a person's
change (weight, replicas, a deleted canary Deployment) pauses the driver and is never written over; the
bearer token is never sent over plain http unless the config says so.

A person's changes are raw API requests (the double has no discovery for kubectl); the same cases against
the real control plane with the real kubectl live with the control-plane tests."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from console.adapters.kube_objects import PREFIX, WEIGHT, micro_time
from console.engine.model import RolloutRecord, State
from console.engine.session import Session
from tests.kubedouble.harness import console_on, seeded_double
from tests.kubedouble.stepclock import StepClock
from tests.test_cli_kube import PLAIN_HTTP, _cli
from tests.test_kube_controller import SteadyMetrics

EXE = shutil.which("canary-console")
FAST = {**PLAIN_HTTP, "CANARY_CONSOLE_CHECK_INTERVAL": "1s", "CANARY_CONSOLE_KUBE__LEASE_SECONDS": "30s"}


async def _deploying(double, tmp_path: Path, service: str) -> None:
    """A canary another console started and left (its Lease released) while deploying: its pod is ready now,
    so whoever drives it next sets the first phase's weight at once."""
    async with console_on(double, tmp_path, name="gone") as gone:
        await gone.start_canary(service, "9.9.9", 0)
        record = RolloutRecord(State.DEPLOYING, 0, 0, 1_700_000_000.0, 0.0, "9.9.9", driver="gone")
        await gone.save_record(service, record)
    _as_the_previous_release_wrote_it(double, service)


def _as_the_previous_release_wrote_it(double, service: str) -> None:
    """The record as the release before issue 12 left it (epoch seconds, no reason/updated-at/last-driver):
    still read, and what the tests that must fail on that release's code need it to read."""
    ingress = double.obj("ingresses", f"{service}-canary")
    notes = ingress["metadata"]["annotations"]
    notes[PREFIX + "phase-started-at"] = "1700000000.000"
    for key in ("reason", "updated-at", "last-driver"):
        notes.pop(PREFIX + key, None)
    double.store.put("ingresses", "butterfly", ingress, created=False)


def _notes(double, service: str) -> dict[str, str]:
    """What the cluster says of the service's rollout: the canary Ingress' annotations (the live weight) with
    the record from its ConfigMap under the record's annotation names (issue 15 moved it there)."""
    notes = dict((double.obj("ingresses", f"{service}-canary") or {}).get("metadata", {}).get("annotations", {}))
    record = (double.obj("configmaps", f"{service}-canary-rollout") or {}).get("data") or {}
    return notes | {PREFIX + key: value for key, value in record.items()}


async def _person(double, method: str, path: str, body: dict | None = None, content_type: str = "") -> int:
    """One request as a person with kubectl would send it."""
    headers = {"Authorization": f"Bearer {double.token}"}
    if content_type:
        headers["Content-Type"] = content_type
    async with aiohttp.ClientSession() as http:
        async with http.request(method, double.url + path, json=body, headers=headers) as answer:
            return answer.status


async def test_status_and_analyze_write_nothing_where_a_driver_would_act(tmp_path):
    async with seeded_double() as double:
        await _deploying(double, tmp_path, "perception")
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        before = len(double.writes())
        status = await _cli("status", "--kubeconfig", kubeconfig, "--json")
        analyze = await _cli("analyze", "perception", "--kubeconfig", kubeconfig)
        status_one = await _cli("status", "perception", "--kubeconfig", kubeconfig)
        writes = double.writes()[before:]
        notes = _notes(double, "perception")
    assert status[0] == 0, status
    assert analyze[0] in (3, 4), analyze
    assert status_one[0] == 0, status_one
    assert writes == [], writes
    assert notes[WEIGHT] == "0" and notes[PREFIX + "state"] == "deploying"
    assert "no driver since" in status_one[1]


async def test_the_token_never_goes_over_plain_http_unless_the_config_says_so(tmp_path):
    async with seeded_double() as double:
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        code, out, err = await _cli("status", "--kubeconfig", kubeconfig,
                                    env={"CANARY_CONSOLE_KUBE__ALLOW_TOKEN_OVER_HTTP": "false"})
        sent = list(double.requests)
    assert code == 2, out + err
    assert "plain http" in err and "allow_token_over_http" in err and "Traceback" not in err
    assert sent == []


async def _spawn_run(service: str, version: str, kubeconfig: str,
                     env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
    return await asyncio.create_subprocess_exec(
        *command, "run", service, "--version", version, "--headless", "--kubeconfig", kubeconfig,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or FAST)})


async def _until(condition, what: str, process: asyncio.subprocess.Process | None = None) -> None:
    """Wait for a condition the double shows (polled on the loop; bounded, it fails rather than hangs)."""
    for _ in range(1200):
        if condition():
            return
        if process is not None and process.returncode is not None:
            break
        await asyncio.sleep(0.05)
    err = (await process.stderr.read()).decode() if process is not None and process.returncode is not None else ""
    raise AssertionError(f"never saw {what} {err}")


def _holder(double, service: str) -> str | None:
    lease = double.obj("leases", f"canary-console-{service}") or {}
    return (lease.get("spec") or {}).get("holderIdentity")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
async def test_run_drives_only_its_service_and_a_signal_saves_then_releases(tmp_path, stop):
    async with seeded_double() as double:
        await _deploying(double, tmp_path, "capsule")
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        run = await _spawn_run("synapse", "4.0.1", kubeconfig)
        await _until(lambda: _notes(double, "synapse").get(PREFIX + "state") == "observing", "synapse at 10 %", run)
        assert _holder(double, "synapse")
        run.send_signal(stop)
        out, err = await asyncio.wait_for(run.communicate(), timeout=60)
        notes, capsule = _notes(double, "synapse"), _notes(double, "capsule")
        holder = _holder(double, "synapse")
    assert run.returncode == 3, (out, err)
    assert f"stopped by {stop.name}" in out.decode()
    assert notes[WEIGHT] == "10" and notes[PREFIX + "state"] == "observing" and notes[PREFIX + "weight"] == "10"
    assert notes[PREFIX + "driver"] == "" and notes[PREFIX + "last-driver"]
    assert notes[PREFIX + "updated-at"].endswith("Z") and "T" in notes[PREFIX + "phase-started-at"]
    assert not holder  # released: the next driver need not wait for it to expire
    assert capsule[WEIGHT] == "0" and capsule[PREFIX + "state"] == "deploying"  # never touched


async def test_run_resumes_a_rollout_under_way_and_after_a_sigkill(tmp_path):
    async with seeded_double() as double:
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        first = await _spawn_run("plato", "3.1.0", kubeconfig)
        await _until(lambda: _notes(double, "plato").get(PREFIX + "state") == "observing", "plato at 10 %", first)
        first.kill()  # SIGKILL: nothing saved on the way out, the Lease left held
        await first.wait()
        lease = double.obj("leases", "canary-console-plato")
        lease["spec"]["renewTime"] = lease["spec"]["acquireTime"] = micro_time(1000)  # expired (no 30 s wait)
        double.store.put("leases", "butterfly", lease, created=False)
        second = await _spawn_run("plato", "3.1.0", kubeconfig)
        await _until(lambda: _holder(double, "plato") not in (None, lease["spec"]["holderIdentity"]),
                     "the second run driving plato", second)
        second.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(second.communicate(), timeout=60)
        notes = _notes(double, "plato")
        starts = [r for r in double.writes() if r.method == "POST" and r.path.endswith("/deployments")]
    assert second.returncode == 3, (out, err)
    assert "resuming plato: observing at 10%" in err.decode()
    assert notes[WEIGHT] == "10" and notes[PREFIX + "state"] == "observing" and notes[PREFIX + "phase"] == "0"
    assert len(starts) == 1  # the canary was deployed once: resumed, not started again


async def test_run_watches_a_held_lease_a_live_driver_refuses_it_a_killed_one_is_taken(tmp_path):
    """A Lease is judged by our own clock (issue 13): live while renewed, expired once unchanged for its
    duration. A new `run` cannot know how long a Lease stood before it looked, so it watches it: a live
    driver's renewal refuses it naming the driver; a SIGKILLed run's Lease is taken once it has stood for its
    duration (before, each new run refused at once, with the record's adoption reason, "resumed from the saved
    record", and never named a driver: the real-plane resume test's failure)."""
    env = {**FAST, "CANARY_CONSOLE_KUBE__LEASE_SECONDS": "5s"}
    async with seeded_double() as double:
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        first = await _spawn_run("plato", "3.1.0", kubeconfig, env)
        await _until(lambda: _notes(double, "plato").get(PREFIX + "state") == "observing", "plato at 10 %", first)
        holder = _holder(double, "plato")
        code, out, err = await _cli("run", "plato", "--version", "3.1.0", "--headless", "--kubeconfig", kubeconfig,
                                    env=env)
        assert code == 2, out + err
        assert f"cannot drive plato: read-only: {holder} drives plato" in err, err
        first.kill()  # SIGKILL: the Lease left held, renewed a moment ago
        await first.wait()
        second = await _spawn_run("plato", "3.1.0", kubeconfig, env)
        await _until(lambda: _holder(double, "plato") not in (None, holder), "the second run driving plato", second)
        second.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(second.communicate(), timeout=60)
    assert second.returncode == 3, (out, err)
    assert f"{holder} holds the Lease on plato: watching it" in err.decode()
    assert "resuming plato: observing at 10%" in err.decode()


async def test_run_refuses_another_version_of_a_rollout_under_way(tmp_path):
    async with seeded_double() as double:
        await _deploying(double, tmp_path, "nexus")
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        before = len(double.writes())
        code, out, err = await _cli("run", "nexus", "--version", "1.0.0", "--headless", "--kubeconfig", kubeconfig,
                                    env=FAST)
        writes = double.writes()[before:]
    assert code == 2, out + err
    assert "a rollout of 9.9.9 is under way" in err
    assert [w for w in writes if "leases" not in w.path] == []


async def _driving(double, tmp_path: Path):
    clock = StepClock()
    cluster_cm = console_on(double, tmp_path, clock=clock, name="driver")
    cluster = await cluster_cm.__aenter__()
    metrics = SteadyMetrics({})
    session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
    assert (await session.intent("perception", "start", version="1.2.4")).ok
    for _ in range(5):
        clock.advance(10)
        metrics.weights["perception"] = 10
        await session.step()
    assert session.controllers["perception"].weight == 10
    return session, clock, cluster_cm


async def _checks(session: Session, clock: StepClock, n: int) -> None:
    for _ in range(n):
        clock.advance(10)
        await session.step()


async def test_a_person_setting_weight_0_stops_the_driver_and_it_stays_0(tmp_path):
    async with seeded_double() as double:
        session, clock, cluster_cm = await _driving(double, tmp_path)
        try:
            status = await _person(double, "PATCH", "/apis/networking.k8s.io/v1/namespaces/butterfly/ingresses/"
                                   "perception-canary", {"metadata": {"annotations": {WEIGHT: "0"}}},
                                   "application/merge-patch+json")
            assert status == 200
            await _checks(session, clock, 1)
            controller = session.controllers["perception"]
            assert controller.state is State.PAUSED
            assert "weight set to 0 outside the console" in controller.reason
            assert controller.status.weight == 0
            await _checks(session, clock, 200)  # past the phase's end
            await session.drain()
            events = [e for e in double.store.list("events", "butterfly")
                      if e["involvedObject"]["name"] == "perception-canary"]
        finally:
            await cluster_cm.__aexit__(None, None, None)
        notes = _notes(double, "perception")
    assert notes[WEIGHT] == "0" and notes[PREFIX + "state"] == "paused"
    reasons = [e["reason"] for e in events]
    assert "CanaryOverridden" in reasons and "CanaryPaused" in reasons
    overridden = next(e for e in events if e["reason"] == "CanaryOverridden")
    assert overridden["type"] == "Warning" and "10%" in overridden["message"]


async def test_a_person_scaling_the_canary_to_0_takes_its_traffic_away(tmp_path):
    async with seeded_double() as double:
        session, clock, cluster_cm = await _driving(double, tmp_path)
        try:
            status = await _person(double, "PATCH", "/apis/apps/v1/namespaces/butterfly/deployments/"
                                   "perception-canary/scale", {"spec": {"replicas": 0}},
                                   "application/merge-patch+json")
            assert status == 200
            await _checks(session, clock, 2)
            controller = session.controllers["perception"]
            reason, state = controller.reason, controller.state
            refused = await session.intent("perception", "advance")
            await _checks(session, clock, 100)
        finally:
            await cluster_cm.__aexit__(None, None, None)
        notes = _notes(double, "perception")
    assert state is State.PAUSED and "no ready canary pod" in reason and "scaled to 0 replicas" in reason
    assert not refused.ok and "no ready canary pod" in refused.message
    assert notes[WEIGHT] == "0"
    assert double.obj("deployments", "perception-canary")["spec"]["replicas"] == 0  # theirs, not written over


async def test_a_deleted_canary_deployment_is_named(tmp_path):
    async with seeded_double() as double:
        session, clock, cluster_cm = await _driving(double, tmp_path)
        try:
            status = await _person(double, "DELETE", "/apis/apps/v1/namespaces/butterfly/deployments/"
                                   "perception-canary")
            assert status == 200
            await _checks(session, clock, 2)
            controller = session.controllers["perception"]
            reason, state = controller.reason, controller.state
        finally:
            await cluster_cm.__aexit__(None, None, None)
        notes = _notes(double, "perception")
    assert state is State.PAUSED
    assert "canary Deployment perception-canary was deleted outside the console" in reason
    assert notes[WEIGHT] == "0"


async def test_a_plain_advance_without_usable_data_is_refused_and_says_why(tmp_path):
    async with seeded_double() as double:
        async with console_on(double, tmp_path, name="gone") as gone:
            await gone.start_canary("odyssey", "1.0.1", 10)
            await gone.save_record("odyssey", RolloutRecord(State.OBSERVING, 0, 10, 1_700_000_000.0, 0.0, "1.0.1"))
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        code, out, err = await _cli("advance", "odyssey", "--kubeconfig", kubeconfig)  # no Prometheus at all
        notes = _notes(double, "odyssey")
    assert code == 2, out + err
    assert "cannot advance: no Prometheus configured" in err and "force" in err
    assert notes[WEIGHT] == "10"


async def _under_way(double, tmp_path: Path, service: str, record: RolloutRecord) -> None:
    async with console_on(double, tmp_path, name="earlier") as earlier:
        await earlier.start_canary(service, record.version, record.weight)
        await earlier.save_record(service, record)


def _expire_lease(double, service: str) -> None:
    lease = double.obj("leases", f"canary-console-{service}")
    if lease and lease["spec"].get("holderIdentity"):
        lease["spec"]["renewTime"] = lease["spec"]["acquireTime"] = micro_time(1000)  # expired (no 30 s wait)
        double.store.put("leases", "butterfly", lease, created=False)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
async def test_a_run_stopped_at_25_percent_is_resumed_at_25_by_the_next(tmp_path, stop):
    async with seeded_double() as double:
        await _under_way(double, tmp_path, "capsule",
                         RolloutRecord(State.OBSERVING, 1, 25, 1_700_000_000.0, 120.0, "2.0.0", driver="earlier"))
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        first = await _spawn_run("capsule", "2.0.0", kubeconfig)
        await _until(lambda: _holder(double, "capsule") not in (None, "earlier"), "the first run driving", first)
        first.send_signal(stop)
        await first.wait()
        holder = _holder(double, "capsule")
        _expire_lease(double, "capsule")  # only a SIGKILLed run leaves it held
        second = await _spawn_run("capsule", "2.0.0", kubeconfig)
        await _until(lambda: _holder(double, "capsule") not in (None, "earlier", holder), "the second run", second)
        second.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(second.communicate(), timeout=60)
        notes = _notes(double, "capsule")
    assert (holder is None) == (stop is not signal.SIGKILL)  # SIGTERM/SIGHUP released the Lease
    assert "resuming capsule: observing at 25%" in err.decode(), err
    assert notes[WEIGHT] == "25" and notes[PREFIX + "phase"] == "1" and notes[PREFIX + "state"] == "observing"
    assert float(notes[PREFIX + "phase-elapsed"]) >= 120.0


async def test_a_run_stopped_while_promoting_is_finished_by_the_next(tmp_path):
    async with seeded_double(auto_rollout=False) as double:  # the stable rollout never completes at first
        await _under_way(double, tmp_path, "odyssey",
                         RolloutRecord(State.PROMOTING, 4, 100, 1_700_000_000.0, 300.0, "1.0.1", driver="earlier"))
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        first = await _spawn_run("odyssey", "1.0.1", kubeconfig)
        await _until(lambda: (double.obj("deployments", "odyssey") or {}).get("spec", {}).get("template", {})
                     .get("spec", {}).get("containers", [{}])[0].get("image", "").endswith(":1.0.1"),
                     "the stable image patched", first)
        first.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(first.communicate(), timeout=60)
        saved = _notes(double, "odyssey")
        double.auto_rollout = True
        double.reconcile("odyssey")
        code, out2, err2 = await _cli("run", "odyssey", "--version", "1.0.1", "--headless", "--kubeconfig",
                                      kubeconfig, env=FAST)
        gone = double.obj("ingresses", "odyssey-canary")
    assert first.returncode == 3, (out, err)
    assert saved[PREFIX + "state"] == "promoting" and saved[PREFIX + "driver"] == ""
    assert code == 0, out2 + err2
    assert "promoted" in out2 and gone is None


async def test_a_promote_killed_after_its_cleanup_began_is_finished_by_the_next_run(tmp_path):
    """SIGKILL between deleting the canary and deleting its record (the record goes last): the next run finishes
    the promote (one CanaryPromoted), it does not start a new canary of the version that is now stable."""
    async with seeded_double() as double:
        await _under_way(double, tmp_path, "synapse",
                         RolloutRecord(State.PROMOTING, 4, 100, 1_700_000_000.0, 300.0, "4.0.1", driver="earlier"))
        async with console_on(double, tmp_path, name="killed") as killed:  # the promote's writes, but the record's
            await killed.promote("synapse", "4.0.1")
            await killed.save_record("synapse", RolloutRecord(State.PROMOTING, 4, 100, 1_700_000_000.0, 300.0,
                                                              "4.0.1", driver="killed"))
        assert double.obj("deployments", "synapse-canary") is None
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        mark = len(double.requests)
        code, out, err = await _cli("run", "synapse", "--version", "4.0.1", "--headless", "--kubeconfig", kubeconfig,
                                    env=FAST)
        created = [r for r in double.requests[mark:] if r.method == "POST" and r.path.endswith("/deployments")]
        record = double.obj("configmaps", "synapse-canary-rollout")
    assert code == 0, out + err
    assert "synapse: promoted" in out and created == [] and record is None


async def test_run_of_the_version_that_is_already_stable_has_nothing_to_roll_out(tmp_path):
    async with seeded_double() as double:
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        code, out, err = await _cli("run", "nexus", "--version", "1.2.3", "--headless", "--kubeconfig", kubeconfig,
                                    env=FAST)
        as_json = await _cli("run", "nexus", "--version", "1.2.3", "--headless", "--json", "--kubeconfig", kubeconfig,
                             env=FAST)
        writes = [r for r in double.writes() if "leases" not in r.path]
    assert code == 0, out + err
    assert as_json[0] == 0 and json.loads(as_json[1].splitlines()[-1])["outcome"] == "already_stable", as_json
    assert "nexus: already stable — 1.2.3 is the stable version already: nothing to roll out" in out
    assert "promoted" not in out  # nothing was rolled out: its own outcome, still exit 0
    assert writes == []
