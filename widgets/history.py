"""Widgets room: the bounded metric history of one service (canary vs stable error rate, P95, P99 over the
rollout), fed from each RolloutStatus's metrics and read by the panel sparklines and the detail charts.
Pure data: no I/O, no Textual.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import islice

from console.engine.model import ServiceMetrics, TrackWindow

METRICS = ("error_rate", "p95", "p99")


@dataclass(frozen=True, slots=True)
class Point:
    at: float
    canary: dict[str, float | None]
    stable: dict[str, float | None]


def _values(window: TrackWindow | None) -> dict[str, float | None]:
    if window is None:
        return dict.fromkeys(METRICS)
    return {"error_rate": window.error_rate, "p95": window.p95, "p99": window.p99}


class MetricHistory:
    """The last ``size`` polls of one service; a poll seen twice (same ``at``) is stored once."""

    def __init__(self, size: int = 720) -> None:
        self.points: deque[Point] = deque(maxlen=size)

    def add(self, metrics: ServiceMetrics | None) -> bool:
        if metrics is None or (self.points and metrics.at <= self.points[-1].at):
            return False
        self.points.append(Point(metrics.at, _values(metrics.canary), _values(metrics.stable)))
        return True

    def backfill(self, windows: list[ServiceMetrics]) -> int:
        """Put past windows (oldest first) before what is already here; returns how many were taken."""
        first = self.points[0].at if self.points else float("inf")
        older = [Point(m.at, _values(m.canary), _values(m.stable)) for m in windows if m.at < first]
        room = (self.points.maxlen or len(older)) - len(self.points)
        taken = older[-room:] if room > 0 else []
        self.points.extendleft(reversed(taken))
        return len(taken)

    def series(self, metric: str, track: str, last: int | None = None) -> list[float | None]:
        """Every value, oldest first; only the ``last`` few when given (a panel's sparkline reads a dozen of
        up to 720 points: reading them all on every redraw was a good part of its cost)."""
        if last is None:
            return [getattr(p, track)[metric] for p in self.points]
        recent = [getattr(p, track)[metric] for p in islice(reversed(self.points), max(0, last))]
        recent.reverse()
        return recent

    def latest(self, metric: str, track: str) -> float | None:
        """The newest value that is not a gap (None when there is none)."""
        for point in reversed(self.points):
            value = getattr(point, track)[metric]
            if value is not None:
                return value
        return None

    def times(self) -> list[float]:
        return [p.at for p in self.points]

    def last_stable(self, metric: str) -> float | None:
        """The latest stable value seen (at weight 100 stable gets no traffic: compare with the last seen)."""
        for point in reversed(self.points):
            if point.stable[metric] is not None:
                return point.stable[metric]
        return None

    def __len__(self) -> int:
        return len(self.points)
