"""The traffic router seam of the Kubernetes adapter: how a service's canary gets its share of traffic.

``TrafficRouter`` is what KubeCluster asks of a router (create the canary route, read the live weight from
a listing, set the weight, reset to 0, remove the canary route); ``NginxRouter`` (router_nginx.py) moves
the nginx canary Ingress' ``canary-weight`` annotation, ``GatewayRouter`` (router_gateway.py) the weights
of a Gateway API HTTPRoute's two backendRefs. ``detect`` picks one for ``router: auto`` from what exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

INGRESSES = "ingresses"
HTTPROUTES = "httproutes"


@dataclass(frozen=True, slots=True)
class RouteState:
    """What a router reads from one listing: whether the canary route exists, its live weight, and (nginx
    only) the annotations of the canary Ingress, where earlier releases kept the rollout record."""

    exists: bool = False
    weight: int = 0
    legacy_notes: dict[str, str] = field(default_factory=dict)
    changed_by: str | None = None  # who last wrote the weight (managedFields' manager), when known


class TrafficRouter(Protocol):
    kind: str  # "nginx" | "gateway"
    resource: str  # the listing it reads: "ingresses" | "httproutes"
    name: str  # the object carrying the weight: the canary Ingress, or the service's HTTPRoute

    @property
    def describe(self) -> str:
        """The router and the object carrying the weight: "gateway: HTTPRoute perception"."""
        ...

    def read(self, listing: dict[str, dict[str, Any]]) -> RouteState:
        """The canary route's state from one LIST of ``resource`` (objects by name)."""
        ...

    async def create(self, weight: int) -> None:
        """Route ``weight`` % of the service's traffic to the canary Service (created before)."""
        ...

    async def set_weight(self, weight: int) -> None: ...

    async def reset(self) -> None:
        """Canary weight 0 (rollback); the canary route stays."""
        ...

    async def remove(self) -> None:
        """No canary route any more: all traffic to stable (promote, cleanup). Gone already is done."""
        ...


def by_name(listing: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in (listing or {}).get("items", [])}


def detect(service: str, ingresses: dict[str, dict[str, Any]] | None,
           routes: dict[str, dict[str, Any]] | None, route_name: str) -> tuple[str | None, str]:
    """(router kind, what was found) for ``router: auto``: nginx when a (non-canary) Ingress routes to the
    Service, gateway when the HTTPRoute routes to it; (None, why) when both or neither fit. ``None`` for a
    listing means it could not be read (no CRD, or no permission), which counts as nothing found there."""
    from console.adapters.router_gateway import routes_to_service
    from console.adapters.router_nginx import stable_ingress_name

    ingress = stable_ingress_name(ingresses or {}, service)
    route = (routes or {}).get(route_name)
    gateway = route is not None and routes_to_service(route, service)
    if ingress and gateway:
        return None, (f"router auto: both Ingress {ingress} and HTTPRoute {route_name} route to {service}; "
                      f"set router: nginx or router: gateway for {service}")
    if ingress:
        return "nginx", f"router auto: nginx (Ingress {ingress} routes to {service})"
    if gateway:
        return "gateway", f"router auto: gateway (HTTPRoute {route_name} routes to {service})"
    return None, (f"router auto: neither an Ingress nor HTTPRoute {route_name} routes to {service}; "
                  f"set router: nginx or router: gateway (and route:) for {service}")
