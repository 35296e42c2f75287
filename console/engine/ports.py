"""The two ports the engine acts through: Cluster (Kubernetes, or the simulated world) and Metrics
(Prometheus, the simulated world, or a recorded timeline).

The controller and the session only ever see these Protocols; the real adapters live in
`console/adapters`, the simulated ones in `console/sim`, the recorded one in `console/engine/replay.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from console.engine.model import LogLine, Problem, RolloutRecord, ServiceMetrics, ServiceSnapshot, Track
from console.engine.protocols import Checked, Closable, identity_of

_BY_STATUS = {401: Problem.UNAUTHORIZED, 403: Problem.FORBIDDEN, 429: Problem.UNREACHABLE}


def problem_for_status(status: int | None) -> Problem:
    """The kind of problem an HTTP status means: 401/403 refused, 429 and 5xx the server's side (as if
    unreachable), another status a refusal of this request, no status a failure of its own."""
    if status is None:
        return Problem.FAILED
    return _BY_STATUS.get(status) or (Problem.UNREACHABLE if status >= 500 else Problem.REJECTED)


class ClusterError(Exception):
    """A cluster write or read that failed. ``retryable`` says whether trying again may help; ``problem``
    what kind of failure it is (from ``status`` unless the adapter says)."""

    def __init__(self, message: str, *, retryable: bool = True, status: int | None = None,
                 problem: Problem | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.problem = problem or problem_for_status(status)


class ClusterConfigError(ClusterError):
    """The cluster's configuration cannot be used as it is (the command line exits 2 on it, not 4)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class MetricsError(Exception):
    """Prometheus could not be asked (unreachable, timeout, bad answer); ``problem`` says which."""

    def __init__(self, message: str, *, problem: Problem = Problem.UNREACHABLE) -> None:
        super().__init__(message)
        self.problem = problem


def problem_of(exc: BaseException) -> Problem:
    """The kind of problem an exception from a port is; anything a port did not type is a failure."""
    problem = getattr(exc, "problem", None)
    return problem if isinstance(problem, Problem) else Problem.FAILED


class ReadOnlyError(ClusterError):
    """A write was attempted by a console that may not write (read-only, or another console drives)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@runtime_checkable
class Cluster(Protocol):
    """What the console needs from Kubernetes. Every write names the service it concerns."""

    async def snapshot_all(self, services: Sequence[str]) -> dict[str, ServiceSnapshot]:
        """Pods per track, versions, canary weight and the persisted rollout record of every service."""
        ...

    async def start_canary(self, service: str, version: str, weight: int) -> None:
        """Create the canary Deployment (1 replica), its Service and its Ingress at ``weight``."""
        ...

    async def set_weight(self, service: str, weight: int) -> None: ...

    async def rollback(self, service: str) -> None:
        """Weight 0 and the canary scaled to 0, at once."""
        ...

    async def promote(self, service: str, version: str) -> None:
        """Set the stable image to ``version``, wait for its rollout, delete the canary resources."""
        ...

    async def delete_canary(self, service: str) -> None:
        """Delete the canary Deployment, Service and Ingress (a separate, confirmed step after rollback)."""
        ...

    async def save_record(self, service: str, record: RolloutRecord) -> None:
        """Persist the rollout's state where a restarted console will find it."""
        ...

    async def record_event(self, service: str, reason: str, message: str) -> None:
        """Leave an audit Event on the canary Ingress (best effort)."""
        ...

    def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        """Follow the logs of the service's pods (both tracks unless one is named)."""
        ...


class ReadOnlyCluster:
    """A Cluster for the commands that only read (status, analyze, the read-only dashboard): it has the
    reading half of the port and no write method at all, so no code path can write through it."""

    read_only = True

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self.identity = identity_of(cluster)

    async def snapshot_all(self, services: Sequence[str]) -> dict[str, ServiceSnapshot]:
        return await self._cluster.snapshot_all(services)

    def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        return self._cluster.follow_logs(service, track)

    async def check(self) -> None:
        if isinstance(self._cluster, Checked):
            await self._cluster.check()

    async def aclose(self) -> None:
        if isinstance(self._cluster, Closable):
            await self._cluster.aclose()


@runtime_checkable
class Metrics(Protocol):
    """What the console needs from Prometheus."""

    async def poll(self, services: Sequence[str], window_s: float,
                   extras: dict[str, dict[str, str]] | None = None) -> dict[str, ServiceMetrics]:
        """One analysis window for every service and both tracks, in one query per metric.

        ``extras`` maps service → {check name: PromQL} for service-specific checks. A service whose data
        could not be had gets a ServiceMetrics with ``problem`` set, never an exception.
        """
        ...

    async def history(self, services: Sequence[str], window_s: float, since_s: float,
                      step_s: float) -> dict[str, list[ServiceMetrics]]:
        """Back-fill for charts: windows at every step over the last ``since_s`` seconds."""
        ...
