"""Pooling a phase's disjoint windows: a quiet service's healthy canary gets judged on the phase's evidence
instead of stalling at 10 %, and pooling never papers over missing data."""

import pytest

from console.engine.evidence import PhaseEvidence
from console.engine.model import EventKind, State, TrackWindow
from tests.test_controller import of, started, weights


def _w(requests: float, errors: float = 0.0, p95: float = 0.15) -> TrackWindow:
    return TrackWindow(requests=requests, errors=errors, p95=p95, p99=p95 * 1.4)


def test_banked_windows_are_disjoint_and_of_this_phase_only() -> None:
    evidence = PhaseEvidence(300.0)
    evidence.reset(1000.0)
    for t in range(1000, 2260, 10):  # a check every 10 s for 21 minutes
        evidence.offer(_w(600, 3), _w(5400, 27), float(t))
    assert evidence.count == 4  # at +300, +600, +900, +1200: never two within one window
    canary, stable = evidence.pooled()
    assert canary.requests == 2400 and canary.errors == 12 and canary.seconds == 1200
    assert stable.requests == 21600
    evidence.reset(2300.0)
    assert evidence.count == 0 and evidence.pooled() is None


def test_pooled_quantiles_are_request_weighted() -> None:
    evidence = PhaseEvidence(60.0)
    evidence.reset(0.0)
    evidence.offer(_w(100, p95=0.1), _w(1000), 60.0)
    evidence.offer(_w(300, p95=0.2), _w(1000), 120.0)
    canary, _ = evidence.pooled()
    assert canary.p95 == pytest.approx((100 * 0.1 + 300 * 0.2) / 400)


def test_empty_windows_are_not_banked() -> None:
    evidence = PhaseEvidence(300.0)
    evidence.reset(0.0)
    evidence.offer(None, _w(100), 300.0)
    evidence.offer(_w(0), _w(100), 600.0)
    assert evidence.count == 0


async def test_a_quiet_healthy_canary_advances_on_pooled_windows() -> None:
    """20 rps in all: 2 canary rps at 10 %, 600 requests a window — too few for one window to show the
    canary within the initial phase's 1 % absolute limit, enough over the phase's pooled windows."""
    session, cluster, _metrics, _clock, events, rig = await started(2400, rps=20.0)
    await rig.close()
    controller = session.controllers["perception"]
    assert weights(cluster)[:2] == [10, 25], controller.reason
    pooled = [e for e in of(events, EventKind.VERDICT) if "windows (" in e.message]
    assert pooled and pooled[0].data["verdict"]["verdict"] == "pass"
    assert controller.state is not State.PAUSED


async def test_pooling_does_not_hide_an_outage() -> None:
    """Metrics gone for good: old banked windows must not pass anything; the rollout pauses."""
    session, cluster, _metrics, _clock, events, rig = await started(3000, rps=20.0, gaps=[(700.0, 10_000.0)])
    await rig.close()
    controller = session.controllers["perception"]
    assert controller.state is State.PAUSED
    assert weights(cluster) == [10]
    assert "no usable data" in controller.reason
