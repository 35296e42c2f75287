"""Tests room: the in-cluster driver's replicas and the consoles that attach to it, on the real control plane
(issue 14): two `canary-console controller` processes with a pod's environment share perception's Lease;
the one that drives is SIGKILLed at 25 % and the other takes the rollout over at 25 % and promotes it, with
one of each action in the journals and the Events; and a dashboard (Pilot) opened with the requester Role
pauses, or rolls back, a rollout a controller drives, through a request: it shows it pending then done, the
controller serves it at the check under way or the next (its own check count, from /metrics and its log
lines), and the Events name the person.

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


def _checks_done(controller: Controller) -> int:
    """How many checks the controller has completed (its /metrics: the check histogram's count)."""
    found = re.search(r"^canary_console_check_duration_seconds_count (\S+)$", controller.get("/metrics").text, re.M)
    assert found, "no check count in /metrics"
    return int(float(found.group(1)))


async def _asked_from_the_dashboard(config_path: Path, kubeconfig: str, keys: tuple[str, ...], done: str,
                                    controller: Controller) -> tuple[list[str], int]:
    """A dashboard over a real kube session with the requester Role: press ``keys`` on capsule, then check
    after check until ``done`` is on screen; the notifications it showed, and how many checks the controller
    had completed once the request was written (pending on screen)."""
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
            for key in keys:
                await pilot.press(key)
                await settle(app, pilot)
            assert any("pending" in m for m in shown()), shown()
            written = _checks_done(controller)  # at least as many as when the request was written
            for _ in range(150):  # a bound against hanging, polling the screen
                await session.step()
                await settle(app, pilot)
                if any(done in m for m in shown()):
                    break
                await asyncio.sleep(0.2)
            return shown(), written
    finally:
        await world.aclose()


def _served_at_the_next_check(controller: Controller, action: str, written: int) -> dict[str, Any]:
    """The controller's line that answered the person's ``action`` request; it was served by the check under
    way when the request was written or the next one (the first to begin after it), never later: "within
    one check interval", counted in the controller's own checks, not in wall time."""
    served = controller.read_until(lambda line: line.get("request") and line.get("what") == action
                                   and line.get("result") == "done", f"the controller serving the {action} request")
    assert REQUESTER in served["actor"], served
    print(f"\n{action}: {written} checks done once the request was written; served at check {served['check']}")
    assert served["check"] <= written + 2, (served, written)
    return served


def _request_done_event(plane: ControlPlane, action: str) -> list[str]:
    return [e["message"] for e in _events(plane, "capsule-canary") if e["reason"] == "CanaryRequestDone"
            and action in e["message"] and REQUESTER in e["message"]]


def _dashboard_case(plane: ControlPlane, prometheus: str, tmp_path: Path) -> tuple[Controller, Path, str]:
    """capsule started through a request and driven at 10 % by a controller with the pod's environment."""
    plane.reset(("capsule",))
    config = short_config(tmp_path / "config.yaml", ["capsule"], phase_s=600.0, journal=str(tmp_path / "j.jsonl"))
    controller = Controller(pod_environment(plane, tmp_path / "pod"), config, "capsule", prometheus)
    person = str(plane.kubeconfigs[REQUESTER])
    poll(lambda: controller.answers("/readyz") == 200, "/readyz 200")
    asked = console("start", "capsule", "--version", "1.2.4", "--kubeconfig", person, "--namespace", NAMESPACE,
                    "--config", str(config))
    assert asked.returncode == 0, asked.stderr
    controller.read_until(lambda line: line.get("what") == "set_weight" and line.get("to_weight") == 10,
                          "capsule at 10 %")
    return controller, config, person


def test_a_dashboard_with_the_requester_role_pauses_a_rollout_the_controller_drives(
        deployed: ControlPlane, sim_prometheus: str, tmp_path: Path) -> None:
    controller, config, person = _dashboard_case(deployed, sim_prometheus, tmp_path)
    try:
        shown, written = asyncio.run(_asked_from_the_dashboard(config, person, ("p",), "pause done", controller))
        assert any("pause done" in m for m in shown), shown
        served = _served_at_the_next_check(controller, "pause", written)
        paused = next(line for line in controller.lines if line.get("kind") == "action" and line.get("what") == "pause")
        assert REQUESTER in paused["actor"] and paused["check"] == served["check"], paused
        poll(lambda: _request_done_event(deployed, "pause"), "the CanaryRequestDone Event naming the person")
    finally:
        assert controller.stop() == 0


def test_a_dashboard_with_the_requester_role_rolls_back_a_rollout_the_controller_drives(
        deployed: ControlPlane, sim_prometheus: str, tmp_path: Path) -> None:
    """r, then y at the confirmation: the rollback is a request the controller serves at its next check, in
    the person's name, with one CanaryRolledBack Event naming them (and the request's own answer)."""
    controller, config, person = _dashboard_case(deployed, sim_prometheus, tmp_path)
    before = {e["metadata"]["uid"] for e in _events(deployed, "capsule-canary")}
    try:
        shown, written = asyncio.run(_asked_from_the_dashboard(config, person, ("r", "y"), "rollback done",
                                                               controller))
        assert any("rollback done" in m for m in shown), shown
        served = _served_at_the_next_check(controller, "rollback", written)
        rolled = next(line for line in controller.lines if line.get("kind") == "action"
                      and line.get("what") == "rollback")
        assert REQUESTER in rolled["actor"] and rolled["to_weight"] == 0 and rolled["check"] == served["check"]
        poll(lambda: _request_done_event(deployed, "rollback"), "the CanaryRequestDone Event naming the person")
        rollbacks = [e for e in _events(deployed, "capsule-canary") if e["metadata"]["uid"] not in before
                     and e["reason"] == "CanaryRolledBack"]
        assert len(rollbacks) == 1 and REQUESTER in rollbacks[0]["message"], [e["message"] for e in rollbacks]
        assert rollbacks[0].get("count", 1) == 1
    finally:
        assert controller.stop() == 0
