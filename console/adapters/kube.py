"""The Cluster port over a real Kubernetes API server (kubernetes-asyncio): pods from one watch per
namespace, the live weight from each service's traffic router (router*.py: nginx canary Ingress or Gateway
API HTTPRoute), the rollout record from its ConfigMap (kube_record.py, written as an intent log), the
runbook's actions (start, set weight, rollback, promote, delete), audit Events, log follow; one driver per
service through Leases, and read-only enforced at the request boundary (see kube_api). ``connect`` builds
one from the kubeconfig.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from console.adapters import kube_objects as ko
from console.adapters import kube_record as kr
from console.adapters.kube_api import MERGE, STRATEGIC, KubeApi, NotFound, clean
from console.adapters.kube_lease import LEASE_PREFIX, LeaseKeeper
from console.adapters.kube_logs import PodLogFollower
from console.adapters.kube_reads import read_kinds
from console.adapters.kube_requests import KubeRequestBox
from console.adapters.kube_watch import Watcher
from console.adapters.router import HTTPROUTES, INGRESSES, RouteState, TrafficRouter, by_name, detect
from console.adapters.router_gateway import GatewayRouter
from console.adapters.router_nginx import NginxRouter
from console.engine.audit import redact
from console.engine.clock import Clock, RealClock
from console.engine.config import Config, format_duration
from console.engine.model import Pod, Problem, RolloutRecord, ServiceSnapshot, State, Track
from console.engine.ports import ClusterError, LogLine, ReadOnlyError

PROMOTE_POLL = 2.0  # seconds between looks at the stable rollout while promoting


class KubeCluster:
    """Implements console.engine.ports.Cluster. ``identity`` is who acts (for audit), ``console_id`` the
    Lease holder name of this very console."""

    def __init__(self, api: KubeApi, config: Config, *, namespace: str, kube_user: str,
                 console_id: str | None = None, renew_leases: bool = True) -> None:
        self.api = api
        self.renew_leases = renew_leases
        self.config = config
        self.kube = config.kube
        self.namespace = namespace
        self.identity = f"{_local_user()} as {kube_user}"
        self.console_id = console_id or f"{self.identity} on {socket.gethostname()}:{os.getpid()}-{secrets.token_hex(2)}"
        names = ",".join(config.service_names)
        self.watcher = Watcher(api, namespace, f"{self.kube.name_label} in ({names})")
        self.leases = LeaseKeeper(api, namespace, self.console_id, self.kube.lease_seconds)
        self.lease_watch = Watcher(api, namespace, "app.kubernetes.io/managed-by=canary-console",
                                      path=self.leases.path(), on_object=self.leases.observe)
        self.requests = KubeRequestBox(api, namespace)  # asking the driver of a service driven elsewhere
        self.last_event_error: str | None = None
        self._last: dict[str, ServiceSnapshot] = {}
        self._renewer: asyncio.Task[None] | None = None
        self.routers: dict[str, TrafficRouter] = {}  # per service; ``router: auto`` ones once detected
        self.router_notes: dict[str, str] = {}  # what auto detection found, or why it refused
        self._shifting: set[str] = set()  # services with a weight write of ours in flight
        self._unlisted: dict[str, str] = {}  # resource → why the last snapshot could not list it
        for service in config.services:
            if service.router != "auto":
                self.routers[service.name] = self._make_router(service.name, service.router)

    @property
    def read_only(self) -> bool:
        return self.api.read_only

    # ---- life cycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the pod watch in the background (snapshot_all also starts it on first use)."""
        self.watcher.start()

    def watch_leases(self) -> None:
        """Watch the Leases from now on (a session waiting to take one over asks): each renewal is seen
        when it happens, so a dead holder's Lease is judged expired a Lease after its last renewal rather
        than a Lease after the first check that saw it. Needs watch on leases (the driver Role)."""
        if not self.read_only and not self.lease_watch.running:
            self.lease_watch.start()

    async def aclose(self) -> None:
        await self.watcher.stop()
        await self.lease_watch.stop()
        if self._renewer:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        if not self.read_only:
            await self.leases.release_all()
        await self.api.close()

    async def check(self) -> None:
        """Raise ClusterError unless the API server answers and lets us list pods in the namespace."""
        await self.api.call("GET", self._path("pods"), query={"limit": "1"}, retries=1)

    # ---- paths ----------------------------------------------------------------------------------------
    def _path(self, resource: str, name: str = "") -> str:
        base = {"pods": "/api/v1", "services": "/api/v1", "events": "/api/v1", "configmaps": "/api/v1",
                "deployments": "/apis/apps/v1", "ingresses": "/apis/networking.k8s.io/v1",
                "httproutes": "/apis/gateway.networking.k8s.io/v1"}[resource]
        path = f"{base}/namespaces/{self.namespace}/{resource}"
        return f"{path}/{name}" if name else path

    async def _get(self, resource: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.api.call("GET", self._path(resource, name))
        except NotFound:
            return None

    # ---- routers ---------------------------------------------------------------------------------------
    def _make_router(self, service: str, kind: str) -> TrafficRouter:
        if kind == "gateway":
            settings = self.config.service(service)
            return GatewayRouter(self, service, settings.route, settings.gateway)
        return NginxRouter(self, service)

    def _router_kind(self, service: str) -> str:
        try:
            return self.config.service(service).router
        except KeyError:
            return "nginx"

    def _resolve(self, service: str, listings: dict[str, dict[str, dict[str, Any]] | None]) -> TrafficRouter | None:
        """The service's router; ``auto`` is decided once, from the listings, and said in router_notes."""
        if service in self.routers:
            return self.routers[service]
        if self._router_kind(service) != "auto":  # a service the config does not name: today's nginx
            self.routers[service] = self._make_router(service, self._router_kind(service))
            return self.routers[service]
        route = self.config.service(service).route or service
        kind, note = detect(service, listings.get(INGRESSES), listings.get(HTTPROUTES), route)
        self.router_notes[service] = note
        if kind is None:
            return None
        self.routers[service] = router = self._make_router(service, kind)
        return router

    async def _list_routes(self, resource: str) -> dict[str, dict[str, Any]] | None:
        """A listing of Ingresses or HTTPRoutes; None when the kind is not served (no Gateway API CRDs) or
        not ours to read, so that ``router: auto`` can still decide from the other (and the services whose
        router needs it say why, see ``_unlisted``)."""
        try:
            return by_name(await self.api.call("GET", self._path(resource)))
        except ClusterError as exc:
            if exc.status in (403, 404):
                self._unlisted[resource] = (f"the cluster serves no {resource} (are the Gateway API CRDs "
                                            "installed?)" if exc.status == 404 else clean(str(exc)))
                return None
            raise

    async def _router(self, service: str) -> TrafficRouter:
        """The router for a write: detected now if ``auto`` has not been decided yet; refused clearly."""
        if service not in self.routers:
            listings = {r: await self._list_routes(r) for r in (INGRESSES, HTTPROUTES)}
            if self._resolve(service, listings) is None:
                raise ClusterError(self.router_notes[service], retryable=False)
        return self.routers[service]

    async def _live(self, router: TrafficRouter) -> RouteState:
        obj = await self._get(router.resource, router.name)
        return router.read({obj["metadata"]["name"]: obj} if obj else {})

    # ---- between rollouts: what `migrate-router` asks (console/migrate_command.py) ----------------------
    async def leftovers(self, service: str) -> list[str]:
        """The service's canary resources still in the cluster ("Deployment nexus-canary", …): a rollout under
        way or not cleaned up. Empty between rollouts."""
        canary, record = self.kube.canary_name(service), kr.configmap_name(service)
        found = [(f"Deployment {canary}", await self._get("deployments", canary)),
                 (f"Ingress {canary}", await self._get(INGRESSES, canary)),
                 (f"ConfigMap {record}", await self._get("configmaps", record))]
        return [what for what, obj in found if obj is not None]

    async def httproutes(self) -> dict[str, dict[str, Any]] | None:
        """The namespace's HTTPRoutes by name; None when the cluster serves none (no Gateway API CRDs)."""
        try:
            return by_name(await self.api.call("GET", self._path(HTTPROUTES)))
        except NotFound:
            return None

    async def stable_ingress(self, service: str) -> dict[str, Any]:
        """The service's stable Ingress (ClusterError when there is none)."""
        return await NginxRouter(self, service).stable_ingress()

    async def create_httproute(self, route: dict[str, Any]) -> None:
        await self.api.call("POST", self._path(HTTPROUTES), body=route)

    # ---- reading ---------------------------------------------------------------------------------------
    async def snapshot_all(self, services: Sequence[str]) -> dict[str, ServiceSnapshot]:
        """Every service as the cluster shows it. A kind that cannot be listed is a problem on every service
        ("cannot list deployments: …503…") and its fields keep their last known values (``unread`` names
        it): a failed read is never an empty world, and what could be read is still used."""
        now = self.api.clock.now()
        problem: str | None = None
        kinds = {self._router_kind(s) if s not in self.routers else self.routers[s].kind for s in services}
        self._unlisted = {}
        wanted = [r for r, needed in ((INGRESSES, kinds & {"nginx", "auto"}), (HTTPROUTES, kinds & {"gateway", "auto"}))
                  if needed]
        selector = f"{self.kube.name_label} in ({','.join(services)})"
        read = await read_kinds({
            "pods": self._pods(),
            # no retry: the next check is the retry, so a slow or failing server costs one check at most
            "deployments": self.api.call("GET", self._path("deployments"), query={"labelSelector": selector},
                                         retries=0),
            "leases": self.api.call("GET", self.leases.path(), retries=0),
            "configmaps": self.api.call("GET", self._path("configmaps"), query={"labelSelector": kr.SELECTOR},
                                        retries=0),
            **{resource: self._list_routes(resource) for resource in wanted}})
        if not read.ok:  # nothing at all could be read: the last picture, said to be stale (status exits 4)
            return {s: replace(self._last.get(s) or ServiceSnapshot(service=s), problem=read.problem, at=now,
                               unread=tuple(sorted(read.failed)), problem_kind=read.problem_kind) for s in services}
        # a failed read is not an empty world: each kind that could not be listed keeps its last values
        watch_problem = self.watcher.problem if "pods" not in read.failed else None
        problem = "; ".join(p for p in (read.problem, watch_problem) if p) or None
        kind = Problem.gravest(read.problem_kind, self.watcher.problem_kind if watch_problem else None)
        pods = read.value("pods", {})
        listings = {r: read.value(r) for r in wanted if r not in read.failed and "configmaps" not in read.failed}
        by_deploy = read.by_name("deployments")
        cm_by_name = read.by_name("configmaps")
        lease_by_name = read.by_name("leases")
        result = {}
        for service in services:
            previous = self._last.get(service) or ServiceSnapshot(service=service)
            canary = self.kube.canary_name(service)
            router = self._resolve(service, listings)
            listing = listings.get(router.resource) if router else None
            cm = cm_by_name.get(kr.configmap_name(service))
            driver, driver_left = self._driver(service, lease_by_name.get(LEASE_PREFIX + service), now)
            if router is None or listing is None:  # no live weight to read: the last good one, nothing reconciled
                route_problem = (self.router_notes.get(service) if router is None
                                 else self._unlisted.get(router.resource) or problem)
                last = self._last.get(service)
                state = RouteState(exists=last.canary_exists, weight=last.weight) if last else RouteState()
                override, unfinished = (last.override if last else None), None
                record = last.record if last else (kr.Stored.from_configmap(cm) if cm else kr.Stored(None)).record
            else:
                route_problem = None
                state = router.read(listing)
                record, override, unfinished = await self._reconciled(service, router, cm, state)
            described = router.describe if router else "router: auto, undecided"
            if router and service in self.router_notes:
                described += " (detected by router: auto)"
            said = route_problem or unfinished or problem
            snapshot = ServiceSnapshot(
                service=service, stable_version=ko.deployment_version(by_deploy.get(service), service),
                canary_version=ko.deployment_version(by_deploy.get(canary), service),
                canary_exists=canary in by_deploy or state.exists, weight=state.weight,
                pods=tuple(pods.get(service, ())), record=record,
                driver=driver, driver_left=driver_left, problem=said, at=now, override=override,
                problem_kind=(kind if said == problem else Problem.FAILED) if said else None,
                router=described, canary_deployment=canary in by_deploy, canary_replicas=ko.replicas_of(
                    by_deploy.get(canary)), weight_changed_by=state.changed_by, unread=tuple(sorted(read.failed)),
                stable_paused=ko.paused(by_deploy.get(service)))
            kept: dict[str, Any] = {}
            if "deployments" in read.failed:
                kept.update(stable_version=previous.stable_version, canary_version=previous.canary_version,
                            canary_deployment=previous.canary_deployment, canary_replicas=previous.canary_replicas,
                            canary_exists=previous.canary_exists or state.exists, stable_paused=previous.stable_paused)
            if "pods" in read.failed:
                kept["pods"] = previous.pods
            if "leases" in read.failed:
                kept.update(driver=previous.driver, driver_left=previous.driver_left)
            result[service] = self._last[service] = replace(snapshot, **kept)
        return result

    async def _reconciled(self, service: str, router: TrafficRouter | None, cm: dict[str, Any] | None,
                          state: RouteState) -> tuple[RolloutRecord | None, str | None, str | None]:
        """(record, override, problem): the record as the intent log says to read it. The driver (and only
        it) finishes its own interrupted write here, unless a write of its own is in flight."""
        stored = kr.Stored.from_configmap(cm) if cm else kr.Stored.from_legacy(state.legacy_notes)
        found = kr.reconcile(stored, state.weight, _where(router), state.changed_by)
        holding = self.leases.held.get(service)
        if (found.action and router and not self.read_only and holding and not holding.lost
                and service not in self._shifting):
            try:
                await self._finish(service, router, stored, found.action)
            except ClusterError as exc:
                return found.record, found.override, f"finishing an interrupted weight write failed: {clean(str(exc))}"
        return found.record, found.override, None

    async def _finish(self, service: str, router: TrafficRouter, stored: kr.Stored, action: str) -> None:
        """Confirm (or re-apply, then confirm) the pending weight of our own interrupted write."""
        assert stored.pending is not None
        if action == "reapply":
            await router.set_weight(stored.pending)
        await self._confirm(service, stored.pending)

    def _driver(self, service: str, lease: dict[str, Any] | None, at: float) -> tuple[str | None, float | None]:
        """(who drives ``service``, seconds from ``at`` (the snapshot's time) its Lease has left unless
        renewed, by our own observation): ``at`` plus that is the instant it runs out, which the session
        arms a takeover for (judged now, after the reads, and counted back to ``at``)."""
        holder, left = self.leases.observed_holder(service, lease)
        left += self.api.clock.now() - at
        if holder == self.console_id:
            return self.identity, left
        if holder:
            self.leases.forget(service, f"{holder} drives {service} now")
        return holder, (left if holder else None)

    async def _pods(self) -> dict[str, list[Pod]]:
        if not self.watcher.running:
            self.watcher.start()
        if not self.watcher.synced:
            await self.watcher.wait_for(lambda: self.watcher.synced or self.watcher.problem is not None)
        if not self.watcher.synced:
            raise ClusterError(self.watcher.problem or "pods not listed yet")
        grouped: dict[str, list[Pod]] = {}
        for obj in self.watcher.objects.values():
            if found := ko.pod_of(obj, self.kube):
                grouped.setdefault(found[0], []).append(found[1])
        for pods in grouped.values():
            pods.sort(key=lambda p: (p.track.value, p.name))
        return grouped

    # ---- writing ---------------------------------------------------------------------------------------
    async def _writing(self, service: str, *, rollback: bool = False) -> None:
        """Every write for a service asks here first: read-only, and this console must hold its Lease (a
        rollback also while a renewal is failing, until the lease expires). A console that has just become
        the driver first finishes an interrupted weight write it finds."""
        if self.read_only:
            raise ReadOnlyError("read-only: this console only watches")
        newly = service not in self.leases.held
        await self.leases.ensure(service, rollback=rollback)
        if self.renew_leases and (self._renewer is None or self._renewer.done()):
            self._renewer = asyncio.create_task(self.leases.run(), name="lease-renewal")
        if newly:
            await self._settle(service)

    async def _settle(self, service: str) -> None:
        cm = await self._get("configmaps", kr.configmap_name(service))
        if cm is None or kr.PENDING not in (cm.get("data") or {}):
            return
        router = await self._router(service)
        stored = kr.Stored.from_configmap(cm)
        found = kr.reconcile(stored, (await self._live(router)).weight, _where(router))
        if found.action:
            await self._finish(service, router, stored, found.action)

    async def claim(self, service: str) -> None:
        """This console drives ``service`` from now: take its Lease (free or expired) at once."""
        await self._writing(service)

    async def take_over(self, service: str) -> None:
        """Take the service's Lease from whichever console holds it (the user confirmed)."""
        if self.read_only:
            raise ReadOnlyError("read-only: this console only watches")
        await self.leases.take_over(service)

    async def _create_or_patch(self, resource: str, obj: dict[str, Any]) -> None:
        try:
            await self.api.call("POST", self._path(resource), body=obj)
        except ClusterError as exc:
            if exc.status != 409:
                raise
            patch = {"metadata": {k: obj["metadata"][k] for k in ("labels", "annotations") if k in obj["metadata"]},
                     "spec": obj["spec"]}
            await self.api.call("PATCH", self._path(resource, obj["metadata"]["name"]), body=patch,
                                content_type=MERGE)

    async def start_canary(self, service: str, version: str, weight: int) -> None:
        await self._writing(service)
        router = await self._router(service)
        stable = await self._get("deployments", service)
        if stable is None:
            raise ClusterError(f"no stable Deployment {service} in namespace {self.namespace}", retryable=False)
        try:
            deployment = ko.canary_deployment(stable, service, version, self.kube)
            canary_service = ko.canary_service(await self._get("services", service), service, self.kube)
        except ValueError as exc:
            raise ClusterError(str(exc), retryable=False) from None
        await self._create_or_patch("deployments", deployment)
        await self._create_or_keep_service(canary_service)
        await router.create(weight)  # the route last: traffic only once its backend exists

    async def _create_or_keep_service(self, obj: dict[str, Any]) -> None:
        """The canary Service, created; one already there (an interrupted start) is kept when it selects and
        serves what ours would, and otherwise left alone and refused: someone else's Service is never
        rewritten (and the driver Role needs no `patch services`)."""
        try:
            await self.api.call("POST", self._path("services"), body=obj)
        except ClusterError as exc:
            if exc.status != 409:
                raise
            name = obj["metadata"]["name"]
            if not ko.same_service(await self._get("services", name), obj):
                raise ClusterError(f"a Service {name} already exists and does not select the canary pods as "
                                   f"this console would: not changed; delete it to start", retryable=False) from None

    # ---- the intent log: record first, then the router, then the record confirmed ------------------------
    async def _intend(self, service: str, router: TrafficRouter, weight: int, state: State | None = None) -> int:
        """Write ``pending-weight`` (and the live weight it replaces) into the record before the router is
        touched; a record still on the canary Ingress (earlier release) moves into the ConfigMap here.
        Returns the replaced weight. Without a state to set, the intent is a merge patch of its own keys,
        sent unread (only the Lease holder writes the record); a ConfigMap not there yet is read and made."""
        live = await self._live(router)
        name = kr.configmap_name(service)
        intent = {kr.PENDING: str(int(weight)), kr.REPLACED: str(live.weight), kr.ROUTER: router.kind}
        if state is None:
            try:
                await self.api.call("PATCH", self._path("configmaps", name), body={"data": intent},
                                    content_type=MERGE)
                return live.weight
            except NotFound:
                pass  # no record yet (or one on the canary Ingress still): made below

        async def attempt() -> None:
            cm = await self._get("configmaps", name)
            if cm is None:
                legacy = kr.Stored.from_legacy(live.legacy_notes).record
                data = (kr.record_data(legacy) if legacy else {}) | intent
                if legacy and state:
                    data["state"] = state.value
                await self.api.call("POST", self._path("configmaps"), body=kr.configmap(service, data))
                if legacy:
                    await self._forget_legacy(service)
                return
            data = dict(intent)
            if state and kr.record_of(cm.get("data") or {}):
                data["state"] = state.value
            body = {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]}, "data": data}
            await self.api.call("PATCH", self._path("configmaps", name), body=body, content_type=MERGE)

        await self.api.with_conflicts(attempt)
        return live.weight

    async def _confirm(self, service: str, weight: int) -> None:
        body = {"data": {"weight": str(int(weight)), kr.PENDING: None, kr.REPLACED: None}}
        await self.api.call("PATCH", self._path("configmaps", kr.configmap_name(service)), body=body,
                            content_type=MERGE)

    async def _abandon(self, service: str, router: TrafficRouter, weight: int, replaced: int) -> None:
        """After a failed router write: confirm if it landed after all, drop the intent if it surely did
        not; anything else stays pending for the next reader to judge (best effort, never raises)."""
        try:
            live = (await self._live(router)).weight
            if live == weight:
                await self._confirm(service, weight)
            elif live == replaced:
                body = {"data": {kr.PENDING: None, kr.REPLACED: None}}
                await self.api.call("PATCH", self._path("configmaps", kr.configmap_name(service)), body=body,
                                    content_type=MERGE)
        except ClusterError:
            pass

    async def _forget_legacy(self, service: str) -> None:
        """Remove the record annotations an earlier release left on the canary Ingress (best effort), so
        that `kubectl describe` shows no stale state beside the ConfigMap."""
        body = {"metadata": {"annotations": {ko.PREFIX + key: None for key in ko.RECORD_KEYS}}}
        try:
            await self.api.call("PATCH", self._path(INGRESSES, self.kube.canary_name(service)), body=body,
                                content_type=MERGE)
        except ClusterError:
            pass

    async def _shift(self, service: str, weight: int, move: Any, state: State | None = None) -> None:
        router = await self._router(service)
        self._shifting.add(service)
        try:
            replaced = await self._intend(service, router, weight, state)
            try:
                await move(router)
            except BaseException:
                await self._abandon(service, router, weight, replaced)
                raise
            await self._confirm(service, weight)
        finally:
            self._shifting.discard(service)

    async def set_weight(self, service: str, weight: int) -> None:
        await self._writing(service)
        await self._shift(service, weight, lambda router: router.set_weight(weight))

    async def rollback(self, service: str) -> None:
        """Weight 0 and the canary scaled to 0, sent together; a canary already gone counts as done."""
        await self._writing(service, rollback=True)
        scale = self._path("deployments", self.kube.canary_name(service)) + "/scale"

        async def move(router: TrafficRouter) -> None:
            results = await asyncio.gather(
                router.reset(), self.api.call("PATCH", scale, body={"spec": {"replicas": 0}}, content_type=MERGE),
                return_exceptions=True)
            where = router.describe.split(": ", 1)[-1]  # "Ingress perception-canary", "HTTPRoute nexus"
            parts = (f"weight 0 on {where}", f"scale to 0 of Deployment {self.kube.canary_name(service)}")
            failed = [(part, result) for part, result in zip(parts, results)
                      if isinstance(result, BaseException) and not isinstance(result, NotFound)]
            if failed:  # say which part did not land, with the API's own reason
                first = failed[0][1]
                if not isinstance(first, ClusterError):
                    raise first
                message = "; ".join(f"{part}: {exc}" for part, exc in failed)
                if isinstance(first, ReadOnlyError):  # never retried; it has no status of its own
                    raise ReadOnlyError(message)
                raise ClusterError(message, retryable=first.retryable, status=first.status)

        await self._shift(service, 0, move, State.ROLLING_BACK)

    async def promote(self, service: str, version: str) -> None:
        await self._writing(service)
        stable = await self._get("deployments", service)
        if stable is None:
            raise ClusterError(f"no stable Deployment {service} in namespace {self.namespace}", retryable=False)
        container = ko.main_container(stable["spec"]["template"].get("spec", {}), service) or {}
        patch = {"metadata": {"labels": {"app.kubernetes.io/version": version}},
                 "spec": {"template": {"spec": {"containers": [
                     {"name": container.get("name", service), "image": self.kube.image_for(service, version)}]}}}}
        await self.api.call("PATCH", self._path("deployments", service), body=patch, content_type=STRATEGIC)
        await self._wait_rolled_out(service)
        await self._delete_canary(service)

    async def _wait_rolled_out(self, service: str) -> None:
        clock = self.api.clock
        deadline = clock.now() + self.kube.promote_deadline
        while True:
            deploy = await self._get("deployments", service)
            if deploy is None:
                raise ClusterError(f"the stable Deployment {service} disappeared while promoting", retryable=False)
            done, how = ko.rollout_progress(deploy)
            if done:
                return
            if ko.paused(deploy):  # held by a person (`kubectl rollout pause`): their time, not the deadline's
                deadline = max(deadline, clock.now() + self.kube.promote_deadline)  # the controller says so
            elif clock.now() >= deadline:
                raise ClusterError(f"the stable rollout of {service} did not complete within "
                                   f"{format_duration(self.kube.promote_deadline)}: {how}", retryable=True)
            await clock.sleep(PROMOTE_POLL)
            await self.leases.ensure(service)  # a lease lost while waiting stops the promote here

    async def delete_canary(self, service: str) -> None:
        await self._writing(service)
        await self._delete_canary(service)

    async def _delete_canary(self, service: str) -> None:
        """The canary route first (stop the traffic), then its Service and Deployment, the record last."""
        await (await self._router(service)).remove()
        name = self.kube.canary_name(service)
        for resource, obj in (("services", name), ("deployments", name),
                              ("configmaps", kr.configmap_name(service))):
            try:
                await self.api.call("DELETE", self._path(resource, obj), query={"propagationPolicy": "Background"})
            except NotFound:
                pass

    async def save_record(self, service: str, record: RolloutRecord) -> None:
        """The record into its ConfigMap (merge patch of the record's keys: a pending intent stays). After
        the cleanup of a finished rollout there is nothing to keep: a terminal record creates nothing."""
        await self._writing(service)
        data = kr.record_data(record)
        try:
            await self.api.call("PATCH", self._path("configmaps", kr.configmap_name(service)),
                                body={"data": data}, content_type=MERGE)
            return
        except NotFound:
            if record.state.terminal:
                return
        router = await self._router(service)
        await self._create_or_replace_record(service, data | {kr.ROUTER: router.kind})
        if router.kind == "nginx":
            await self._forget_legacy(service)

    async def _create_or_replace_record(self, service: str, data: dict[str, str]) -> None:
        try:
            await self.api.call("POST", self._path("configmaps"), body=kr.configmap(service, data))
        except ClusterError as exc:
            if exc.status != 409:
                raise
            await self.api.call("PATCH", self._path("configmaps", kr.configmap_name(service)),
                                body={"data": data}, content_type=MERGE)

    async def record_event(self, service: str, reason: str, message: str) -> None:
        """A core/v1 Event on the canary Deployment (whatever the router) naming the actor; nothing is sent
        in read-only mode. A failure is raised as a ClusterError (and kept in ``last_event_error``), as the
        in-memory cluster raises it, so the session's Event sink says it, the controller counts it in
        /metrics and its log has it: an audit Event that could not be written is never silent."""
        if self.read_only:
            return
        now = self.api.clock.now()
        name = self.kube.canary_name(service)
        text = redact(clean(message, 900))
        if self.identity not in text:
            text = f"{self.identity}: {text}"
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": self.namespace},
                 "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                    "namespace": self.namespace},
                 "reason": _camel(reason) or "CanaryConsole", "message": text,
                 "type": "Warning" if re.search(r"(?i)rollback|rolled|fail|overrid|paused|held", reason) else "Normal",
                 "source": {"component": "canary-console"}, "reportingComponent": "canary-console",
                 "reportingInstance": socket.gethostname()[:128], "count": 1,
                 "firstTimestamp": ko.rfc3339(now), "lastTimestamp": ko.rfc3339(now)}
        try:
            await self.api.call("POST", self._path("events"), body=event)
            self.last_event_error = None
        except ClusterError as exc:
            self.last_event_error = str(exc)
            raise

    # ---- logs ----------------------------------------------------------------------------------------
    async def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        """Lines from every pod of the service (and track), including pods that appear while following."""
        queue: asyncio.Queue[LogLine] = asyncio.Queue()
        followers: dict[str, asyncio.Task[None]] = {}

        def wanted() -> list[tuple[dict[str, Any], Pod]]:
            found = [(obj, ko.pod_of(obj, self.kube)) for obj in self.watcher.objects.values()]
            return [(obj, hit[1]) for obj, hit in found
                    if hit and hit[0] == service and (track is None or hit[1].track == track)
                    and hit[1].name not in followers]

        async def spawn() -> None:
            await self._pods()
            while True:
                for obj, pod in wanted():
                    followers[pod.name] = asyncio.create_task(self._follow_pod(obj, pod, service, queue))
                await self.watcher.wait_for(lambda: bool(wanted()))

        spawner = asyncio.create_task(spawn())
        try:
            while True:
                yield await queue.get()
        finally:
            for task in (spawner, *followers.values()):
                task.cancel()
            await asyncio.gather(spawner, *followers.values(), return_exceptions=True)

    async def _follow_pod(self, obj: dict[str, Any], pod: Pod, service: str, queue: asyncio.Queue[LogLine]) -> None:
        container = ko.main_container(obj.get("spec") or {}, service) or {}
        uid = (obj.get("metadata") or {}).get("uid")
        follower = PodLogFollower(self.api, self._path("pods", pod.name) + "/log", pod, container.get("name"),
                                  queue, alive=lambda: uid in self.watcher.objects)
        await follower.run()


def _where(router: TrafficRouter | None) -> str:
    """The object carrying the weight, for override messages: "HTTPRoute perception"."""
    return router.describe.split(": ", 1)[-1] if router else "the route"


def _camel(reason: str) -> str:
    """An Event reason in CamelCase, as Kubernetes writes them: "set_weight" → "SetWeight"; a reason that is
    already CamelCase ("CanaryWeightChanged") is kept as it is."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", reason))


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def connect(config: Config, *, read_only: bool, kubeconfig: str | None = None, context: str | None = None,
                  namespace: str | None = None, clock: Clock | None = None,
                  console_id: str | None = None, renew_leases: bool = True) -> KubeCluster:
    """A KubeCluster from the kubeconfig (``kubeconfig``, then config.kube.kubeconfig, then $KUBECONFIG,
    then ~/.kube/config) or the in-cluster service account, like kubectl. No request is sent here; the
    watch starts on first use. Raises ClusterError (retryable False) with a clear message."""
    from console.adapters.kube_config import load_client

    api_client, kube_user = await load_client(kubeconfig or config.kube.kubeconfig, context or config.kube.context,
                                              config.kube.allow_token_over_http, config.kube.serviceaccount_dir)
    # every request is limited to one check interval (1 to 15 s): a slow server delays a check, and so a
    # rollback, by about one check, not by minutes
    api = KubeApi(api_client, clock or RealClock(), read_only=read_only or config.read_only,
                  request_timeout=min(15.0, max(1.0, config.check_interval)))
    return KubeCluster(api, config, namespace=namespace or config.kube.namespace, kube_user=kube_user,
                       console_id=console_id, renew_leases=renew_leases)
