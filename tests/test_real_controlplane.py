"""The real control plane (tests/controlplane: etcd, kube-apiserver, kube-controller-manager, a node
emulator, kubectl of the same release) as the rest of the suite relies on it: seeded like the runbook's
prerequisites, every request authenticated and authorized, every write in the audit log. Then the runbook's
own kubectl commands with the admin kubeconfig, and `canary-console status --json` seeing what they made."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from console.adapters.kube_objects import WEIGHT
from tests.controlplane.console_run import by_user, console, writes
from tests.controlplane.launcher import NAMESPACE, SERVICES, ControlPlane, role_names

pytestmark = pytest.mark.controlplane


def _json(plane: ControlPlane, *args: str) -> dict:
    return json.loads(plane.kubectl(*args, "-o", "json").stdout)


def test_the_control_plane_is_seeded_with_the_runbooks_prerequisites(controlplane: ControlPlane) -> None:
    version = _json(controlplane, "version")
    assert version["serverVersion"]["gitVersion"] == version["clientVersion"]["gitVersion"]
    assert re.fullmatch(r"v1\.\d+\.\d+", version["serverVersion"]["gitVersion"])
    nodes = _json(controlplane, "get", "nodes")["items"]
    assert nodes and all(any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
                         for n in nodes)
    deployments = {d["metadata"]["name"]: d for d in _json(controlplane, "get", "deploy", "-n", NAMESPACE)["items"]}
    assert set(SERVICES) <= set(deployments)
    for service in SERVICES:
        status = deployments[service]["status"]
        assert status.get("availableReplicas") == deployments[service]["spec"]["replicas"] == 2
    pods = _json(controlplane, "get", "pods", "-n", NAMESPACE, "-l", "track=stable")["items"]
    assert len(pods) == 2 * len(SERVICES)
    assert all(p["status"]["phase"] == "Running" and p["spec"]["nodeName"] for p in pods)
    ingresses = _json(controlplane, "get", "ingress", "-n", NAMESPACE)["items"]
    assert {i["metadata"]["name"] for i in ingresses} >= set(SERVICES)
    assert all(i["spec"]["ingressClassName"] == "nginx" for i in ingresses if i["metadata"]["name"] in SERVICES)


def test_each_role_has_a_kubeconfig_the_real_authorizer_judges(controlplane: ControlPlane) -> None:
    assert set(controlplane.kubeconfigs) == set(role_names()) == {
        "canary-console-driver", "canary-console-watcher",  # and the Gateway API variants (router: gateway)
        "canary-console-driver-gateway", "canary-console-watcher-gateway",
        "canary-console-requester"}  # a person who asks the driver (requests, docs/controller.md)
    watcher = controlplane.kubeconfigs["canary-console-watcher"]
    assert controlplane.kubectl("get", "pods", "-n", NAMESPACE, kubeconfig=watcher).returncode == 0
    refused = controlplane.kubectl("scale", "deploy", "plato", "-n", NAMESPACE, "--replicas=3",
                                   kubeconfig=watcher, check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()
    driver = controlplane.kubeconfigs["canary-console-driver"]
    can = controlplane.kubectl("auth", "can-i", "patch", "ingresses", "-n", NAMESPACE, kubeconfig=driver, check=False)
    cannot = controlplane.kubectl("auth", "can-i", "delete", "pods", "-n", NAMESPACE, kubeconfig=driver, check=False)
    assert (can.stdout.strip(), cannot.stdout.strip()) == ("yes", "no")


def test_every_write_is_in_the_audit_log_with_its_user(controlplane: ControlPlane) -> None:
    mark = controlplane.audit_mark()
    controlplane.kubectl("annotate", "deploy", "synapse", "-n", NAMESPACE, "canary-console.io/audit-probe=1", "--overwrite")
    admin = writes(by_user(controlplane.audit_events(mark), "admin"))
    assert [(e["verb"], e["objectRef"]["resource"], e["objectRef"]["name"]) for e in admin] == \
        [("patch", "deployments", "synapse")]


def test_the_runbooks_kubectl_commands_run_and_status_json_sees_them(controlplane: ControlPlane, tmp_path: Path) -> None:
    """The runbook's steps 1-6 for odyssey with kubectl only, as a person without the console would."""
    service, ns, version = "odyssey", NAMESPACE, "1.2.4"
    k = controlplane.kubectl
    k("get", "deploy", "-n", ns, "-l", f"app.kubernetes.io/name={service}")
    k("apply", "-f", "-", input=RUNBOOK_CANARY.format(service=service, ns=ns, version=version))
    k("wait", "-n", ns, "--for=condition=Available", f"deploy/{service}-canary", "--timeout=120s")
    k("apply", "-f", "-", input=RUNBOOK_SERVICE.format(service=service, ns=ns))
    k("apply", "-f", "-", input=RUNBOOK_INGRESS.format(service=service, ns=ns, weight=10))
    pods = k("get", "pods", "-n", ns, "-l", "track=canary").stdout
    assert f"{service}-canary-" in pods and "Running" in pods
    logs = k("logs", "-n", ns, "-l", f"track=canary,app.kubernetes.io/name={service}", "--tail=100")
    assert "emulated log line" in logs.stdout
    k("annotate", "ingress", f"{service}-canary", "-n", ns, f"{WEIGHT}=25", "--overwrite")
    described = k("describe", "ingress", f"{service}-canary", "-n", ns).stdout
    assert re.search(r"canary-weight:\s*25", described), described
    k("get", "ingress", f"{service}-canary", "-n", ns, "-o", "yaml")
    k("get", "endpoints", f"{service}-canary", "-n", ns)
    k("get", "pods", "-n", ns, "-l", f"app.kubernetes.io/name={service}", "--show-labels")
    k("get", "events", "-n", ns)

    done = console("status", "--json", "--kubeconfig", str(controlplane.kubeconfigs["canary-console-watcher"]),
                   "--namespace", ns)
    # a canary made by hand has no rollout record: it waits for a person (paused), status exits 3 (README)
    assert done.returncode == 3, done.stderr
    services = {s["name"]: s for s in json.loads(done.stdout)["services"]}
    odyssey = services[service]
    assert odyssey["weight"] == 25
    assert odyssey["stable"]["version"] == "1.2.3" and odyssey["canary"]["version"] == version
    assert len(odyssey["stable"]["pods"]) == 2 and len(odyssey["canary"]["pods"]) == 1
    assert all(p["ready"] and p["phase"] == "Running" for p in odyssey["stable"]["pods"] + odyssey["canary"]["pods"])

    # the runbook's automatic rollback by hand: weight 0, scale to 0, the real controllers remove the pod
    k("annotate", "ingress", f"{service}-canary", "-n", ns, f"{WEIGHT}=0", "--overwrite")
    k("scale", "deploy", f"{service}-canary", "-n", ns, "--replicas=0")
    k("wait", "-n", ns, "--for=delete", "pod", "-l", f"track=canary,app.kubernetes.io/name={service}", "--timeout=120s")
    for kind in ("deploy", "ingress", "svc"):
        k("delete", kind, f"{service}-canary", "-n", ns)
    k("get", "endpoints", service, "-n", ns)


RUNBOOK_CANARY = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {service}-canary
  namespace: {ns}
  labels: {{app.kubernetes.io/name: {service}, app.kubernetes.io/version: {version}, track: canary}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app.kubernetes.io/name: {service}, track: canary}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {service}, track: canary}}
    spec:
      containers:
      - name: {service}
        image: ghcr.io/254-studioz/butterfly-{service}:{version}
        ports: [{{containerPort: 8080}}]
        livenessProbe: {{httpGet: {{path: /actuator/health/liveness, port: 8080}}, initialDelaySeconds: 30, periodSeconds: 10}}
        readinessProbe: {{httpGet: {{path: /actuator/health/readiness, port: 8080}}, initialDelaySeconds: 10, periodSeconds: 5}}
"""

RUNBOOK_SERVICE = """
apiVersion: v1
kind: Service
metadata: {{name: {service}-canary, namespace: {ns}}}
spec:
  selector: {{app.kubernetes.io/name: {service}, track: canary}}
  ports: [{{name: http, port: 8080, targetPort: 8080}}]
"""

RUNBOOK_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {service}-canary
  namespace: {ns}
  annotations:
    nginx.ingress.kubernetes.io/canary: "true"
    nginx.ingress.kubernetes.io/canary-weight: "{weight}"
spec:
  ingressClassName: nginx
  rules:
  - host: {service}.butterfly.io
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {service}-canary
            port:
              number: 8080
"""
