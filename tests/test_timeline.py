"""Tests of the timeline room: parsing (errors name line and field), window sums, gaps, TimelineMetrics,
the canary-monitor.sh baseline, and the scenario generator's truth."""

from __future__ import annotations

import json
import math
import random
from statistics import NormalDist

import pytest

from console.engine.baseline import monitor_sh
from console.engine.clock import VirtualClock
from console.engine.model import Track
from console.engine.ports import Metrics
from console.engine.timeline import TimelineError, TimelineMetrics, parse_timeline, weighted_median
from tests.scenarios import SCENARIOS, STABLE_ERRORS, STABLE_P95, scenario, weight_at


def line(t, track, requests, errors, p95=0.1, p99=0.2, service="perception", **extra):
    return json.dumps({"t": t, "service": service, "track": track, "requests": requests, "errors": errors,
                       "p95": p95, "p99": p99, **extra})


def pair(t, stable=(1000, 5, 0.1, 0.2), canary=(100, 1, 0.1, 0.2)):
    return [line(t, "stable", *stable), line(t, "canary", *canary)]


@pytest.mark.parametrize("bad, lineno, field", [
    ('{"t": 30, "service": "perception", "track": "stable", "requests": 10, "errors": 1', 2, None),
    (line(30, "both", 10, 1), 2, "track"),
    (line("30", "stable", 10, 1), 2, "t"),
    (line(30, "stable", -1, 0), 2, "requests"),
    (line(30, "stable", 10, 11), 2, "errors"),
    (line(30, "stable", 10, 1, p95="fast"), 2, "p95"),
    (json.dumps({"t": 30, "service": "perception", "track": "stable", "errors": 0}), 2, "requests"),
    (json.dumps({"t": 30, "service": "", "track": "stable", "requests": 1, "errors": 0}), 2, "service"),
    (line(0, "stable", 10, 1), 2, "t"),  # a second stable sample at the same time
])
def test_a_malformed_line_names_its_number_and_field(bad, lineno, field):
    with pytest.raises(TimelineError) as caught:
        parse_timeline([line(0, "stable", 10, 1), bad])
    assert caught.value.line == lineno and caught.value.field == field
    assert f"line {lineno}" in str(caught.value)
    if field:
        assert f"'{field}'" in str(caught.value)


def test_an_empty_timeline_and_an_unreadable_file_are_errors(tmp_path):
    with pytest.raises(TimelineError, match="no samples"):
        parse_timeline(["", "  "])
    with pytest.raises(TimelineError, match="cannot read"):
        parse_timeline(tmp_path / "missing.ndjson")


def test_a_file_is_read_and_null_quantiles_and_extra_keys_are_accepted(tmp_path):
    path = tmp_path / "t.ndjson"
    path.write_text("\n".join(pair(30) + [line(60, "stable", 0, 0, None, None, note="x")]) + "\n")
    timeline = parse_timeline(str(path))
    assert timeline.services == ["perception"]
    assert timeline.series("perception", Track.STABLE).samples[-1].p95 is None


def test_the_window_sums_counts_over_its_span_and_weights_quantiles_by_requests():
    lines = []
    for t in range(30, 330, 30):
        lines += pair(t, canary=(100, 2, 0.1, 0.2))
    lines += pair(330, canary=(300, 30, 0.5, 0.9))
    metrics = parse_timeline(lines, quantiles="median").metrics("perception", 330, 300)
    # (30, 330] holds the samples at 60 … 330: nine of 100 requests and one of 300
    assert metrics.canary.requests == 9 * 100 + 300
    assert metrics.canary.errors == 9 * 2 + 30
    assert (metrics.canary.p95, metrics.canary.p99) == (0.1, 0.2)  # the median request sits in the 100s
    assert metrics.stable.requests == 10 * 1000 and metrics.problem is None
    mean = parse_timeline(lines, quantiles="mean").metrics("perception", 330, 300).canary
    assert mean.p95 == pytest.approx((900 * 0.1 + 300 * 0.5) / 1200)
    assert mean.p99 == pytest.approx((900 * 0.2 + 300 * 0.9) / 1200)
    heavy = lines + pair(360, canary=(900, 9, 0.5, 0.9))  # now most requests of the window are slow
    assert parse_timeline(heavy, quantiles="median").metrics("perception", 360, 300).canary.p95 == 0.5


def test_weighted_median_ignores_missing_values_and_weightless_samples():
    assert weighted_median([(0.3, 1), (None, 50), (0.1, 1), (9.0, 0), (0.2, 1)]) == 0.2
    assert weighted_median([(0.3, 10), (0.1, 1)]) == 0.3
    assert weighted_median([(None, 5), (0.4, 0)]) is None
    with pytest.raises(ValueError):
        parse_timeline(pair(30), quantiles="max")


def test_a_null_quantile_adds_nothing_to_the_window_quantile():
    lines = pair(30, canary=(100, 0, 0.2, 0.4)) + pair(60, canary=(0, 0, None, None))
    window = parse_timeline(lines, quantiles="median").metrics("perception", 60, 300).canary
    assert window.requests == 100 and window.p95 == pytest.approx(0.2) and window.p99 == pytest.approx(0.4)
    empty = parse_timeline(pair(30, canary=(0, 0, None, None))).metrics("perception", 30, 300).canary
    assert empty.requests == 0 and empty.p95 is None and empty.error_rate is None


def test_a_missing_line_is_no_data_and_gaps_are_checked_on_the_step_grid():
    lines = pair(30) + pair(60) + [line(90, "stable", 1000, 5)] + pair(180)
    timeline = parse_timeline(lines)
    assert timeline.step("perception") == 30
    assert timeline.times("perception") == [30, 60, 90, 120, 150, 180]
    at_90 = timeline.metrics("perception", 90, 300)
    assert at_90.canary is None and at_90.stable is not None and "canary" in at_90.problem
    at_120 = timeline.metrics("perception", 120, 300)
    assert at_120.stable is None and at_120.canary is None and "stable and canary" in at_120.problem
    # after the gap the window holds what was recorded in it, nothing invented
    assert timeline.metrics("perception", 180, 300).canary.requests == 300


async def test_timeline_metrics_is_a_metrics_port_answering_at_the_clock_time():
    clock = VirtualClock(start=30)
    metrics = TimelineMetrics(parse_timeline(pair(30) + pair(60, canary=(50, 50, 1.0, 2.0))), clock)
    assert isinstance(metrics, Metrics)
    first = await metrics.poll(["perception"], 300)
    await clock.advance(30)
    second = await metrics.poll(["perception", "capsule"], 300)
    assert first["perception"].canary.errors == 1
    assert second["perception"].canary.errors == 51 and second["perception"].at == 60
    assert second["capsule"].canary is None and second["capsule"].problem
    history = await metrics.history(["perception"], 300, since_s=30, step_s=30)
    assert [m.at for m in history["perception"]] == [30, 60]


def test_monitor_sh_trips_on_absolute_canary_errors_only_and_passes_no_data():
    quiet = []
    for t in range(30, 1230, 30):
        quiet += pair(t, canary=(100, 0, 5.0, 9.0))  # terrible latency: monitor.sh does not judge it
    assert monitor_sh(parse_timeline(quiet), "perception").outcome == "passed"
    bad = list(quiet)
    for t in range(1230, 1830, 30):
        bad += pair(t, canary=(100, 3, 0.1, 0.2))
    result = monitor_sh(parse_timeline(bad), "perception")
    assert result.outcome == "rolled_back" and result.error_rate > 0.01
    # checks every 60 s from the first sample: the first check whose 5 m window exceeds 1 %
    assert result.t == 1350 and result.checks == (1350 - 30) // 60 + 1
    silent = [line(t, "canary", 0, 0, None, None) for t in range(30, 600, 30)]
    assert monitor_sh(parse_timeline(silent), "perception").outcome == "passed"


def test_scenarios_are_deterministic_and_follow_the_default_weights():
    first, again = scenario("healthy-high").lines(), scenario("healthy-high").lines()
    assert first == again
    assert [weight_at(t) for t in (30, 900, 930, 2700, 2730, 3600, 3630, 5400)] == [10, 10, 25, 50, 75, 75, 100, 100]
    timeline = parse_timeline(first)
    for t, weight in ((600, 10), (2400, 50), (4980, 100)):
        m = timeline.metrics("perception", t, 300)
        share = m.canary.requests / (m.canary.requests + m.stable.requests)
        assert share == pytest.approx(weight / 100, abs=0.02)
    assert timeline.metrics("perception", 4980, 300).stable.requests == 0


def test_scenario_truth_shows_in_the_data():
    healthy = parse_timeline(scenario("healthy-high").lines()).metrics("perception", 2400, 300)
    assert healthy.canary.error_rate == pytest.approx(STABLE_ERRORS, abs=0.003)
    assert healthy.canary.p95 == pytest.approx(STABLE_P95, rel=0.05)
    errors = parse_timeline(scenario("errors+2pp-at-20m").lines()).metrics("perception", 2400, 300)
    assert errors.canary.error_rate == pytest.approx(STABLE_ERRORS + 0.02, abs=0.005)
    slow = parse_timeline(scenario("latency-x3-at-start").lines()).metrics("perception", 2400, 300)
    assert slow.canary.p95 == pytest.approx(3 * STABLE_P95, rel=0.1)
    tail = parse_timeline(scenario("p99-only-x2.5-at-25m").lines()).metrics("perception", 2400, 300)
    assert tail.canary.p95 == pytest.approx(STABLE_P95, rel=0.1)
    assert tail.canary.p99 / tail.stable.p99 == pytest.approx(2.5, rel=0.15)


def test_scenario_gaps_and_a_vanished_stable_track_are_missing_lines():
    gaps = parse_timeline(scenario("healthy-gaps").lines())
    assert gaps.metrics("perception", 45 * 60, 300).problem
    gone = parse_timeline(scenario("healthy-stable-gone").lines())
    assert gone.metrics("perception", 80 * 60, 300).stable is None
    assert {s.truth for s in SCENARIOS} == {"healthy", "regressed", "starved"}  # starved: issue 16
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


def _nearest_rank(draws: list[float], p: float) -> float:
    ordered = sorted(draws)
    return ordered[max(1, math.ceil(p * len(ordered) - 1e-9)) - 1]


def test_a_thin_track_reads_as_fast_as_a_busy_one_once_its_quantiles_are_levelled():
    """The 30 s null set's 'fell behind' rollbacks and reviews: one healthy service (P95 0.15 s, P99 0.25 s,
    log-normal), stable with 24 requests a step, the canary with 72. Each step's P95/P99 is the nearest rank
    of its own draws. The plain median reads the thin stable faster (the canary 'slower'); levelled, the two
    agree and the shape the judge reads off stable's P99/P95 is the real one (σ 0.75), not a narrower one."""
    rng = random.Random(16)
    sigma = math.log(0.25 / 0.15) / (NormalDist().inv_cdf(0.99) - NormalDist().inv_cdf(0.95))
    mu = math.log(0.15) - NormalDist().inv_cdf(0.95) * sigma
    lines = []
    for step in range(1, 121):
        for track, n in (("stable", 24), ("canary", 72)):
            draws = [rng.lognormvariate(mu, sigma) for _ in range(n)]
            lines.append(line(step * 10, track, n, 0, _nearest_rank(draws, 0.95), _nearest_rank(draws, 0.99)))
    plain = parse_timeline(lines, quantiles="median").metrics("perception", 1200, 1200)
    levelled = parse_timeline(lines).metrics("perception", 1200, 1200)
    assert plain.canary.p95 / plain.stable.p95 > 1.05 and plain.canary.p99 / plain.stable.p99 > 1.15
    assert levelled.canary.p95 / levelled.stable.p95 == pytest.approx(1.0, abs=0.05)
    assert levelled.canary.p99 / levelled.stable.p99 == pytest.approx(1.0, abs=0.08)
    read_shape = math.log(levelled.stable.p99 / levelled.stable.p95) / (NormalDist().inv_cdf(0.99) -
                                                                        NormalDist().inv_cdf(0.95))
    plain_shape = math.log(plain.stable.p99 / plain.stable.p95) / (NormalDist().inv_cdf(0.99) -
                                                                   NormalDist().inv_cdf(0.95))
    assert abs(read_shape - sigma) < 0.1 < abs(plain_shape - sigma)
