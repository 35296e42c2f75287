"""Requests to the driver of a service, one ConfigMap each (see console/engine/requests.py).

Why ConfigMaps: a person's Role then needs only `create`/`get`/`list`/`watch` on configmaps (not patch on
Ingresses or Deployments) to pause or roll back a rollout another process drives; each request is its own
object, so two people asking at once never overwrite each other (an annotation on a shared object would
need a read-modify-write race); `kubectl get configmaps -l canary-console.io/request` lists them, and one
can be typed by hand with kubectl. The driver acknowledges a request by annotating it (result, reason,
who, when) and leaves an Event; acknowledged requests older than an hour are deleted by the driver.
"""

from __future__ import annotations

import secrets
from typing import Any

from console.adapters.kube_api import MERGE, KubeApi, NotFound
from console.adapters.kube_objects import parse_time, rfc3339
from console.engine.requests import PENDING, Request

LABEL = "canary-console.io/request"
SERVICE = "canary-console.io/service"
RESULT, REASON, BY, AT = ("canary-console.io/result", "canary-console.io/reason", "canary-console.io/handled-by",
                          "canary-console.io/handled-at")
KEEP_SECONDS = 3600.0


def request_of(obj: dict[str, Any]) -> Request | None:
    meta = obj.get("metadata") or {}
    data = obj.get("data") or {}
    labels = meta.get("labels") or {}
    notes = meta.get("annotations") or {}
    service, action = labels.get(SERVICE) or data.get("service"), data.get("action")
    if not service or not action:
        return None
    args = {k: v for k, v in data.items() if k in ("version", "force")}
    at = parse_time(data.get("requested-at")) or parse_time(meta.get("creationTimestamp")) or 0.0
    return Request(name=meta.get("name", ""), service=service, action=action, actor=data.get("actor", "unknown"),
                   requested_at=at, args=args, result=notes.get(RESULT, PENDING), reason=notes.get(REASON, ""),
                   handled_by=notes.get(BY, ""))


class KubeRequestBox:
    """Implements console.engine.requests.RequestBox over the one request path (KubeApi)."""

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    def _path(self, name: str = "") -> str:
        base = f"/api/v1/namespaces/{self.namespace}/configmaps"
        return f"{base}/{name}" if name else base

    async def submit(self, service: str, action: str, actor: str, args: dict[str, Any]) -> Request:
        now = self.api.clock.now()
        name = f"canary-request-{service}-{secrets.token_hex(4)}"
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {LABEL: "true", SERVICE: service,
                                                      "app.kubernetes.io/managed-by": "canary-console"}},
                "data": {"service": service, "action": action, "actor": actor, "requested-at": rfc3339(now),
                         **{k: str(v) for k, v in args.items()}}}
        created = await self.api.call("POST", self._path(), body=body)
        return request_of(created) or Request(name, service, action, actor, now, dict(args))

    async def get(self, name: str) -> Request | None:
        try:
            return request_of(await self.api.call("GET", self._path(name)))
        except NotFound:
            return None

    async def pending(self, services: list[str]) -> list[Request]:
        listed = await self.api.call("GET", self._path(), query={"labelSelector": LABEL})
        found = [request_of(item) for item in listed.get("items") or []]
        return sorted((r for r in found if r is not None and r.service in services and r.result == PENDING),
                      key=lambda r: r.requested_at)

    async def acknowledge(self, request: Request, result: str, reason: str, by: str) -> None:
        notes = {RESULT: result, REASON: reason[:500], BY: by, AT: rfc3339(self.api.clock.now())}
        await self.api.call("PATCH", self._path(request.name), body={"metadata": {"annotations": notes}},
                            content_type=MERGE)

    async def prune(self) -> int:
        """Delete acknowledged requests older than KEEP_SECONDS; how many went."""
        listed = await self.api.call("GET", self._path(), query={"labelSelector": LABEL})
        now, gone = self.api.clock.now(), 0
        for item in listed.get("items") or []:
            request = request_of(item)
            if request and request.result != PENDING and now - request.requested_at > KEEP_SECONDS:
                try:
                    await self.api.call("DELETE", self._path(request.name))
                    gone += 1
                except NotFound:
                    pass
        return gone
