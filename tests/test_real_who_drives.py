"""Issue 12 against the real control plane (tests/controlplane), with the real kubectl as the person and the
apiserver's audit log as the witness: reading commands and the read-only dashboard (with key presses) write
nothing; a person's `kubectl annotate … canary-weight=0` mid-phase pauses the driving `run` within a check,
the weight stays 0 and an Event CanaryOverridden names it; SIGTERM, SIGHUP and SIGKILL of a driving `run` at
10 %, at 25 % and during promote (the stable rollout held by `kubectl rollout pause`) leave what the next
`run` resumes at the same phase and weight; a one-shot `promote` stopped by SIGTERM in flight saves and
releases its Lease at once; a person's `kubectl rollout pause` of the stable Deployment holds a promote, said
(reason, Warning Event, the headless line), until their `kubectl rollout resume`. A person's `kubectl scale
deploy … --replicas=0` or `kubectl delete deploy …-canary` mid-phase: the run takes the traffic away
(weight 0), pauses naming PODS 0/0 or the deletion, and a plain `advance --yes` is refused while the canary
has no pod; also as a busy cluster shows them (a pod terminating through its grace period, a ReplicaSet not
collected yet, each held by a finalizer). The emergency stop on a dashboard (Pilot) that drives nexus: the
panel and the detail say "weight set to 0 outside the console", the weight stays 0, one CanaryOverridden.

No Prometheus is configured: every verdict is "no data", so nothing advances by itself and the weights move
only where the test moves them (a forced advance, a forced promote)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.adapters.kube_objects import PREFIX, WEIGHT
from console.app import CanaryApp
from console.engine.config import load_config
from console.engine.model import State
from console.wiring import Options, open_world
from tests.controlplane.console_run import EXE, by_user, console, service_account, short_config, writes
from tests.controlplane.launcher import NAMESPACE, SERVICES, ControlPlane
from tests.test_tui_support import screen_text, settle
from tests.test_tui_who_drives import every_key_on_the_read_only_dashboard

pytestmark = pytest.mark.controlplane
DRIVER = "canary-console-driver"


def _config(tmp_path: Path) -> Path:
    return short_config(tmp_path / "config.yaml", SERVICES, phase_s=600.0, progress_deadline="1h",
                        kube={"lease_seconds": "5s"})  # the least a config may say (issue 13)


def _notes(plane: ControlPlane, service: str) -> dict[str, str]:
    """The canary Ingress' annotations (the live weight) with the record from its ConfigMap under the
    record's annotation names (issue 15 moved the record there)."""
    done = plane.kubectl("get", "ingress", f"{service}-canary", "-n", NAMESPACE, "-o", "json", check=False)
    notes = json.loads(done.stdout)["metadata"].get("annotations", {}) if done.returncode == 0 else {}
    cm = plane.kubectl("get", "configmap", f"{service}-canary-rollout", "-n", NAMESPACE, "-o", "json", check=False)
    record = (json.loads(cm.stdout).get("data") or {}) if cm.returncode == 0 else {}
    return notes | {PREFIX + key: value for key, value in record.items()}


def _events(plane: ControlPlane, service: str, but: frozenset[str] = frozenset()) -> list[dict]:
    """The Events on the service's canary, except those named in ``but`` (an earlier test's: the plane is
    shared and a reset leaves Events)."""
    items = json.loads(plane.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                                     f"involvedObject.name={service}-canary", "-o", "json").stdout)["items"]
    return [e for e in items if e["metadata"]["name"] not in but]


def _event_names(plane: ControlPlane, service: str) -> frozenset[str]:
    return frozenset(e["metadata"]["name"] for e in _events(plane, service))


def _holder(plane: ControlPlane, service: str) -> str:
    done = plane.kubectl("get", "lease", f"canary-console-{service}", "-n", NAMESPACE, "-o", "json", check=False)
    return json.loads(done.stdout)["spec"].get("holderIdentity", "") if done.returncode == 0 else ""


def _until(condition, what: str, timeout: float = 120.0, process: subprocess.Popen | None = None) -> None:
    """Poll a condition the cluster shows (bounded: fails rather than hangs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run exited {process.returncode} before {what}: {process.stderr.read()}")
        time.sleep(0.2)
    raise AssertionError(f"never saw {what}")


def _run(plane: ControlPlane, service: str, version: str, config: Path) -> subprocess.Popen:
    command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
    return subprocess.Popen([*command, "run", service, "--version", version, "--headless", "--config", str(config),
                             "--kubeconfig", str(plane.kubeconfigs[DRIVER]), "--namespace", NAMESPACE],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _driving_run(plane: ControlPlane, service: str, version: str, config: Path, state: str = "observing",
                 timeout: float = 120.0) -> subprocess.Popen:
    """A `run` that drives ``service`` (a SIGKILLed predecessor's Lease is waited out: it is refused, then
    tried again, until the Lease has expired)."""
    deadline = time.monotonic() + timeout
    before = _holder(plane, service)  # a SIGKILLed run's, until it expires
    while True:
        run = _run(plane, service, version, config)
        try:
            _until(lambda: _holder(plane, service) not in ("", before)
                   and _notes(plane, service).get(PREFIX + "state") == state, f"{service} driven, {state}", 60, run)
            return run
        except AssertionError as exc:
            if run.poll() is None:
                run.kill()
                run.wait()
            if "drives" not in str(exc) or time.monotonic() > deadline:
                raise


def _stop(run: subprocess.Popen, how: signal.Signals) -> tuple[int, str, str]:
    run.send_signal(how)
    out, err = run.communicate(timeout=90)
    return run.returncode, out, err


def test_read_commands_and_the_read_only_dashboard_write_nothing(controlplane: ControlPlane, tmp_path: Path) -> None:
    controlplane.reset(("perception",))  # the plane is shared: an earlier module promoted perception to 1.2.4
    config = _config(tmp_path)
    run = _driving_run(controlplane, "perception", "1.2.4", config)
    code, out, err = _stop(run, signal.SIGTERM)
    assert code == 3, out + err
    kubeconfig = str(controlplane.kubeconfigs[DRIVER])
    mark = controlplane.audit_mark()
    common = ("--config", str(config), "--kubeconfig", kubeconfig, "--namespace", NAMESPACE)
    status = console("status", *common)
    status_json = console("status", "perception", "--json", *common)
    analyze = console("analyze", "perception", *common)
    asyncio.run(_read_only_dashboard_with_keys(config, kubeconfig))
    written = writes(by_user(controlplane.audit_events(mark), service_account(DRIVER)))
    assert status.returncode == 0 and status_json.returncode == 0, status.stderr + status_json.stderr
    assert analyze.returncode in (3, 4), analyze.stderr
    assert written == [], [(e["verb"], e["objectRef"]) for e in written]
    assert "no driver since" in status.stdout and json.loads(status_json.stdout)["services"][0]["weight"] == 10


async def _read_only_dashboard_with_keys(config_path: Path, kubeconfig: str) -> None:
    options = Options(read_only=True, kubeconfig=kubeconfig, namespace=NAMESPACE)
    await every_key_on_the_read_only_dashboard(load_config(config_path, env={}), options)


def test_a_person_setting_weight_0_mid_phase_stops_the_driver(controlplane: ControlPlane, tmp_path: Path) -> None:
    controlplane.reset(("nexus",))  # the plane is shared
    earlier = _event_names(controlplane, "nexus")
    config = _config(tmp_path)
    run = _driving_run(controlplane, "nexus", "1.2.4", config)
    assert _notes(controlplane, "nexus")[WEIGHT] == "10"
    started = time.monotonic()
    controlplane.kubectl("annotate", "ingress", "nexus-canary", "-n", NAMESPACE, f"{WEIGHT}=0", "--overwrite")
    out, err = run.communicate(timeout=90)  # a paused rollout ends a headless run
    took = time.monotonic() - started
    notes = _notes(controlplane, "nexus")
    events = _events(controlplane, "nexus", but=earlier)
    assert run.returncode == 3, out + err
    assert "weight set to 0 outside the console" in out and "kubectl" in out, out
    assert took < 15, took  # within a check or two (checks every second), plus the process's exit
    assert notes[WEIGHT] == "0" and notes[PREFIX + "state"] == "paused" and notes[PREFIX + "weight"] == "0"
    reasons = {e["reason"] for e in events}
    assert {"CanaryOverridden", "CanaryPaused"} <= reasons, reasons
    overridden = next(e for e in events if e["reason"] == "CanaryOverridden")
    assert overridden["type"] == "Warning" and "10%" in overridden["message"]


def test_stopped_runs_at_10_25_and_promoting_are_resumed_by_the_next(controlplane: ControlPlane,
                                                                      tmp_path: Path) -> None:
    controlplane.reset(("perception", "capsule", "odyssey", "plato", "nexus", "synapse"))  # the plane is shared
    config = _config(tmp_path)
    service, kubeconfig = "capsule", str(controlplane.kubeconfigs[DRIVER])
    earlier = _event_names(controlplane, service)  # an earlier module's rollout of capsule left its Events
    common = ("--config", str(config), "--kubeconfig", kubeconfig, "--namespace", NAMESPACE)
    run = _driving_run(controlplane, service, "2.0.0", config)
    for how in (signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
        code, out, err = _stop(run, how)
        if how is not signal.SIGKILL:
            assert code == 3 and f"stopped by {how.name}" in out, out + err
            assert not _holder(controlplane, service)  # released: no Lease held by a dead process
            assert _notes(controlplane, service)[PREFIX + "driver"] == ""
        run = _driving_run(controlplane, service, "2.0.0", config)
        notes = _notes(controlplane, service)
        assert (notes[WEIGHT], notes[PREFIX + "phase"], notes[PREFIX + "state"]) == ("10", "0", "observing"), how
    _stop(run, signal.SIGTERM)
    forced = console("advance", service, "--force", "--yes", *common)
    assert forced.returncode == 0, forced.stderr
    for how in (signal.SIGKILL, signal.SIGTERM, signal.SIGHUP):
        run = _driving_run(controlplane, service, "2.0.0", config)
        notes = _notes(controlplane, service)
        assert (notes[WEIGHT], notes[PREFIX + "phase"], notes[PREFIX + "state"]) == ("25", "1", "observing"), how
        code, out, err = _stop(run, how)
        if how is not signal.SIGKILL:
            assert code == 3 and f"stopped by {how.name} — observing at 25%" in out, out + err
            assert not _holder(controlplane, service)  # released: no Lease held by a dead process
            assert _notes(controlplane, service)[PREFIX + "driver"] == ""
    command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
    promote = subprocess.Popen([*command, "promote", service, "--force", "--yes", *common],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _until(lambda: _notes(controlplane, service).get(PREFIX + "state") == "promoting", "promoting", 120, promote)
    promote.kill()  # SIGKILL during the promote
    promote.wait()
    deadline = time.monotonic() + 120
    while True:  # the killed promote's Lease runs out, then the next run finishes the promote
        finished = console("run", service, "--version", "2.0.0", "--headless", *common)
        if "drives" not in finished.stderr or time.monotonic() > deadline:
            break
        time.sleep(1)
    image = json.loads(controlplane.kubectl("get", "deploy", service, "-n", NAMESPACE, "-o", "json").stdout)[
        "spec"]["template"]["spec"]["containers"][0]["image"]
    gone = controlplane.kubectl("get", "deploy", f"{service}-canary", "-n", NAMESPACE, check=False)
    events = _events(controlplane, service, but=earlier)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert image.endswith(":2.0.0") and gone.returncode != 0
    said = [(e["reason"], e["message"]) for e in events]
    # no action lost or repeated across seven processes: one start, one 0 → 10, one 10 → 25, one promote
    assert sum(r == "CanaryStarted" for r, _ in said) == 1, said
    assert sum(r == "CanaryWeightChanged" and "0% → 10%" in m for r, m in said) == 1, said
    assert sum(r == "CanaryWeightChanged" and "10% → 25%" in m for r, m in said) == 1, said
    assert sum(r == "CanaryPromoted" for r, _ in said) == 1, said


def test_sigterm_and_sighup_of_a_run_during_promote_leave_it_to_the_next(controlplane: ControlPlane,
                                                                          tmp_path: Path) -> None:
    """A `run` that is promoting (the stable rollout held by `kubectl rollout pause`, so the promote waits on
    the real deployment controller) stopped by SIGTERM, then by SIGHUP: each saves `promoting`, clears the
    driver and releases the Lease; once the rollout may go on, the next run finishes the promote, with one
    CanaryPromoted and no action repeated."""
    service, version = "odyssey", "2.0.7"
    controlplane.reset((service,))  # the plane is shared
    earlier = _event_names(controlplane, service)
    config = _config(tmp_path)
    common = ("--config", str(config), "--kubeconfig", str(controlplane.kubeconfigs[DRIVER]), "--namespace", NAMESPACE)
    _stop(_driving_run(controlplane, service, version, config), signal.SIGTERM)
    controlplane.kubectl("rollout", "pause", "deploy", service, "-n", NAMESPACE)
    try:
        command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
        promote = subprocess.Popen([*command, "promote", service, "--force", "--yes", *common],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _until(lambda: _notes(controlplane, service).get(PREFIX + "state") == "promoting", "promoting", 120, promote)
        promote.kill()  # a one-shot command, killed while it waits on the stable rollout
        promote.wait()
        for how in (signal.SIGTERM, signal.SIGHUP):
            run = _driving_run(controlplane, service, version, config, state="promoting")
            code, out, err = _stop(run, how)
            notes = _notes(controlplane, service)
            assert code == 3 and f"stopped by {how.name} — promoting at" in out, out + err
            assert not _holder(controlplane, service)  # released: no Lease held by a dead process
            assert (notes[PREFIX + "state"], notes[PREFIX + "driver"]) == ("promoting", ""), notes
    finally:
        controlplane.kubectl("rollout", "resume", "deploy", service, "-n", NAMESPACE)
    finished = console("run", service, "--version", version, "--headless", *common)
    image = json.loads(controlplane.kubectl("get", "deploy", service, "-n", NAMESPACE, "-o", "json").stdout)[
        "spec"]["template"]["spec"]["containers"][0]["image"]
    said = [(e["reason"], e["message"]) for e in _events(controlplane, service, but=earlier)]
    assert finished.returncode == 0 and "promoted" in finished.stdout, finished.stdout + finished.stderr
    assert image.endswith(f":{version}")
    assert controlplane.kubectl("get", "deploy", f"{service}-canary", "-n", NAMESPACE, check=False).returncode != 0
    assert sum(r == "CanaryStarted" for r, _ in said) == 1, said
    assert sum(r == "CanaryPromoted" for r, _ in said) == 1, said


def test_a_promote_held_by_a_paused_stable_is_said_and_a_sigterm_releases_it_at_once(controlplane: ControlPlane,
                                                                                      tmp_path: Path) -> None:
    """A person pauses the stable Deployment (`kubectl rollout pause`) before a one-shot `promote`: the promote
    is held for them and said (the record's reason, a Warning Event CanaryPromoteHeld). SIGTERM of that
    command in flight: exit 3, the record saved where it was (promoting, no driver) and the Lease released at
    once, so the next `run` drives without waiting it out; it says the hold too (its headless line), and
    once the person runs `kubectl rollout resume` the promote goes on and finishes."""
    service, version = "plato", "2.1.0"
    controlplane.reset((service,))  # the plane is shared
    earlier = _event_names(controlplane, service)
    config = short_config(tmp_path / "config.yaml", SERVICES, phase_s=600.0, progress_deadline="1h",
                          kube={"lease_seconds": "30s", "promote_deadline": "10s"})  # a Lease outlives the test
    common = ("--config", str(config), "--kubeconfig", str(controlplane.kubeconfigs[DRIVER]), "--namespace", NAMESPACE)
    _stop(_driving_run(controlplane, service, version, config), signal.SIGTERM)

    def held() -> list[dict]:
        return [e for e in _events(controlplane, service, but=earlier) if e["reason"] == "CanaryPromoteHeld"]

    controlplane.kubectl("rollout", "pause", "deploy", service, "-n", NAMESPACE)
    try:
        command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
        promote = subprocess.Popen([*command, "promote", service, "--force", "--yes", *common],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _until(held, "the promote held and said so", 120, promote)
        assert _holder(controlplane, service)  # the command drives: it holds the Lease
        code, out, err = _stop(promote, signal.SIGTERM)
        notes = _notes(controlplane, service)
        assert code == 3 and "stopped by SIGTERM — promoting at 10%" in err, out + err
        assert "promote of 2.1.0 held at 10%" in err, err  # the command said why it waits
        assert not _holder(controlplane, service)  # released at once, not left to expire (30 s)
        assert (notes[PREFIX + "state"], notes[PREFIX + "driver"]) == ("promoting", ""), notes
        assert notes[PREFIX + "reason"].startswith("promote held: the stable Deployment plato was paused"), notes
        warning = held()[0]
        assert warning["type"] == "Warning" and "kubectl rollout pause" in warning["message"], warning
        run = _run(controlplane, service, version, config)  # drives at once: nobody's Lease to wait out
        _until(lambda: len(held()) == 2, "the next run holding the promote too", 60, run)
    finally:
        controlplane.kubectl("rollout", "resume", "deploy", service, "-n", NAMESPACE)
    out, err = run.communicate(timeout=120)
    image = json.loads(controlplane.kubectl("get", "deploy", service, "-n", NAMESPACE, "-o", "json").stdout)[
        "spec"]["template"]["spec"]["containers"][0]["image"]
    said = [(e["reason"], e["message"]) for e in _events(controlplane, service, but=earlier)]
    assert run.returncode == 0 and f"{service}: promoted" in out, out + err
    assert "holds the Lease" not in err, err
    assert "promote of 2.1.0 held at 10%" in out and "the stable Deployment plato was resumed" in out, out
    assert "did not complete within" not in out + err  # held for a person, never failed by the deadline
    assert image.endswith(f":{version}")
    assert sum(r == "CanaryPromoted" for r, _ in said) == 1, said
    assert sum(r == "CanaryPromoteResumed" for r, _ in said) == 1, said


def _canary_pods(plane: ControlPlane, service: str) -> list[dict]:
    done = plane.kubectl("get", "pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/name={service},track=canary",
                         "-o", "json")
    return json.loads(done.stdout)["items"]


GRACE = "canary-console.test/grace-period"  # a finalizer standing in for a kubelet's termination grace period


def _hold_pods(plane: ControlPlane, service: str, held: bool) -> None:
    """Hold (or let go) the canary's pods as a real kubelet does while their containers stop: the plane's node
    emulator removes a deleted pod at once, a kubelet only after its grace period, the pod's status still
    Ready meanwhile (only its deletionTimestamp says it is terminating)."""
    patch = json.dumps({"metadata": {"finalizers": [GRACE] if held else None}})
    for pod in _canary_pods(plane, service):
        plane.kubectl("patch", "pod", pod["metadata"]["name"], "-n", NAMESPACE, "--type=merge", "-p", patch)


def _pods_going(counted: str) -> tuple[str, str]:
    """What a run says of a canary scaled to 0: its pods ``counted`` ready, or, when the check that saw the
    scale came before the ReplicaSet controller deleted the pod (a busy machine: CI's run of e4d1e8f), the
    pod still Ready and going away. Either way the traffic is taken away in that check."""
    return (f"no ready canary pod ({counted})", "canary pods going away with their Deployment scaled to 0 (1/1 ready)")


def _without_pods_mid_phase(plane: ControlPlane, tmp_path: Path, service: str, person: tuple[str, ...],
                            graceful: bool = False) -> tuple[str, dict[str, str], subprocess.CompletedProcess[str],
                                                             list[dict]]:
    """``service`` driven by a `run` at 10 %, observing; the person's ``person`` kubectl command takes its
    canary pods away mid-phase (``graceful``: each pod stays, terminating, as under a kubelet); the run stops
    on it (paused, exit 3), and once the pods are gone a plain `advance --yes` is asked. (The run's stdout,
    the notes as the run left them, the advance, the Events.)"""
    plane.reset((service,))  # the plane is shared
    earlier = _event_names(plane, service)
    config = _config(tmp_path)
    common = ("--config", str(config), "--kubeconfig", str(plane.kubeconfigs[DRIVER]), "--namespace", NAMESPACE)
    run = _driving_run(plane, service, "2.0.0", config)
    assert _notes(plane, service)[WEIGHT] == "10" and _canary_pods(plane, service)
    try:
        _hold_pods(plane, service, graceful)
        plane.kubectl(*person, "-n", NAMESPACE)
        out, err = run.communicate(timeout=90)  # a paused rollout ends a headless run
        notes = _notes(plane, service)
        assert run.returncode == 3, out + err
        assert not graceful or all(p["metadata"].get("deletionTimestamp") for p in _canary_pods(plane, service))
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        _hold_pods(plane, service, False)
    _until(lambda: not _canary_pods(plane, service), f"{service}'s canary pods gone")
    advance = console("advance", service, "--yes", *common)
    return out, notes, advance, _events(plane, service, but=earlier)


def test_a_person_scaling_the_canary_to_0_mid_phase_takes_its_traffic_away(controlplane: ControlPlane,
                                                                          tmp_path: Path) -> None:
    """`kubectl scale deploy capsule-canary --replicas=0` while observing at 10 %: the run never advances; it
    takes the canary's traffic away (weight 0: nginx would answer that share with 503s), pauses naming
    PODS 0/0 (or its pods going away) and the person's scale as the reason, writes nothing over their
    replicas, and a plain `advance --yes` afterwards is refused with that reason."""
    out, notes, advance, events = _without_pods_mid_phase(
        controlplane, tmp_path, "capsule", ("scale", "deploy", "capsule-canary", "--replicas=0"))
    replicas = json.loads(controlplane.kubectl("get", "deploy", "capsule-canary", "-n", NAMESPACE, "-o", "json")
                          .stdout)["spec"]["replicas"]
    assert "canary scaled to 0 replicas outside the console (was 1)" in out, out
    assert any(said in out for said in _pods_going("0/0")), out
    assert (notes[WEIGHT], notes[PREFIX + "weight"], notes[PREFIX + "state"]) == ("0", "0", "paused"), notes
    assert any(said in notes[PREFIX + "reason"] for said in _pods_going("0/0")), notes
    assert replicas == 0  # theirs, not written over
    assert advance.returncode == 2 and "cannot advance: no ready canary pod (0/0)" in advance.stderr, \
        advance.stdout + advance.stderr
    assert _notes(controlplane, "capsule")[WEIGHT] == "0"  # the refused advance moved nothing
    reasons = [e["reason"] for e in events]
    assert "CanaryOverridden" in reasons and "CanaryPaused" in reasons, reasons
    assert not any(e["reason"] == "CanaryWeightChanged" and "→ 25%" in e["message"] for e in events), events


def test_a_person_deleting_the_canary_deployment_mid_phase_is_named(controlplane: ControlPlane,
                                                                   tmp_path: Path) -> None:
    """`kubectl delete deploy odyssey-canary` while observing at 10 %: the run never advances; it names the
    deleted Deployment, takes the traffic away (weight 0), pauses, and a plain `advance --yes` is refused
    while the canary has no pod."""
    out, notes, advance, events = _without_pods_mid_phase(
        controlplane, tmp_path, "odyssey", ("delete", "deploy", "odyssey-canary"))
    gone = controlplane.kubectl("get", "deploy", "odyssey-canary", "-n", NAMESPACE, check=False)
    assert "canary Deployment odyssey-canary was deleted outside the console" in out, out
    assert (notes[WEIGHT], notes[PREFIX + "weight"], notes[PREFIX + "state"]) == ("0", "0", "paused"), notes
    assert "odyssey-canary was deleted outside the console" in notes[PREFIX + "reason"], notes
    assert gone.returncode != 0  # not made again behind the person's back
    assert advance.returncode == 2 and "cannot advance: no ready canary pod (0/0)" in advance.stderr, \
        advance.stdout + advance.stderr
    assert _notes(controlplane, "odyssey")[WEIGHT] == "0"
    reasons = [e["reason"] for e in events]
    assert "CanaryOverridden" in reasons, reasons
    assert not any(e["reason"] == "CanaryWeightChanged" and "→ 25%" in e["message"] for e in events), events


async def _checks_until(session, app, pilot, condition, what: str, tries: int = 300) -> int:
    """Check after check (each repainted) until ``condition()``; how many checks it took (bounded: fails
    rather than hangs; the short sleep only lets the cluster's watch deliver between checks)."""
    for done in range(1, tries + 1):
        await session.step()
        await settle(app, pilot)
        if condition():
            return done
        await asyncio.sleep(0.2)
    raise AssertionError(f"never saw {what}")


async def _dashboard_overridden(plane: ControlPlane, config_path: Path, service: str) -> dict[str, object]:
    """A dashboard (Pilot) over a real kube session that drives ``service``: started from it and observing
    at 10 %, then a person's `kubectl annotate … canary-weight=0 --overwrite`. What it showed, and when."""
    options = Options(kubeconfig=str(plane.kubeconfigs[DRIVER]), namespace=NAMESPACE)
    world = await open_world(load_config(config_path, env={}), options, drive=(service,))
    session, seen = world.session, {}
    controller = session.controllers[service]
    app = CanaryApp(session, autorun=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            started = await session.intent(service, "start", version="1.2.4")
            assert started.ok, started.message
            await _checks_until(session, app, pilot, lambda: (controller.state, controller.weight)
                                == (State.OBSERVING, 10), f"{service} observing at 10%")
            seen["mark"] = plane.audit_mark()
            await asyncio.to_thread(plane.kubectl, "annotate", "ingress", f"{service}-canary", "-n", NAMESPACE,
                                    f"{WEIGHT}=0", "--overwrite")
            # the first check whose snapshot shows the person's 0 is the one that must pause
            await _checks_until(session, app, pilot, lambda: controller.snapshot.weight == 0, "the weight 0 seen")
            seen["state"], seen["panel"] = controller.state, screen_text(app)
            await pilot.press("enter")
            await settle(app, pilot)
            seen["detail"] = screen_text(app)
            for _ in range(5):  # further checks: nothing writes the weight back
                await session.step()
                await settle(app, pilot)
            seen["after"] = (controller.state, controller.weight, screen_text(app))
    finally:
        await world.aclose()
    return seen


def test_a_person_setting_weight_0_mid_phase_is_shown_on_the_dashboard_that_drives(controlplane: ControlPlane,
                                                                                  tmp_path: Path) -> None:
    """The runbook's emergency stop while a dashboard drives nexus: the first check that sees it pauses; the
    panel and the detail say "weight set to 0 outside the console (was 10%)"; through five further checks the
    weight stays 0 (no write to the Ingress in the audit log) and one CanaryOverridden Event names it."""
    service = "nexus"
    controlplane.reset((service,))  # the plane is shared
    earlier = _event_names(controlplane, service)
    config = short_config(tmp_path / "config.yaml", [service], phase_s=600.0, progress_deadline="1h",
                          kube={"lease_seconds": "5s"})
    seen = asyncio.run(_dashboard_overridden(controlplane, config, service))
    said = "weight set to 0 outside the console (was 10%"
    ingress_writes = [e for e in writes(by_user(controlplane.audit_events(seen["mark"]), service_account(DRIVER)))
                      if (e.get("objectRef") or {}).get("resource") == "ingresses"]
    overridden = [e for e in _events(controlplane, service, but=earlier) if e["reason"] == "CanaryOverridden"]
    state, weight, after = seen["after"]
    assert seen["state"] is State.PAUSED
    assert said in seen["panel"] and "paused" in seen["panel"], seen["panel"]
    assert said in seen["detail"] and "overridden at 10%" in seen["detail"], seen["detail"]
    assert (state, weight) == (State.PAUSED, 0) and said in after, after
    assert _notes(controlplane, service)[WEIGHT] == "0"
    assert ingress_writes == [], [(e["verb"], e["objectRef"]) for e in ingress_writes]
    assert len(overridden) == 1 and overridden[0]["type"] == "Warning", overridden
    assert overridden[0].get("count", 1) == 1 and "10%" in overridden[0]["message"], overridden


def test_a_canary_scaled_to_0_whose_pods_still_terminate_has_its_traffic_taken_away(controlplane: ControlPlane,
                                                                                   tmp_path: Path) -> None:
    """The same scale to 0 as a real cluster shows it: the pod stays a while, terminating, its status still
    Ready (a kubelet's grace period). A terminating pod is no endpoint (EndpointSlice: not ready once
    terminating), so nginx answers the canary's share with 503s at once: the run must take the traffic
    away then, not pause at 10 % and exit, leaving 10 % of users on a canary with no pod and no driver."""
    out, notes, advance, _events = _without_pods_mid_phase(
        controlplane, tmp_path, "capsule", ("scale", "deploy", "capsule-canary", "--replicas=0"), graceful=True)
    assert "canary scaled to 0 replicas outside the console (was 1)" in out, out
    assert (notes[WEIGHT], notes[PREFIX + "weight"], notes[PREFIX + "state"]) == ("0", "0", "paused"), notes
    # the terminating pod counted, not ready (or, seen before the ReplicaSet controller deleted it, going away)
    assert any(said in notes[PREFIX + "reason"] for said in _pods_going("0/1")), notes
    assert advance.returncode == 2 and "cannot advance: no ready canary pod (0/0)" in advance.stderr, \
        advance.stdout + advance.stderr


def test_a_deleted_canary_deployment_whose_pods_are_not_collected_yet_has_its_traffic_taken_away(
        controlplane: ControlPlane, tmp_path: Path) -> None:
    """`kubectl delete deploy odyssey-canary` as a busy cluster shows it: the Deployment is gone at once, its
    ReplicaSet and Ready pods only once the garbage collector gets to them (held here by a finalizer on the
    ReplicaSet). The pods are going away with nobody to bring them back: the run names the deletion and takes
    the traffic away in the check that sees it, not pause at 10 % and exit before the pods go."""
    service = "odyssey"
    controlplane.reset((service,))  # the plane is shared
    config = _config(tmp_path)
    run = _driving_run(controlplane, service, "2.0.0", config)
    sets = json.loads(controlplane.kubectl("get", "replicasets", "-n", NAMESPACE, "-l",
                                           f"app.kubernetes.io/name={service},track=canary", "-o", "json").stdout)
    names = [s["metadata"]["name"] for s in sets["items"]]
    assert names and _canary_pods(controlplane, service)
    try:
        for name in names:
            controlplane.kubectl("patch", "replicaset", name, "-n", NAMESPACE, "--type=merge", "-p",
                                 json.dumps({"metadata": {"finalizers": [GRACE]}}))
        controlplane.kubectl("delete", "deploy", f"{service}-canary", "-n", NAMESPACE)
        out, err = run.communicate(timeout=90)  # a paused rollout ends a headless run
        notes = _notes(controlplane, service)
        pods = _canary_pods(controlplane, service)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for name in names:
            controlplane.kubectl("patch", "replicaset", name, "-n", NAMESPACE, "--type=merge", "-p",
                                 json.dumps({"metadata": {"finalizers": None}}), check=False)
    _until(lambda: not _canary_pods(controlplane, service), f"{service}'s canary pods gone")
    assert run.returncode == 3, out + err
    assert pods and all(not p["metadata"].get("deletionTimestamp") for p in pods)  # still there, still Ready
    assert "canary Deployment odyssey-canary was deleted outside the console" in out, out
    assert (notes[WEIGHT], notes[PREFIX + "weight"], notes[PREFIX + "state"]) == ("0", "0", "paused"), notes
    assert "canary pods going away with their deleted Deployment (1/1 ready)" in notes[PREFIX + "reason"], notes
