"""The `canary-console controller` room: the long-running, in-cluster driver of every configured service.

It is the same engine as every console (one Session, one controller per service, one Lease per service),
told to drive all services (or ``--services a,b``): two or more replicas share the work because each
service's Lease has one holder, and a replica that dies is replaced within the Lease's duration. It serves
`/healthz` (the loop answers), `/readyz` (a check completed and the cluster answers) and `/metrics`
(prometheus-client), logs one JSON line per engine event on stdout, serves the requests people write
for the services it drives (engine/requests.py), and on SIGTERM saves every driven service's record,
releases its Leases and exits 0 well inside the pod's grace period.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Sequence
from typing import Any

from console.engine.config import Config
from console.engine.model import Event, EventKind, RolloutStatus
from console.engine.requests import answer_reason
from console.wiring import Options, open_world

PRUNE_EVERY = 300.0  # seconds between deletions of old, answered requests


class ControllerMetrics:
    """The controller's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.state = Gauge("canary_console_rollout_state", "1 for the state each service's rollout is in",
                           ["service", "state"], registry=self.registry)
        self.weight = Gauge("canary_console_canary_weight", "the canary's live traffic weight (%)", ["service"],
                            registry=self.registry)
        self.driving = Gauge("canary_console_driving", "1 while this replica drives the service", ["service"],
                             registry=self.registry)
        self.decisions = Counter("canary_console_decisions_total", "decisions of the policy", ["kind"],
                                 registry=self.registry)
        self.actions = Counter("canary_console_actions_total", "writes to the cluster", ["kind"],
                               registry=self.registry)
        self.errors = Counter("canary_console_errors_total", "API and Prometheus errors (port: cluster, metrics, "
                              "kubernetes-events: an audit Event not written, engine)", ["port"],
                              registry=self.registry)
        self.requests = Counter("canary_console_requests_total", "requests served", ["result"],
                                registry=self.registry)
        self.check = Histogram("canary_console_check_duration_seconds", "one check of every service",
                               registry=self.registry)
        self._states: dict[str, str] = {}

    def take(self, event: Event) -> None:
        data = event.data
        if event.kind is EventKind.STATUS:
            status = data.get("status")
            if isinstance(status, RolloutStatus):
                self.show(status)
        elif event.kind is EventKind.DECISION:
            self.decisions.labels(str(data.get("decision") or data.get("what") or "decision")).inc()
        elif event.kind is EventKind.ACTION and not data.get("shadow"):
            self.actions.labels(str(data.get("what") or "action")).inc()
        elif event.kind is EventKind.ERROR:
            self.errors.labels(str(data.get("port") or data.get("sink") or "engine")).inc()  # sink: an audit Event
        elif answer_reason(event):
            self.requests.labels(str(data.get("result"))).inc()

    def show(self, status: RolloutStatus) -> None:
        before = self._states.get(status.service)
        if before and before != status.state.value:
            self.state.labels(status.service, before).set(0)
        self._states[status.service] = status.state.value
        self.state.labels(status.service, status.state.value).set(1)
        self.weight.labels(status.service).set(status.weight)
        self.driving.labels(status.service).set(1 if status.driving else 0)

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


def log_line(event: Event, check: int | None = None) -> str:
    """One structured JSON line per engine event (escapes keep outside text inert); ``check`` is the number
    of the check it happened in (the count /metrics gives as canary_console_check_duration_seconds_count)."""
    level = {EventKind.ERROR: "error", EventKind.REFUSED: "warning"}.get(event.kind, "info")
    record: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.at)), "level": level,
                              "service": event.service, "kind": event.kind.value, "message": event.message}
    if check is not None:
        record["check"] = check
    record.update({k: v for k, v in event.data.items() if k not in record and k != "status"})
    return json.dumps(record, default=str, ensure_ascii=True)


class HealthServer:
    """/healthz, /readyz and /metrics over a minimal HTTP/1.1 server on the event loop (no thread)."""

    def __init__(self, metrics: ControllerMetrics) -> None:
        self.metrics = metrics
        self.ready = False
        self.server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            path = line.decode("latin-1").split(" ")[1] if line.count(b" ") >= 2 else "/"
            status, body, kind = self._answer(path.split("?")[0])
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    def _answer(self, path: str) -> tuple[str, bytes, str]:
        if path == "/healthz":
            return "200 OK", b"ok\n", "text/plain"
        if path == "/readyz":
            return ("200 OK", b"ready\n", "text/plain") if self.ready else ("503 Service Unavailable",
                                                                            b"not ready\n", "text/plain")
        if path == "/metrics":
            return "200 OK", self.metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8"
        return "404 Not Found", b"not found\n", "text/plain"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def controller(config: Config, options: Options, services: Sequence[str], listen: str) -> int:
    """Drive ``services`` (all when empty) until SIGTERM or SIGINT; 0 on a clean stop, 4 when the cluster
    cannot be opened."""
    from console.engine.exits import EXIT_OK, EXIT_UNREACHABLE
    from console.engine.ports import ClusterError

    host, _, port = listen.rpartition(":")
    metrics = ControllerMetrics()
    health = HealthServer(metrics)
    bound = await health.start(host or "0.0.0.0", int(port))
    print(json.dumps({"level": "info", "message": f"serving /healthz /readyz /metrics on {host}:{bound}",
                      "port": bound}), flush=True)
    try:
        world = await open_world(config, options, drive=list(services) or "all", actor_kind="controller")
    except ClusterError as exc:
        print(json.dumps({"level": "error", "message": f"cannot open the cluster: {exc}"}), flush=True)
        await health.stop()
        return EXIT_UNREACHABLE
    session = world.session
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)

    def on_event(event: Event) -> None:
        metrics.take(event)
        if event.kind is not EventKind.STATUS:
            print(log_line(event, session.check), flush=True)

    session.bus.subscribe(on_event)
    steps = asyncio.ensure_future(_drive(session, health, metrics, stop))
    await stop.wait()
    steps.cancel()
    await asyncio.gather(steps, return_exceptions=True)
    print(json.dumps({"level": "info", "message": "stopping: saving every driven record, releasing Leases"}),
          flush=True)
    await world.aclose()
    await health.stop()
    print(json.dumps({"level": "info", "message": "stopped"}), flush=True)
    return EXIT_OK


async def _drive(session: Any, health: HealthServer, metrics: ControllerMetrics, stop: asyncio.Event) -> None:
    """Session.run's loop (one step per check, never overlapping), timed for /metrics, with /readyz and the
    pruning of old requests after each step."""
    requests = session.requests
    pruned = 0.0

    async def after_step(started: float) -> None:
        nonlocal pruned
        metrics.check.observe(session.clock.now() - started)
        health.ready = session.port_problem("cluster") is None
        if requests is not None and started - pruned > PRUNE_EVERY:
            pruned = started
            try:
                await requests.prune()
            except Exception as exc:  # pruning is housekeeping: say it, go on
                print(json.dumps({"level": "warning", "message": f"pruning old requests failed: {exc}"}),
                      flush=True)

    await session.run(stop, after_step)
