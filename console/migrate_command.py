"""`canary-console migrate-router SERVICE --to gateway`: between rollouts only, print the HTTPRoute
equivalent of the service's stable Ingress for review, or with ``--apply`` create it. It never changes the
config (set ``router: gateway`` yourself once the Gateway carries the traffic) nor touches the Ingress.
Exit 0 done, 2 refused (a rollout under way, no Ingress, an HTTPRoute already there), 4 unreachable.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import yaml

from console.adapters.router_migrate import httproute_from_ingress
from console.engine.config import Config
from console.engine.exits import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from console.engine.model import Problem
from console.engine.ports import ClusterError
from console.output import say as _err

if TYPE_CHECKING:
    from console.adapters.kube import KubeCluster


async def migrate_router(config: Config, service: str, *, to: str, gateway: str | None, apply: bool,
                         kubeconfig: str | None, context: str | None, namespace: str | None) -> int:
    from console.adapters.kube import connect

    if to != "gateway":
        _err(f"migrate-router: --to {to} is not supported (only gateway)")
        return EXIT_USAGE
    settings = config.service(service)
    gateway = gateway or settings.gateway
    if not gateway:
        _err("migrate-router: name the parent Gateway with --gateway NAME (or gateway: in the service's config)")
        return EXIT_USAGE
    try:
        cluster = await connect(config, read_only=not apply, kubeconfig=kubeconfig, context=context,
                                namespace=namespace)
    except ClusterError as exc:
        _err(str(exc))
        return EXIT_USAGE
    try:
        return await _migrate(cluster, service, settings.route or service, gateway, apply)
    except ClusterError as exc:
        _err(f"migrate-router: {exc}")
        refused = exc.problem in (Problem.UNAUTHORIZED, Problem.FORBIDDEN) or exc.retryable is False
        return EXIT_USAGE if refused else EXIT_UNREACHABLE
    finally:
        await cluster.aclose()


async def _migrate(cluster: KubeCluster, service: str, name: str, gateway: str, apply: bool) -> int:
    busy = await cluster.leftovers(service)
    if busy:
        _err(f"migrate-router: {service} has a rollout under way or not cleaned up ({', '.join(busy)}); "
             "migrate between rollouts only")
        return EXIT_USAGE
    routes = await cluster.httproutes()
    if routes is None:
        _err("migrate-router: the cluster serves no HTTPRoutes (install the Gateway API CRDs first)")
        return EXIT_USAGE
    if name in routes:
        _err(f"migrate-router: HTTPRoute {name} exists already; nothing to do")
        return EXIT_USAGE
    ingress = await cluster.stable_ingress(service)
    try:
        route = httproute_from_ingress(ingress, service, name=name, gateway=gateway, namespace=cluster.namespace)
    except ValueError as exc:
        _err(f"migrate-router: {exc}")
        return EXIT_USAGE
    print(yaml.safe_dump(route, sort_keys=False), end="")
    if apply:
        await cluster.create_httproute(route)
        print(f"# created HTTPRoute {name}; set `router: gateway` for {service} once the Gateway carries its "
              "traffic", file=sys.stderr)
    return EXIT_OK
