"""The traffic-share room: does the canary really serve the share of requests its weight asks for?

The runbook's "Canary not receiving traffic": a canary that serves 0 % or 1 % of requests while its weight
says 25 % (a broken route, a canary Service without endpoints) is judged on whatever trickles through and
must never be advanced past a phase it has not really served. The observed share is canary / all requests;
it is short when a confidence sequence for it (console/engine/sequential.py, at SHARE_ALPHA) lies wholly
below half the weight — noise-aware, so a quiet service with 20 requests is never called short, and valid
however often it is looked at, so the controller can test the counts gathered since the phase began (the
first check after a weight change left out) on every check.

A short share is a ``traffic_share`` check that is insufficient_data (it holds the phase clock, so nothing
advances, and after the progress deadline the rollout pauses with this reason) and a named problem on the
verdict. In replay (``analysis.traffic_share: report``) recorded traffic does not follow the replayed
weights: the share is only reported, never holds.
"""

from __future__ import annotations

from console.engine.binomial import counts
from console.engine.model import Action, Check, CheckResult, TrackWindow
from console.engine.sequential import confidence_sequence

SHARE_ALPHA = 0.001  # a false "canary not receiving traffic" is rare and costs a hold, not a rollback
SHARE_TOLERANCE = 0.5  # short means below half the weight's share (ramps and sticky sessions stay clear)


def share_check(canary: float, stable: float, weight: int, *, enforce: bool = True) -> tuple[Check, bool | None]:
    """The ``traffic_share`` check on (canary, stable) request counts at ``weight`` percent, and whether
    it is short (None when too few requests to tell)."""
    n_c, n_s = counts(canary, 0)[0], counts(stable, 0)[0]
    total = n_c + n_s
    expected = weight / 100
    floor = expected * SHARE_TOLERANCE
    observed = n_c / total if total else 0.0
    said = f"canary serves {observed * 100:.1f} % of requests at weight {weight} %"
    if total == 0:
        return Check("traffic_share", CheckResult.PASS, None, None, floor, "no requests on either track",
                     Action.MANUAL_REVIEW), None
    high = 1.0 if observed >= floor else confidence_sequence(n_c, total, SHARE_ALPHA)[1]
    if high >= floor:
        detail = "" if observed >= floor else f" (too few requests to call it short: {total})"
        return Check("traffic_share", CheckResult.PASS, observed, expected, floor, f"{said}{detail}",
                     Action.MANUAL_REVIEW, observed), False
    reason = f"{said} — check the route and the canary Service's endpoints"
    if not enforce:
        return Check("traffic_share", CheckResult.PASS, observed, expected, floor,
                     f"{said} (recorded traffic does not follow the replayed weights: reported, not held)",
                     Action.MANUAL_REVIEW, observed), None
    return Check("traffic_share", CheckResult.INSUFFICIENT_DATA, observed, expected, floor, reason,
                 Action.MANUAL_REVIEW, observed), True


class ShareTracker:
    """Requests of both tracks since the phase began, from each check's increment (or, when the source gives
    no increments, from the window once a whole window of this phase has passed)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.canary = 0.0
        self.stable = 0.0
        self._started = 0.0
        self._checks = 0

    def reset(self, now: float) -> None:
        self.canary = self.stable = 0.0
        self._started, self._checks = now, 0

    def offer(self, now: float, recent: tuple[TrackWindow | None, TrackWindow | None] | None,
              window: tuple[TrackWindow | None, TrackWindow | None]) -> tuple[float, float] | None:
        """Add this check; the (canary, stable) counts to judge the share on, or None for "not yet"."""
        self._checks += 1
        if recent is not None:
            if self._checks == 1:
                return None  # this increment straddles the weight change
            canary, stable = recent
            self.canary += canary.requests if canary is not None else 0.0
            self.stable += stable.requests if stable is not None else 0.0
            return self.canary, self.stable
        if now - self._started < self.window_s:
            return None  # the window still holds the previous weight's traffic
        canary, stable = window
        return (canary.requests if canary is not None else 0.0), (stable.requests if stable is not None else 0.0)
