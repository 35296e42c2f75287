"""Staleness is explicit (issue 13): the stable baseline carries its age; the last full stable window is carried
over only at weight 100 and only within a bounded age (or, below 100, for at most one window while stable
merely thins); a missing stable track is no data for the checks that need it and never lets a canary pass —
live and in replay."""

from __future__ import annotations

import json

from console.engine.config import Config
from console.engine.model import TrackWindow
from console.engine.replay import replay_timeline
from console.engine.stable_window import StableBaseline

FULL = TrackWindow(27000, 135, 0.15, 0.22)


def test_a_missing_stable_track_below_100_is_no_data_not_the_last_window() -> None:
    baseline = StableBaseline(Config())
    assert baseline.choose(FULL, 10, 0) == (FULL, False)
    chosen, carried = baseline.choose(None, 10, 10)
    assert chosen is None and not carried
    silent = TrackWindow(0, 0)
    chosen, carried = baseline.choose(silent, 25, 20)
    assert chosen is silent and not carried


def test_a_thinning_stable_is_stood_in_for_one_window_at_most_and_says_how_old_the_stand_in_is() -> None:
    config = Config()
    baseline = StableBaseline(config)
    baseline.choose(FULL, 75, 0)
    thin = TrackWindow(120, 1, 0.15, None)
    chosen, carried = baseline.choose(thin, 75, 10)
    assert carried and chosen.requests == FULL.requests and chosen.age == 10
    for t in range(20, int(config.window) + 20, 10):  # checks every 10 s for one window and more
        chosen, carried = baseline.choose(thin, 75, t)
    assert chosen is thin and not carried


def test_at_100_the_carried_baseline_has_a_bounded_age() -> None:
    config = Config()
    baseline = StableBaseline(config)
    baseline.choose(FULL, 75, 0)
    chosen, carried = baseline.choose(TrackWindow(3, 0, 0.1, 0.2), 100, 10)
    assert carried and chosen.age == 10
    t = 10
    while t <= baseline.max_age:
        t += 10
        chosen, carried = baseline.choose(None, 100, t)
    assert chosen is None and not carried


def test_the_age_is_checked_time_so_a_stalled_clock_jump_does_not_age_it_at_once() -> None:
    baseline = StableBaseline(Config())
    baseline.choose(FULL, 75, 0)
    chosen, carried = baseline.choose(None, 100, 10_000)  # one check after a long gap: one capped step
    assert carried and chosen.age == 2 * Config().check_interval


def _timeline(stable_until: float, end: float = 90 * 60, step: float = 10) -> list[str]:
    lines = []
    t = step
    while t <= end:
        if t <= stable_until:
            lines.append(json.dumps({"t": t, "service": "perception", "track": "stable", "requests": 200,
                                     "errors": 0, "p95": 0.15, "p99": 0.22}))
        lines.append(json.dumps({"t": t, "service": "perception", "track": "canary", "requests": 40,
                                 "errors": 0, "p95": 0.15, "p99": 0.22}))
        t += step
    return lines


def test_replay_with_stable_lines_missing_after_minute_two_never_advances() -> None:
    healthy = replay_timeline(Config(), _timeline(stable_until=90 * 60))
    assert healthy.outcome == "promoted"  # the same timeline with stable present walks every phase
    result = replay_timeline(Config(), _timeline(stable_until=120))
    assert result.outcome != "promoted", [d.reason for d in result.decisions]
    assert not [d for d in result.decisions if d.action in ("advance", "promote") and d.t > 120 + 300]
