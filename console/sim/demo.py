"""The demo room: one call that builds the simulated world with its cluster and metrics for a config."""

from __future__ import annotations

from collections.abc import Mapping

from console.engine.clock import Clock
from console.engine.config import Config
from console.sim.cluster import SimCluster
from console.sim.metrics import SimMetrics
from console.sim.world import SimWorld


def build_demo(config: Config, seed: int = 7, scenario: str | Mapping[str, str] = "mixed",
               clock: Clock | None = None) -> tuple[SimWorld, SimCluster, SimMetrics]:
    """(world, cluster, metrics) for the config's services, starting at the clock's now.

    Raises scenarios.UnknownScenario (a ValueError) for a scenario name it does not know."""
    from console.engine.clock import RealClock

    clock = clock or RealClock()
    world = SimWorld(seed=seed, scenario=scenario, start=clock.now(), services=config.service_names)
    return world, SimCluster(world, clock), SimMetrics(world, clock, config)
