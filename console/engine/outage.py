"""The outage room: when the cluster or Prometheus cannot be read (unreachable, unauthorized, a failed list),
and for how long. The controller holds the phase clock while the cluster cannot be read (a failing verdict
still rolls back); ``OutageWatch`` turns a stream of statuses into one line when an outage starts and one
when it ends, with its duration, for headless output. The dashboard's panels show the same problem text
(the snapshot's and the metrics' ``problem``) while it lasts.
"""

from __future__ import annotations

from console.engine.analysis import could_not_ask
from console.engine.config import format_duration
from console.engine.model import RolloutStatus


def outage_of(status: RolloutStatus) -> str | None:
    """Why the cluster or Prometheus cannot be read for this service now, or None."""
    snap, metrics = status.snapshot, status.metrics
    if snap is not None and snap.problem:
        return snap.problem
    if metrics is not None and could_not_ask(metrics):
        return metrics.problem
    return None


class OutageWatch:
    """Feed it every status of one service; it answers a line only when an outage starts or ends."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.reason: str | None = None

    def update(self, status: RolloutStatus, now: float) -> str | None:
        reason = outage_of(status)
        if reason and self.since is None:
            self.since, self.reason = now, reason
            return f"outage started: {reason} — the phase clock holds"
        if reason is None and self.since is not None:
            lasted, self.since, self.reason = now - self.since, None, None
            return f"outage ended after {format_duration(lasted)}"
        return None
