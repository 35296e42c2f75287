"""One watch of a collection per namespace, kept in memory: the pods of every service, or (given another
``path`` and an ``on_object`` callback) the console's Leases. List, then watch from the list's
resourceVersion; re-list on 410 Gone; reconnect with backoff when the stream breaks or the server fails.
``problem`` says when the picture may be stale; ``changed`` wakes whoever waits for the next change. On
the Lease watch (kube.py ``watch_leases``) each object listed or changed is handed to ``on_object`` the
moment it is seen.

List, then watch: the list alone makes the picture usable (``synced``, and waiters are woken), so the first
snapshot never waits on the watch stream's response headers (a proxy that buffers the watch would hang it).
A stream that ends at once (under ``QUICK_END`` seconds) is not a normal end: the next watch waits a
backoff with jitter (half to all of 1, 2, 4 … 30 s), as after a failure, so a server or proxy that closes
every watch cannot drive a hot reconnect loop. ``reconnects`` counts every watch after the first.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

import aiohttp

from console.adapters.kube_api import KubeApi, clean, error_for
from console.engine.model import Problem
from console.engine.ports import ClusterError

WATCH_SECONDS = 290  # the server closes the stream after this; we then watch again from where we were
WATCH_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=WATCH_SECONDS + 30)
RECONNECT = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
QUICK_END = 5.0  # a watch stream that ends sooner than this is treated like a failure (backoff)
_jitter = random.Random()


def backoff(attempt: int) -> float:
    """The wait before reconnect ``attempt`` (0-based): the RECONNECT step, jittered to half..all of it so
    many consoles that lost the same server do not come back in step."""
    step = RECONNECT[min(attempt, len(RECONNECT) - 1)]
    return step * (0.5 + _jitter.random() / 2)


class Watcher:
    def __init__(self, api: KubeApi, namespace: str, selector: str, *, path: str = "",
                 on_object: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.api = api
        self.namespace = namespace
        self.selector = selector
        self._path = path or f"/api/v1/namespaces/{namespace}/pods"
        self.on_object = on_object  # called with each object listed, added or modified, when it is seen
        self.objects: dict[str, dict[str, Any]] = {}  # uid → object (a pod, or a Lease on the Lease watch)
        self.resource_version = ""
        self.synced = False
        self.problem: str | None = None
        self.problem_kind = Problem.FAILED  # what kind ``problem`` is, while there is one
        self.state = "idle"  # listing | watching | backoff | stopped
        self.lists = 0
        self.reconnects = 0  # watches opened after the first (a metric: a high rate means a flapping stream)
        self._watches = 0
        self.changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def path(self) -> str:
        return self._path

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=f"watch-{self.path}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        self.state = "stopped"

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds (checked after every change the watcher sees)."""
        async with self.changed:
            await self.changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def relist(self) -> None:
        self.state = "listing"
        await self._notify()
        data = await self.api.call("GET", self.path, query={"labelSelector": self.selector}, retries=0)
        self.objects = {o["metadata"]["uid"]: o for o in data.get("items", [])}
        for obj in self.objects.values():
            self._hand_over(obj)
        self.resource_version = str(data.get("metadata", {}).get("resourceVersion", ""))
        self.lists += 1
        self.synced = True
        self.problem = None
        await self._notify()  # the list alone is a usable picture: nobody waits for the watch's headers

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                if not self.resource_version:
                    await self.relist()
                self.problem = None
                began = self.api.clock.now()
                await self._watch_once()
                if self.api.clock.now() - began >= QUICK_END:
                    failures = 0
                    continue
                self.problem = (f"pod watch: the server ended the watch at once ({self.reconnects} "
                                "reconnects); retrying") if failures >= 2 else None
                self.problem_kind = Problem.FAILED
            except ClusterError as exc:
                if exc.status == 410:
                    self.resource_version = ""  # too old: list again, now
                    continue
                self.problem = f"pod watch: {exc}; retrying"
                self.problem_kind = exc.problem
            delay = backoff(failures)
            failures += 1
            self.state = "backoff"
            await self._notify()
            await self.api.clock.sleep(delay)

    async def _watch_once(self) -> None:
        query = {"watch": "true", "resourceVersion": self.resource_version, "allowWatchBookmarks": "true",
                 "timeoutSeconds": str(WATCH_SECONDS), "labelSelector": self.selector}
        self.reconnects += 1 if self._watches else 0
        self._watches += 1
        response = await self.api.raw("GET", self.path, query=query, timeout=WATCH_TIMEOUT)
        try:
            if response.status != 200:
                raise error_for(response.status, await response.read(), "GET", self.path, watch=True)
            self.state = "watching"
            await self._notify()
            while line := await self._readline(response):
                await self._apply(json.loads(line))
        finally:
            response.release()

    def _hand_over(self, obj: dict[str, Any]) -> None:
        if self.on_object is not None:
            self.on_object(obj)

    @staticmethod
    async def _readline(response: aiohttp.ClientResponse) -> bytes:
        try:
            return await response.content.readline()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise ClusterError(f"watch stream broken: {clean(str(exc) or type(exc).__name__, 120)}",
                               problem=Problem.UNREACHABLE) from None

    async def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise error_for(int(obj.get("code", 500)), json.dumps(obj), "GET", self.path, watch=True)
        meta = obj.get("metadata") or {}
        if kind in ("ADDED", "MODIFIED"):
            self.objects[meta["uid"]] = obj
            self._hand_over(obj)
        elif kind == "DELETED":
            self.objects.pop(meta.get("uid", ""), None)
        if meta.get("resourceVersion"):
            self.resource_version = str(meta["resourceVersion"])
        await self._notify()
