"""SimMetrics: the Metrics port over the simulated world, asked as Prometheus would be.

A poll answers every service's stable and canary windows at the clock's now; it counts one query per
metric for all services (requests, errors, P95, P99) plus one per extra check, like the real adapter.
A service in a metrics gap gets no tracks and ``problem`` "no data: scrape gap"; ``unreachable`` makes
every service report Prometheus as down (for tests of the console's handling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from console.engine.clock import Clock
from console.engine.catalog import METRIC_NAMES, explain
from console.engine.config import Config, Queries, format_duration
from console.engine.model import Problem, ServiceMetrics, Track
from console.sim.world import SimWorld

METRICS_PER_POLL = len(METRIC_NAMES)  # requests, errors, p95, p99
GAP_PROBLEM = "no data: scrape gap"
NO_DATA = (Problem.NO_DATA,)


class SimMetrics:
    def __init__(self, world: SimWorld, clock: Clock, config: Config | None = None) -> None:
        self.world = world
        self.clock = clock
        self.config = config
        self.queries = 0
        self.polls = 0
        self.unreachable: str | None = None  # e.g. "connection refused": every poll reports it
        self._queries: dict[tuple, dict[str, str]] = {}

    def _at(self, service: str, t: float, window_s: float, checks: Sequence[str],
            extras: dict[str, str] | None = None) -> ServiceMetrics:
        return replace(self._measured(service, t, window_s, checks), queries=self._explained(service, window_s, extras))

    def _explained(self, service: str, window_s: float, extras: dict[str, str] | None) -> dict[str, str]:
        """``explain``, remembered: the same service, window and checks give the same queries at every poll
        (the configuration does not change under a running world). A copy each time, as ``explain`` gives."""
        key = (id(self.config), service, window_s, tuple((extras or {}).items()))
        queries = self._queries.get(key)
        if queries is None:
            if len(self._queries) >= 256:
                self._queries.clear()
            queries = self._queries[key] = self.explain(service, window_s, extras)
        return dict(queries)

    def _measured(self, service: str, t: float, window_s: float, checks: Sequence[str]) -> ServiceMetrics:
        if self.unreachable:
            return ServiceMetrics(service, problem=f"Prometheus unreachable: {self.unreachable}", at=t,
                                  problem_kinds=(Problem.UNREACHABLE,))
        if service not in self.world.services:
            return ServiceMetrics(service, problem=f"no data for {service}", at=t, problem_kinds=NO_DATA)
        if self.world.metrics_gap(service, t):
            return ServiceMetrics(service, extras={name: None for name in checks}, problem=GAP_PROBLEM, at=t,
                                  problem_kinds=NO_DATA)
        stable = self.world.window(service, Track.STABLE, t, window_s)
        canary = self.world.window(service, Track.CANARY, t, window_s)
        extras = {name: self.world.extra_value(service, Track.CANARY, name, t) for name in checks}
        problem = None if stable or canary else f"no data for {service}"
        return ServiceMetrics(service, stable=stable, canary=canary, extras=extras, problem=problem, at=t,
                              problem_kinds=NO_DATA if problem else ())

    async def poll(self, services: Sequence[str], window_s: float,
                   extras: dict[str, dict[str, str]] | None = None) -> dict[str, ServiceMetrics]:
        now = self.clock.now()
        extras = extras or {}
        self.polls += 1
        self.queries += METRICS_PER_POLL + sum(len(extras.get(s, {})) for s in services)
        self.world.advance_to(now)
        return {s: self._at(s, now, window_s, list(extras.get(s, {})), extras.get(s)) for s in services}

    def explain(self, service: str, window_s: float, extras: dict[str, str] | None = None) -> dict[str, str]:
        """Each check's query as a Prometheus scraping this world would be asked it (the sandbox serves the
        world's metrics for one), from the config's templates."""
        queries = self.config.prometheus.queries if self.config is not None else Queries()
        templates = {name: getattr(queries, name) for name in METRIC_NAMES}
        return explain(templates, service, format_duration(window_s), extras)

    async def history(self, services: Sequence[str], window_s: float, since_s: float,
                      step_s: float) -> dict[str, list[ServiceMetrics]]:
        """Windows every ``step_s`` over the last ``since_s`` seconds, oldest first (one range query per
        metric)."""
        now = self.clock.now()
        self.queries += METRICS_PER_POLL
        self.world.advance_to(now)
        step = max(1.0, step_s)
        count = int(max(0.0, since_s) // step)
        times = [now - step * i for i in range(count, -1, -1)]
        return {s: [self._at(s, t, window_s, []) for t in times if t >= self.world.start] for s in services}
