"""Test room: an in-memory Cluster and Metrics for engine tests (controller, session, and anyone else's).

FakeCluster keeps each service's weight, versions, pods and saved RolloutRecord in memory, counts every
call per operation, logs every write, and can be told to fail the next N calls of an operation.
FakeMetrics computes analysis windows from the cluster's weight history: each track's requests, errors
and latency over (t − window, t] are integrals of piecewise-constant traffic, so a fault that starts at
some weight shows in the window gradually, exactly as increase()[5m] would show it. Deterministic: no
randomness, counts are expected values.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from console.engine.model import Pod, RolloutRecord, ServiceMetrics, ServiceSnapshot, Track, TrackWindow
from console.engine.ports import ClusterError, LogLine, MetricsError


@dataclass
class FakeService:
    stable_version: str = "1.2.3"
    canary_version: str | None = None
    weight: int = 0
    canary_replicas: int = 0
    canary_created_at: float | None = None
    canary_restarts: int = 0
    canary_deployment: bool = True  # False: someone deleted the canary Deployment but not its route
    record: RolloutRecord | None = None
    driver: str | None = None
    stable_paused: bool = False  # `kubectl rollout pause` on the stable Deployment: a promote waits for it
    pods_linger: bool = False  # a canary scaled to 0 keeps its Ready pod (a busy ReplicaSet controller)
    weights: list[tuple[float, int]] = field(default_factory=lambda: [(float("-inf"), 0)])


class FakeCluster:
    """ports.Cluster in memory. ``ready_after`` seconds after start_canary the canary pod is Ready."""

    def __init__(self, clock, services: Sequence[str], *, ready_after: float = 0.0,
                 identity: str | None = None) -> None:
        self.clock = clock
        self.ready_after = ready_after
        self.services = {name: FakeService() for name in services}
        self.calls: Counter[str] = Counter()
        self.writes: list[tuple[float, str, str, object]] = []  # (time, operation, service, argument)
        self.events: list[tuple[str, str, str]] = []
        self.logs: list[LogLine] = []
        self.attempts: list[tuple[float, str, str]] = []  # (time, operation, service) of every write tried
        self._failures: dict[str, list[Exception]] = {}
        if identity is not None:
            self.identity = identity

    async def take_over(self, service: str) -> None:
        """Like KubeCluster.take_over: this console's identity becomes the service's driver."""
        self._enter("take_over")
        self.services[service].driver = getattr(self, "identity", None)

    def fail_next(self, operation: str, times: int = 1, error: Exception | None = None) -> None:
        """The next ``times`` calls of ``operation`` raise ``error`` (a retryable ClusterError by default)."""
        error = error or ClusterError(f"{operation}: injected failure (HTTP 500)", status=500)
        self._failures.setdefault(operation, []).extend([error] * times)

    def _enter(self, operation: str) -> None:
        self.calls[operation] += 1
        pending = self._failures.get(operation)
        if pending:
            raise pending.pop(0)

    def _write(self, operation: str, service: str, argument: object = None) -> FakeService:
        self.attempts.append((self.clock.now(), operation, service))
        self._enter(operation)
        if service not in self.services:
            raise ClusterError(f"{operation}: no such service {service!r}", retryable=False, status=404)
        self.writes.append((self.clock.now(), operation, service, argument))
        return self.services[service]

    def _set_weight(self, svc: FakeService, weight: int) -> None:
        svc.weight = weight
        svc.weights.append((self.clock.now(), weight))

    def weight_changes(self, service: str) -> list[tuple[float, int]]:
        """(time, weight) of every weight write after the first, for assertions on timing."""
        return [(t, w) for t, w in self.services[service].weights[1:]]

    # ports.Cluster ------------------------------------------------------------------------------------

    async def snapshot_all(self, services: Sequence[str]) -> dict[str, ServiceSnapshot]:
        self._enter("snapshot_all")
        now = self.clock.now()
        return {name: self._snapshot(name, now) for name in services if name in self.services}

    def _snapshot(self, name: str, now: float) -> ServiceSnapshot:
        svc = self.services[name]
        pods = [Pod(f"{name}-stable-{i}", Track.STABLE, True) for i in range(3)]
        if (svc.canary_replicas or svc.pods_linger) and svc.canary_created_at is not None and svc.canary_deployment:
            ready = now - svc.canary_created_at >= self.ready_after
            pods.append(Pod(f"{name}-canary-0", Track.CANARY, ready, "Running" if ready else "Pending",
                            restarts=svc.canary_restarts))
        return ServiceSnapshot(service=name, stable_version=svc.stable_version,
                               canary_version=svc.canary_version, canary_exists=svc.canary_version is not None,
                               weight=svc.weight, pods=tuple(pods), record=svc.record, driver=svc.driver,
                               canary_deployment=svc.canary_version is not None and svc.canary_deployment,
                               canary_replicas=svc.canary_replicas if svc.canary_version is not None
                               and svc.canary_deployment else None, stable_paused=svc.stable_paused, at=now)

    async def start_canary(self, service: str, version: str, weight: int) -> None:
        svc = self._write("start_canary", service, (version, weight))
        svc.canary_version, svc.canary_replicas = version, 1
        svc.canary_created_at, svc.canary_restarts = self.clock.now(), 0
        self._set_weight(svc, weight)

    async def set_weight(self, service: str, weight: int) -> None:
        self._set_weight(self._write("set_weight", service, weight), weight)

    async def rollback(self, service: str) -> None:
        svc = self._write("rollback", service)
        svc.canary_replicas = 0
        self._set_weight(svc, 0)

    async def promote(self, service: str, version: str) -> None:
        svc = self._write("promote", service, version)
        while svc.stable_paused:  # like the adapter: a paused stable Deployment cannot roll, so the promote waits
            await self.clock.sleep(1.0)
        svc.stable_version, svc.canary_version, svc.canary_replicas = version, None, 0
        self._set_weight(svc, 0)

    async def delete_canary(self, service: str) -> None:
        svc = self._write("delete_canary", service)
        svc.canary_version, svc.canary_replicas, svc.record = None, 0, None
        self._set_weight(svc, 0)

    async def save_record(self, service: str, record: RolloutRecord) -> None:
        self._write("save_record", service, record).record = record

    async def record_event(self, service: str, reason: str, message: str) -> None:
        self.attempts.append((self.clock.now(), "record_event", service))
        self._enter("record_event")
        self.events.append((service, reason, message))

    async def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        for line in self.logs:
            if track is None or line.track == track:
                yield line
        await asyncio.sleep(0)

    def writes_of(self, operation: str, service: str | None = None) -> list[tuple[float, object]]:
        return [(t, arg) for t, op, svc, arg in self.writes if op == operation and service in (None, svc)]


@dataclass(frozen=True)
class Traffic:
    """One track's behaviour while a segment lasts: error fraction and latency quantiles."""

    error_rate: float = 0.005
    p95: float = 0.15
    p99: float = 0.22


Fault = Callable[[float, int], Traffic]  # (time, weight) → the canary's behaviour


def healthy(_t: float, _weight: int) -> Traffic:
    return Traffic()


class FakeMetrics:
    """ports.Metrics over a FakeCluster's weight history. ``rps`` is the service's total request rate.

    ``canary`` maps service → a Fault (time, weight → Traffic) for the canary track; stable always behaves
    as ``Traffic()``. ``gaps`` are (start, end) intervals in which every poll returns no data.
    """

    def __init__(self, cluster: FakeCluster, *, rps: float = 100.0, canary: dict[str, Fault] | None = None,
                 gaps: Sequence[tuple[float, float]] = (), stable: Traffic = Traffic(),
                 resolution: float = 1.0) -> None:
        self.cluster = cluster
        self.rps = rps
        self.canary = canary or {}
        self.gaps = list(gaps)
        self.stable = stable
        self.resolution = resolution
        self.polls: list[tuple[float, dict[str, ServiceMetrics]]] = []
        self.fail_polls = 0

    async def poll(self, services: Sequence[str], window_s: float,
                   extras: dict[str, dict[str, str]] | None = None) -> dict[str, ServiceMetrics]:
        if self.fail_polls:
            self.fail_polls -= 1
            raise MetricsError("connection refused")
        now = self.cluster.clock.now()
        result = {name: self.window(name, now, window_s) for name in services}
        self.polls.append((now, result))
        return result

    async def history(self, services: Sequence[str], window_s: float, since_s: float,
                      step_s: float) -> dict[str, list[ServiceMetrics]]:
        now = self.cluster.clock.now()
        steps = int(since_s // step_s)
        return {name: [self.window(name, now - i * step_s, window_s) for i in range(steps, -1, -1)]
                for name in services}

    def window(self, service: str, t_end: float, seconds: float) -> ServiceMetrics:
        if any(start <= t_end < end for start, end in self.gaps):
            return ServiceMetrics(service, problem="no data: scrape gap", at=t_end)
        fault = self.canary.get(service, healthy)
        totals = {Track.STABLE: [0.0, 0.0, 0.0, 0.0, 0.0], Track.CANARY: [0.0, 0.0, 0.0, 0.0, 0.0]}
        for start, end, weight in self._segments(service, t_end - seconds, t_end):
            canary_requests = self.rps * (end - start) * weight / 100.0
            shares = ((Track.STABLE, self.rps * (end - start) - canary_requests, self.stable),
                      (Track.CANARY, canary_requests, fault(start, weight)))
            for track, requests, traffic in shares:
                acc = totals[track]
                acc[0] += requests
                acc[1] += requests * traffic.error_rate
                acc[2] += requests * traffic.p95
                acc[3] += requests * traffic.p99
        stable, canary = (self._track_window(totals[track], seconds) for track in (Track.STABLE, Track.CANARY))
        return ServiceMetrics(service, stable=stable, canary=canary, at=t_end)

    @staticmethod
    def _track_window(acc: list[float], seconds: float) -> TrackWindow:
        requests, errors = acc[0], acc[1]
        if requests <= 0:
            return TrackWindow(0.0, 0.0, None, None, seconds)
        return TrackWindow(requests, errors, acc[2] / requests, acc[3] / requests, seconds)

    def _segments(self, service: str, start: float, end: float) -> list[tuple[float, float, int]]:
        """Piecewise-constant weight over (start, end], cut every ``resolution`` s so faults see their time."""
        history = self.cluster.services[service].weights
        pieces: list[tuple[float, float, int]] = []
        for i, (t, weight) in enumerate(history):
            t_next = history[i + 1][0] if i + 1 < len(history) else math.inf
            lo, hi = max(t, start), min(t_next, end)
            while lo < hi:
                cut = min(hi, (math.floor(lo / self.resolution) + 1) * self.resolution)
                pieces.append((lo, cut, weight))
                lo = cut
        return pieces


class Rig:
    """Runs ``session.run()`` in a task while a VirtualClock drives time: ``await rig.until(t)``."""

    def __init__(self, session, clock) -> None:
        self.session, self.clock = session, clock
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def until(self, t: float) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.session.run(self.stop))
        await self.clock.run_until(t)

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            while not self.task.done():  # a step may be waiting on the clock: let time pass until it ends
                await self.clock.advance(1.0)
            await self.task
        await self.session.aclose()


def as_asked(verdict, config=None, service: str = "perception"):
    """``verdict`` with each check's query as a metrics adapter fills it (the judge writes none): the config's
    templates for ``service`` and its own checks, through console.engine.catalog.explain."""
    from console.engine.catalog import METRIC_NAMES, explain
    from console.engine.config import Config, format_duration

    config = config or Config()
    templates = {name: getattr(config.prometheus.queries, name) for name in METRIC_NAMES}
    extras = {c.name: c.query for s in config.services if s.name == service for c in s.checks}
    return verdict.explained(explain(templates, service, format_duration(config.window), extras))
