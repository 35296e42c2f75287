"""Gateway API in the API double: a service's HTTPRoute (as a platform team writes one for the runbook's
services) and the handful of the HTTPRoute CRD's schema rules the console's writes could break, checked
on every create and update since kubernetes-validate knows no custom resources."""

from __future__ import annotations

from typing import Any


def stable_httproute(service: str, gateway: str = "butterfly-gateway", name: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name or service},
            "spec": {"parentRefs": [{"name": gateway}], "hostnames": [f"{service}.butterfly.io"],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                "backendRefs": [{"name": service, "port": 8080}]}]}}


def httproute_problem(obj: dict[str, Any]) -> str | None:
    """The first schema violation, in the API server's words, or None (the standard CRD's rules for
    backendRefs: at most 16, a name, a port for a Service, a weight from 0 to 1000000)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return "spec: Required value"
    rules = spec.get("rules") or []
    if len(rules) > 16:
        return "spec.rules: Too many: must have at most 16 items"
    for i, rule in enumerate(rules):
        refs = rule.get("backendRefs") or []
        if len(refs) > 16:
            return f"spec.rules[{i}].backendRefs: Too many: must have at most 16 items"
        for j, ref in enumerate(refs):
            where = f"spec.rules[{i}].backendRefs[{j}]"
            if not ref.get("name"):
                return f"{where}.name: Required value"
            if ref.get("kind", "Service") == "Service" and "port" not in ref:
                return f"{where}: Invalid value: Must have port for Service reference"
            weight = ref.get("weight", 1)
            if not isinstance(weight, int) or not 0 <= weight <= 1_000_000:
                return f"{where}.weight: Invalid value: {weight!r}: must be an integer from 0 to 1000000"
    return None


def gateway_config(gateway: list[str], nginx: list[str] | None = None, *, lease_seconds: float = 86400.0) -> Any:
    """A Config whose ``gateway`` services use router: gateway and the others router: nginx."""
    from console.engine.config import Config, Service

    services = [Service(name=s, router="gateway", gateway="butterfly-gateway") for s in gateway]
    config = Config(services=services + [Service(name=s) for s in nginx or []])
    config.kube.lease_seconds = lease_seconds
    return config


def seed_httproute(double: Any, service: str, *, keep_ingress: bool = False, namespace: str = "butterfly") -> None:
    """Move a seeded service behind Gateway API: its HTTPRoute in, its Ingress out (unless kept)."""
    double.store.put("httproutes", namespace, stable_httproute(service), created=True)
    if not keep_ingress:
        double.store.delete("ingresses", namespace, service)


def backend_weights(double: Any, service: str) -> dict[str, int]:
    """{backend name: weight} of the HTTPRoute's first rule, as `kubectl get httproute -o yaml` shows it."""
    route = double.obj("httproutes", service)
    return {ref["name"]: ref.get("weight", 1) for ref in route["spec"]["rules"][0]["backendRefs"]}
