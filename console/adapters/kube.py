"""The Cluster port over a real Kubernetes API server (kubernetes-asyncio): pods from one watch per
namespace, the weight and the rollout record from the canary Ingress, the runbook's actions (start, set
weight, rollback, promote, delete), audit Events, log follow; one driver per service through Leases, and
read-only enforced at the request boundary (see kube_api). ``connect`` builds one from the kubeconfig.
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
from console.adapters.kube_api import MERGE, STRATEGIC, KubeApi, NotFound, clean
from console.adapters.kube_lease import LEASE_PREFIX, LeaseKeeper
from console.adapters.kube_logs import PodLogFollower
from console.adapters.kube_reads import read_kinds
from console.adapters.kube_requests import KubeRequestBox
from console.adapters.kube_watch import PodWatcher
from console.engine.audit import redact
from console.engine.clock import Clock, RealClock
from console.engine.config import Config, format_duration
from console.engine.model import Pod, RolloutRecord, ServiceSnapshot, Track
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
        self.watcher = PodWatcher(api, namespace, f"{self.kube.name_label} in ({names})")
        self.leases = LeaseKeeper(api, namespace, self.console_id, self.kube.lease_seconds)
        self.requests = KubeRequestBox(api, namespace)  # asking the driver of a service driven elsewhere
        self.last_event_error: str | None = None
        self._last: dict[str, ServiceSnapshot] = {}
        self._renewer: asyncio.Task[None] | None = None

    @property
    def read_only(self) -> bool:
        return self.api.read_only

    # ---- life cycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the pod watch in the background (snapshot_all also starts it on first use)."""
        self.watcher.start()

    async def aclose(self) -> None:
        await self.watcher.stop()
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
        base = {"pods": "/api/v1", "services": "/api/v1", "events": "/api/v1", "deployments": "/apis/apps/v1",
                "ingresses": "/apis/networking.k8s.io/v1"}[resource]
        path = f"{base}/namespaces/{self.namespace}/{resource}"
        return f"{path}/{name}" if name else path

    async def _get(self, resource: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.api.call("GET", self._path(resource, name))
        except NotFound:
            return None

    # ---- reading ---------------------------------------------------------------------------------------
    async def snapshot_all(self, services: Sequence[str]) -> dict[str, ServiceSnapshot]:
        """Every service as the cluster shows it. A kind that cannot be listed is a problem on every service
        ("cannot list deployments: …503…") and its fields keep their last known values (``unread`` names
        it): a failed read is never an empty world, and what could be read is still used."""
        now = self.api.clock.now()
        selector = f"{self.kube.name_label} in ({','.join(services)})"
        read = await read_kinds({
            "pods": self._pods(),
            # no retry: the next check is the retry, so a slow or failing server costs one check at most
            "deployments": self.api.call("GET", self._path("deployments"), query={"labelSelector": selector},
                                         retries=0),
            "ingresses": self.api.call("GET", self._path("ingresses"), retries=0),
            "leases": self.api.call("GET", self.leases.path(), retries=0)})
        if not read.ok:  # nothing at all could be read: the last picture, said to be stale
            return {s: replace(self._last.get(s) or ServiceSnapshot(service=s), problem=read.problem, at=now,
                               unread=tuple(read.failed)) for s in services}
        problem = "; ".join(p for p in (read.problem, self.watcher.problem if "pods" not in read.failed else None)
                            if p) or None
        pods = read.value("pods", {})
        by_name = read.by_name("deployments")
        ingress_by_name = read.by_name("ingresses")
        lease_by_name = read.by_name("leases")
        result = {}
        for service in services:
            last = self._last.get(service) or ServiceSnapshot(service=service)
            canary = self.kube.canary_name(service)
            fresh: dict[str, Any] = {}
            if "deployments" not in read.failed:
                canary_deploy = by_name.get(canary)
                fresh.update(stable_version=ko.deployment_version(by_name.get(service), service),
                             canary_version=ko.deployment_version(canary_deploy, service),
                             canary_deployment=canary_deploy is not None,
                             canary_replicas=ko.replicas_of(canary_deploy))
            if "ingresses" not in read.failed:
                ingress = ingress_by_name.get(canary)
                notes = ko.annotations(ingress)
                fresh.update(weight=ko.weight_of(notes), record=ko.record_from(notes),
                             weight_changed_by=ko.manager_of(ingress, ko.WEIGHT))
            if "pods" not in read.failed:
                fresh["pods"] = tuple(pods.get(service, ()))
            if "leases" not in read.failed:
                fresh["driver"] = self._driver(service, lease_by_name.get(LEASE_PREFIX + service), now)
            present = [canary in table for kind, table in (("deployments", by_name), ("ingresses", ingress_by_name))
                       if kind not in read.failed]
            exists = any(present) or (len(present) < 2 and last.canary_exists)
            result[service] = self._last[service] = replace(
                last, **fresh, canary_exists=exists, problem=problem, at=now, unread=tuple(sorted(read.failed)))
        return result

    def _driver(self, service: str, lease: dict[str, Any] | None, now: float) -> str | None:
        holder, _left = self.leases.observed_holder(service, lease)
        if holder == self.console_id:
            return self.identity
        if holder:
            self.leases.forget(service, f"{service} is now driven by {holder}")
        return holder

    async def _pods(self) -> dict[str, list[Pod]]:
        if not self.watcher.running:
            self.watcher.start()
        if not self.watcher.synced:
            await self.watcher.wait_for(lambda: self.watcher.synced or self.watcher.problem is not None)
        if not self.watcher.synced:
            raise ClusterError(self.watcher.problem or "pods not listed yet")
        grouped: dict[str, list[Pod]] = {}
        for obj in self.watcher.pods.values():
            if found := ko.pod_of(obj, self.kube):
                grouped.setdefault(found[0], []).append(found[1])
        for pods in grouped.values():
            pods.sort(key=lambda p: (p.track.value, p.name))
        return grouped

    # ---- writing ---------------------------------------------------------------------------------------
    async def _writing(self, service: str, *, rollback: bool = False) -> None:
        """Every write for a service asks here first: read-only, and this console must hold its Lease (a
        rollback also while a renewal is failing, until the lease expires)."""
        if self.read_only:
            raise ReadOnlyError("read-only: this console only watches")
        await self.leases.ensure(service, rollback=rollback)
        if self.renew_leases and (self._renewer is None or self._renewer.done()):
            self._renewer = asyncio.create_task(self.leases.run(), name="lease-renewal")

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
        stable = await self._get("deployments", service)
        if stable is None:
            raise ClusterError(f"no stable Deployment {service} in namespace {self.namespace}", retryable=False)
        stable_ingress = await self._stable_ingress(service)
        try:
            objects = [("deployments", ko.canary_deployment(stable, service, version, self.kube)),
                       ("services", ko.canary_service(await self._get("services", service), service, self.kube)),
                       ("ingresses", ko.canary_ingress(stable_ingress, service, weight, self.kube))]
        except ValueError as exc:
            raise ClusterError(str(exc), retryable=False) from None
        for resource, obj in objects:  # the Ingress last: traffic only once its backend exists
            await self._create_or_patch(resource, obj)

    async def _stable_ingress(self, service: str) -> dict[str, Any]:
        named = await self._get("ingresses", service)
        if named is not None:
            return named
        listing = await self.api.call("GET", self._path("ingresses"))
        for ingress in listing.get("items", []):
            notes = ko.annotations(ingress)
            if notes.get(ko.CANARY) != "true" and ko.routes_to(ingress, service):
                return ingress
        raise ClusterError(f"no stable Ingress routes to Service {service} in namespace {self.namespace}",
                           retryable=False)

    async def _patch_weight(self, service: str, weight: int) -> None:
        body = {"metadata": {"annotations": {ko.WEIGHT: str(int(weight))}}}
        await self.api.call("PATCH", self._path("ingresses", self.kube.canary_name(service)), body=body,
                            content_type=MERGE)

    async def set_weight(self, service: str, weight: int) -> None:
        await self._writing(service)
        try:
            await self._patch_weight(service, weight)
        except NotFound:
            raise ClusterError(f"no canary Ingress {self.kube.canary_name(service)} in namespace "
                               f"{self.namespace}", retryable=False) from None

    async def rollback(self, service: str) -> None:
        """Weight 0 and the canary scaled to 0, sent together; a canary already gone counts as done."""
        await self._writing(service, rollback=True)
        name = self.kube.canary_name(service)
        scale = self._path("deployments", name) + "/scale"
        results = await asyncio.gather(
            self._patch_weight(service, 0),
            self.api.call("PATCH", scale, body={"spec": {"replicas": 0}}, content_type=MERGE),
            return_exceptions=True)
        parts = (f"weight 0 on Ingress {name}", f"scale to 0 of Deployment {name}")
        failed = [(part, result) for part, result in zip(parts, results)
                  if isinstance(result, BaseException) and not isinstance(result, NotFound)]
        if failed:  # say which part did not land, with the API's own reason
            first = failed[0][1]
            if not isinstance(first, ClusterError):
                raise first
            kind = ReadOnlyError if isinstance(first, ReadOnlyError) else ClusterError
            raise kind("; ".join(f"{part}: {exc}" for part, exc in failed), retryable=first.retryable,
                       status=first.status)

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
            if clock.now() >= deadline:
                raise ClusterError(f"the stable rollout of {service} did not complete within "
                                   f"{format_duration(self.kube.promote_deadline)}: {how}", retryable=True)
            await clock.sleep(PROMOTE_POLL)
            await self.leases.ensure(service)  # a lease lost while waiting stops the promote here

    async def delete_canary(self, service: str) -> None:
        await self._writing(service)
        await self._delete_canary(service)

    async def _delete_canary(self, service: str) -> None:
        name = self.kube.canary_name(service)
        for resource in ("ingresses", "services", "deployments"):  # stop the traffic first
            try:
                await self.api.call("DELETE", self._path(resource, name),
                                    query={"propagationPolicy": "Background"})
            except NotFound:
                pass

    async def save_record(self, service: str, record: RolloutRecord) -> None:
        await self._writing(service)
        body = {"metadata": {"annotations": ko.record_annotations(record)}}
        try:
            await self.api.call("PATCH", self._path("ingresses", self.kube.canary_name(service)), body=body,
                                content_type=MERGE)
        except NotFound:
            pass  # no canary Ingress: nothing to resume, and "no canary" is what a restart will see

    async def record_event(self, service: str, reason: str, message: str) -> None:
        """A core/v1 Event on the canary Ingress naming the actor (best effort: failures are kept in
        ``last_event_error``, never raised; nothing is sent in read-only mode)."""
        if self.read_only:
            return
        now = self.api.clock.now()
        name = self.kube.canary_name(service)
        text = redact(clean(message, 900))
        if self.identity not in text:
            text = f"{self.identity}: {text}"
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": f"{name}.{secrets.token_hex(8)}", "namespace": self.namespace},
                 "involvedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": name,
                                    "namespace": self.namespace},
                 "reason": _camel(reason) or "CanaryConsole", "message": text,
                 "type": "Warning" if re.search(r"(?i)rollback|rolled|fail|overrid|paused", reason) else "Normal",
                 "source": {"component": "canary-console"}, "reportingComponent": "canary-console",
                 "reportingInstance": socket.gethostname()[:128], "count": 1,
                 "firstTimestamp": ko.rfc3339(now), "lastTimestamp": ko.rfc3339(now)}
        try:
            await self.api.call("POST", self._path("events"), body=event)
            self.last_event_error = None
        except ClusterError as exc:
            self.last_event_error = str(exc)

    # ---- logs ----------------------------------------------------------------------------------------
    async def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        """Lines from every pod of the service (and track), including pods that appear while following."""
        queue: asyncio.Queue[LogLine] = asyncio.Queue()
        followers: dict[str, asyncio.Task[None]] = {}

        def wanted() -> list[tuple[dict[str, Any], Pod]]:
            found = [(obj, ko.pod_of(obj, self.kube)) for obj in self.watcher.pods.values()]
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
                                  queue, alive=lambda: uid in self.watcher.pods)
        await follower.run()


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
