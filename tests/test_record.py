"""Tests of record: scenario timelines turned into Prometheus counters and histograms, backfilled into a
real Prometheus TSDB with promtool, recorded back through PrometheusMetrics' range queries and replayed.
The round trip keeps the counts and the outcome; a stopped Prometheus is a MetricsError (exit 4)."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from console.adapters.prometheus import PrometheusMetrics
from console.engine.config import Config
from console.engine.ports import MetricsError
from console.adapters.record import record
from console.engine.replay import replay_async
from console.engine.timeline import parse_timeline
from tests.prom import PrometheusServer, free_port, require_prometheus
from tests.scenarios import Fault, Scenario

pytestmark = pytest.mark.prometheus

BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0)
STEP, DURATION = 30.0, 40 * 60.0
FAST = Config.model_validate({
    "window": "2m", "phases": [
        {"name": "initial", "weight": 10, "duration": "4m", "max_error_rate": 0.01},
        {"name": "early", "weight": 25, "duration": "4m", "error_rate_increase": 0.005},
        {"name": "mid", "weight": 50, "duration": "4m", "p95_increase": 0.2, "p99_increase": 0.2},
        {"name": "late", "weight": 75, "duration": "4m", "anomaly": True},
        {"name": "complete", "weight": 100, "duration": "2m"}]})
HEALTHY = Scenario("rt-healthy", "healthy", "", duration=DURATION, config=FAST, seed=31)
REGRESSED = Scenario("rt-errors", "regressed", "", duration=DURATION, config=FAST, seed=32, service="capsule",
                     faults=(Fault("errors", 0.05, 10 * 60),))


def _bucket_shares(p95: float | None, p99: float | None) -> list[float]:
    """Cumulative share of requests at or under each bucket bound: a lognormal through the step's P95/P99."""
    if p95 is None:
        return [1.0] * len(BUCKETS)
    sigma = math.log(p99 / p95) / (2.326 - 1.645) if p99 and p99 > p95 else 0.75
    mu = math.log(p95) - 1.645 * sigma
    return [0.5 * (1 + math.erf((math.log(le) - mu) / (sigma * math.sqrt(2)))) for le in BUCKETS]


def openmetrics(scenarios: list[Scenario], base: float) -> str:
    """Cumulative counters at every step (and zero at ``base``) for promtool's backfill."""
    out: list[str] = []
    for sc in scenarios:
        totals: dict[tuple[str, str], float] = {}
        by_time: dict[float, list] = {0.0: []}
        for sample in sc.samples():
            by_time.setdefault(sample.t, []).append(sample)
        for t, samples in by_time.items():
            for sample in samples:
                track = sample.track.value
                counts = {"200": sample.requests - sample.errors, "500": sample.errors, "le+Inf": sample.requests}
                counts |= {f"le{le}": round(share * sample.requests)
                           for le, share in zip(BUCKETS, _bucket_shares(sample.p95, sample.p99))}
                for key, count in counts.items():
                    totals[(track, key)] = totals.get((track, key), 0) + count
            for track in ("stable", "canary"):
                labels = f'service="{sc.service}",track="{track}"'
                for status in ("200", "500"):
                    out.append(f'http_server_requests_seconds_count{{{labels},status="{status}"}} '
                               f'{totals.get((track, status), 0):g} {base + t:.0f}')
                for le in [*BUCKETS, "+Inf"]:
                    out.append(f'http_server_requests_seconds_bucket{{{labels},le="{le}"}} '
                               f'{totals.get((track, f"le{le}"), 0):g} {base + t:.0f}')
    out.sort(key=lambda line: float(line.rsplit(" ", 1)[1]))
    return "\n".join(out) + "\n# EOF\n"


@pytest.fixture
def backfilled(tmp_path: Path):
    require_prometheus()
    promtool = shutil.which("promtool") or pytest.fail("promtool is missing (Debian's prometheus ships it)")
    base = math.floor(time.time() / STEP) * STEP - DURATION - 10 * STEP
    source = tmp_path / "input.om"
    source.write_text(openmetrics([HEALTHY, REGRESSED], base))
    server = PrometheusServer(tmp_path / "prom", targets=[f"127.0.0.1:{free_port()}"], interval="1s")
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(server.workdir / "data")],
                   check=True, capture_output=True)
    server.start()
    yield server, base
    server.stop()


async def recorded(url: str, service: str, base: float) -> list[str]:
    metrics = PrometheusMetrics(url)
    try:
        return [line async for line in record(FAST, metrics, service, DURATION, STEP, end=base + DURATION)]
    finally:
        await metrics.aclose()


async def test_record_then_replay_round_trips_through_a_real_prometheus(backfilled):
    server, base = backfilled
    # HEALTHY's recording reaches 100 % (stable silent) while the policy, slower by its holds, is still at
    # 50 %: below 100 a silent stable is no data, never the last window (issue 13), so it pauses — the safe
    # side. What this test holds is the round trip: the recorded timeline replays as the true one does.
    for sc, outcome in ((HEALTHY, "paused"), (REGRESSED, "rolled_back")):
        lines = await recorded(server.url, sc.service, base)
        timeline, truth = parse_timeline(lines), parse_timeline(sc.lines())
        assert len(timeline.samples) == len(truth.samples)
        for got, want in zip(sorted(timeline.samples, key=lambda s: (s.t, s.track)),
                             sorted(truth.samples, key=lambda s: (s.t, s.track))):
            assert (got.t, got.track) == (want.t, want.track)
            assert got.requests == pytest.approx(want.requests, abs=0.01)
            assert got.errors == pytest.approx(want.errors, abs=0.01)
            if want.requests >= 100:  # bucketed quantiles: within the bucket the true value falls in
                assert got.p95 == pytest.approx(want.p95, rel=0.35)
        direct, again = await replay_async(FAST, truth), await replay_async(FAST, timeline)
        assert direct.outcome == again.outcome == outcome, (sc.name, again.table())


async def test_record_from_a_stopped_prometheus_is_a_metrics_error():
    with pytest.raises(MetricsError):
        await recorded(f"http://127.0.0.1:{free_port()}", "perception", time.time() - DURATION)
