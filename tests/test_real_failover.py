"""Tests room: the in-cluster driver's replicas and the consoles that attach to it, on the real control plane
(issue 14): two `canary-console controller` processes with a pod's environment share perception's Lease;
the one that drives is SIGKILLed at 25 % and the other takes the rollout over at 25 % and promotes it, with
one of each action in the journals and the Events; and a dashboard (Pilot) opened with the requester Role
pauses a rollout a controller drives, through a request, and shows it pending then done.

Waiting is a bounded poll of the cluster, the processes or the screen, never a sleep for time to pass. The
takeover time is measured (printed with -s) and bounded below by the Lease: the survivor may not take over
before the dead replica's Lease has run out by the apiserver's own timestamps."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from console.adapters.kube_objects import parse_time
from console.app import CanaryApp
from console.engine.config import load_config
from console.wiring import Options, open_world
from tests.controlplane.console_run import console, short_config
from tests.controlplane.launcher import NAMESPACE, ControlPlane
from tests.test_real_controller import REQUESTER, Controller, deployed, pod_environment, poll  # noqa: F401
from tests.test_real_rollout import sim_prometheus  # noqa: F401 - the module's fixture, shared
from tests.test_tui_support import settle

pytestmark = [pytest.mark.controlplane, pytest.mark.prometheus]

LEASE_SECONDS = 5.0  # the least a config may say (issue 13)
CHECK_SECONDS = 1.0  # short_config's check interval


def _lease(plane: ControlPlane, service: str) -> dict[str, Any]:
    done = plane.kubectl("get", "lease", f"canary-console-{service}", "-n", NAMESPACE, "-o", "json", check=False)
    return json.loads(done.stdout).get("spec", {}) if done.returncode == 0 else {}


def _holds(controller: Controller, spec: dict[str, Any]) -> bool:
    return f":{controller.proc.pid}-" in (spec.get("holderIdentity") or "")


def _events(plane: ControlPlane, name: str) -> list[dict[str, Any]]:
    done = plane.kubectl("get", "events", "-n", NAMESPACE, "--field-selector", f"involvedObject.name={name}",
                         "-o", "json")
    return json.loads(done.stdout)["items"]


def _record(plane: ControlPlane, service: str) -> dict[str, str]:
    done = plane.kubectl("get", "configmap", f"{service}-canary-rollout", "-n", NAMESPACE, "-o", "json", check=False)
    return (json.loads(done.stdout).get("data") or {}) if done.returncode == 0 else {}


def _journal(path: Path, service: str) -> list[tuple[str, int | None]]:
    """(what, to weight) of each action a replica's journal holds (not what a watching one would do)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [(entry["what"], entry["to_weight"]) for entry in lines
            if entry["entry"] == "action" and entry["service"] == service and not entry.get("shadow")]


def _replica(plane: ControlPlane, directory: Path) -> dict[str, str]:
    """A pod's environment of its own (HOME, token files) with its journal on its own 'emptyDir'."""
    env = pod_environment(plane, directory)
    return {**env, "CANARY_CONSOLE_JOURNAL": str(directory / "journal.jsonl")}


def test_a_sigkilled_replica_at_25_is_taken_over_by_the_other_and_nothing_is_repeated_or_lost(
        deployed: ControlPlane, sim_prometheus: str, tmp_path: Path) -> None:
    deployed.reset(("perception",))  # no canary, record, Lease or request left by an earlier test
    before = {e["metadata"]["uid"] for e in _events(deployed, "perception-canary")}
    config = short_config(tmp_path / "config.yaml", ["perception"], kube={"lease_seconds": f"{LEASE_SECONDS:g}s"})
    first = Controller(_replica(deployed, tmp_path / "a"), config, "perception", sim_prometheus, name="a")
    second = None
    try:
        poll(lambda: _holds(first, _lease(deployed, "perception")), "the first replica holding perception's Lease")
        second = Controller(_replica(deployed, tmp_path / "b"), config, "perception", sim_prometheus, name="b")
        poll(lambda: second.answers("/readyz") == 200, "the second replica ready")
        asked = console("start", "perception", "--version", "1.2.4", "--kubeconfig",
                        str(deployed.kubeconfigs[REQUESTER]), "--namespace", NAMESPACE, "--config", str(config))
        assert asked.returncode == 0 and "done" in asked.stdout, asked.stdout + asked.stderr
        first.read_until(lambda line: line.get("what") == "set_weight" and line.get("to_weight") == 25,
                         "the first replica setting 25 %")
        poll(lambda: _record(deployed, "perception").get("phase") == "1"
             and any("→ 25%" in e["message"] for e in _events(deployed, "perception-canary")
                     if e["metadata"]["uid"] not in before), "the record and the Event of 25 %")
        assert _holds(first, _lease(deployed, "perception"))
        first.proc.send_signal(signal.SIGKILL)
        killed = time.time()
        first.stop()
        last_renewal = parse_time(_lease(deployed, "perception").get("renewTime"))
        spec = poll(lambda: (lambda s: s if _holds(second, s) else None)(_lease(deployed, "perception")),
                    "the second replica holding perception's Lease", tries=240)
        acquired = parse_time(spec.get("acquireTime"))
        print(f"\ntakeover: Lease acquired {acquired - killed:.2f} s after the SIGKILL, "
              f"{acquired - last_renewal:.2f} s after the killed replica's last renewal "
              f"(lease {LEASE_SECONDS:g} s, check every {CHECK_SECONDS:g} s)")
        assert acquired - last_renewal >= LEASE_SECONDS - 0.5  # never two drivers: not before the Lease ran out
        second.read_until(lambda line: line.get("kind") == "state" and "promoted" in line.get("message", ""),
                          "perception promoted by the second replica", seconds=400)
    finally:
        if second is not None:
            assert second.stop() == 0
        if first.proc.returncode is None:
            first.stop()
    first_did, second_did = _journal(tmp_path / "a" / "journal.jsonl", "perception"), \
        _journal(tmp_path / "b" / "journal.jsonl", "perception")
    assert first_did == [("start_canary", 0), ("set_weight", 10), ("set_weight", 25)], first_did
    assert second_did == [("set_weight", 50), ("set_weight", 75), ("set_weight", 100), ("promote", 100)], second_did
    taken_over = next(json.loads(line) for line in (tmp_path / "b" / "journal.jsonl").read_text().splitlines()
                      if '"set_weight"' in line and '"shadow": false' in line)
    assert "phase early (25%)" in taken_over["reason"], taken_over  # where it took over, not where it began
    events = [e for e in _events(deployed, "perception-canary") if e["metadata"]["uid"] not in before
              and e.get("reportingComponent") == "canary-console"]  # not the Deployment controller's own
    weights = sorted(int(m.group(1)) for e in events if e["reason"] == "CanaryWeightChanged"
                     for m in [re.search(r"→ (\d+)%", e["message"])] if m)
    reasons = sorted(e["reason"] for e in events if e["reason"] != "CanaryWeightChanged")
    assert weights == [10, 25, 50, 75, 100], [e["message"] for e in events]
    assert reasons == ["CanaryPromoted", "CanaryRequestDone", "CanaryStarted"], reasons
    assert all(e.get("count", 1) == 1 for e in events), [(e["reason"], e.get("count")) for e in events]


async def _paused_from_the_dashboard(config_path: Path, kubeconfig: str) -> list[str]:
    """A dashboard over a real kube session with the requester Role: press p on capsule, then check after
    check until the answer is on screen; the notifications it showed."""
    world = await open_world(load_config(config_path, env={}), Options(kubeconfig=kubeconfig, namespace=NAMESPACE))
    session = world.session
    app = CanaryApp(session, autorun=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            shown = lambda: [n.message for n in app._notifications]  # noqa: E731
            for _ in range(100):  # a bound against hanging: until the controller's Lease is seen
                await session.step()
                await settle(app, pilot)
                if session.controllers["capsule"].driven_elsewhere():
                    break
                await asyncio.sleep(0.2)
            assert app.current_service == "capsule"
            assert app.check_action("pause", ()) and app.check_action("rollback", ())
            await pilot.press("p")
            await settle(app, pilot)
            assert any("pending" in m for m in shown()), shown()
            for _ in range(150):  # a bound against hanging, polling the screen
                await session.step()
                await settle(app, pilot)
                if any("pause done" in m for m in shown()):
                    break
                await asyncio.sleep(0.2)
            return shown()
    finally:
        await world.aclose()


def test_a_dashboard_with_the_requester_role_pauses_a_rollout_the_controller_drives(
        deployed: ControlPlane, sim_prometheus: str, tmp_path: Path) -> None:
    deployed.reset(("capsule",))
    config = short_config(tmp_path / "config.yaml", ["capsule"], phase_s=600.0, journal=str(tmp_path / "j.jsonl"))
    controller = Controller(pod_environment(deployed, tmp_path / "pod"), config, "capsule", sim_prometheus)
    person = str(deployed.kubeconfigs[REQUESTER])
    try:
        poll(lambda: controller.answers("/readyz") == 200, "/readyz 200")
        asked = console("start", "capsule", "--version", "1.2.4", "--kubeconfig", person, "--namespace", NAMESPACE,
                        "--config", str(config))
        assert asked.returncode == 0, asked.stderr
        controller.read_until(lambda line: line.get("what") == "set_weight" and line.get("to_weight") == 10,
                              "capsule at 10 %")
        shown = asyncio.run(_paused_from_the_dashboard(config, person))
        assert any("pause done" in m for m in shown), shown
        paused = controller.read_until(lambda line: line.get("kind") == "action" and line.get("what") == "pause",
                                       "the controller pausing capsule")
        assert REQUESTER in paused["actor"], paused
        poll(lambda: any(e["reason"] == "CanaryRequestDone" and "pause" in e["message"] and REQUESTER in e["message"]
                         for e in _events(deployed, "capsule-canary")), "the CanaryRequestDone Event naming the person")
    finally:
        assert controller.stop() == 0
