"""The outage room: when the cluster or Prometheus cannot be read (unreachable, unauthorized, a failed list),
and for how long. The controller holds the phase clock while the cluster cannot be read (a failing verdict
still rolls back); ``OutageWatch`` turns a stream of statuses into one line when an outage starts and one
when it ends, with its duration, for headless output. ``OutageClock`` keeps since when each has been
unreadable, for the statuses: the dashboard's outage line shows how long (widgets/outage_line.py), and the
panels the same problem text (the snapshot's and the metrics' ``problem``) while it lasts.
"""

from __future__ import annotations

from console.engine.analysis import could_not_ask
from console.engine.config import format_duration
from console.engine.model import RolloutStatus, ServiceMetrics, ServiceSnapshot


def cluster_outage(snapshot: ServiceSnapshot | None) -> str | None:
    """Why the cluster cannot be read for this service now, or None."""
    return snapshot.problem if snapshot is not None and snapshot.problem else None


def metrics_outage(metrics: ServiceMetrics | None) -> str | None:
    """Why Prometheus cannot be asked for this service now (not: it answered with no data), or None."""
    return metrics.problem if metrics is not None and could_not_ask(metrics) else None


def outage_of(status: RolloutStatus) -> str | None:
    """Why the cluster or Prometheus cannot be read for this service now, or None."""
    return cluster_outage(status.snapshot) or metrics_outage(status.metrics)


class OutageClock:
    """Since when (engine time) the cluster and Prometheus have been unreadable for one service; the
    controller feeds it every check and its statuses carry the two times (None while readable)."""

    def __init__(self) -> None:
        self.cluster_since: float | None = None
        self.metrics_since: float | None = None

    def update(self, snapshot: ServiceSnapshot | None, metrics: ServiceMetrics | None, now: float) -> None:
        down = cluster_outage(snapshot) is not None
        self.cluster_since = (self.cluster_since if self.cluster_since is not None else now) if down else None
        down = metrics_outage(metrics) is not None
        self.metrics_since = (self.metrics_since if self.metrics_since is not None else now) if down else None


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
