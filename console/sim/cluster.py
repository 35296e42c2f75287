"""SimCluster: the Cluster port over the simulated world, with call counts and failure injection for tests.

Every write first brings the world's traffic up to the clock's now, so what happened before the write is
generated with the old state. ``fail_next(op, times, error)`` makes the next calls of one operation raise;
``calls`` counts every call of every operation (including failed ones).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from console.engine.clock import Clock
from console.engine.model import RolloutRecord, ServiceSnapshot, Track
from console.engine.ports import ClusterError, LogLine
from console.sim.logs import pod_lines
from console.sim.world import SimWorld

LOG_TAIL = 10  # lines of history a follow starts with, like `kubectl logs --tail`
LOG_POLL = 1.0  # seconds of clock time between log batches


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    service: str
    reason: str
    message: str
    at: float


class SimCluster:
    def __init__(self, world: SimWorld, clock: Clock) -> None:
        self.world = world
        self.clock = clock
        self.calls: Counter[str] = Counter()
        self.records: dict[str, RolloutRecord] = {}
        self.events: list[RecordedEvent] = []
        self.call_times: dict[str, list[float]] = {}
        self._failures: dict[str, list[Exception]] = {}

    # ------------------------------------------------------------ test controls
    def fail_next(self, operation: str, times: int = 1, error: Exception | None = None) -> None:
        """The next ``times`` calls of ``operation`` (e.g. "rollback") raise ``error``."""
        error = error or ClusterError(f"simulated failure of {operation}")
        self._failures.setdefault(operation, []).extend([error] * times)

    def _enter(self, operation: str) -> float:
        self.calls[operation] += 1
        now = self.clock.now()
        self.call_times.setdefault(operation, []).append(now)
        pending = self._failures.get(operation)
        if pending:
            raise pending.pop(0)
        return now

    def _write(self, operation: str, service: str, action, *args) -> None:
        now = self._enter(operation)
        try:
            action(service, *args, now)
        except LookupError as exc:
            raise ClusterError(str(exc).strip("'\""), retryable=False, status=404) from None
        except ValueError as exc:
            raise ClusterError(str(exc), retryable=False, status=422) from None

    # ------------------------------------------------------------ the port
    async def snapshot_all(self, services: Sequence[str]) -> dict[str, ServiceSnapshot]:
        now = self._enter("snapshot_all")
        return {service: self._snapshot(service, now) for service in services}

    def _snapshot(self, service: str, now: float) -> ServiceSnapshot:
        if service not in self.world.services:
            return ServiceSnapshot(service, problem=f"no deployment for {service} in the cluster", at=now)
        stable, canary, exists, weight = self.world.versions(service)
        return ServiceSnapshot(service, stable_version=stable, canary_version=canary, canary_exists=exists,
                               weight=weight, pods=self.world.pods(service, now),
                               record=self.records.get(service), driver=None, at=now)

    async def start_canary(self, service: str, version: str, weight: int) -> None:
        self._write("start_canary", service, self.world.start_canary, version, weight)

    async def set_weight(self, service: str, weight: int) -> None:
        self._write("set_weight", service, self.world.set_weight, weight)

    async def rollback(self, service: str) -> None:
        self._write("rollback", service, self.world.scale_canary_to_zero)

    async def promote(self, service: str, version: str) -> None:
        self._write("promote", service, self.world.promote, version)

    async def delete_canary(self, service: str) -> None:
        self._write("delete_canary", service, self.world.delete_canary)

    async def save_record(self, service: str, record: RolloutRecord) -> None:
        self._enter("save_record")
        self.records[service] = record

    async def record_event(self, service: str, reason: str, message: str) -> None:
        now = self._enter("record_event")
        self.events.append(RecordedEvent(service, reason, message, now))

    async def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        """The last few lines, then new lines every second of clock time until cancelled."""
        self._enter("follow_logs")
        last = math.floor(self.clock.now())
        for line in pod_lines(self.world, service, track, last - 60, last, limit=LOG_TAIL):
            yield line
        while True:
            await self.clock.sleep(LOG_POLL)
            now = math.floor(self.clock.now())
            for line in pod_lines(self.world, service, track, last, now):
                yield line
            last = max(last, now)
