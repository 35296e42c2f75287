"""The Gateway API router (HTTPRoute, gateway.networking.k8s.io/v1): the service's HTTPRoute gets, in every
rule that sends traffic to the stable Service, a second backendRef to the canary Service; the two weights
sum to the rule's total (100 unless the stable backendRef already carried a larger weight: with a total of
at least 100 the share read back is always the percentage written). Rollback sets
the canary weight to 0; promote and cleanup remove the canary backendRef and give stable the whole total.

Every change is a JSON merge patch of ``spec.rules`` carrying the resourceVersion it was computed from, so
an edit made meanwhile (by a person or a GitOps tool) is never overwritten: on 409 the route is read again;
if its canary weight moved, the write is refused and the change is left as it is (an override).
"""

from __future__ import annotations

import copy
from typing import Any

from console.adapters.kube_api import MERGE, Conflict, NotFound
from console.adapters.router import HTTPROUTES, RouteState
from console.engine.ports import ClusterError

DEFAULT_TOTAL = 100


def _is_ref(ref: dict[str, Any], name: str) -> bool:
    return (ref.get("name") == name and ref.get("kind", "Service") == "Service"
            and ref.get("group", "") in ("", "core"))


def routes_to_service(route: dict[str, Any], service: str) -> bool:
    return any(_is_ref(ref, service) for rule in (route.get("spec") or {}).get("rules") or []
               for ref in rule.get("backendRefs") or [])


def _split(rule: dict[str, Any], service: str, canary: str) -> tuple[dict | None, dict | None]:
    refs = rule.get("backendRefs") or []
    return (next((r for r in refs if _is_ref(r, service)), None), next((r for r in refs if _is_ref(r, canary)), None))


def canary_share(route: dict[str, Any] | None, service: str, canary: str) -> RouteState:
    """Whether any rule has the canary backendRef, and the canary's share in percent (the largest over
    the rules, should a hand edit have made them differ: the reading that errs towards more traffic)."""
    shares = []
    for rule in ((route or {}).get("spec") or {}).get("rules") or []:
        stable, canary_ref = _split(rule, service, canary)
        if canary_ref is None:
            continue
        c = int(canary_ref.get("weight", 1))
        s = int(stable.get("weight", 1)) if stable else 0
        shares.append(round(100 * c / (s + c)) if s + c > 0 else 0)
    return RouteState(exists=bool(shares), weight=max(shares) if shares else 0, changed_by=rules_manager(route))


def rules_manager(route: dict[str, Any] | None) -> str | None:
    """Who last wrote the route's rules (the weights live there), from managedFields, e.g. "kubectl-patch"."""
    owners = [(entry.get("time") or "", entry.get("manager") or "unknown")
              for entry in ((route or {}).get("metadata") or {}).get("managedFields") or []
              if "f:rules" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})]
    return max(owners)[1] if owners else None


def with_weight(rules: list[dict[str, Any]], service: str, canary: str, weight: int) -> list[dict[str, Any]]:
    """The rules with the canary backendRef at ``weight`` % (added next to each stable one if missing)."""
    out = copy.deepcopy(rules)
    for rule in out:
        stable, canary_ref = _split(rule, service, canary)
        if stable is None and canary_ref is None:
            continue
        s = int(stable.get("weight", 1)) if stable else 0
        c = int(canary_ref.get("weight", 1)) if canary_ref else 0
        total = max(s + c, DEFAULT_TOTAL)  # at least 100: every percent is exact and reads back as written
        new_canary = round(total * weight / 100)
        if canary_ref is None:
            canary_ref = {"name": canary, **({"port": stable["port"]} if stable and "port" in stable else {})}
            rule["backendRefs"].append(canary_ref)
        canary_ref["weight"] = new_canary
        if stable is not None:
            stable["weight"] = total - new_canary
    return out


def without_canary(rules: list[dict[str, Any]], service: str, canary: str) -> list[dict[str, Any]]:
    """The rules with every canary backendRef gone and the stable one carrying the rule's whole total."""
    out = copy.deepcopy(rules)
    for rule in out:
        stable, canary_ref = _split(rule, service, canary)
        if canary_ref is None:
            continue
        total = int(stable.get("weight", 1)) + int(canary_ref.get("weight", 1)) if stable else 0
        rule["backendRefs"] = [r for r in rule["backendRefs"] if not _is_ref(r, canary)]
        if stable is not None:
            stable["weight"] = total
    return out


def parents(route: dict[str, Any]) -> list[str]:
    return [p.get("name", "") for p in (route.get("spec") or {}).get("parentRefs") or []]


class GatewayRouter:
    kind = "gateway"
    resource = HTTPROUTES

    def __init__(self, cluster: Any, service: str, route: str | None = None, gateway: str | None = None) -> None:
        self.cluster = cluster  # the KubeCluster: api, _path, _get
        self.service = service
        self.canary = cluster.kube.canary_name(service)
        self.name = route or service
        self.gateway = gateway

    @property
    def describe(self) -> str:
        return f"gateway: HTTPRoute {self.name}" + (f" (Gateway {self.gateway})" if self.gateway else "")

    def read(self, listing: dict[str, dict[str, Any]]) -> RouteState:
        return canary_share(listing.get(self.name), self.service, self.canary)

    async def _route(self) -> dict[str, Any]:
        route = await self.cluster._get(HTTPROUTES, self.name)
        if route is None:
            raise ClusterError(f"no HTTPRoute {self.name} in namespace {self.cluster.namespace}", retryable=False)
        return route

    async def _change(self, change: Any, *, missing_ok: bool = False) -> None:
        """Apply ``change(rules) → rules`` guarded by the resourceVersion it was computed from."""
        first: list[int] = []

        async def attempt() -> None:
            try:
                route = await self._route()
            except ClusterError:
                if missing_ok:
                    return
                raise
            share = canary_share(route, self.service, self.canary).weight
            if first and share != first[0]:
                raise ClusterError(f"HTTPRoute {self.name}'s canary weight changed to {share}% while the console "
                                   "was writing: left as it is", retryable=False)
            first.append(share)
            rules = (route.get("spec") or {}).get("rules") or []
            new = change(rules)
            if new == rules:
                return
            body = {"metadata": {"resourceVersion": route["metadata"]["resourceVersion"]}, "spec": {"rules": new}}
            try:
                await self.cluster.api.call("PATCH", self.cluster._path(HTTPROUTES, self.name), body=body,
                                            content_type=MERGE)
            except NotFound:
                if not missing_ok:
                    raise

        try:
            await self.cluster.api.with_conflicts(attempt)
        except Conflict:
            raise ClusterError(f"HTTPRoute {self.name} kept changing while the console wrote it; try again",
                               retryable=True) from None

    async def create(self, weight: int) -> None:
        route = await self._route()
        if not routes_to_service(route, self.service):
            raise ClusterError(f"HTTPRoute {self.name} has no backendRef to Service {self.service}", retryable=False)
        if self.gateway and self.gateway not in parents(route):
            raise ClusterError(f"HTTPRoute {self.name} is not attached to Gateway {self.gateway} "
                               f"(parentRefs: {', '.join(parents(route)) or 'none'})", retryable=False)
        await self.set_weight(weight)

    async def set_weight(self, weight: int) -> None:
        await self._change(lambda rules: with_weight(rules, self.service, self.canary, weight))

    async def reset(self) -> None:
        def to_zero(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
            has_canary = any(_split(r, self.service, self.canary)[1] is not None for r in rules)
            return with_weight(rules, self.service, self.canary, 0) if has_canary else rules
        await self._change(to_zero, missing_ok=True)

    async def remove(self) -> None:
        await self._change(lambda rules: without_canary(rules, self.service, self.canary), missing_ok=True)
