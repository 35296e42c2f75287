"""Tests room: the in-cluster driver on the real control plane (issue 14).

`kubectl apply -k deploy/` goes through the real server's validation; the controller runs as a local
process with exactly the environment a pod gets (KUBERNETES_SERVICE_HOST/PORT, a ServiceAccount token
and CA in files, the config from a file, no kubeconfig); people reach it through requests with the
requester Role (one ConfigMap each), which the real authorizer lets them write while it refuses them the
Ingress; the controller's /metrics is scraped by a real Prometheus. Waiting is a bounded poll of the
cluster or the process, never a sleep for time to pass."""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.controlplane.console_run import EXE, by_user, console, service_account, short_config, writes
from tests.controlplane.launcher import NAMESPACE, ControlPlane
from tests.prom import PrometheusServer
from tests.test_real_rollout import sim_prometheus  # noqa: F401 - the module's fixture, shared

pytestmark = [pytest.mark.controlplane, pytest.mark.prometheus]

ROOT = Path(__file__).resolve().parent.parent
REQUESTER = "canary-console-requester"
CONTROLLER_SA = "canary-console-controller"


def poll(check: Callable[[], Any], what: str, tries: int = 120, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy (a bound against hanging, not a wait for time)."""
    last = None
    for _ in range(tries):
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"never saw {what} (last: {last!r})")


def pod_environment(plane: ControlPlane, directory: Path) -> dict[str, str]:
    """The environment of a pod running as the controller's ServiceAccount: token and CA files, the
    service host and port; no kubeconfig anywhere (HOME is empty)."""
    account = directory / "serviceaccount"
    account.mkdir(parents=True, exist_ok=True)
    token = plane.kubectl("create", "token", CONTROLLER_SA, "-n", NAMESPACE, "--duration=2h").stdout.strip()
    (account / "token").write_text(token)
    kubeconfig = json.loads(plane.admin_kubeconfig.read_text())
    ca = kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
    (account / "ca.crt").write_bytes(base64.b64decode(ca))
    (account / "namespace").write_text(NAMESPACE)
    host, _, port = plane.server.removeprefix("https://").rpartition(":")
    home = directory / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG",) and not k.startswith("CANARY_CONSOLE_")}
    return {**env, "HOME": str(home), "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port,
            "CANARY_CONSOLE_KUBE__SERVICEACCOUNT_DIR": str(account)}


class Controller:
    """`canary-console controller` as a subprocess with the pod's environment; its JSON lines are kept."""

    def __init__(self, env: dict[str, str], config: Path, services: str, prometheus: str, name: str = "") -> None:
        command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
        self.stderr = config.parent / f"controller-{name or services.replace(',', '-')}.stderr"
        with open(self.stderr, "w") as errors:  # a file, not a pipe nobody reads: a full pipe would block it
            self.proc = subprocess.Popen([*command, "controller", "--config", str(config), "--services", services,
                                          "--listen", "127.0.0.1:0", "--prometheus", prometheus],
                                         env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        first = self.read_until(lambda line: "port" in line, "the health server's port")
        self.port = int(first["port"])

    def read_until(self, wanted: Callable[[dict[str, Any]], bool], what: str, seconds: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + seconds  # a bound against hanging
        while time.monotonic() < deadline:
            try:
                raw = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if raw is None:
                raise AssertionError(f"the controller exited {self.proc.wait()} before {what}: "
                                     f"{self.stderr.read_text()[-2000:]}")
            line = json.loads(raw)
            self.lines.append(line)
            if wanted(line):
                return line
        raise AssertionError(f"never saw {what}; last lines: {self.lines[-5:]}")

    def _pump(self) -> None:
        """Every stdout line into the queue (a thread: select on a buffered text pipe misses lines)."""
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.startswith("{"):
                self._queue.put(raw)
        self._queue.put(None)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=30)

    def answers(self, path: str) -> int:
        try:
            return self.get(path).status_code
        except httpx.HTTPError:
            return 0

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        while (raw := self._queue.get(timeout=30)) is not None:
            self.lines.append(json.loads(raw))
        return self.proc.returncode


@pytest.fixture(scope="module")
def deployed(controlplane: ControlPlane) -> ControlPlane:
    done = controlplane.kubectl("apply", "-k", str(ROOT / "deploy"), "--validate=strict", check=False)
    assert done.returncode == 0, done.stderr
    return controlplane


@pytest.fixture()
def controller_env(deployed: ControlPlane, tmp_path: Path) -> dict[str, str]:
    deployed.reset(("perception", "capsule"))  # the plane is shared by the session: start from the seed
    return pod_environment(deployed, tmp_path)


def _status(plane: ControlPlane, service: str) -> dict[str, Any]:
    done = console("status", service, "--json", "--kubeconfig", str(plane.kubeconfigs[REQUESTER]),
                   "--namespace", NAMESPACE)
    return json.loads(done.stdout)["services"][0] if done.stdout.strip() else {}


def test_kubectl_apply_k_deploy_creates_what_the_controller_needs(deployed: ControlPlane) -> None:
    for kind, name in (("serviceaccount", CONTROLLER_SA), ("deployment", "canary-console-controller"),
                       ("rolebinding", "canary-console-controller"), ("role", "canary-console-driver"),
                       ("role", REQUESTER)):
        assert deployed.kubectl("get", kind, name, "-n", NAMESPACE, check=False).returncode == 0, (kind, name)
    maps = deployed.kubectl("get", "configmaps", "-n", NAMESPACE, "-o", "name").stdout
    assert "configmap/canary-console-config-" in maps  # kustomize's hashed name, referenced by the Deployment
    spec = json.loads(deployed.kubectl("get", "deployment", "canary-console-controller", "-n", NAMESPACE,
                                       "-o", "json").stdout)["spec"]
    assert spec["replicas"] == 2
    assert spec["template"]["spec"]["serviceAccountName"] == CONTROLLER_SA


def test_the_controller_with_a_pods_environment_drives_a_requested_rollout_to_promote(
        deployed: ControlPlane, controller_env: dict[str, str], sim_prometheus: str, tmp_path: Path) -> None:
    config = short_config(tmp_path / "config.yaml", ["perception", "capsule", "odyssey", "plato", "nexus", "synapse"])
    controller = Controller(controller_env, config, "perception", sim_prometheus)
    scraper = None
    try:
        poll(lambda: controller.answers("/readyz") == 200, "/readyz 200")
        assert controller.get("/healthz").status_code == 200
        asked = console("start", "perception", "--version", "1.2.4", "--kubeconfig",
                        str(deployed.kubeconfigs[REQUESTER]), "--namespace", NAMESPACE, "--config", str(config))
        assert asked.returncode == 0, asked.stderr
        assert "done" in asked.stdout
        scraper = PrometheusServer(tmp_path / "prom", [f"127.0.0.1:{controller.port}"]).start()
        controller.read_until(lambda line: "promoted" in line.get("message", "") and line.get("kind") == "state",
                              "perception promoted", seconds=400)
        gone = deployed.kubectl("get", "deployment", "perception-canary", "-n", NAMESPACE, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr  # promote removed the canary
        stable = json.loads(deployed.kubectl("get", "deployment", "perception", "-n", NAMESPACE, "-o", "json").stdout)
        assert stable["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.2.4")

        def scraped() -> bool:
            answer = httpx.get(f"{scraper.url}/api/v1/query", timeout=5, params={
                "query": 'canary_console_rollout_state{service="perception",state="promoted"}'}).json()
            return any(float(r["value"][1]) == 1 for r in answer["data"]["result"])

        poll(scraped, "the promoted state in Prometheus, scraped from /metrics")
        weights = [line.get("to_weight") for line in controller.lines
                   if line.get("kind") == "action" and line.get("what") == "set_weight"]
        assert [w for w in weights if w][:4] == [10, 25, 50, 75], weights
    finally:
        if scraper is not None:
            scraper.stop()
        assert controller.stop() == 0
    assert any("releasing Leases" in line.get("message", "") for line in controller.lines)


def test_requests_from_a_person_with_the_requester_role_are_served_and_the_ingress_is_refused_to_them(
        deployed: ControlPlane, controller_env: dict[str, str], sim_prometheus: str, tmp_path: Path) -> None:
    config = short_config(tmp_path / "config.yaml", ["perception", "capsule", "odyssey", "plato", "nexus", "synapse"],
                          phase_s=600.0)
    controller = Controller(controller_env, config, "capsule", sim_prometheus)
    person = deployed.kubeconfigs[REQUESTER]
    args = ["--kubeconfig", str(person), "--namespace", NAMESPACE, "--config", str(config)]
    try:
        poll(lambda: controller.answers("/readyz") == 200, "/readyz 200")
        assert console("start", "capsule", "--version", "1.2.4", *args).returncode == 0
        poll(lambda: _status(deployed, "capsule").get("state") == "observing", "capsule observing")
        mark = deployed.audit_mark()
        paused = console("pause", "capsule", *args)
        assert paused.returncode == 0, paused.stderr
        assert _status(deployed, "capsule")["state"] == "paused"

        def answered() -> list[str]:  # the answer's Event goes out through the driver's queued Event sink
            events = json.loads(deployed.kubectl("get", "events", "-n", NAMESPACE, "-o", "json").stdout)["items"]
            return [e["message"] for e in events if e["reason"] == "CanaryRequestDone"
                    and "pause" in e["message"] and REQUESTER in e["message"]]

        poll(answered, "the CanaryRequestDone Event naming the person")
        rolled = console("rollback", "capsule", "--yes", *args)
        assert rolled.returncode == 0, rolled.stderr
        rollback = controller.read_until(lambda line: line.get("kind") == "action" and line.get("what") == "rollback",
                                         "the controller rolling capsule back")
        assert REQUESTER in rollback["actor"] and rollback["to_weight"] == 0
        person_writes = writes(by_user(deployed.audit_events(mark), service_account(REQUESTER)))
        assert {(w["verb"], w["objectRef"]["resource"]) for w in person_writes} == {("create", "configmaps")}
        refused = deployed.kubectl("annotate", "ingress", "capsule-canary", "-n", NAMESPACE, "--overwrite",
                                   "nginx.ingress.kubernetes.io/canary-weight=50", kubeconfig=person, check=False)
        assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()
    finally:
        assert controller.stop() == 0


def test_a_request_for_a_service_no_one_drives_is_answered_no_driver_at_once(deployed: ControlPlane,
                                                                                tmp_path: Path) -> None:
    mark = deployed.audit_mark()
    asked = console("start", "synapse", "--version", "1.2.4", "--kubeconfig",
                    str(deployed.kubeconfigs[REQUESTER]), "--namespace", NAMESPACE, timeout=60)
    assert asked.returncode == 2
    assert "no driver" in asked.stderr
    assert not writes(by_user(deployed.audit_events(mark), service_account(REQUESTER)))
