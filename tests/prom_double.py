"""Test room: a scripted stand-in for Prometheus' HTTP API on a loopback port (aiohttp), for the answers a
real Prometheus will not give on demand: 5xx, hangs, NaN, warnings, HTML from a wrong path, auth refusals.

``script`` maps a metric name ("requests", "errors", "p95", "p99", "extra") to a function from the request
to an aiohttp response; ``seen`` keeps every request's path, query parameters and headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Any]


def metric_of(promql: str) -> str:
    if "0.95" in promql:
        return "p95"
    if "0.99" in promql:
        return "p99"
    if "http_server_requests_seconds_count" in promql:
        return "errors" if '"5.."' in promql else "requests"
    return "extra"


def vector(rows: list[tuple[str, str, str]], warnings: list[str] | None = None, status: int = 200) -> web.Response:
    """rows of (service, track, value as Prometheus writes it: "12", "NaN", "+Inf")."""
    body: dict[str, Any] = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"service": s, "track": t}, "value": [1700000000.0, v]} for s, t, v in rows]}}
    if warnings:
        body["warnings"] = warnings
    return web.json_response(body, status=status)


def error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"status": "error", "errorType": kind, "error": message}, status=status)


def healthy(service: str = "perception") -> dict[str, Handler]:
    """Plausible answers for one service, both tracks."""
    return {
        "requests": lambda r: vector([(service, "stable", "10000"), (service, "canary", "1000")]),
        "errors": lambda r: vector([(service, "stable", "50"), (service, "canary", "40")]),
        "p95": lambda r: vector([(service, "stable", "0.2"), (service, "canary", "0.25")]),
        "p99": lambda r: vector([(service, "stable", "0.4"), (service, "canary", "0.5")]),
        "extra": lambda r: vector([(service, "canary", "3")]),
    }


class PrometheusDouble:
    def __init__(self, script: dict[str, Handler], prefix: str = "") -> None:
        self.script = script
        self.prefix = prefix
        self.seen: list[dict[str, Any]] = []
        self.inflight = 0
        self.max_inflight = 0
        self.hang = asyncio.Event()  # handlers that hang wait on this; set at stop
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append({"path": request.path, "query": dict(request.query), "headers": dict(request.headers)})
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if not request.path.startswith(self.prefix + "/api/v1/"):
                return web.Response(text="<html>404 page not found</html>", status=404, content_type="text/html")
            handler = self.script.get(metric_of(request.query.get("query", "")))
            if handler is None:
                return vector([])
            answer = handler(request)
            if asyncio.iscoroutine(answer):
                answer = await answer
            return answer
        finally:
            self.inflight -= 1

    async def start(self) -> PrometheusDouble:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self.hang.set()
        if self._runner:
            await self._runner.cleanup()
