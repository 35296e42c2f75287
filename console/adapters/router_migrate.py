"""Moving a service from the nginx router to Gateway API between rollouts: the HTTPRoute equivalent of
the service's stable Ingress (hostnames from its hosts, one rule per path with the matching path type,
backendRefs to the same Service and port, attached to the named Gateway) for a person to review, and the
check that no rollout is under way. Pure; the command is console/migrate_command.py.
"""

from __future__ import annotations

from typing import Any

_PATH_TYPES = {"Prefix": "PathPrefix", "Exact": "Exact", "ImplementationSpecific": "PathPrefix"}


def _backend_ref(backend: dict[str, Any]) -> dict[str, Any] | None:
    service = backend.get("service") or {}
    port = service.get("port") or {}
    if not service.get("name"):
        return None
    if "number" not in port:
        raise ValueError(f"the Ingress names port {port.get('name')!r} of Service {service['name']} by name; "
                         "an HTTPRoute needs the port number")
    return {"name": service["name"], "port": int(port["number"])}


def httproute_from_ingress(ingress: dict[str, Any], service: str, *, name: str, gateway: str,
                           namespace: str) -> dict[str, Any]:
    """The HTTPRoute sending what the Ingress sends to ``service``. Raises ValueError, saying why, when one
    HTTPRoute cannot say the same (ports by name, different paths on different hosts, over 16 paths).
    TLS and nginx annotations have no equivalent here: TLS belongs to the Gateway's listener."""
    hosts: list[str] = []
    rules: list[dict[str, Any]] = []
    per_host: dict[str, list[Any]] = {}
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            ref = _backend_ref(path.get("backend") or {})
            if ref is None or ref["name"] != service:
                continue
            if rule.get("host") and rule["host"] not in hosts:
                hosts.append(rule["host"])
            match = {"path": {"type": _PATH_TYPES.get(path.get("pathType", "Prefix"), "PathPrefix"),
                              "value": path.get("path") or "/"}}
            new = {"matches": [match], "backendRefs": [ref]}
            per_host.setdefault(rule.get("host") or "", []).append(new)
            if new not in rules:
                rules.append(new)
    if len({repr(sorted(map(repr, paths))) for paths in per_host.values()}) > 1:
        raise ValueError(f"Ingress {ingress['metadata']['name']} routes different paths on different hosts; "
                         "an HTTPRoute's hostnames apply to all its rules: write one HTTPRoute per host by hand")
    if not rules:
        raise ValueError(f"Ingress {ingress['metadata']['name']} routes no path to Service {service}")
    if len(rules) > 16:
        raise ValueError(f"Ingress {ingress['metadata']['name']} has {len(rules)} paths to {service}; an "
                         "HTTPRoute holds at most 16 rules")
    spec: dict[str, Any] = {"parentRefs": [{"name": gateway}], "rules": rules}
    if hosts:
        spec["hostnames"] = hosts
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/name": service},
                         "annotations": {"canary-console.io/migrated-from": f"Ingress/{ingress['metadata']['name']}"}},
            "spec": spec}
