"""Chart back-fill: a restarted console asks for the last hour of windows (range queries) so its charts
are not blind, and merges them before the live points without duplicates or overflow."""

from __future__ import annotations

from console.engine.clock import VirtualClock
from console.engine.config import Config
from console.engine.model import ServiceMetrics, TrackWindow
from console.engine.session import Session
from console.sim import build_demo
from widgets.history import MetricHistory


def _m(at: float, errors: float = 1.0) -> ServiceMetrics:
    window = TrackWindow(requests=100, errors=errors, p95=0.1, p99=0.2)
    return ServiceMetrics(service="perception", stable=window, canary=window, at=at)


def test_backfill_goes_before_live_points_and_respects_the_bound() -> None:
    history = MetricHistory(size=5)
    history.add(_m(100.0))
    taken = history.backfill([_m(t) for t in (40.0, 60.0, 80.0, 100.0, 120.0)])
    assert taken == 3  # 100 and 120 are not older than the live point
    assert history.times() == [40.0, 60.0, 80.0, 100.0]
    assert history.backfill([_m(t) for t in (0.0, 10.0, 20.0, 30.0)]) == 1  # room for one more
    assert history.times() == [30.0, 40.0, 60.0, 80.0, 100.0]


async def test_session_backfill_asks_for_history_once_for_all_services() -> None:
    config = Config()
    clock = VirtualClock(start=1_700_000_000.0)
    world, cluster, metrics = build_demo(config, seed=7, scenario="healthy", clock=clock)
    session = Session(config, cluster, metrics, clock)
    await clock.advance(3600)
    before = metrics.queries
    history = await session.backfill(since_s=1800)
    assert set(history) == set(config.service_names)
    assert all(len(points) >= 30 for points in history.values())
    assert all(p.stable is not None and p.stable.requests > 0 for p in history["perception"])
    assert metrics.queries - before == 4  # one range query per metric, for all six services


async def test_backfill_from_a_failing_port_is_empty_and_says_why() -> None:
    class Broken:
        async def history(self, *args, **kwargs):
            raise ConnectionError("connection refused")

    config = Config()
    clock = VirtualClock()
    world, cluster, _ = build_demo(config, seed=7, scenario="healthy", clock=clock)
    session = Session(config, cluster, Broken(), clock)
    events = []
    session.bus.subscribe(events.append)
    assert await session.backfill() == {s: [] for s in config.service_names}
    assert any("back-fill failed" in e.message for e in events)
