"""The stable-window room: which stable window the controller compares the canary with, and how old it is.

Normally the current stable window. Two cases carry the last FULL stable window over instead (one that met
the judge's sample minimums: requests for the error checks, latency samples for P95 and P99), always with
its age (``TrackWindow.age``, seconds since it was current) so the verdict can say how old its baseline is.
Age is checked time, as the phase clock counts it (at most two check intervals per check): the same as the
clock while checks run on time, and never faster than the rollout progresses on a loaded machine or a fast
simulated clock, where the bounds below would otherwise expire before the last phase could complete.

- at weight 100, where stable gets no traffic, for at most ``max_age`` (the progress deadline + the window +
  twice the last phase, 25 m by default): after that the baseline is too old to stand for today's stable;
- below 100, while the current window exists but is too thin for the judge or fading at an unchanged weight
  (it lost over half its requests within one window length), for at most one window length.

A missing stable track (no window at all) below 100 is never stood in for: it is no data for the checks that
need stable, so it holds the rollout (and pauses it at the progress deadline) instead of letting it pass
against an old baseline. Issue 13 found a canary promoted 10 → 100 with the stable track gone.
"""

from __future__ import annotations

from dataclasses import replace

from console.engine.config import Config
from console.engine.model import TrackWindow

FADING = 0.5  # a window with less than this share of the remembered one's requests is fading


class StableBaseline:
    def __init__(self, config: Config) -> None:
        judging = config.judging
        self.window_s = config.window
        # the last phase counts only checked, passing time, so it may take longer than its duration on the
        # clock: twice its duration, the window that must drain, and the progress deadline (25 m by default)
        self.max_age = config.progress_deadline + config.window + 2 * config.phases[-1].duration
        self.need = max(judging.min_requests, judging.min_latency_samples_p95, judging.min_latency_samples_p99)
        self.step_cap = 2 * config.check_interval
        self.full: TrackWindow | None = None
        self.full_at = 0.0
        self.full_weight = -1
        self.checked = 0.0  # checked time: like the phase clock, at most two check intervals per check
        self.full_checked = 0.0
        self._last_call: float | None = None

    def reset(self) -> None:
        self.full, self.full_weight = None, -1

    def is_full(self, window: TrackWindow | None) -> bool:
        return (window is not None and window.requests >= self.need
                and window.p95 is not None and window.p99 is not None)

    def _fading(self, window: TrackWindow, weight: int, now: float) -> bool:
        return (self.full is not None and weight == self.full_weight and now - self.full_at < self.window_s
                and window.requests < FADING * self.full.requests)

    def _carried(self, limit: float) -> TrackWindow | None:
        age = self.checked - self.full_checked
        if self.full is None or age > limit:
            return None
        return replace(self.full, age=age)

    def choose(self, current: TrackWindow | None, weight: int, now: float) -> tuple[TrackWindow | None, bool]:
        """(the window to compare with, whether it was carried over from an earlier check)."""
        if self._last_call is not None:
            self.checked += min(max(0.0, now - self._last_call), self.step_cap)
        self._last_call = now
        if weight >= 100:
            carried = self._carried(self.max_age)
            return (carried, True) if carried is not None else (current, False)
        if current is None:
            return None, False  # a missing track is no data, never the last window
        if current.requests > 0 and self.is_full(current) and not self._fading(current, weight, now):
            self.full, self.full_at, self.full_weight, self.full_checked = current, now, weight, self.checked
            return current, False
        if current.requests > 0:
            carried = self._carried(self.window_s)
            if carried is not None:
                return carried, True
        return current, False
