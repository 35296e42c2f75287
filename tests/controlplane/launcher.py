"""Tests room: the real Kubernetes control plane of tests/controlplane (Go: etcd, kube-apiserver,
kube-controller-manager, a node emulator, kubectl) driven from Python. `build()` runs build.sh (cached
binary), `ControlPlane.start(dir)` starts `serve`, waits for /readyz, writes one kubeconfig per Role in
deploy/rbac.yaml (a ServiceAccount bound to that Role, its token from the TokenRequest API) and seeds the
runbook's prerequisites for the six services. Loopback only; `stop()` leaves nothing running.
"""

from __future__ import annotations

import copy
import json
import os
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.kubedouble.seed import stable_deployment, stable_ingress, stable_service

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RBAC = REPO / "deploy" / "rbac.yaml"
NAMESPACE = "butterfly"
SERVICES = ("perception", "capsule", "odyssey", "plato", "nexus", "synapse")
STABLE_VERSION = "1.2.3"
START_TIMEOUT = 240.0


class ControlPlaneUnavailable(RuntimeError):
    """The control plane could not be built or started; the message says which step and why."""


def go_available() -> bool:
    return shutil.which("go") is not None


def build() -> Path:
    """The cached binary's path, building it first if needed (cold: minutes; cached: about a second)."""
    done = subprocess.run(["bash", str(HERE / "build.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        raise ControlPlaneUnavailable(f"tests/controlplane/build.sh exited {done.returncode}: "
                                      f"{done.stderr.strip()[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def role_names() -> list[str]:
    return [doc["metadata"]["name"] for doc in yaml.safe_load_all(RBAC.read_text())
            if doc and doc.get("kind") == "Role"]


@dataclass
class ControlPlane:
    """A running control plane in `dir`: serve.json, admin.kubeconfig, <role>.kubeconfig, audit.log, logs."""

    dir: Path
    binary: Path
    proc: subprocess.Popen[str]
    server: str = ""
    etcd_endpoint: str = ""
    kubeconfigs: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def start(cls, directory: Path, *, binary: Path | None = None, gateway_api: bool = False) -> ControlPlane:
        binary = binary or build()
        directory.mkdir(parents=True, exist_ok=True)
        log = open(directory / "serve.log", "a")  # noqa: SIM115 - the child keeps writing to it
        proc = subprocess.Popen([str(binary), "serve", str(directory), "--pod-watch-cache=false"],
                                stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        log.close()
        plane = cls(directory, binary, proc)
        try:
            plane._wait_for_serve()
            plane._prepare(gateway_api)
        except BaseException:
            plane.stop()
            raise
        return plane

    @property
    def kubectl_path(self) -> Path:
        return self.binary.parent / "kubectl"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.dir / "audit.log"

    def _wait_for_serve(self) -> None:
        """serve prints `ready` once /readyz answers 200, the controllers run and Nodes are registered."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                if line.strip() == "ready":
                    break
                if line == "":
                    raise ControlPlaneUnavailable(f"serve exited {self.proc.wait()}: {self._log_tail()}")
        else:
            raise ControlPlaneUnavailable(f"serve not ready after {START_TIMEOUT:.0f}s: {self._log_tail()}")
        state = json.loads((self.dir / "serve.json").read_text())
        self.server, self.etcd_endpoint = state["server"], state["etcd_endpoint"]

    def _log_tail(self) -> str:
        parts = []
        for name in ("serve.log", "apiserver.log", "controller-manager.log"):
            path = self.dir / name
            if path.exists():
                parts.append(f"{name}: " + path.read_text(errors="replace")[-1500:])
        return "\n".join(parts)

    def kubectl(self, *args: str, kubeconfig: Path | None = None, input: str | None = None,
                check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.kubectl_path), "--kubeconfig", str(kubeconfig or self.admin_kubeconfig), *args]
        done = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise ControlPlaneUnavailable(f"kubectl {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
        return done

    def apply(self, objects: list[dict[str, Any]], *extra: str) -> None:
        self.kubectl("apply", *extra, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))

    def _prepare(self, gateway_api: bool) -> None:
        self.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
                    {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
                     "spec": {"controller": "k8s.io/ingress-nginx"}}])
        self.kubectl("apply", "-f", str(RBAC))
        for role in role_names():
            self.kubeconfigs[role] = self._role_kubeconfig(role)
        if gateway_api:
            self.kubectl("apply", "--server-side", "-f", str(self.binary.parent / "gateway-api-crds"))
            self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=120s")
        self.seed()

    def _role_kubeconfig(self, role: str) -> Path:
        """A ServiceAccount named after the Role, bound to it, with a TokenRequest token (48 h)."""
        self.apply([
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": role, "namespace": NAMESPACE}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": f"{role}-test-account", "namespace": NAMESPACE},
             "subjects": [{"kind": "ServiceAccount", "name": role, "namespace": NAMESPACE}],
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}}])
        token = self.kubectl("create", "token", role, "-n", NAMESPACE, "--duration=48h").stdout.strip()
        config = json.loads(self.admin_kubeconfig.read_text())
        config["users"] = [{"name": role, "user": {"token": token}}]
        config["contexts"] = [{"name": "canary", "context": {"cluster": "canary", "user": role,
                                                              "namespace": NAMESPACE}}]
        path = self.dir / f"{role}.kubeconfig"
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    def seed(self, services: tuple[str, ...] = SERVICES, replicas: int = 2) -> None:
        """The runbook's prerequisites: stable Deployment, Service, Ingress (class nginx); pods Ready."""
        objects: list[dict[str, Any]] = []
        for service in services:
            deployment = copy.deepcopy(stable_deployment(service, STABLE_VERSION, replicas))
            deployment["metadata"].pop("annotations", None)  # the real controller keeps the revision
            objects += [deployment, stable_service(service), stable_ingress(service)]
        for obj in objects:
            obj["metadata"]["namespace"] = NAMESPACE
        self.apply(objects)
        self.kubectl("wait", "-n", NAMESPACE, "--for=condition=Available", "deployment", "--all", "--timeout=180s")

    def reset(self, services: tuple[str, ...]) -> None:
        """Give ``services`` back as seeded, whatever an earlier test left: no canary Deployment, Service or
        Ingress, no rollout record, Lease or request, the stable version again. The control plane is shared
        by the session, so a test that needs a fresh service says so."""
        for service in services:
            self.kubectl("delete", "-n", NAMESPACE, "--ignore-not-found",
                         f"deployment/{service}-canary", f"service/{service}-canary", f"ingress/{service}-canary",
                         f"configmap/{service}-canary-rollout", f"lease/canary-console-{service}")
            self.kubectl("delete", "configmaps", "-n", NAMESPACE, "--ignore-not-found",
                         "-l", f"canary-console.io/request=true,canary-console.io/service={service}")
        self.seed(services)

    def audit_events(self, since: int = 0) -> list[dict[str, Any]]:
        """Audit entries (JSON lines, stage ResponseComplete) after byte offset `since` of audit.log."""
        with open(self.audit_log, "rb") as f:
            f.seek(since)
            lines = f.read().splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if e.get("stage") == "ResponseComplete"]

    def audit_mark(self) -> int:
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def compact(self) -> int:
        """Compacts etcd at its current revision; returns that revision."""
        done = subprocess.run([str(self.binary), "compact", self.etcd_endpoint], capture_output=True, text=True,
                              timeout=30, check=True)
        return int(done.stdout.strip())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
