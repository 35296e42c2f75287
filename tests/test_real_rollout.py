"""Whole rollouts on the real control plane through the installed `canary-console run --headless`, judged
from a real Prometheus scraping the simulated world's metrics (`canary-console sandbox`, healthy canaries;
the rollback comes from a service check that any canary traffic breaches). The canary's pods come from the real deployment
controller (made Running/Ready by the node emulator), promote waits on the real rollout of the stable
Deployment, deletions go through the real garbage collector. Every request is read back from the
apiserver's audit log; with the driver Role's kubeconfig the Role must grant no more than was used."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from console.adapters.kube import connect
from console.adapters.kube_objects import WEIGHT
from console.engine.config import Config
from console.engine.model import Track
from console.engine.ports import LogLine
from tests.controlplane.console_run import (EXE, by_user, console, service_account, short_config, verb_resource,
                                            writes)
from tests.controlplane.launcher import NAMESPACE, RBAC, ControlPlane
from tests.prom import PrometheusServer, free_port, require_prometheus

pytestmark = [pytest.mark.controlplane, pytest.mark.prometheus]

DRIVER = "canary-console-driver"


@pytest.fixture(scope="module")
def sim_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus scraping `canary-console sandbox` (its world 10x faster: enough requests to judge
    a 10 % canary in a 10 s window); yields the Prometheus URL once the first canary samples are in."""
    require_prometheus()
    port = free_port()
    command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
    sandbox = subprocess.Popen([*command, "sandbox", "--port", str(port), "--start", "--speed", "10", "--scenario",
                                "healthy"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{port}"])
    try:
        server.start()
        query = 'count(http_server_requests_seconds_count{track="canary"})'
        for _ in range(600):  # a bound against hanging (about a minute), not a wait for time to pass
            answer = httpx.get(f"{server.url}/api/v1/query", params={"query": query}, timeout=5).json()
            if answer["data"]["result"]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("Prometheus never scraped canary samples from the sandbox")
        yield server.url
    finally:
        server.stop()
        sandbox.terminate()
        sandbox.communicate(timeout=30)


@pytest.fixture(scope="module")
def module_start(controlplane: ControlPlane) -> int:
    """Where the audit log stood before this module's first rollout (so the Role test counts these flows
    only, whatever other modules did as the driver). The module's services start from the seed: the plane is
    shared, and an earlier module may have promoted perception to the version rolled out here."""
    controlplane.reset(("perception", "capsule"))
    return controlplane.audit_mark()


def _run(plane: ControlPlane, service: str, prometheus: str, config: Path, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    return console("run", service, "--version", "1.2.4", "--headless", "--kubeconfig", str(kubeconfig),
                   "--namespace", NAMESPACE, "--prometheus", prometheus, "--config", str(config), timeout=420)


def _weights(events: list[dict], service: str) -> list[int]:
    """The canary weights the client sent for `service`, in order, repeats folded."""
    sent: list[int] = []
    for e in events:
        ref = e.get("objectRef") or {}
        body = e.get("requestObject") or {}
        weight = ((body.get("metadata") or {}).get("annotations") or {}).get(WEIGHT)
        if ref.get("resource") == "ingresses" and ref.get("name", body.get("metadata", {}).get("name")) == \
                f"{service}-canary" and weight is not None and (not sent or sent[-1] != int(weight)):
            sent.append(int(weight))
    return sent


def _index(events: list[dict], predicate) -> int:
    return next(i for i, e in enumerate(events) if predicate(e))


def _gone(plane: ControlPlane, service: str) -> bool:
    out = plane.kubectl("get", "deploy,svc,ingress,rs,pods", "-n", NAMESPACE, "-l",
                        f"app.kubernetes.io/name={service},track=canary", "-o", "name").stdout
    named = plane.kubectl("get", "deploy,svc,ingress", "-n", NAMESPACE, "-o", "name").stdout
    return not out.strip() and f"/{service}-canary\n" not in named


def test_a_whole_rollout_with_the_driver_role_promotes_on_the_real_controllers(
        controlplane: ControlPlane, module_start: int, sim_prometheus: str, tmp_path: Path) -> None:
    mark = controlplane.audit_mark()
    done = _run(controlplane, "perception", sim_prometheus, short_config(tmp_path / "c.yaml", ["perception"]),
                controlplane.kubeconfigs[DRIVER])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    events = controlplane.audit_events(mark)
    mine = by_user(events, service_account(DRIVER))
    # the canary Ingress may be created at 0 while its pods start; traffic only once one of them is Ready
    assert _weights(mine, "perception") in ([10, 25, 50, 75, 100], [0, 10, 25, 50, 75, 100])
    first_traffic = _index(events, lambda e: _weights([e], "perception") == [10])
    canary_ready = _index(events, lambda e: e["user"]["username"] == "canary:node-emulator"
                          and e["objectRef"].get("subresource") == "status"
                          and e["objectRef"].get("name", "").startswith("perception-canary-"))
    assert canary_ready < first_traffic, "10 % was sent before a canary pod was Ready"

    # the canary's pods were made by the real ReplicaSet controller, not by the console
    pod_creators = {e["user"]["username"] for e in writes(events)
                    if e["verb"] == "create" and e["objectRef"]["resource"] == "pods"
                    and e["objectRef"].get("subresource") is None}
    assert pod_creators == {"system:serviceaccount:kube-system:replicaset-controller"}, pod_creators

    # promote: the stable Deployment patched, its real rollout observed, only then the canary deleted
    ours = {id(e) for e in mine}
    patched = _index(events, lambda e: id(e) in ours and e["verb"] == "patch"
                     and e["objectRef"]["resource"] == "deployments" and e["objectRef"]["name"] == "perception")
    deleted = _index(events, lambda e: id(e) in ours and e["verb"] == "delete"
                     and e["objectRef"]["resource"] == "deployments" and e["objectRef"]["name"] == "perception-canary")
    controller_status = [i for i, e in enumerate(events) if patched < i < deleted
                         and e["user"]["username"].endswith(":deployment-controller")
                         and e["objectRef"].get("name") == "perception" and e["objectRef"].get("subresource") == "status"]
    assert controller_status, "the canary was deleted before the deployment controller reported the stable rollout"
    stable = json.loads(controlplane.kubectl("get", "deploy", "perception", "-n", NAMESPACE, "-o", "json").stdout)
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.2.4")
    assert stable["status"]["observedGeneration"] == stable["metadata"]["generation"]
    assert stable["status"].get("availableReplicas") == stable["status"].get("updatedReplicas") == 2

    # the canary Deployment's ReplicaSet and Pods go through the real garbage collector
    controlplane.kubectl("wait", "-n", NAMESPACE, "--for=delete", "pod,rs", "-l",
                         "app.kubernetes.io/name=perception,track=canary", "--timeout=120s")
    assert _gone(controlplane, "perception")
    stable_pods = json.loads(controlplane.kubectl("get", "pods", "-n", NAMESPACE, "-l",
                                                  "app.kubernetes.io/name=perception", "-o", "json").stdout)["items"]
    assert len(stable_pods) == 2 and all(p["spec"]["containers"][0]["image"].endswith(":1.2.4") for p in stable_pods)


def test_an_automatic_rollback_on_the_real_controllers(
        controlplane: ControlPlane, sim_prometheus: str, tmp_path: Path) -> None:
    mark = controlplane.audit_mark()
    # A check every canary with traffic breaches, so the verdict is a rollback whatever the simulated world
    # does (the sandbox runs its own rollouts of the world's canaries), judged from the real Prometheus.
    breach = {"name": "capsule", "checks": [{
        "name": "any_canary_traffic", "threshold": 0, "breach": "above", "action": "rollback",
        "query": 'sum(rate(http_server_requests_seconds_count{service="${SERVICE}",track="${TRACK}"}[30s]))'}]}
    done = _run(controlplane, "capsule", sim_prometheus, short_config(tmp_path / "c.yaml", [breach]),
                controlplane.kubeconfigs[DRIVER])
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    mine = by_user(controlplane.audit_events(mark), service_account(DRIVER))
    weights = _weights(mine, "capsule")
    assert 10 in weights and weights[-1] == 0, weights  # traffic was sent, then taken away
    canary = json.loads(controlplane.kubectl("get", "deploy", "capsule-canary", "-n", NAMESPACE, "-o", "json").stdout)
    assert canary["spec"]["replicas"] == 0
    ingress = json.loads(controlplane.kubectl("get", "ingress", "capsule-canary", "-n", NAMESPACE, "-o", "json").stdout)
    assert ingress["metadata"]["annotations"][WEIGHT] == "0"
    controlplane.kubectl("wait", "-n", NAMESPACE, "--for=delete", "pod", "-l",
                         "app.kubernetes.io/name=capsule,track=canary", "--timeout=120s")


def test_delete_canary_after_an_automatic_rollback(controlplane: ControlPlane, sim_prometheus: str) -> None:
    """The runbook's manual step after the rollback above, as a separate confirmed command: the canary's
    objects deleted, their ReplicaSet through the real garbage collector."""
    deleted = console("delete-canary", "capsule", "--yes", "--kubeconfig", str(controlplane.kubeconfigs[DRIVER]),
                      "--namespace", NAMESPACE)
    assert deleted.returncode == 0, deleted.stderr
    controlplane.kubectl("wait", "-n", NAMESPACE, "--for=delete", "rs", "-l",
                         "app.kubernetes.io/name=capsule,track=canary", "--timeout=120s")
    assert _gone(controlplane, "capsule")


async def _first_stable_log_line(plane: ControlPlane, service: str) -> LogLine:
    cluster = await connect(Config(), read_only=False, kubeconfig=str(plane.kubeconfigs[DRIVER]), namespace=NAMESPACE)
    try:
        lines = cluster.follow_logs(service, Track.STABLE)
        try:
            return await asyncio.wait_for(anext(lines), timeout=60)  # a bound against hanging
        finally:
            await lines.aclose()
    finally:
        await cluster.aclose()


def test_the_detail_follows_pod_logs_with_the_driver_role(controlplane: ControlPlane, module_start: int) -> None:
    """The console's one read of pods/log: the detail screen's log view, as the driver, through the real
    apiserver (which asks the emulated kubelet); so the Role test below sees every flow the console has."""
    line = asyncio.run(_first_stable_log_line(controlplane, "perception"))
    assert line.track is Track.STABLE and line.pod.startswith("perception-") and line.text


async def _watch_leases_as_the_driver(plane: ControlPlane) -> str:
    """Open the Lease watch as the driver, wait until the server answered it (or a bound), close it; the
    watcher's state then ("watching" once the server accepted the watch)."""
    cluster = await connect(Config(), read_only=False, kubeconfig=str(plane.kubeconfigs[DRIVER]), namespace=NAMESPACE)
    try:
        cluster.watch_leases()
        for _ in range(600):  # a bound against hanging (60 s), not a speed assertion
            if cluster.lease_watch.state == "watching":
                break
            await asyncio.sleep(0.1)
        return cluster.lease_watch.state
    finally:
        await cluster.aclose()  # the watch ends: the audit log has its entry (stage ResponseComplete)


def test_a_console_waiting_to_take_over_watches_the_leases_with_the_driver_role(controlplane: ControlPlane) -> None:
    """The console's one watch of Leases (a console waiting to take a dead driver's Lease over, issue 14), as the
    driver through the real apiserver: allowed by the Role, and seen by the Role test below."""
    mark = controlplane.audit_mark()
    state = asyncio.run(_watch_leases_as_the_driver(controlplane))
    assert state == "watching", f"the Lease watch as the driver never opened: {state}"
    watches: list[dict] = []
    for _ in range(600):  # the audit entry is written when the closed watch completes (a bound, 60 s)
        watches = [e for e in by_user(controlplane.audit_events(mark), service_account(DRIVER))
                   if verb_resource(e) == ("watch", "coordination.k8s.io", "leases")]
        if watches:
            break
        time.sleep(0.1)
    assert watches and all((e.get("responseStatus") or {}).get("code", 200) < 400 for e in watches), watches


def _granted(role: str) -> set[tuple[str, str, str]]:
    rules = next(d for d in yaml.safe_load_all(RBAC.read_text()) if d and d["kind"] == "Role"
                 and d["metadata"]["name"] == role)["rules"]
    return {(verb, group, resource) for r in rules for verb in r["verbs"] for group in r["apiGroups"]
            for resource in r["resources"]}


def test_the_driver_role_grants_no_more_than_the_console_used(controlplane: ControlPlane, module_start: int,
                                                              sim_prometheus: str) -> None:
    """After the promote, the automatic rollback, the delete and the log follow above: every (verb, resource) the Role
    grants appears in the audit log as used by the driver's ServiceAccount."""
    used = {verb_resource(e) for e in by_user(controlplane.audit_events(module_start), service_account(DRIVER))
            if (e.get("responseStatus") or {}).get("code", 0) < 400}
    used = {(verb, group, resource) for verb, group, resource in used if resource}
    unused = _granted(DRIVER) - used
    assert not unused, f"granted but never used: {sorted(unused)}; used: {sorted(used)}"
