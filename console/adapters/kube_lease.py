"""One driver per service: a coordination.k8s.io/v1 Lease `canary-console-<service>` names the console
that may write for the service. A console takes a free or expired lease at its first write, renews it every
third of its duration, and the moment another console holds it refuses every write for that service
(ReadOnlyError) until it holds the lease again; ``take_over`` is the explicit, confirmed way to take a live
lease from another console. Conflicts (409) re-read the Lease and try again.

Expiry is judged by locally observed time, as client-go's leader election does: a lease record (holder,
renewTime, acquireTime, transitions, duration) is expired only when it has not changed for its duration by
this console's own monotonic clock since this console first saw it so (a console waiting to take a Lease over
watches the Leases, so it sees each renewal when it happens, not at its next check). A console whose clock runs ahead
therefore cannot take a live lease (issue 13 found two consoles both writing weight 25 with 30 s of skew).
One exception keeps a new console from waiting a whole lease on a long-dead holder: a record renewed more
than its duration plus ``SKEW_TOLERANCE`` (5 minutes) ago by our wall clock is expired at once, so only
clocks more than 5 minutes apart could still take a live lease.

A renewal that fails (a slow or failing API server) stops every write except a rollback, which is allowed
for as long as the lease is still legitimately ours (renewed less than its duration ago): a flaky Lease
endpoint must not keep the driver from taking traffic off a failing canary. Lease requests are bounded by a
third of the lease duration, so a slow server cannot hold a renewal past the next one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from console.adapters.kube_api import Conflict, KubeApi, NotFound
from console.adapters.kube_objects import micro_time, parse_time
from console.engine.ports import ClusterError, ReadOnlyError

LEASE_PREFIX = "canary-console-"
SKEW_TOLERANCE = 300.0  # a renewTime older than duration + this by our wall clock is dead without waiting


@dataclass
class Holding:
    renewed_at: float = 0.0
    lost: str | None = None  # why we may no longer write, or None while the lease is ours
    failing: str | None = None  # the last renewal failed: only a rollback may still write, until expiry


def _record_key(lease: dict[str, Any] | None) -> tuple[Any, ...]:
    spec = (lease or {}).get("spec") or {}
    return tuple(spec.get(k) for k in ("holderIdentity", "renewTime", "acquireTime", "leaseTransitions",
                                       "leaseDurationSeconds"))


class LeaseKeeper:
    def __init__(self, api: KubeApi, namespace: str, identity: str, seconds: float) -> None:
        self.api = api
        self.namespace = namespace
        self.identity = identity
        self.seconds = seconds
        self.held: dict[str, Holding] = {}
        self._lock = asyncio.Lock()
        self.rounds = 0
        self.renewed = asyncio.Condition()
        self._observed: dict[str, tuple[tuple[Any, ...], float]] = {}  # service → (record, local time seen)

    def _local(self) -> float:
        """This console's own monotonic time (the test clocks' time where a test drives the clock)."""
        clock = self.api.clock
        return time.monotonic() if type(clock).__name__ == "RealClock" else clock.now()

    def observed_holder(self, service: str, lease: dict[str, Any] | None) -> tuple[str | None, float]:
        """(who holds the lease, seconds it has left) judged by local time: the record must have stood
        unchanged for its whole duration, as this console observed it, before it counts as expired."""
        spec = (lease or {}).get("spec") or {}
        holder = spec.get("holderIdentity")
        if not holder:
            self._observed.pop(service, None)
            return None, 0.0
        key, now = _record_key(lease), self._local()
        seen = self._observed.get(service)
        if seen is None or seen[0] != key:
            seen = self._observed[service] = (key, now)
        duration = float(spec.get("leaseDurationSeconds") or 0)
        left = duration - (now - seen[1])
        renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
        if renewed is not None and renewed + duration + SKEW_TOLERANCE < self.api.clock.now():
            left = 0.0  # renewed so long ago that no plausible clock skew keeps it alive: no need to wait
        return (holder, left) if left > 0 or holder == self.identity else (None, 0.0)

    def observe(self, lease: dict[str, Any]) -> None:
        """A Lease as the Lease watch delivers it, the moment it changes: its record's local clock starts
        now, not at the next snapshot (up to a check later), so its expiry is judged from its renewal."""
        name = str(((lease or {}).get("metadata") or {}).get("name") or "")
        if name.startswith(LEASE_PREFIX):
            self.observed_holder(name[len(LEASE_PREFIX):], lease)

    def name(self, service: str) -> str:
        return LEASE_PREFIX + service

    def path(self, service: str = "") -> str:
        base = f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"
        return f"{base}/{self.name(service)}" if service else base

    async def ensure(self, service: str, *, rollback: bool = False) -> None:
        """Return when this console may write for ``service``; raise ReadOnlyError when it may not. A
        rollback may still write while a renewal is failing, as long as the lease has not expired."""
        holding = self.held.get(service)
        now = self.api.clock.now()
        if holding and holding.lost:
            raise ReadOnlyError(f"read-only: {holding.lost}")
        if holding and holding.failing and not rollback and now - holding.renewed_at < self.seconds:
            raise ReadOnlyError(f"read-only: {holding.failing}")
        if holding and now - holding.renewed_at < self.seconds:
            return
        if holding:  # the renewal loop fell behind: the lease may have expired under us
            holding.lost = f"the lease on {service} was not renewed in time; take over to drive again"
            raise ReadOnlyError(f"read-only: {holding.lost}")
        async with self._lock:
            await self._acquire(service, force=False)

    async def take_over(self, service: str) -> None:
        """Take the service's lease whoever holds it (the user confirmed)."""
        async with self._lock:
            await self._acquire(service, force=True)

    async def _acquire(self, service: str, *, force: bool) -> None:
        async def attempt() -> None:
            now = self.api.clock.now()
            try:
                lease = await self.api.call("GET", self.path(service))
            except NotFound:
                try:
                    await self.api.call("POST", self.path(), body=self._lease(service, None, now))
                except Conflict as exc:
                    if not exc.exists:
                        raise
                    # another console created it between our read and our create: read it again, so the
                    # refusal names the console that won (a stale-read conflict, retried by with_conflicts)
                    raise Conflict(str(exc), exists=False) from None
                self.held[service] = Holding(renewed_at=now)
                return
            holder, left = self.observed_holder(service, lease)
            if holder and holder != self.identity and not force:
                raise ReadOnlyError(f"read-only: {holder} drives {service} (lease expires in "
                                    f"{max(0, int(left + 0.999))}s unless renewed); take over to drive it")
            await self.api.call("PUT", self.path(service), body=self._lease(service, lease, now))
            self.held[service] = Holding(renewed_at=now)

        await self.api.with_conflicts(attempt)

    def _lease(self, service: str, old: dict[str, Any] | None, now: float) -> dict[str, Any]:
        spec = dict((old or {}).get("spec") or {})
        changed = spec.get("holderIdentity") != self.identity
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=max(1, int(round(self.seconds))),
                    renewTime=micro_time(now))
        if changed:
            spec["acquireTime"] = micro_time(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if old else 0)
        meta = {"name": self.name(service), "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "canary-console"}}
        if old:
            meta = {**old["metadata"], **meta}
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    async def renew(self, service: str) -> bool:
        """Renew one held lease (no retry: the next round is the retry). False, and writes refused, when it
        could not be renewed."""
        holding = self.held.setdefault(service, Holding())
        now = self.api.clock.now()
        bound = max(1.0, self.seconds / 3)  # a slow server cannot hold a renewal past the next one
        try:
            lease = await self.api.call("GET", self.path(service), retries=0, timeout_s=bound)
            holder, _left = self.observed_holder(service, lease)
            if holder not in (None, self.identity):
                holding.lost = f"{holder} drives {service} now"
                return False
            await self.api.call("PUT", self.path(service), body=self._lease(service, lease, now), retries=0,
                                timeout_s=bound)
        except ReadOnlyError as exc:
            holding.lost = str(exc)
            return False
        except (ClusterError, KeyError) as exc:
            holding.failing = (f"could not renew the lease on {service} ({exc}); writes stopped but a "
                               "rollback, until the lease expires")
            return False
        holding.renewed_at, holding.lost, holding.failing = now, None, None
        return True

    async def renew_all(self) -> None:
        for service in list(self.held):
            await self.renew(service)
        async with self.renewed:
            self.rounds += 1
            self.renewed.notify_all()

    async def wait_rounds(self, rounds: int) -> None:
        """Wait until ``rounds`` renewal rounds have completed in all."""
        async with self.renewed:
            await self.renewed.wait_for(lambda: self.rounds >= rounds)

    async def run(self) -> None:
        """Renew every held lease each third of the lease duration, until cancelled."""
        while True:
            await self.api.clock.sleep(self.seconds / 3)
            await self.renew_all()

    def forget(self, service: str, reason: str) -> None:
        """Another console was seen holding the lease: stop writing at once."""
        holding = self.held.get(service)
        if holding and not holding.lost:
            holding.lost = reason

    async def release_all(self) -> None:
        """Give the held leases up (on a clean exit) so another console need not wait for expiry."""
        for service, holding in list(self.held.items()):
            if holding.lost:
                continue
            try:
                lease = await self.api.call("GET", self.path(service), retries=0)
                if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                    lease["spec"].pop("holderIdentity", None)
                    await self.api.call("PUT", self.path(service), body=lease, retries=0)
            except (ClusterError, Conflict):
                pass
        self.held.clear()
