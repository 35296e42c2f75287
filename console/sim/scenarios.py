"""Scenario room of the simulated world: the six services' normal behaviour and the named faults.

A scenario is named for all services ("healthy") or per service ({"perception": "healthy", ...}); a
per-service name may join faults with "+" ("low-traffic+metrics-gap"). ``mixed`` (the default) gives each
service a different case so the demo shows every one at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from console.sim.latency import Latency
from console.sim.noise import stream_key, unit

HEALTHY = "healthy"
FAULTS = ("error-regression", "latency-regression", "p99-regression", "crashloop", "low-traffic",
          "metrics-gap")
SCENARIOS = (HEALTHY, *FAULTS, "mixed")
MIXED = {
    "perception": HEALTHY,
    "capsule": "error-regression",
    "odyssey": "latency-regression",
    "plato": "low-traffic+metrics-gap",
    "nexus": "p99-regression",
    "synapse": "crashloop",
}

# How each fault shows (the numbers tests and the demo rely on).
REGRESSION_ERROR_RATE = 0.04  # error-regression: canary 5xx share …
REGRESSION_FROM_WEIGHT = 25  # … once the weight has reached this
LATENCY_FACTOR = 1.6  # latency-regression: every canary quantile +60 %
P99_TAIL_FROM, P99_FACTOR = 0.955, 1.8  # p99-regression: P99 +80 %, P95 untouched
LOW_TRAFFIC_RPS = 1.5  # low-traffic: total requests per second over both tracks
GAP_FROM, GAP_UNTIL = 240.0, 720.0  # metrics-gap: seconds after the canary starts
CRASH_READY_FOR = (60.0, 90.0)  # crashloop: the canary is Ready this long, then crash-loops


class UnknownScenario(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)} "
                         f"(or a mapping of service to scenario; faults may be joined with '+')")
        self.name = name


@dataclass(frozen=True, slots=True)
class ServiceProfile:
    """A service's normal life: stable traffic, 5xx share, latency, and what its logs talk about."""

    rps: float
    error_rate: float
    latency: Latency
    logger: str
    activity: str  # a message template with {a}, {b} and {ms}


PROFILES: dict[str, ServiceProfile] = {
    "perception": ServiceProfile(120.0, 0.005, Latency(0.15, 0.45), "c.b.perception.ingest.SignalIngestor",
                                 "Ingested {a} signals from topic sensory.raw partition {b} in {ms} ms"),
    "capsule": ServiceProfile(80.0, 0.003, Latency(0.12, 0.40), "c.b.capsule.store.MemoryRepository",
                              "Stored capsule {a} for tenant t-{b} (Cassandra write {ms} ms)"),
    "odyssey": ServiceProfile(45.0, 0.004, Latency(0.35, 0.50), "c.b.odyssey.graph.PathTraversal",
                              "Traversed {a} vertices over {b} hops in {ms} ms"),
    "plato": ServiceProfile(25.0, 0.002, Latency(0.25, 0.45), "c.b.plato.spec.SpecValidator",
                            "Validated spec s-{a}: {b} rules checked in {ms} ms"),
    "nexus": ServiceProfile(200.0, 0.002, Latency(0.10, 0.40), "c.b.nexus.gateway.RouteFilter",
                            "GET /api/v1/route/{a} -> 200 upstream={b} in {ms} ms"),
    "synapse": ServiceProfile(60.0, 0.006, Latency(0.30, 0.45), "c.b.synapse.exec.ToolInvoker",
                              "Invoked tool tool-{a} for workflow w-{b}: ok in {ms} ms"),
}


def profile_for(service: str) -> ServiceProfile:
    """The service's profile; a service outside the six gets a plausible one derived from its name."""
    if service in PROFILES:
        return PROFILES[service]
    key = stream_key("profile", service)
    return ServiceProfile(rps=20.0 + 100.0 * unit(key, 0), error_rate=0.002 + 0.004 * unit(key, 1),
                          latency=Latency(0.1 + 0.3 * unit(key, 2), 0.45),
                          logger=f"c.b.{service}.api.RequestHandler",
                          activity="Handled request {a} for client c-{b} in {ms} ms")


def faults_of(name: str) -> frozenset[str]:
    """The faults a per-service scenario name stands for ("healthy" → none)."""
    parts = frozenset(p.strip() for p in name.split("+") if p.strip())
    unknown = [p for p in parts if p != HEALTHY and p not in FAULTS]
    if unknown or not parts:
        raise UnknownScenario(name)
    return parts - {HEALTHY}


def resolve(scenario: str | Mapping[str, str], services: Sequence[str]) -> dict[str, str]:
    """Per-service scenario names for ``services``; raises UnknownScenario for a name it does not know."""
    if isinstance(scenario, Mapping):
        chosen = {s: str(scenario.get(s, HEALTHY)) for s in services}
    elif scenario == "mixed":
        chosen = {s: MIXED.get(s, HEALTHY) for s in services}
    else:
        chosen = {s: str(scenario) for s in services}
    for name in chosen.values():
        faults_of(name)
    return chosen
