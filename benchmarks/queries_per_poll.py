"""Benchmarks room: Prometheus queries per poll of six services. The simulated metrics count the queries
the real adapter would send (SimMetrics.queries); the real adapter (PrometheusMetrics.queries counts HTTP
requests, retries included) is measured against Debian's prometheus scraping the simulated world's
exporter, driven by a Session stepping once per check. Target: one query per metric per poll (the runbook's
four: requests, errors, P95, P99), whatever the number of services. Usage:
    python -m benchmarks.queries_per_poll [--steps 10]
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.headless import run_with_count, sim_session, start_all, step_for
from console.adapters.prometheus import PrometheusMetrics
from console.engine.clock import ScaledClock
from console.engine.config import Config
from console.engine.session import Session
from console.sim.cluster import SimCluster
from console.sim.exporter import start_exporter
from console.sim.world import SimWorld
from tests.prom import PrometheusServer

METRICS = 4  # requests, errors, p95, p99


async def simulated(steps: int) -> float:
    session, clock, _cluster, metrics = sim_session("healthy")
    await start_all(session)
    before = metrics.queries
    await step_for(session, clock, steps * session.config.check_interval)
    return (metrics.queries - before) / steps


async def real(steps: int) -> tuple[float, int]:
    """(queries per poll, services with canary data) against a real Prometheus."""
    world_clock = ScaledClock(speed=10.0)
    world = SimWorld(seed=7, scenario="healthy", start=world_clock.now() - 600)
    world.advance_to(world_clock.now())
    cluster = SimCluster(world, world_clock)
    exporter, port = start_exporter(world, world_clock)
    server = PrometheusServer(Path(tempfile.mkdtemp(prefix="bench-prom-")), [f"127.0.0.1:{port}"]).start()
    config = Config(window=30, check_interval=1)
    metrics = PrometheusMetrics(server.url)
    session = Session(config, cluster, metrics, ScaledClock(speed=1))
    try:
        await start_all(session)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until Prometheus has scraped canary traffic of every service
            await session.step()
            polled = await metrics.poll(config.service_names, config.window)
            if all(m.canary and m.canary.requests for m in polled.values()):
                break
            await asyncio.sleep(0.5)
        with_data = sum(1 for m in polled.values() if m.canary and m.canary.requests)
        before = metrics.queries
        for _ in range(steps):
            await session.step()
        return (metrics.queries - before) / steps, with_data
    finally:
        await session.aclose()
        await metrics.aclose()
        await exporter.aclose()
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)  # leave no temp data behind


async def run(steps: int) -> None:
    sim = await simulated(steps)
    print(f"simulated metrics: {sim:.1f} queries per poll of 6 services (target {METRICS}: one per metric)")
    got, with_data = await real(steps)
    print(f"real Prometheus: {got:.1f} HTTP queries per poll of 6 services ({with_data} with canary data) "
          f"(target {METRICS}: {'met' if got <= METRICS else 'NOT met'})")


if __name__ == "__main__":
    run_with_count(__doc__, run, "steps", 10)
