"""The protocols room: what the dashboard needs from a session, and what some clusters can do beyond the
Cluster port.

``SessionView`` is the whole of what console/app.py asks of an engine Session (console/engine/session.py
implements it): a reader or a type checker follows a key press from the app through ``intent`` to the
controller. The capability protocols name what only some Cluster implementations have (the Kubernetes
adapter has Leases, an identity and a one-shot check); the engine and the commands ask ``isinstance``
instead of reaching for an attribute by name (tests/test_types.py finds a ``getattr`` of a protocol's
member). The demo's simulated world is the World's own (console/wiring.py), not asked of its cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from console.engine.model import IntentResult, LogLine, RolloutStatus, ServiceMetrics, Track

if TYPE_CHECKING:
    from console.engine.audit import Journal
    from console.engine.bus import EventBus
    from console.engine.config import Config
    from console.engine.requests import RequestBox


class SessionView(Protocol):
    """What the dashboard (console/app.py) needs from the session under it."""

    config: Config
    bus: EventBus
    read_only: bool
    ephemeral: bool  # the world ends with the process (the demo): quitting leaves nothing undriven
    requests: RequestBox | None  # None: this console cannot ask another driver (read-only)
    journal: Journal | None

    def status_all(self) -> list[RolloutStatus]: ...

    async def run(self, stop: asyncio.Event | None = None,
                  after_step: Callable[[float], Awaitable[None]] | None = None) -> None: ...

    async def intent(self, service: str, name: str, **kwargs: Any) -> IntentResult: ...

    async def backfill(self, since_s: float = 3600.0,
                       step_s: float | None = None) -> dict[str, list[ServiceMetrics]]: ...

    def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]: ...

    def announce(self, service: str, version: str) -> bool: ...


@runtime_checkable
class Identified(Protocol):
    """A cluster that knows who acts through it (the Kubernetes user), and this console's own Lease holder
    name when it differs."""

    identity: str | None


@runtime_checkable
class ConsoleIdentified(Protocol):
    """A cluster whose Leases name this console apart from its user (several consoles of one person)."""

    console_id: str


@runtime_checkable
class Claims(Protocol):
    """A cluster where one console drives a service at a time, by a Lease it claims."""

    async def claim(self, service: str) -> None: ...


@runtime_checkable
class WatchesLeases(Protocol):
    """A cluster that can follow its Leases as they change (so a takeover waits for no check to see them)."""

    def watch_leases(self) -> None: ...


@runtime_checkable
class TakesOver(Protocol):
    """A cluster where a console may take another console's Lease (after a person confirmed)."""

    async def take_over(self, service: str) -> None: ...


@runtime_checkable
class Checked(Protocol):
    """A cluster that can say at once whether it answers (the one-shot commands ask before their first step)."""

    async def check(self) -> None: ...


@runtime_checkable
class Closable(Protocol):
    async def aclose(self) -> None: ...


def identity_of(cluster: object) -> str | None:
    """Who acts through ``cluster``, when it says."""
    return cluster.identity if isinstance(cluster, Identified) else None


def console_id_of(cluster: object) -> str | None:
    return cluster.console_id if isinstance(cluster, ConsoleIdentified) else None
