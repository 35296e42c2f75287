"""Tests against Debian's real Prometheus scraping the simulated world's exporter every second: the values
the adapter reports agree with the world, a poll for six services costs one request per metric (counted at
the transport), history back-fills, and `canary-console analyze --prometheus` gives the issue's done-when
answer (fail, exit 1) and exit 4 once Prometheus is stopped.

The world runs SPEED times faster than the wall (a ScaledClock), so a WINDOW_S-second window in Prometheus
holds SPEED × WINDOW_S simulated seconds of traffic: enough requests for tight comparisons in ~20 s of wall
time. Canaries start 10 simulated minutes before the exporter so their pods are ready and windows clean.

Stated tolerances, adapter vs the world's own window over the same span: error rate within 10 % relative
(+0.0005 absolute), success rate within 0.001, P95 and P99 within 10 %, request rate within 15 %.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
import pytest
import pytest_asyncio

from console.adapters.prometheus import PrometheusMetrics
from console.engine.clock import ScaledClock
from console.engine.model import Track
from console.sim.exporter import start_exporter
from console.sim.world import SimWorld
from tests.prom import PrometheusServer, wait_until

pytestmark = [pytest.mark.prometheus, pytest.mark.asyncio(loop_scope="module")]

SPEED = 200.0
WINDOW_S = 12.0
SCENARIO = {"perception": "error-regression", "nexus": "latency-regression"}
EXTRAS = {"perception": {"kafka_consumer_lag": 'max(kafka_consumergroup_lag{service="${SERVICE}",track="${TRACK}"})'},
          "nexus": {"gateway_overhead_p95": 'max(gateway_overhead_p95{service="${SERVICE}",track="${TRACK}"})'}}


class Sandbox:
    def __init__(self, world: SimWorld, clock: ScaledClock, prometheus: PrometheusServer, exporter) -> None:
        self.world, self.clock, self.prometheus, self.exporter = world, clock, prometheus, exporter

    def truth_window(self, service: str, track: Track):
        """The world's own window over the simulated span Prometheus' window covers right now."""
        return self.world.window(service, track, self.clock.now(), WINDOW_S * SPEED)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(tmp_path_factory):
    clock = ScaledClock(speed=SPEED)
    begin = clock.now() - 600
    world = SimWorld(seed=11, scenario=SCENARIO, start=begin)
    for service in world.services:
        world.start_canary(service, "1.2.4", 25, begin)
    world.advance_to(clock.now())
    exporter, port = start_exporter(world, clock)
    prometheus = PrometheusServer(tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{port}"]).start()
    try:
        async def window_full() -> bool:
            async with httpx.AsyncClient() as client:
                answer = (await client.get(f"{prometheus.url}/api/v1/query",
                                           params={"query": f"count_over_time(up[{WINDOW_S + 2:g}s])"})).json()
            result = answer["data"]["result"]
            return bool(result) and float(result[0]["value"][1]) >= WINDOW_S + 1
        await wait_until(window_full, "Prometheus to hold a full window of scrapes")
        yield Sandbox(world, clock, prometheus, exporter)
    finally:
        prometheus.stop()
        await exporter.aclose()


def within(value: float | None, truth: float | None, relative: float, absolute: float = 0.0) -> bool:
    return value is not None and truth is not None and abs(value - truth) <= relative * abs(truth) + absolute


async def test_values_agree_with_the_world(sandbox):
    metrics = PrometheusMetrics(sandbox.prometheus.url)
    try:
        polled = await metrics.poll(sandbox.world.services, WINDOW_S, EXTRAS)
    finally:
        await metrics.aclose()
    mismatches = []
    for service, got in polled.items():
        assert got.problem is None, (service, got.problem)
        for track in (Track.STABLE, Track.CANARY):
            window, truth = getattr(got, track.value), sandbox.truth_window(service, track)
            checks = {"error_rate": within(window.error_rate, truth.error_rate, 0.10, 0.0005),
                      "success_rate": within(window.success_rate, truth.success_rate, 0.0, 0.001),
                      "p95": within(window.p95, truth.p95, 0.10), "p99": within(window.p99, truth.p99, 0.10),
                      "rps": within(window.requests / WINDOW_S / SPEED, truth.rps, 0.15)}
            mismatches += [(service, track.value, name, window, truth) for name, ok in checks.items() if not ok]
    assert not mismatches
    assert polled["perception"].extras["kafka_consumer_lag"] is not None
    assert polled["nexus"].extras["gateway_overhead_p95"] is not None


async def test_regressions_show_in_the_numbers(sandbox):
    metrics = PrometheusMetrics(sandbox.prometheus.url)
    try:
        polled = await metrics.poll(sandbox.world.services, WINDOW_S)
    finally:
        await metrics.aclose()
    perception, nexus = polled["perception"], polled["nexus"]
    assert within(perception.canary.error_rate, 0.04, 0.10) and within(perception.stable.error_rate, 0.005, 0.10)
    assert nexus.canary.p95 > 1.4 * nexus.stable.p95  # latency-regression: canary P95 +60 %


async def test_one_request_per_metric_for_six_services(sandbox):
    sent: list[str] = []

    async def count(request: httpx.Request) -> None:
        sent.append(request.url.path)
    transport = httpx.AsyncHTTPTransport()
    metrics = PrometheusMetrics(sandbox.prometheus.url, transport=transport)
    metrics.api._client.event_hooks["request"].append(count)
    try:
        await metrics.poll(sandbox.world.services, WINDOW_S)
        assert len(sandbox.world.services) == 6
        assert sent == ["/api/v1/query"] * 4 and metrics.queries == 4
        await metrics.poll(sandbox.world.services, WINDOW_S, EXTRAS)
        assert len(sent) == 4 + 4 + len(EXTRAS)
    finally:
        await metrics.aclose()


async def test_history_back_fills_with_range_queries(sandbox):
    metrics = PrometheusMetrics(sandbox.prometheus.url)
    try:
        history = await metrics.history(sandbox.world.services, 5, since_s=10, step_s=2)
        series = await metrics.query_range('sum by (track) (http_server_requests_seconds_count{service="plato"})',
                                           time.time() - 6, time.time(), 1)
    finally:
        await metrics.aclose()
    assert metrics.queries == 4 + 1
    points = history["perception"]
    assert len(points) >= 4 and all(p.canary is not None and p.stable is not None for p in points[-3:])
    assert [p.at for p in points] == sorted(p.at for p in points)
    assert {s.labels["track"] for s in series} == {"stable", "canary"}
    assert all(len(s.points) >= 5 for s in series)


async def run_cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()  # the loop keeps serving scrapes meanwhile
    return process.returncode, out.decode(), err.decode()


async def test_analyze_with_prometheus_done_when(sandbox):
    code, out, err = await run_cli("analyze", "perception", "--prometheus", sandbox.prometheus.url,
                                   "--weight", "25", "--json")
    assert code == 1, (out, err)
    answer = json.loads(out)
    assert answer["verdict"] == "fail" and answer["weight"] == 25
    error_rate = next(c for c in answer["checks"] if c["name"] == "error_rate")
    assert within(error_rate["canary"], 0.04, 0.10) and within(error_rate["stable"], 0.005, 0.10)
    p95 = next(c for c in answer["checks"] if c["name"] == "p95_latency")
    assert p95["canary"] is not None and p95["stable"] is not None


async def test_analyze_with_prometheus_stopped_exits_4(sandbox):
    """Runs last in the module: it stops the shared Prometheus."""
    url = sandbox.prometheus.url
    sandbox.prometheus.stop()
    code, out, err = await run_cli("analyze", "perception", "--prometheus", url, "--weight", "25")
    assert code == 4, (out, err)
    assert "Prometheus unreachable" in err and "Traceback" not in err
