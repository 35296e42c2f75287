"""The runbook's `canary-monitor.sh` as a baseline to compare the policy with, on the same timelines.

The script checks every 60 s whether the canary's absolute error rate over the last 5 m exceeds 1 % and
exits 1 (the operator rolls back) the first time it does; nothing else (latency is printed, not judged; the
stable rate is read and never used). When the canary has no requests the ratio is NaN or null, which `bc`
reads as 0, so no data passes silently. Here it watches the whole timeline rather than its default 30 m,
which only gives it more chances to catch a late regression.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from console.engine.model import Track
from console.engine.timeline import Timeline


@dataclass(frozen=True, slots=True)
class BaselineResult:
    outcome: str  # rolled_back | passed
    t: float | None = None  # when it tripped
    error_rate: float | None = None  # the canary error rate that tripped it
    checks: int = 0


def monitor_sh(timeline: Timeline, service: str, *, interval: float = 60.0, window: float = 300.0,
               threshold: float = 0.01) -> BaselineResult:
    times = timeline.times(service)
    if not times:
        return BaselineResult("passed")
    canary = timeline.series(service, Track.CANARY)
    t, checks = times[0], 0
    while t <= times[-1] + 1e-9:
        checks += 1
        current = _latest_at_or_before(times, t)
        win = canary.window(current, window) if current is not None else None
        rate = win.error_rate if win is not None else None
        if rate is not None and rate > threshold:
            return BaselineResult("rolled_back", current, rate, checks)
        t += interval
    return BaselineResult("passed", checks=checks)


def _latest_at_or_before(times: list[float], t: float) -> float | None:
    """The newest scrape a query at ``t`` sees (the timeline's checks need not fall on the script's minute)."""
    i = bisect.bisect_right(times, t + 1e-9)
    return times[i - 1] if i else None
