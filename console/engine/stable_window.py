"""The stable-window room: which stable window the controller compares the canary with.

Normally the current stable window. At weight 100 (stable gets no traffic), whenever the current window is
too thin for the judge, or when stable is fading at an unchanged weight (it lost over half its requests
within one window length: a scrape gap, a recording whose stable goes silent), the last FULL stable window
is carried over instead: one that met the judge's sample minimums (requests for the error checks and
latency samples for P95 and P99). With no full window yet, the last non-empty one is the fallback, so a
low-traffic service is still judged on what there is.
"""

from __future__ import annotations

from console.engine.config import Config
from console.engine.model import TrackWindow

FADING = 0.5  # a window with less than this share of the remembered one's requests is fading


class StableBaseline:
    def __init__(self, config: Config) -> None:
        judging = config.judging
        self.window_s = config.window
        self.need = max(judging.min_requests, judging.min_latency_samples_p95, judging.min_latency_samples_p99)
        self.full: TrackWindow | None = None
        self.full_at = 0.0
        self.full_weight = -1
        self.last_seen: TrackWindow | None = None

    def reset(self) -> None:
        self.full, self.full_weight, self.last_seen = None, -1, None

    def is_full(self, window: TrackWindow | None) -> bool:
        return (window is not None and window.requests >= self.need
                and window.p95 is not None and window.p99 is not None)

    def _fading(self, window: TrackWindow, weight: int, now: float) -> bool:
        return (self.full is not None and weight == self.full_weight and now - self.full_at < self.window_s
                and window.requests < FADING * self.full.requests)

    def choose(self, current: TrackWindow | None, weight: int, now: float) -> tuple[TrackWindow | None, bool]:
        """(the window to compare with, whether it was carried over from an earlier check)."""
        if current is not None and current.requests > 0 and weight < 100:
            self.last_seen = current
            if self.is_full(current) and not self._fading(current, weight, now):
                self.full, self.full_at, self.full_weight = current, now, weight
                return current, False
        if self.full is not None:
            return self.full, True
        if (current is None or current.requests <= 0) and self.last_seen is not None:
            return self.last_seen, True
        return current, False
