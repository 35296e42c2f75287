"""The phase-evidence room: disjoint analysis windows banked during one phase, pooled when one window alone
is too thin to judge.

A quiet service (say 2 canary rps at 10 %) never has enough requests in one 5-minute window to show that
its canary is within the limits, so it would stall at 10 % for ever. But a phase lasts 15 minutes: three
disjoint windows of the same weight are three independent samples of the same canary. Every `window`
seconds after the phase began, the controller banks the current canary window and the stable window it
compared with; when the current window's verdict is inconclusive only for lack of samples, the judge is
asked again on the pooled bank (counts summed, quantiles request-weighted). Banked windows never overlap,
so the pooled counts are honest sample sizes. docs/judging.md, "Pooling a phase's windows", says more.
"""

from __future__ import annotations

from console.engine.model import TrackWindow

MAX_BANKED = 12  # an hour of 5-minute windows: a phase held longer than that pools its latest hour


def _pool(windows: list[TrackWindow]) -> TrackWindow:
    requests = sum(w.requests for w in windows)

    def weighted(attribute: str) -> float | None:
        pairs = [(getattr(w, attribute), w.requests) for w in windows if getattr(w, attribute) is not None]
        weight = sum(n for _, n in pairs)
        return sum(q * n for q, n in pairs) / weight if weight > 0 else None

    return TrackWindow(requests=requests, errors=sum(w.errors for w in windows), p95=weighted("p95"),
                       p99=weighted("p99"), seconds=sum(w.seconds for w in windows))


class PhaseEvidence:
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._started = 0.0
        self._last_banked: float | None = None
        self._banked: list[tuple[TrackWindow, TrackWindow]] = []

    def reset(self, now: float) -> None:
        """A new phase (or a resumed one): windows from before now were of another weight or of unknown age."""
        self._started, self._last_banked, self._banked = now, None, []

    @property
    def count(self) -> int:
        return len(self._banked)

    def offer(self, canary: TrackWindow | None, stable: TrackWindow | None, now: float) -> None:
        """Bank this check's windows if a whole window has passed since the phase began and since the last
        banked one (so banked windows are disjoint and all of this phase's weight)."""
        since = self._started if self._last_banked is None else self._last_banked
        if now - since < self.window_s or canary is None or stable is None:
            return
        if canary.requests <= 0 or stable.requests <= 0:
            return
        self._banked.append((canary, stable))
        del self._banked[:-MAX_BANKED]
        self._last_banked = now

    def pooled(self) -> tuple[TrackWindow, TrackWindow] | None:
        """(canary, stable) pooled over the banked windows, or None until two are banked."""
        if len(self._banked) < 2:
            return None
        return _pool([c for c, _ in self._banked]), _pool([s for _, s in self._banked])
