"""Tests against Debian's real Prometheus of the per-check increments the sequential checks test
(``ServiceMetrics.recent_*``, console/adapters/prometheus.py): they ride in the same one request per metric,
a counter reset never makes one negative or huge, and a series that stopped being scraped gives no
increment (None), never a zero one.

The exporter here is a scripted one: every scrape adds ADDED requests (one in ten a 5xx) to each series,
so what an increment should hold is known from the scrapes alone, whatever the wall clock does.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import HistogramMetricFamily, Metric

from console.adapters.prometheus import PrometheusMetrics
from console.sim.exporter import HISTOGRAM, ExporterServer
from tests.prom import prometheus, wait_until  # noqa: F401  (fixture)

pytestmark = pytest.mark.prometheus

ADDED = 10  # requests per scrape and series
START = 100_000  # the counters' value before the reset: a difference of raw values would be ±100,000
WINDOW_S = 10.0


class Scripted:
    """Counters per (service, track) that grow by ADDED each scrape; ``reset`` starts alpha's canary at 0
    again (a restarted pod), ``drop`` stops exposing ghost's series (a pod gone, a target down)."""

    def __init__(self) -> None:
        self.counts = {("alpha", "canary"): START, ("alpha", "stable"): START, ("ghost", "canary"): START,
                       ("ghost", "stable"): START}
        self.scrapes = 0
        self.reset_at: int | None = None
        self.dropped = False

    def reset(self) -> None:
        self.counts[("alpha", "canary")] = 0
        self.reset_at = self.scrapes

    def collect(self) -> Iterator[Metric]:
        self.scrapes += 1
        family = HistogramMetricFamily(HISTOGRAM, "scripted", labels=["service", "track", "status"])
        for (service, track), count in self.counts.items():
            if service == "ghost" and self.dropped:
                continue
            count += ADDED
            self.counts[(service, track)] = count
            for status, share in (("200", 0.9), ("500", 0.1)):
                n = count * share
                family.add_metric([service, track, status], [("0.1", n * 0.5), ("0.5", n * 0.97), ("+Inf", n)],
                                  n * 0.1)
        yield family


def serve(collector: Scripted) -> ExporterServer:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    return ExporterServer(registry, sock)


async def test_increments_ride_in_the_same_queries_survive_a_reset_and_are_none_when_missing(prometheus):  # noqa: F811
    collector = Scripted()
    exporter = serve(collector)
    server = prometheus([f"127.0.0.1:{exporter.port}"])
    sent: list[str] = []

    async def count(request: httpx.Request) -> None:
        sent.append(request.url.path)
    metrics = PrometheusMetrics(server.url, transport=httpx.AsyncHTTPTransport())
    metrics.api._client.event_hooks["request"].append(count)
    polls: list[dict] = []

    async def poll() -> dict:
        got = await metrics.poll(["alpha", "ghost"], WINDOW_S)
        polls.append(got)
        return got
    try:
        async def window_holds_data() -> bool:
            got = await poll()
            return got["alpha"].canary is not None and got["alpha"].canary.requests > 5 * ADDED

        await wait_until(window_holds_data, "a window with data", every=0.5)

        async def increments(how_many: int) -> list[float]:
            before = len(polls)

            async def enough() -> bool:
                await poll()
                return sum(1 for p in polls[before:] if p["alpha"].recent_canary is not None) >= how_many
            await wait_until(enough, f"{how_many} increments", every=1.0)
            return [p["alpha"].recent_canary for p in polls[before:] if p["alpha"].recent_canary is not None]

        steady = await increments(3)
        collector.reset()
        across = await increments(4)
        assert sent == ["/api/v1/query"] * len(sent) and len(sent) == 4 * len(polls)  # one request per metric
        for window in steady + across:
            scrapes = window.seconds + 2  # the scrapes a span can hold (1 s scrapes), rounding on both ends
            assert 0 <= window.requests <= ADDED * scrapes * 1.5, window
            assert window.errors == pytest.approx(0.1 * window.requests, abs=2), window
        assert sum(w.requests for w in across) > 0
        assert all(p["alpha"].recent_stable is not None for p in polls if p["alpha"].recent_canary is not None)

        collector.dropped = True

        async def ghost_gone_from_the_increment() -> bool:
            got = await poll()  # alpha's increment answered, so the span held scrapes: ghost's had none
            return (got["alpha"].recent_canary is not None and got["ghost"].canary is not None
                    and got["ghost"].recent_canary is None)
        await wait_until(ghost_gone_from_the_increment, "ghost's increment to go while its window stays")
        assert polls[-1]["ghost"].recent_stable is None
    finally:
        await metrics.aclose()
        await exporter.aclose()
        await asyncio.sleep(0)
