"""Closed loop against Debian's real Prometheus: Session (the controllers) → SimCluster → the world's traffic
split → exporter → Prometheus (1 s scrapes) → PrometheusMetrics → judge → Session. An error-regression canary
is rolled back and a healthy one promoted.

The controller and Prometheus run in wall time (ScaledClock speed 1; phases of PHASE_S seconds, a 10 s
window, checks every second). The world's own clock runs WORLD_SPEED times faster, so a 10 s window holds
the traffic of a busier service (enough requests to judge at 10 % weight) — the loop itself is unchanged.
"""

from __future__ import annotations

import asyncio

import pytest

from console.adapters.prometheus import PrometheusMetrics
from console.engine.clock import ScaledClock
from console.engine.model import EventKind, State
from console.engine.session import Session
from console.sim.cluster import SimCluster
from console.sim.exporter import start_exporter
from console.sim.world import SimWorld
from tests.prom import prometheus, short_phase_config, wait_until  # noqa: F401  (fixture)

pytestmark = pytest.mark.prometheus

PHASE_S = 6.0
WORLD_SPEED = 10.0
SERVICES = {"perception": "error-regression", "nexus": "healthy"}


async def test_closed_loop_rolls_back_a_regression_and_promotes_a_healthy_canary(prometheus):  # noqa: F811
    world_clock, clock = ScaledClock(speed=WORLD_SPEED), ScaledClock(speed=1)
    world = SimWorld(seed=7, scenario=SERVICES, start=world_clock.now() - 600, services=list(SERVICES))
    world.advance_to(world_clock.now())
    cluster = SimCluster(world, world_clock)
    exporter, port = start_exporter(world, world_clock)
    server = prometheus([f"127.0.0.1:{port}"])
    metrics = PrometheusMetrics(server.url, clock=clock)
    config = short_phase_config(SERVICES, PHASE_S)
    config = config.model_copy(update={"analysis": config.analysis.model_copy(update={"method": "sequential"})})
    session = Session(config, cluster, metrics, clock)
    findings: dict[str, list[str]] = {s: [] for s in SERVICES}  # the sequential tests' answers, by service
    session.bus.subscribe(lambda e: findings[e.service].extend(
        c["reason"] for c in e.data["verdict"]["checks"] if "sequential:" in c.get("reason", ""))
        if e.kind is EventKind.VERDICT and e.service in findings else None)
    stop = asyncio.Event()
    runner = asyncio.create_task(session.run(stop))
    try:
        for service in SERVICES:
            assert (await session.intent(service, "start", version="1.2.4")).ok

        async def finished() -> bool:
            return all(session.controllers[s].status.state.terminal for s in SERVICES)
        # a whole rollout is ~30-45 s of wall time here; a loaded CI machine gets room, not a verdict
        await wait_until(finished, "both rollouts to finish", every=0.5, patience=180.0)
    finally:
        stop.set()
        await runner
        await session.aclose()
        await metrics.aclose()
        await exporter.aclose()
    states = {s: session.controllers[s].status for s in SERVICES}
    assert states["perception"].state is State.ROLLED_BACK, states["perception"].reason
    reason = states["perception"].reason  # either error check may see the regression first
    assert "from 25%" in reason and ("error_rate" in reason or "success_rate" in reason), reason
    assert states["nexus"].state is State.PROMOTED, states["nexus"].reason
    assert cluster.calls["rollback"] == 1 and cluster.calls["promote"] == 1
    assert metrics.queries >= 4 * 10  # the verdicts came from Prometheus, one request per metric per step
    for service, said in findings.items():  # the streams had data: not "no stream with data yet"
        assert any(" over the last " in reason for reason in said), (service, said[-3:])
