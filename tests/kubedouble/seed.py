"""What the API double's namespace looks like before the console arrives: each service's stable
Deployment (as the runbook's helm chart makes it: probes, port 8080, `track: stable`), its Service and its
Ingress, with the Deployment's pods running.
"""

from __future__ import annotations

from typing import Any

from tests.kubedouble.server import KubeDouble
from tests.kubedouble.workloads import reconcile

IMAGE = "ghcr.io/254-studioz/butterfly-{service}:{version}"


def stable_deployment(service: str, version: str, replicas: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": service, "track": "stable"}
    probe = {"httpGet": {"path": "/actuator/health/readiness", "port": 8080}, "periodSeconds": 5}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": service, "labels": {**labels, "app.kubernetes.io/version": version},
                     "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [
                                  {"name": service, "image": IMAGE.format(service=service, version=version),
                                   "ports": [{"containerPort": 8080}],
                                   "env": [{"name": "JAVA_OPTS", "value": "-Xmx512m"}],
                                   "readinessProbe": probe,
                                   "livenessProbe": {**probe, "httpGet": {"path": "/actuator/health/liveness",
                                                                          "port": 8080}}},
                                  {"name": "envoy", "image": "envoyproxy/envoy:v1.30.1"}]}}},
    }


def stable_service(service: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": service},
            "spec": {"selector": {"app.kubernetes.io/name": service, "track": "stable"},
                     "ports": [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"}]}}


def stable_ingress(service: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": service},
            "spec": {"ingressClassName": "nginx", "rules": [
                {"host": f"{service}.butterfly.io", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": service, "port": {"number": 8080}}}}]}}]}}


def seed_service(double: KubeDouble, service: str, version: str = "1.2.3", *, replicas: int = 2,
                 namespace: str = "butterfly") -> None:
    store = double.store
    deploy = stable_deployment(service, version, replicas)
    deploy["metadata"]["generation"] = 1
    store.put("deployments", namespace, deploy, created=True)
    store.put("services", namespace, stable_service(service), created=True)
    store.put("ingresses", namespace, stable_ingress(service), created=True)
    reconcile(store, namespace, service)
