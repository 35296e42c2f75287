"""Pure translations between Kubernetes objects (plain JSON dicts) and the console's value types: the
canary Deployment / Service / Ingress made from the stable ones (as the runbook's manifests), pods, image
tags, rollout completion, and the rollout record kept in the canary Ingress' annotations. No I/O here.
"""


import copy
from datetime import datetime, timezone
from typing import Any

from console.engine.config import Kube
from console.engine.model import Pod, RolloutRecord, State, Track

CANARY = "nginx.ingress.kubernetes.io/canary"
WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
PREFIX = "canary-console.io/"
RECORD_KEYS = ("state", "phase", "weight", "phase-started-at", "phase-elapsed", "verdict", "driver",
               "version", "mode", "reason", "updated-at", "last-driver")
_DROP_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "ownerReferences",
              "selfLink", "deletionTimestamp")


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def micro_time(seconds: float) -> str:
    """A MicroTime as the API server writes it: 2024-05-01T12:00:00.000000Z."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_ms(seconds: float) -> str:
    """An RFC 3339 time with milliseconds (the record's times: the phase clock needs sub-second)."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _seconds(value: str | None) -> float:
    """A record time: RFC 3339 (written since issue 12) or epoch seconds (written before)."""
    if not value:
        return 0.0
    try:
        return float(value)
    except ValueError:
        parsed = parse_time(value)
        if parsed is None:
            raise
        return parsed


def replicas_of(deploy: dict[str, Any] | None) -> int | None:
    """The Deployment's spec.replicas (1 when unset, as the API server defaults it); None without one."""
    if deploy is None:
        return None
    replicas = (deploy.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def paused(deploy: dict[str, Any] | None) -> bool:
    """The Deployment's spec.paused: `kubectl rollout pause` holds its rollout until `kubectl rollout resume`."""
    return bool(((deploy or {}).get("spec") or {}).get("paused"))


def manager_of(obj: dict[str, Any] | None, annotation: str) -> str | None:
    """Who last wrote ``annotation`` on ``obj``, from its managedFields (e.g. "kubectl-annotate"), or None."""
    owners = []
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        notes = ((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:annotations") or {}
        if f"f:{annotation}" in notes:
            owners.append((entry.get("time") or "", entry.get("manager") or "unknown"))
    return max(owners)[1] if owners else None


def annotations(obj: dict[str, Any] | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("annotations") or {})


def main_container(template_spec: dict[str, Any], service: str) -> dict[str, Any] | None:
    containers = template_spec.get("containers") or []
    return next((c for c in containers if c.get("name") == service), containers[0] if containers else None)


def image_tag(image: str) -> str:
    """ghcr.io/x/butterfly-perception:1.2.3 → 1.2.3 (a digest-only image gives its digest)."""
    image = image.strip()
    if "@" in image:
        name, digest = image.split("@", 1)
        tag = image_tag(name)
        return tag if tag != name.rsplit("/", 1)[-1] else digest
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def deployment_version(deploy: dict[str, Any] | None, service: str) -> str | None:
    if not deploy:
        return None
    container = main_container(deploy.get("spec", {}).get("template", {}).get("spec", {}), service)
    return image_tag(container.get("image", "")) if container else None


def _bare_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in copy.deepcopy(meta).items() if k not in _DROP_META}
    notes = {k: v for k, v in (meta.get("annotations") or {}).items()
             if not k.startswith(("deployment.kubernetes.io/", "kubectl.kubernetes.io/last-applied"))}
    meta["annotations"] = notes
    if not notes:
        meta.pop("annotations")
    return meta


def canary_deployment(stable: dict[str, Any], service: str, version: str, kube: Kube) -> dict[str, Any]:
    """The `${SERVICE}-canary` Deployment: the stable pod template and probes, the new image, track canary,
    1 replica."""
    name = kube.canary_name(service)
    selector = {kube.name_label: service, kube.track_label: Track.CANARY.value}
    meta = _bare_metadata(stable.get("metadata", {}))
    meta.update(name=name, labels={**meta.get("labels", {}), **selector, "app.kubernetes.io/version": version})
    template = copy.deepcopy(stable.get("spec", {}).get("template", {}))
    template_meta = template.setdefault("metadata", {})
    labels = {k: v for k, v in (template_meta.get("labels") or {}).items() if k != "pod-template-hash"}
    template_meta["labels"] = {**labels, **selector}
    container = main_container(template.setdefault("spec", {}), service)
    if container is None:
        raise ValueError(f"the stable Deployment {service} has no containers")
    container["image"] = kube.image_for(service, version)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "selector": {"matchLabels": selector}, "template": template}}


def canary_service(stable: dict[str, Any] | None, service: str, kube: Kube) -> dict[str, Any]:
    """The canary Service: the stable Service's ports, selecting the canary pods (port 8080 without one)."""
    ports = [{k: v for k, v in p.items() if k in ("name", "port", "targetPort", "protocol")}
             for p in ((stable or {}).get("spec", {}).get("ports") or [])] or [
        {"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"}]
    labels = {kube.name_label: service, kube.track_label: Track.CANARY.value}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": kube.canary_name(service), "labels": dict(labels)},
            "spec": {"selector": labels, "ports": ports}}


def same_service(live: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    """Whether a Service found in the cluster selects and serves what ``wanted`` says (the server's
    defaults filled in: protocol TCP, targetPort the port)."""
    def ports(spec: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted((p.get("name", ""), p.get("port"), str(p.get("targetPort", p.get("port"))),
                       p.get("protocol", "TCP")) for p in spec.get("ports") or [])

    spec = (live or {}).get("spec") or {}
    return live is not None and spec.get("selector") == wanted["spec"]["selector"] and \
        ports(spec) == ports(wanted["spec"])


def _canary_backend(path: dict[str, Any], service: str, canary: str, port: dict[str, Any]) -> dict[str, Any]:
    path = copy.deepcopy(path)
    backend = path.get("backend", {}).get("service", {})
    path["backend"] = {"service": {"name": canary, "port": backend.get("port") or port}}
    return path


def canary_ingress(stable: dict[str, Any], service: str, weight: int, kube: Kube) -> dict[str, Any]:
    """The canary Ingress: the stable Ingress' class, hosts and paths, backed by the canary Service."""
    canary = kube.canary_name(service)
    default_port = {"number": 8080}
    rules = []
    for rule in stable.get("spec", {}).get("rules") or []:
        paths = [_canary_backend(p, service, canary, default_port)
                 for p in (rule.get("http") or {}).get("paths") or []
                 if (p.get("backend", {}).get("service") or {}).get("name") in (service, None)]
        if paths:
            rules.append({**({"host": rule["host"]} if rule.get("host") else {}), "http": {"paths": paths}})
    if not rules:
        raise ValueError(f"the stable Ingress {stable['metadata']['name']} routes no path to Service {service}")
    spec: dict[str, Any] = {"ingressClassName": stable.get("spec", {}).get("ingressClassName") or "nginx",
                            "rules": rules}
    if tls := stable.get("spec", {}).get("tls"):
        spec["tls"] = copy.deepcopy(tls)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": canary, "labels": {kube.name_label: service, kube.track_label: "canary"},
                         "annotations": {CANARY: "true", WEIGHT: str(int(weight))}},
            "spec": spec}


def routes_to(ingress: dict[str, Any], service: str) -> bool:
    return any((p.get("backend", {}).get("service") or {}).get("name") == service
               for rule in ingress.get("spec", {}).get("rules") or []
               for p in (rule.get("http") or {}).get("paths") or [])


def rollout_progress(deploy: dict[str, Any]) -> tuple[bool, str]:
    """(complete, how far): the rollout is complete when the controller has seen the latest generation and
    every replica is updated and available (kubectl rollout status' rule)."""
    meta, spec, status = deploy.get("metadata", {}), deploy.get("spec", {}), deploy.get("status") or {}
    want = int(spec.get("replicas", 1))
    observed = int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 0))
    updated = int(status.get("updatedReplicas", 0))
    available = int(status.get("availableReplicas", 0))
    total = int(status.get("replicas", 0))
    done = observed and updated >= want and available >= want and total <= updated
    how = (f"{updated}/{want} updated, {available} available"
           + ("" if observed else ", waiting for the controller to observe the new generation"))
    return done, how


def pod_of(obj: dict[str, Any], kube: Kube) -> tuple[str, Pod] | None:
    """(service, Pod) of a pod object, or None when it belongs to no service."""
    meta, status = obj.get("metadata", {}), obj.get("status") or {}
    labels = meta.get("labels") or {}
    service = labels.get(kube.name_label)
    if not service:
        return None
    track = Track.CANARY if labels.get(kube.track_label) == Track.CANARY.value else Track.STABLE
    # a terminating pod serves no new request (its EndpointSlice entry is not ready once terminating) though
    # its status still says Ready until the kubelet's grace period ends: it counts as not ready
    ready = not meta.get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    containers = status.get("containerStatuses") or []
    reason = next((c["state"]["waiting"].get("reason", "") for c in containers
                   if (c.get("state") or {}).get("waiting")), "") or status.get("reason", "")
    if meta.get("deletionTimestamp"):
        reason = reason or "Terminating"
    return service, Pod(name=meta.get("name", ""), track=track, ready=ready, phase=status.get("phase", "Unknown"),
                        restarts=sum(int(c.get("restartCount", 0)) for c in containers),
                        started_at=parse_time(status.get("startTime")), reason=reason, uid=meta.get("uid", ""))


def record_annotations(record: RolloutRecord) -> dict[str, str]:
    values = {"state": record.state.value, "phase": str(record.phase), "weight": str(record.weight),
              "phase-started-at": rfc3339_ms(record.phase_started_at), "phase-elapsed": f"{record.phase_elapsed:.3f}",
              "verdict": record.verdict, "driver": record.driver, "version": record.version, "mode": record.mode,
              "reason": record.reason[:500], "updated-at": rfc3339_ms(record.updated_at) if record.updated_at else "",
              "last-driver": record.last_driver}
    return {PREFIX + key: values[key] for key in RECORD_KEYS}


def record_from(notes: dict[str, str]) -> RolloutRecord | None:
    """The RolloutRecord kept in the annotations, or None when there is none or it does not parse."""
    if PREFIX + "state" not in notes:
        return None
    try:
        return RolloutRecord(state=State(notes[PREFIX + "state"]), phase=int(notes.get(PREFIX + "phase", "0")),
                             weight=int(notes.get(PREFIX + "weight", "0")),
                             phase_started_at=_seconds(notes.get(PREFIX + "phase-started-at")),
                             phase_elapsed=float(notes.get(PREFIX + "phase-elapsed", "0")),
                             version=notes.get(PREFIX + "version", ""), verdict=notes.get(PREFIX + "verdict", ""),
                             driver=notes.get(PREFIX + "driver", ""), mode=notes.get(PREFIX + "mode", "auto"),
                             reason=notes.get(PREFIX + "reason", ""),
                             updated_at=_seconds(notes.get(PREFIX + "updated-at")),
                             last_driver=notes.get(PREFIX + "last-driver", ""))
    except ValueError:
        return None


def weight_of(notes: dict[str, str]) -> int:
    try:
        return max(0, min(100, int(notes.get(WEIGHT, "0"))))
    except ValueError:
        return 0
