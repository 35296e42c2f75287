"""Tests room: when a dead driver is replaced (issue 14), on the in-memory fakes and a VirtualClock. A session
that means to drive a service another console holds takes its Lease at the instant the Lease runs out as
this console observed it (the check that saw the last renewal, plus the Lease's duration), not at the first
check after that; a Lease that is renewed is never taken; the check at expiry is the only extra one; and it
asks the cluster to watch the Leases meanwhile (KubeCluster then sees each renewal when it happens).

The Lease is judged as KubeCluster judges it (console/adapters/kube_lease.py): a record is alive until it
has stood unchanged for its duration since this console first saw it, at a snapshot."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from console.engine.clock import VirtualClock
from console.engine.config import Config, Service
from console.engine.model import RolloutRecord, ServiceSnapshot, State
from console.engine.ports import ReadOnlyError
from console.engine.session import Session
from tests.fakes import FakeCluster, FakeMetrics, Rig

LEASE = 6.0  # shorter than the 10 s check: the next check after expiry would come up to 10 s late
HOLDER = "controller-a"


class LeasedCluster(FakeCluster):
    """A FakeCluster with a Lease per service that another console renews (``renew``) until it dies."""

    def __init__(self, clock: VirtualClock, services: tuple[str, ...]) -> None:
        super().__init__(clock, services, identity="controller-b")
        self.renewed: dict[str, float] = {}  # service → the holder's last renewal
        self.seen: dict[str, tuple[float, float]] = {}  # service → (that renewal, when this console first saw it)
        self.claims: list[tuple[float, str]] = []
        self.snapshots: list[float] = []
        self.watching: float | None = None  # since when the session asked to watch the Leases

    def watch_leases(self) -> None:
        if self.watching is None:
            self.watching = self.clock.now()

    def renew(self, service: str, holder: str) -> None:
        self.services[service].driver = holder
        self.renewed[service] = self.clock.now()

    def _lease(self, service: str, now: float) -> tuple[str | None, float | None]:
        driver = self.services[service].driver
        if driver in (None, self.identity):
            return driver, None
        renewal = self.renewed[service]
        if self.seen.get(service, (None, 0.0))[0] != renewal:
            self.seen[service] = (renewal, now)
        left = self.seen[service][1] + LEASE - now
        return (driver, left) if left > 0 else (None, None)

    def _snapshot(self, name: str, now: float) -> ServiceSnapshot:
        self.snapshots.append(now)
        driver, left = self._lease(name, now)
        return replace(super()._snapshot(name, now), driver=driver, driver_left=left)

    async def claim(self, service: str) -> None:
        now = self.clock.now()
        driver, left = self._lease(service, now)
        if driver not in (None, self.identity):
            raise ReadOnlyError(f"read-only: {driver} drives {service} (lease expires in {left:.0f}s)")
        self.claims.append((now, service))
        self.services[service].driver = self.identity


def _at_25(cluster: LeasedCluster) -> None:
    """perception observing at 25 % since -100 s, driven by controller-a (its record saved)."""
    record = RolloutRecord(State.OBSERVING, 1, 25, -100.0, 100.0, "1.2.4", driver=HOLDER, updated_at=-1.0)
    svc = cluster.services["perception"]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at = "1.2.4", 1, -5000.0
    svc.weight, svc.weights, svc.record = 25, [(float("-inf"), 0), (-3000.0, 10), (-100.0, 25)], record


async def _renewing_until(cluster: LeasedCluster, clock: VirtualClock, dies_at: float) -> None:
    """The holder renews at 1, 3, 5 … s (every third of its Lease, never at a check's instant) until it is
    SIGKILLed at ``dies_at``."""
    await clock.sleep(1.0)
    while clock.now() < dies_at:
        cluster.renew("perception", HOLDER)
        await clock.sleep(2.0)


async def test_a_dead_drivers_lease_is_taken_at_its_expiry_not_at_the_next_check():
    clock = VirtualClock()
    config = Config(services=[Service(name="perception")], check_interval=10.0)
    cluster = LeasedCluster(clock, ("perception",))
    _at_25(cluster)
    session = Session(config, cluster, FakeMetrics(cluster, rps=400.0), clock, actor="controller-b",
                      drive=("perception",))
    cluster.renew("perception", HOLDER)
    holder = asyncio.get_running_loop().create_task(_renewing_until(cluster, clock, dies_at=24.0))
    rig = Rig(session, clock)
    try:
        await rig.until(29.0)
        assert cluster.claims == [], "a renewed Lease was taken"
        assert cluster.renewed["perception"] == 23.0  # its last renewal, one second before it died
        assert session.controllers["perception"].driven_elsewhere() == HOLDER
        assert cluster.watching == 0.0  # waiting for the Lease from the first check: its renewals are watched
        await rig.until(45.0)
    finally:
        await rig.close()
        await holder
    # the look at 26 first saw the renewal of 23: by this console's observation the Lease runs out at
    # 26 + 6 = 32, and it is taken then, not at the next check (40: at 30 it still had 2 s)
    assert cluster.claims == [(32.0, "perception")], cluster.claims
    # the checks keep their 10 s cadence; between them, a look wherever a Lease seen would have run out
    # (6, 16, 26: renewed meanwhile, nothing taken; 32: taken)
    assert [t for t in cluster.snapshots if t <= 40.0] == [0.0, 6.0, 10.0, 16.0, 20.0, 26.0, 30.0, 32.0, 40.0], \
        cluster.snapshots
    status = session.controllers["perception"].status
    assert status.driving and not status.read_only  # the survivor drives from its takeover on,
    assert (status.state, status.phase, status.weight) == (State.OBSERVING, 1, 25)  # at 25 %, as recorded
    assert not cluster.writes_of("set_weight")  # and wrote no weight again
