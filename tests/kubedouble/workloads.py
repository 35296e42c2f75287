"""What the API double does in place of the controllers: a Deployment's pods follow its replicas and pod
template (one ready pod per replica, replaced when the template changes), its status reports the rollout,
and deleting a Deployment deletes its pods. With ``auto_rollout`` off, spec changes are stored but never
rolled out (a stuck rollout).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from tests.kubedouble.store import Store, now_iso


def template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def make_pod(owner: str, template: dict[str, Any], pod_hash: str, *, ready: bool = True) -> dict[str, Any]:
    meta = template.get("metadata", {})
    containers = template.get("spec", {}).get("containers", [])
    return {
        "metadata": {"name": f"{owner}-{pod_hash}-{secrets.token_hex(3)[:5]}",
                     "labels": {**meta.get("labels", {}), "pod-template-hash": pod_hash},
                     "annotations": {"double/owner": owner}},
        "spec": template.get("spec", {}),
        "status": {"phase": "Running", "startTime": now_iso(),
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": c.get("name", "app"), "ready": ready, "restartCount": 0,
                                          "image": c.get("image", ""), "imageID": "",
                                          "state": {"running": {"startedAt": now_iso()}}}
                                         for c in containers]},
    }


def owned_pods(store: Store, namespace: str, owner: str) -> list[dict[str, Any]]:
    return [p for p in store.list("pods", namespace)
            if p["metadata"].get("annotations", {}).get("double/owner") == owner]


def reconcile(store: Store, namespace: str, name: str) -> None:
    """Roll the Deployment out completely: pods of the current template, as many as its replicas."""
    deploy = store.get("deployments", namespace, name)
    if deploy is None:
        return
    spec = deploy.get("spec", {})
    replicas = int(spec.get("replicas", 1))
    current = template_hash(spec.get("template", {}))
    pods = owned_pods(store, namespace, name)
    keep = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == current][:replicas]
    for pod in pods:
        if pod not in keep:
            store.delete("pods", namespace, pod["metadata"]["name"])
    for _ in range(replicas - len(keep)):
        store.put("pods", namespace, make_pod(name, spec.get("template", {}), current), created=True)
    deploy["status"] = {"observedGeneration": deploy["metadata"].get("generation", 1), "replicas": replicas,
                        "updatedReplicas": replicas, "readyReplicas": replicas,
                        "availableReplicas": replicas}
    store.put("deployments", namespace, deploy, created=False)


def delete_owned(store: Store, namespace: str, name: str) -> None:
    for pod in owned_pods(store, namespace, name):
        store.delete("pods", namespace, pod["metadata"]["name"])
