"""The nginx router (ingress-nginx canary annotations), the console's behaviour since its first release: a
second Ingress ``<service>-canary`` copies the stable Ingress' class, hosts and paths, points at the canary
Service and carries ``nginx.ingress.kubernetes.io/canary: "true"`` and ``canary-weight``.
"""

from __future__ import annotations

from typing import Any

from console.adapters import kube_objects as ko
from console.adapters.kube_api import MERGE, NotFound
from console.adapters.router import INGRESSES, RouteState
from console.engine.ports import ClusterError


def stable_ingress_name(ingresses: dict[str, dict[str, Any]], service: str) -> str | None:
    """The Ingress carrying the service's stable traffic: the one named like it, else any non-canary one
    that routes to the Service."""
    named = ingresses.get(service)
    if named is not None and ko.routes_to(named, service):
        return service
    return next((name for name, obj in sorted(ingresses.items())
                 if ko.annotations(obj).get(ko.CANARY) != "true" and ko.routes_to(obj, service)), None)


class NginxRouter:
    kind = "nginx"
    resource = INGRESSES

    def __init__(self, cluster: Any, service: str) -> None:
        self.cluster = cluster  # the KubeCluster: api, _path, _get, _create_or_patch
        self.service = service
        self.name = cluster.kube.canary_name(service)

    @property
    def describe(self) -> str:
        return f"nginx: Ingress {self.name}"

    def read(self, listing: dict[str, dict[str, Any]]) -> RouteState:
        ingress = listing.get(self.name)
        if ingress is None:
            return RouteState()
        notes = ko.annotations(ingress)
        return RouteState(exists=True, weight=ko.weight_of(notes), legacy_notes=notes,
                          changed_by=ko.manager_of(ingress, ko.WEIGHT))

    async def create(self, weight: int) -> None:
        stable = await self.stable_ingress()
        try:
            obj = ko.canary_ingress(stable, self.service, weight, self.cluster.kube)
        except ValueError as exc:
            raise ClusterError(str(exc), retryable=False) from None
        await self.cluster._create_or_patch(INGRESSES, obj)

    async def stable_ingress(self) -> dict[str, Any]:
        """The service's stable Ingress: the one named after it, else the one routing to its Service;
        ClusterError (not retryable) when there is none."""
        named = await self.cluster._get(INGRESSES, self.service)
        if named is not None:
            return named
        listing = await self.cluster.api.call("GET", self.cluster._path(INGRESSES))
        found = stable_ingress_name({o["metadata"]["name"]: o for o in listing.get("items", [])}, self.service)
        if found is None:
            raise ClusterError(f"no stable Ingress routes to Service {self.service} in namespace "
                               f"{self.cluster.namespace}", retryable=False)
        return next(o for o in listing["items"] if o["metadata"]["name"] == found)

    async def _patch_weight(self, weight: int) -> None:
        body = {"metadata": {"annotations": {ko.WEIGHT: str(int(weight))}}}
        await self.cluster.api.call("PATCH", self.cluster._path(INGRESSES, self.name), body=body,
                                    content_type=MERGE)

    async def set_weight(self, weight: int) -> None:
        try:
            await self._patch_weight(weight)
        except NotFound:
            raise ClusterError(f"no canary Ingress {self.name} in namespace {self.cluster.namespace}",
                               retryable=False) from None

    async def reset(self) -> None:
        try:
            await self._patch_weight(0)
        except NotFound:
            pass  # no canary Ingress: no traffic goes to the canary

    async def remove(self) -> None:
        try:
            await self.cluster.api.call("DELETE", self.cluster._path(INGRESSES, self.name),
                                        query={"propagationPolicy": "Background"})
        except NotFound:
            pass
