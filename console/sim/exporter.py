"""Simulated-world room: the world's traffic in Prometheus' text format, for a real Prometheus to scrape.

Series (none for a track that never served, none for a service in a simulated scrape gap), as a Spring Boot service behind the runbook's queries would expose them:
  http_server_requests_seconds_bucket{service,track,status,method,uri,le}   (histogram, with _count, _sum)
  kafka_consumer_lag (also as kafka_consumergroup_lag) / gateway_overhead_p95 / tool_success_rate
  {service,track}   (gauges, where the world defines them)
The collector advances the world to the clock's now at scrape time and reads its cumulative counters. The
world keeps one latency histogram per track; here it is split over the status codes incrementally (each
scrape's new requests share the new bucket counts by status), so every per-status series stays a monotonic
counter and each status' +Inf bucket equals its _count exactly.

The HTTP server runs on the caller's event loop (the world is single-threaded; a thread would race the
controller), on a socket bound at once so the port is known and a busy port fails immediately.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from console.engine.clock import Clock
from console.engine.model import Track

HISTOGRAM = "http_server_requests_seconds"
EXTRA_METRICS = ("kafka_consumer_lag", "gateway_overhead_p95", "tool_success_rate")
ALIASES = {"kafka_consumer_lag": ("kafka_consumergroup_lag",)}  # kafka-exporter's name, as in the example config
LABELS = ["service", "track", "status", "method", "uri"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StatusSplit:
    """Per-status cumulative buckets and sums for one (service, track), grown scrape by scrape."""

    def __init__(self) -> None:
        self.seen_buckets: list[float] = []
        self.seen_requests: dict[str, float] = {}
        self.seen_sum = 0.0
        self.buckets: dict[str, list[float]] = {}
        self.sums: dict[str, float] = {}

    def update(self, requests: dict[str, float], buckets: Sequence[tuple[float, float]], total_sum: float) -> None:
        counts = [count for _, count in buckets]
        if len(self.seen_buckets) != len(counts):
            self.seen_buckets = [0.0] * len(counts)
        new_buckets = [max(0.0, now - before) for now, before in zip(counts, self.seen_buckets)]
        new_requests = {s: max(0.0, n - self.seen_requests.get(s, 0.0)) for s, n in requests.items()}
        new_total = sum(new_requests.values())
        new_sum = max(0.0, total_sum - self.seen_sum)
        for status, added in new_requests.items():
            share = added / new_total if new_total > 0 else 0.0
            mine = self.buckets.setdefault(status, [0.0] * len(counts))
            for i, added_in_bucket in enumerate(new_buckets):
                mine[i] += added_in_bucket * share
            self.sums[status] = self.sums.get(status, 0.0) + new_sum * share
        self.seen_buckets, self.seen_requests, self.seen_sum = counts, dict(requests), total_sum

    def histogram(self, status: str, count: float, les: Sequence[float]) -> list[tuple[str, float]]:
        """Buckets for one status: monotonic in le, capped by and ending with the exact count."""
        out: list[tuple[str, float]] = []
        running = 0.0
        for le, value in zip(les, self.buckets.get(status, [])):
            if le == float("inf"):
                break
            running = min(max(running, value), count)
            out.append((f"{le:g}", running))
        out.append(("+Inf", count))
        return out


class SimCollector:
    """A prometheus-client Collector over a SimWorld."""

    def __init__(self, world: Any, clock: Clock, extra_names: Sequence[str] = EXTRA_METRICS) -> None:
        self.world = world
        self.clock = clock
        self.extra_names = tuple(extra_names)
        self._splits: dict[tuple[str, str], _StatusSplit] = {}

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now()
        self.world.advance_to(now)
        histogram = HistogramMetricFamily(HISTOGRAM, "Duration of HTTP server requests (simulated)",
                                          labels=LABELS)
        gauges = {(name, exposed): GaugeMetricFamily(exposed, f"{name} (simulated)", labels=["service", "track"])
                  for name in self.extra_names for exposed in (name, *ALIASES.get(name, ()))}
        for service in self.world.services:
            if self.world.metrics_gap(service, now):
                continue  # a scrape gap: the series go stale in Prometheus, as when a target is down
            for track in (Track.STABLE, Track.CANARY):
                self._histogram(histogram, service, track)
                for (name, _), gauge in gauges.items():
                    value = self.world.extra_value(service, track, name, now)
                    if value is not None:
                        gauge.add_metric([service, track.value], float(value))
        yield histogram
        yield from (g for g in gauges.values() if g.samples)

    def _histogram(self, family: HistogramMetricFamily, service: str, track: Track) -> None:
        counters = self.world.counters(service, track)
        requests = {str(status): float(n) for status, n in counters.requests.items()}
        if not getattr(counters, "present", True) or sum(requests.values()) <= 0:
            return  # a track that never had pods or traffic has no series yet, as with real pods
        split = self._splits.setdefault((service, track.value), _StatusSplit())
        split.update(requests, counters.buckets, float(counters.sum))
        les = [le for le, _ in counters.buckets]
        for status in sorted(requests):
            family.add_metric([service, track.value, status, "GET", f"/api/{service}"],
                              split.histogram(status, requests[status], les), split.sums.get(status, 0.0))


class ExporterServer:
    """The exporter's listening server on the event loop. ``shutdown()`` stops it (sync, like http.server)."""

    def __init__(self, registry: CollectorRegistry, sock: socket.socket) -> None:
        self.registry = registry
        self.port: int = sock.getsockname()[1]
        self.scrapes = 0
        self._server: asyncio.AbstractServer | None = None
        self._task = asyncio.get_running_loop().create_task(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        self._server = await asyncio.start_server(self._handle, sock=sock)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            parts = head.split(b"\r\n", 1)[0].split()
            path = parts[1].decode("latin-1") if len(parts) >= 2 else ""
            if path.split("?")[0] in ("/metrics", "/"):
                self.scrapes += 1
                status, body = "200 OK", generate_latest(self.registry)
            else:
                status, body = "404 Not Found", b"not found; the metrics are at /metrics\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        else:
            self._task.cancel()

    async def aclose(self) -> None:
        self.shutdown()
        if self._server is not None:
            await self._server.wait_closed()


def start_exporter(world: Any, clock: Clock, host: str = "127.0.0.1", port: int = 0) -> tuple[ExporterServer, int]:
    """Serve ``world`` at http://host:port/metrics on the running event loop; returns (server, bound port).
    Raises OSError when the port cannot be had."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SimCollector(world, clock))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    server = ExporterServer(registry, sock)
    return server, server.port


def scrape_config(target: str | Sequence[str], interval: str = "5s") -> str:
    """The ``scrape_configs`` block for prometheus.yml (a complete file on its own)."""
    targets = [target] if isinstance(target, str) else list(target)
    listed = ", ".join(f"'{t}'" for t in targets)
    return ("scrape_configs:\n"
            "  - job_name: canary-console-sandbox\n"
            f"    scrape_interval: {interval}\n"
            f"    scrape_timeout: {interval}\n"
            "    static_configs:\n"
            f"      - targets: [{listed}]\n")
