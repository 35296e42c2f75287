"""The Kubernetes API double's HTTP server (aiohttp on 127.0.0.1): routing, authentication, RBAC denials,
fault injection, the request log, and the verbs get / list / watch / create / update / patch / delete, the
scale subresource and pod logs. Objects that are created or updated are validated against the Kubernetes
OpenAPI schema (kubernetes-validate, strict) and refused with 422 when invalid, as a server would; Gateway
API HTTPRoutes (a CRD kubernetes-validate does not know) by the few rules in gateway.py.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from aiohttp import web

from tests.kubedouble import status as st
from tests.kubedouble.gateway import httproute_problem
from tests.kubedouble.patch import merge_patch, strategic_merge_patch
from tests.kubedouble.selectors import parse_selector
from tests.kubedouble.store import KINDS, Change, Store
from tests.kubedouble.workloads import delete_owned, reconcile

_CORE = re.compile(r"^/api/v1/namespaces/([^/]+)/([^/]+)(?:/([^/]+)(?:/([^/]+))?)?$")
_GROUP = re.compile(r"^/apis/([^/]+)/([^/]+)/namespaces/([^/]+)/([^/]+)(?:/([^/]+)(?:/([^/]+))?)?$")
_GROUPS = {"pods": "", "services": "", "events": "", "configmaps": "", "deployments": "apps",
           "ingresses": "networking.k8s.io", "leases": "coordination.k8s.io",
           "httproutes": "gateway.networking.k8s.io"}
_PATCH_TYPES = {"application/merge-patch+json": merge_patch,
                "application/strategic-merge-patch+json": strategic_merge_patch}
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass
class Fault:
    """Answer the next ``times`` requests whose path matches ``path`` (a regex) with ``status``."""

    path: str
    status: int
    times: int = 1
    method: str | None = None
    message: str = "injected failure"


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    query: dict[str, str]
    content_type: str = ""
    while_slow: int = 0  # requests held back by ``slow`` whose client still waited when this one came in

    @property
    def write(self) -> bool:
        return self.method not in ("GET", "HEAD")


@dataclass
class Route:
    namespace: str
    resource: str
    group: str
    name: str
    sub: str

    @property
    def full(self) -> str:
        return f"{self.resource}/{self.sub}" if self.sub else self.resource


@dataclass
class KubeDouble:
    token: str = field(default_factory=lambda: "double-" + secrets.token_hex(16))
    user: str = "alice"
    auto_rollout: bool = True
    validate: bool = True
    store: Store = field(default_factory=Store)
    requests: list[Logged] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    denied: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource) → 403
    logs: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    port: int = 0
    # faults of the watch itself: a proxy that buffers the watch (no headers until released), and a server
    # that ends every watch stream at once
    watch_headers_held: asyncio.Event | None = None
    end_watches_at_once: bool = False
    slow: dict[str, float] = field(default_factory=dict)  # path regex → seconds before answering (a slow server)

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._log_changed = asyncio.Condition()
        self._logs_open = True
        self._log_times: dict[tuple[str, str], list[float]] = {}
        self._log_generation = 0
        self._stalled: list[web.Request] = []  # requests held back by the injected slowness now

    # --- life cycle ---------------------------------------------------------------------------------
    async def __aenter__(self) -> KubeDouble:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.store.end_watches()
        await self.end_logs()
        if self._runner:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: Path, *, context: str = "double", namespace: str = "butterfly",
                         user: str | None = None) -> Path:
        user = user or self.user
        config = {"apiVersion": "v1", "kind": "Config", "current-context": context,
                  "clusters": [{"name": "double", "cluster": {"server": self.url}}],
                  "users": [{"name": user, "user": {"token": self.token}}],
                  "contexts": [{"name": context, "context": {"cluster": "double", "user": user,
                                                             "namespace": namespace}}]}
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    # --- test controls ---------------------------------------------------------------------------------
    def fail(self, path: str, status: int, times: int = 1, method: str | None = None) -> Fault:
        fault = Fault(path, status, times, method)
        self.faults.append(fault)
        return fault

    def deny(self, verb: str, resource: str) -> None:
        self.denied.add((verb, resource))

    @property
    def stalled(self) -> int:
        """Requests held back by ``slow`` whose client still waits for the answer (one that gave up at its
        time limit has closed its connection)."""
        return sum(1 for r in self._stalled if r.transport is not None and not r.transport.is_closing())

    def writes(self) -> list[Logged]:
        return [r for r in self.requests if r.write]

    def obj(self, resource: str, name: str, namespace: str = "butterfly") -> dict[str, Any] | None:
        return self.store.get(resource, namespace, name)

    async def log(self, pod: str, line: str, namespace: str = "butterfly") -> None:
        self.logs.setdefault((namespace, pod), []).append(line)
        self._log_times.setdefault((namespace, pod), []).append(time.monotonic())
        async with self._log_changed:
            self._log_changed.notify_all()

    async def drop_log_streams(self) -> None:
        """Close every open log stream, as an API server or a proxy does with long connections; new
        requests are served as usual."""
        self._log_generation += 1
        async with self._log_changed:
            self._log_changed.notify_all()

    async def end_logs(self) -> None:
        self._logs_open = False
        async with self._log_changed:
            self._log_changed.notify_all()

    def reconcile(self, name: str, namespace: str = "butterfly") -> None:
        reconcile(self.store, namespace, name)

    # --- request handling -------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Logged(request.method, request.path, dict(request.query),
                                    request.headers.get("Content-Type", ""), self.stalled))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return st.status_response(401, "Unauthorized")
        route = self._route(request.path)
        if route is None:
            return st.status_response(404, "the server could not find the requested resource")
        verb = self._verb(request, route)
        if (verb, route.full) in self.denied:
            return st.forbidden(self.user, verb, route.full, route.group, route.namespace, route.name)
        for pattern, seconds in self.slow.items():
            if re.search(pattern, request.path) and request.query.get("watch") != "true":
                self._stalled.append(request)
                try:
                    await asyncio.sleep(seconds)  # the injected fault itself: the server is slow, the client waits
                finally:
                    self._stalled.remove(request)
        for fault in self.faults:
            if fault.times > 0 and re.search(fault.path, request.path) and fault.method in (None, request.method):
                fault.times -= 1
                return st.status_response(fault.status, fault.message)
        try:
            response = await self._dispatch(request, route, verb)
        except ValueError as exc:
            return st.status_response(400, str(exc))
        async with self._log_changed:
            self._log_changed.notify_all()
        return response

    @staticmethod
    def _route(path: str) -> Route | None:
        if match := _CORE.match(path):
            ns, resource, name, sub = match.groups()
        elif match := _GROUP.match(path):
            _, _, ns, resource, name, sub = match.groups()
        else:
            return None
        if resource not in _GROUPS:
            return None
        return Route(ns, resource, _GROUPS[resource], name or "", sub or "")

    @staticmethod
    def _verb(request: web.Request, route: Route) -> str:
        if request.method == "GET":
            if request.query.get("watch") in ("true", "1"):
                return "watch"
            return "get" if route.name else "list"
        return _VERBS.get(request.method, request.method.lower())

    async def _dispatch(self, request: web.Request, route: Route, verb: str) -> web.StreamResponse:
        if route.sub == "log" and route.resource == "pods" and verb == "get":
            return await self._pod_log(request, route)
        if route.sub == "scale" and route.resource == "deployments":
            return await self._scale(request, route, verb)
        if route.sub:
            return st.status_response(404, "the server could not find the requested resource")
        handler = {"get": self._get, "list": self._list, "watch": self._watch, "create": self._create,
                   "update": self._update, "patch": self._patch, "delete": self._delete}.get(verb)
        if handler is None:
            return st.status_response(405, f"{request.method} is not supported")
        return await handler(request, route)

    async def _get(self, request: web.Request, route: Route) -> web.StreamResponse:
        obj = self.store.get(route.resource, route.namespace, route.name)
        if obj is None:
            return st.not_found(route.resource, route.group, route.name)
        return web.json_response(obj)

    def _matching(self, request: web.Request, route: Route) -> list[dict[str, Any]]:
        match = parse_selector(request.query.get("labelSelector"))
        return [o for o in self.store.list(route.resource, route.namespace)
                if match(o["metadata"].get("labels") or {})]

    async def _list(self, request: web.Request, route: Route) -> web.StreamResponse:
        api_version, kind = _kind(route.resource)
        return web.json_response({"apiVersion": api_version, "kind": f"{kind}List",
                                  "metadata": {"resourceVersion": str(self.store.current)},
                                  "items": self._matching(request, route)})

    async def _watch(self, request: web.Request, route: Route) -> web.StreamResponse:
        match = parse_selector(request.query.get("labelSelector"))
        since = request.query.get("resourceVersion", "")
        if self.watch_headers_held is not None:
            await self.watch_headers_held.wait()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        if self.end_watches_at_once:
            return response
        queue = self.store.subscribe(route.resource, route.namespace)

        async def send(kind: str, obj: dict[str, Any]) -> None:
            await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

        try:
            if since in ("", "0"):
                for obj in self._matching(request, route):
                    await send("ADDED", obj)
            elif int(since) < self.store.compacted:
                await send("ERROR", st.status_body(410, f"too old resource version: {since} "
                                                        f"({self.store.compacted})", reason="Expired"))
                return response
            else:
                for change in self.store.since(route.resource, route.namespace, int(since)):
                    await self._send_change(send, change, match)
            while (change := await queue.get()) is not None:
                if change.rv == -410:
                    await send("ERROR", st.status_body(410, "too old resource version", reason="Expired"))
                    break
                await self._send_change(send, change, match)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.unsubscribe(queue)
        return response

    @staticmethod
    async def _send_change(send: Any, change: Change, match: Any) -> None:
        if match(change.obj["metadata"].get("labels") or {}):
            await send(change.type, change.obj)

    def expire_watches(self) -> None:
        """Send ERROR 410 Expired down every open watch, as a server whose watch cache moved on does."""
        self.store.compact()
        for _, _, queue in self.store.watchers:
            queue.put_nowait(Change(-410, "", "", "ERROR", {}))

    async def _body(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except json.JSONDecodeError as exc:
            raise ValueError(f"the request body is not JSON: {exc}") from None

    def _invalid(self, obj: dict[str, Any]) -> str | None:
        if not self.validate:
            return None
        if obj.get("kind") == "HTTPRoute":
            return httproute_problem(obj)
        try:
            kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
        except kubernetes_validate.ValidationError as exc:
            return str(exc).splitlines()[0]
        return None

    def _save(self, route: Route, obj: dict[str, Any], *, created: bool, old: dict[str, Any] | None = None,
              status: int = 200) -> web.Response:
        api_version, kind = _kind(route.resource)
        candidate = {**copy.deepcopy(obj), "apiVersion": api_version, "kind": kind}
        candidate.setdefault("metadata", {})["namespace"] = route.namespace
        if problem := self._invalid(candidate):
            name = candidate["metadata"].get("name", "")
            return st.status_response(422, f'{kind} "{name}" is invalid: {problem}', name=name,
                                      kind=route.resource, group=route.group)
        if route.resource == "deployments":
            spec_changed = old is None or old.get("spec") != obj.get("spec")
            previous = (old or {}).get("metadata", {}).get("generation", 0)
            obj["metadata"]["generation"] = previous + 1 if spec_changed else previous
            if old is not None:
                obj["status"] = old.get("status", {})
        saved = self.store.put(route.resource, route.namespace, obj, created=created)
        if route.resource == "deployments" and self.auto_rollout:
            reconcile(self.store, route.namespace, saved["metadata"]["name"])
            saved = self.store.get(route.resource, route.namespace, saved["metadata"]["name"]) or saved
        return web.json_response(saved, status=status)

    async def _create(self, request: web.Request, route: Route) -> web.StreamResponse:
        obj = await self._body(request)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        name = meta.get("name", "")
        if self.store.get(route.resource, route.namespace, name) is not None:
            return st.already_exists(route.resource, route.group, name)
        meta.pop("resourceVersion", None)
        return self._save(route, obj, created=True, status=201)

    async def _update(self, request: web.Request, route: Route) -> web.StreamResponse:
        obj = await self._body(request)
        old = self.store.get(route.resource, route.namespace, route.name)
        if old is None:
            return st.not_found(route.resource, route.group, route.name)
        sent = obj.get("metadata", {}).get("resourceVersion")
        if sent and sent != old["metadata"]["resourceVersion"]:
            return st.conflict(route.resource, route.group, route.name)
        obj["metadata"] = {**obj.get("metadata", {}), "uid": old["metadata"]["uid"],
                           "creationTimestamp": old["metadata"]["creationTimestamp"]}
        return self._save(route, obj, created=False, old=old)

    async def _patch(self, request: web.Request, route: Route) -> web.StreamResponse:
        apply = _PATCH_TYPES.get(request.content_type)
        if apply is None:
            return st.status_response(415, f"the body of the request was in an unknown format - accepted "
                                           f"media types include: {', '.join(_PATCH_TYPES)}")
        old = self.store.get(route.resource, route.namespace, route.name)
        if old is None:
            return st.not_found(route.resource, route.group, route.name)
        patch = await self._body(request)
        sent = (patch.get("metadata") or {}).get("resourceVersion")
        if sent and sent != old["metadata"]["resourceVersion"]:
            return st.conflict(route.resource, route.group, route.name)
        return self._save(route, apply(old, patch), created=False, old=old)

    async def _delete(self, request: web.Request, route: Route) -> web.StreamResponse:
        obj = self.store.delete(route.resource, route.namespace, route.name)
        if obj is None:
            return st.not_found(route.resource, route.group, route.name)
        if route.resource == "deployments":
            delete_owned(self.store, route.namespace, route.name)
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success",
                                  "details": {"name": route.name, "kind": route.resource}})

    def _scale_of(self, deploy: dict[str, Any]) -> dict[str, Any]:
        meta = deploy["metadata"]
        labels = deploy["spec"].get("selector", {}).get("matchLabels", {})
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion")},
                "spec": {"replicas": deploy["spec"].get("replicas", 1)},
                "status": {"replicas": deploy.get("status", {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in labels.items())}}

    async def _scale(self, request: web.Request, route: Route, verb: str) -> web.StreamResponse:
        deploy = self.store.get("deployments", route.namespace, route.name)
        if deploy is None:
            return st.not_found("deployments", "apps", route.name)
        if verb == "get":
            return web.json_response(self._scale_of(deploy))
        if verb not in ("patch", "update"):
            return st.status_response(405, f"{request.method} is not supported on deployments/scale")
        if verb == "patch" and request.content_type not in _PATCH_TYPES:
            return st.status_response(415, "unsupported patch type for deployments/scale")
        body = await self._body(request)
        sent = (body.get("metadata") or {}).get("resourceVersion")
        if sent and sent != deploy["metadata"]["resourceVersion"]:
            return st.conflict("deployments", "apps", route.name)
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            return st.status_response(422, f"Scale \"{route.name}\" is invalid: spec.replicas: must be >= 0")
        old = copy.deepcopy(deploy)
        deploy["spec"]["replicas"] = replicas
        deploy_route = Route(route.namespace, "deployments", "apps", route.name, "")
        saved = self._save(deploy_route, deploy, created=False, old=old)
        if saved.status >= 300:
            return saved
        return web.json_response(self._scale_of(self.store.get("deployments", route.namespace, route.name)))

    async def _pod_log(self, request: web.Request, route: Route) -> web.StreamResponse:
        if self.store.get("pods", route.namespace, route.name) is None:
            return st.not_found("pods", "", route.name)
        key = (route.namespace, route.name)
        lines = self.logs.get(key, [])
        tail, since = request.query.get("tailLines"), request.query.get("sinceSeconds")
        sent = max(0, len(lines) - int(tail)) if tail else 0
        if since:  # only lines logged in the last sinceSeconds
            cutoff = time.monotonic() - int(since)
            sent = max(sent, sum(1 for t in self._log_times.get(key, []) if t < cutoff))
        generation = self._log_generation
        if request.query.get("follow") not in ("true", "1"):
            return web.Response(text="".join(f"{line}\n" for line in lines[sent:]), content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        try:
            while True:
                lines = self.logs.get(key, [])
                if generation != self._log_generation:
                    break  # dropped: this stream sends nothing more
                for line in lines[sent:]:
                    await response.write(line.encode() + b"\n")
                sent = len(lines)
                if (not self._logs_open or generation != self._log_generation
                        or self.store.get("pods", route.namespace, route.name) is None):
                    break
                async with self._log_changed:
                    await self._log_changed.wait()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response


def _kind(resource: str) -> tuple[str, str]:
    return KINDS[resource]
