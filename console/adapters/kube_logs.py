"""The Kubernetes log room: follow one pod's log and keep following it.

An API server (or a proxy in front of it) closes long log streams; k9s users expect logs that keep
following. A stream that ends while its pod still exists is opened again after a back-off (1 s, doubling
to 30 s) with `sinceSeconds` covering the gap, and a marker line says so; lines logged in the second
before the break may show twice, none are lost. After 10 reconnects in a row that brought no line, the
follower says it gave up and stops (it never spins). Lines are untrusted text: control characters are
made visible by `clean`, and nothing is parsed.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import aiohttp

from console.adapters.kube_api import KubeApi, clean, error_for
from console.engine.model import Pod
from console.engine.ports import ClusterError, LogLine

LOG_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=None)
FIRST_TAIL = "100"
MAX_BACKOFF = 30.0
MAX_EMPTY_RECONNECTS = 10


class PodLogFollower:
    def __init__(self, api: KubeApi, path: str, pod: Pod, container: str | None,
                 queue: asyncio.Queue[LogLine], alive: Callable[[], bool]) -> None:
        self.api, self.path, self.pod, self.container = api, path, pod, container
        self.queue, self.alive = queue, alive
        self.reconnects = 0

    def _line(self, text: str) -> None:
        self.queue.put_nowait(LogLine(pod=self.pod.name, track=self.pod.track, text=text, at=self.api.clock.now()))

    async def run(self) -> None:
        clock = self.api.clock
        backoff, empty, since = 1.0, 0, None
        while True:
            opened_at = clock.now()
            last = await self._stream(since)
            if not self.alive():
                return
            empty = 0 if last is not None else empty + 1
            if empty > MAX_EMPTY_RECONNECTS:
                self._line("[canary-console: log stream lost; not following any more]")
                return
            if last is not None:
                backoff = 1.0
            await clock.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            since = clock.now() - (last if last is not None else opened_at) + 1.0
            self.reconnects += 1
            if last is not None:
                self._line("[canary-console: log stream ended; reconnected]")

    async def _stream(self, since: float | None) -> float | None:
        """One log request; the clock time of the last line it brought, or None."""
        query: dict[str, Any] = {"follow": "true"}
        if since is None:
            query["tailLines"] = FIRST_TAIL
        else:
            query["sinceSeconds"] = str(max(1, math.ceil(since)))
        if self.container:
            query["container"] = self.container
        last = None
        try:
            response = await self.api.raw("GET", self.path, query=query, timeout=LOG_TIMEOUT)
        except ClusterError:
            return None
        try:
            if response.status != 200:
                error_for(response.status, await response.read(), "GET", self.path)
                return None
            while line := await response.content.readline():
                self._line(clean(line.decode("utf-8", "replace").rstrip("\r\n"), 4000))
                last = self.api.clock.now()
        except (aiohttp.ClientError, asyncio.TimeoutError, ClusterError):
            pass
        finally:
            response.release()
        return last
