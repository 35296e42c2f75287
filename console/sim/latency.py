"""Latency room of the simulated world: the histogram buckets, per-service latency distributions and
Prometheus' histogram_quantile.

A distribution is a lognormal (given its P95 and shape) scaled by ``scale``, optionally with a tail that
stretches only the quantiles above ``tail_from`` up to ``tail_factor`` at the 99th percentile, which gives
a P99 regression that leaves the P95 alone. The world never draws single latencies: each second's bucket
counts come from the distribution's CDF at the bucket bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from console.sim.noise import gauss

BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3,
                              0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0,
                              math.inf)
FAST_FAIL_SECONDS = 0.002  # what an nginx 503 with no ready upstream costs
_Z95 = 1.6448536269514722


@dataclass(frozen=True, slots=True)
class Latency:
    p95: float  # of the untouched lognormal, seconds
    sigma: float = 0.45
    scale: float = 1.0
    tail_from: float = 1.0  # quantile above which the tail stretches
    tail_factor: float = 1.0  # stretch reached at the 99th percentile

    def quantile(self, q: float) -> float:
        median = self.p95 / math.exp(_Z95 * self.sigma)
        value = self.scale * median * math.exp(self.sigma * gauss(q))
        if q > self.tail_from and self.tail_factor != 1.0:
            reach = min(1.0, (q - self.tail_from) / (0.99 - self.tail_from))
            value *= 1.0 + (self.tail_factor - 1.0) * reach
        return value

    def cdf(self, x: float) -> float:
        """Share of requests at or below ``x`` seconds (the quantile function inverted by bisection)."""
        if math.isinf(x):
            return 1.0
        lo, hi = 0.0, 1.0
        for _ in range(48):
            mid = (lo + hi) / 2
            if self.quantile(mid) <= x:
                lo = mid
            else:
                hi = mid
        return lo

    def scaled(self, factor: float) -> Latency:
        return Latency(self.p95, self.sigma, self.scale * factor, self.tail_from, self.tail_factor)

    def with_tail(self, tail_from: float, factor: float) -> Latency:
        return Latency(self.p95, self.sigma, self.scale, tail_from, factor)


@lru_cache(maxsize=256)
def bucket_shape(latency: Latency) -> tuple[tuple[float, ...], float]:
    """(cumulative share at each bucket bound, mean latency) — computed once per distribution."""
    shares = tuple(latency.cdf(le) for le in BUCKETS)
    slices = 2000
    mean = sum(latency.quantile((i + 0.5) / slices) for i in range(slices)) / slices
    return shares, mean


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (le, count) pairs ending at +Inf; None for no data."""
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    index = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    start, below = (0.0, 0.0) if index == 0 else buckets[index - 1]
    end, count = buckets[index]
    if count - below <= 0:
        return end
    return start + (end - start) * (rank - below) / (count - below)
