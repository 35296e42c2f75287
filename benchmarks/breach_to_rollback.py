"""Benchmark room: against Debian's real Prometheus, how long from a breach becoming visible in a query to
the rollback request leaving the console — and how long one poll of six services takes.

Set-up (the closed-loop test's): the simulated world (error-regression on perception, the other five
healthy) served by the exporter, Prometheus scraping every second, a Session with 6-second phases, a 10 s
window and a check every second, reading Prometheus through PrometheusMetrics, acting on a SimCluster.

"Breach visible" = the first moment a watcher polling Prometheus every 100 ms with the same adapter and
window sees, once the weight is 25 %, the canary's error rate more than the phase's limit (0.5 pp at 25 %) above stable's with at
least judging.min_requests canary requests. "Rollback leaves" = the wall time SimCluster.rollback is called.
The gap is the console's own reaction: the check interval, the poll, and the judge's demand for significance.

Run: python benchmarks/breach_to_rollback.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.adapters.prometheus import PrometheusMetrics  # noqa: E402
from console.engine.clock import ScaledClock  # noqa: E402
from console.engine.config import SERVICES  # noqa: E402
from console.engine.session import Session  # noqa: E402
from console.sim.cluster import SimCluster  # noqa: E402
from console.sim.exporter import start_exporter  # noqa: E402
from console.sim.world import SimWorld  # noqa: E402
from tests.prom import PrometheusServer, short_phase_config  # noqa: E402

WORLD_SPEED = 10.0
LIMIT = 0.005  # the early phase's error-rate increase


async def watch_for_breach(metrics: PrometheusMetrics, session: Session, window: float, min_requests: int) -> float:
    while True:
        if session.controllers["perception"].status.weight < 25:  # the regression (and this limit) start at 25 %
            await asyncio.sleep(0.1)
            continue
        got = (await metrics.poll(["perception"], window))["perception"]
        if got.canary and got.stable and got.canary.requests >= min_requests:
            if (got.canary.error_rate or 0) - (got.stable.error_rate or 0) > LIMIT:
                return time.time()
        await asyncio.sleep(0.1)


async def one_run(seed: int) -> tuple[float, list[float]]:
    world_clock, clock = ScaledClock(speed=WORLD_SPEED), ScaledClock(speed=1)
    world = SimWorld(seed=seed, scenario={"perception": "error-regression"}, start=world_clock.now() - 600)
    world.advance_to(world_clock.now())
    cluster = SimCluster(world, world_clock)
    rollback_at: list[float] = []
    original = cluster.rollback

    async def timed_rollback(service: str) -> None:
        rollback_at.append(time.time())
        await original(service)
    cluster.rollback = timed_rollback  # type: ignore[method-assign]
    exporter, port = start_exporter(world, world_clock)
    server = PrometheusServer(Path(tempfile.mkdtemp(prefix="bench-prom-")), [f"127.0.0.1:{port}"]).start()
    config = short_phase_config(["perception"], 6.0)
    metrics, watcher = PrometheusMetrics(server.url, clock=clock), PrometheusMetrics(server.url)
    session = Session(config, cluster, metrics, clock)
    stop = asyncio.Event()
    runner = asyncio.create_task(session.run(stop))
    try:
        await session.intent("perception", "start", version="1.2.4")
        visible = await asyncio.wait_for(watch_for_breach(watcher, session, config.window, config.judging.min_requests), 120)
        while not rollback_at:
            await asyncio.sleep(0.05)
        latencies = []
        for _ in range(20):
            started = time.perf_counter()
            await watcher.poll(list(SERVICES), config.window)
            latencies.append(time.perf_counter() - started)
        return rollback_at[0] - visible, latencies
    finally:
        stop.set()
        await runner
        await session.aclose()
        for closing in (metrics, watcher, exporter):
            await closing.aclose()
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)  # leave no temp data behind


async def main(runs: int) -> None:
    gaps, polls = [], []
    for seed in range(runs):
        gap, latencies = await one_run(seed + 7)
        gaps.append(gap)
        polls += latencies
        print(f"run {seed + 1}: breach visible → rollback request {gap:.2f} s")
    print(f"breach → rollback over {runs} runs: median {statistics.median(gaps):.2f} s, max {max(gaps):.2f} s")
    polls.sort()
    print(f"poll of {len(SERVICES)} services (4 requests, real Prometheus): median "
          f"{statistics.median(polls) * 1000:.1f} ms, p95 {polls[int(len(polls) * 0.95) - 1] * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
