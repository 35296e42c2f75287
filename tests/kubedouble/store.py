"""The API double's object store: objects by (resource, namespace, name), one resourceVersion counter,
a watch history that can be compacted (older versions answer 410 Gone), and live watch subscribers.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

KINDS = {  # resource → (apiVersion, kind)
    "pods": ("v1", "Pod"), "services": ("v1", "Service"), "events": ("v1", "Event"),
    "deployments": ("apps/v1", "Deployment"), "ingresses": ("networking.k8s.io/v1", "Ingress"),
    "leases": ("coordination.k8s.io/v1", "Lease"), "configmaps": ("v1", "ConfigMap"),
    "httproutes": ("gateway.networking.k8s.io/v1", "HTTPRoute"),
}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Change:
    rv: int
    resource: str
    namespace: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]


@dataclass
class Store:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    history: list[Change] = field(default_factory=list)
    compacted: int = 0  # changes at or below this version are gone
    watchers: list[tuple[str, str, asyncio.Queue[Change | None]]] = field(default_factory=list)
    _rv: itertools.count = field(default_factory=lambda: itertools.count(1))
    current: int = 0

    def next_rv(self) -> str:
        self.current = next(self._rv)
        return str(self.current)

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.get((resource, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: str, namespace: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for (r, ns, _), o in sorted(self.objects.items()) if r == resource and ns == namespace]

    def put(self, resource: str, namespace: str, obj: dict[str, Any], *, created: bool) -> dict[str, Any]:
        """Store ``obj`` as the new version (stamping kind, uid, resourceVersion) and tell the watchers."""
        api_version, kind = KINDS[resource]
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = api_version, kind
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        if created:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
        meta["resourceVersion"] = self.next_rv()
        self.objects[(resource, namespace, meta["name"])] = obj
        self._record(resource, namespace, "ADDED" if created else "MODIFIED", obj)
        return copy.deepcopy(obj)

    def delete(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.pop((resource, namespace, name), None)
        if obj is not None:
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = self.next_rv()
            self._record(resource, namespace, "DELETED", obj)
        return obj

    def _record(self, resource: str, namespace: str, kind: str, obj: dict[str, Any]) -> None:
        change = Change(self.current, resource, namespace, kind, copy.deepcopy(obj))
        self.history.append(change)
        for res, ns, queue in self.watchers:
            if res == resource and ns == namespace:
                queue.put_nowait(change)

    def compact(self) -> None:
        """Forget the history so far: a watch from an older resourceVersion now gets 410 Gone."""
        self.compacted = self.current
        self.history.clear()

    def since(self, resource: str, namespace: str, rv: int) -> list[Change]:
        return [c for c in self.history if c.resource == resource and c.namespace == namespace and c.rv > rv]

    def subscribe(self, resource: str, namespace: str) -> asyncio.Queue[Change | None]:
        queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self.watchers.append((resource, namespace, queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change | None]) -> None:
        self.watchers[:] = [w for w in self.watchers if w[2] is not queue]

    def end_watches(self) -> None:
        """Close every open watch stream (as an API server restart or a load balancer timeout would)."""
        for _, _, queue in self.watchers:
            queue.put_nowait(None)
