"""Service-specific metrics room of the simulated world: the runbook's "Service-Specific Considerations"
as numbers (Kafka consumer lag, gateway overhead, tool success rate), tied to the track's own traffic.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from console.engine.model import Track
from console.sim.noise import stream_key, unit

if TYPE_CHECKING:
    from console.sim.world import SimWorld, SimService

LOOKBACK = 60.0  # seconds of the track's traffic each value reflects


def _kafka_consumer_lag(svc: SimService, track: Track, error_rate: float, u: float) -> float:
    """Messages behind: ~80–140 when healthy, growing with the share of failed requests."""
    return round(80.0 + 60.0 * u + 20000.0 * max(0.0, error_rate - svc.profile.error_rate))


def _gateway_overhead_p95(svc: SimService, track: Track, error_rate: float, u: float) -> float:
    """Seconds the gateway adds at P95: ~0.02 healthy (the runbook's limit is 0.05), slower canaries
    slow it in proportion."""
    slowdown = svc.latency(track).scale
    return (0.018 + 0.004 * u) * slowdown


def _tool_success_rate(svc: SimService, track: Track, error_rate: float, u: float) -> float:
    """Share of tool invocations that succeed: ~0.997 healthy, falling with the track's 5xx."""
    return max(0.0, min(1.0, 0.998 - 0.002 * u - 0.9 * error_rate))


EXTRAS = {
    "kafka_consumer_lag": _kafka_consumer_lag,
    "gateway_overhead_p95": _gateway_overhead_p95,
    "tool_success_rate": _tool_success_rate,
}


def extra_value(world: SimWorld, svc: SimService, track: Track, name: str, t: float) -> float | None:
    compute = EXTRAS.get(name)
    if compute is None:
        return None
    window = world.window(svc.name, track, t, LOOKBACK)
    if window is None or window.error_rate is None:
        return None
    u = unit(stream_key(world.seed, svc.name, track.value, name), math.floor(t))
    return compute(svc, track, window.error_rate, u)


__all__ = ["EXTRAS", "extra_value"]
