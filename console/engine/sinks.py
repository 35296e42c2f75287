"""The sinks room: the seam through which the engine tells the world (journal, Kubernetes Events, Slack,
PagerDuty, webhooks, rollout reports) without ever waiting for it.

``SinkHub`` subscribes to the bus. For every event it asks the one ``NotableRule`` (console.engine.notable)
once, then:

- calls the *inline* sinks at once, on the publishing task, in order: the journal is one, so it is written
  synchronously and never loses a line (a journal that cannot be written says so as an ERROR event);
- puts a ``Delivery`` on the bounded queue of every *queued* sink that wants it (without its Notice when
  this console does not drive the service: the driving console tells people, a watcher does not). Each queued sink has its own
  worker task: it sends, retries a failure with exponential backoff and full jitter on the clock, keeps at
  most ``rate_per_minute`` sends a minute, and gives up on a delivery after ``retries`` retries. A full queue
  drops its OLDEST delivery and counts it (``dropped``): a slow, hanging or dead sink never delays a check or
  a rollback, and never grows memory without bound.

Each queued sink's health (delivered, failed attempts, consecutive failures, dropped, last error) is
``health()``; when a sink fails ``FAILING_AFTER`` times in a row the hub publishes one ERROR event with
``data["sink"]`` (the dashboard shows it; the rule calls it sink_failing) and one INFO when it recovers.
Error texts come from the sink's own ``describe_error`` (which never includes a URL or a key) and are
redacted again before they leave.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from console.engine.audit import event_reason, redact
from console.engine.bus import EventBus
from console.engine.model import Event, EventKind, RolloutStatus
from console.engine.notable import Notable, Notice, NotableRule
from console.engine.protocols import Closable
from console.engine.requests import answer_reason

if TYPE_CHECKING:
    from console.engine.ports import Cluster

FAILING_AFTER = 3


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a sink receives: the engine event; when it is notable, the rule's Notice for it, the service's
    status at that moment and the rollout's id (``rollout_id``)."""

    event: Event
    notice: Notice | None
    status: RolloutStatus | None = None
    rollout: str | None = None


def rollout_id(service: str, started_at: float | None) -> str | None:
    """A rollout's name: the service and the UTC second it started (what `report --rollout` takes)."""
    if started_at is None:
        return None
    return f"{service}-{datetime.fromtimestamp(started_at, tz=UTC).strftime('%Y%m%dT%H%M%SZ')}"


class SinkError(Exception):
    """A delivery that failed. ``retryable=False`` (e.g. HTTP 400: our payload is wrong) is not retried."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sink(Protocol):
    """A queued sink. ``wants`` is called on the publishing task (cheap, no I/O); ``send`` on the sink's worker."""

    name: str
    kind: str

    def wants(self, delivery: Delivery) -> bool: ...

    async def send(self, delivery: Delivery) -> None: ...


@runtime_checkable
class DescribesErrors(Protocol):
    """A sink that words its own failures (never with a URL or a key: console/adapters/notify.py)."""

    def describe_error(self, exc: BaseException) -> str: ...


@dataclass(slots=True)
class SinkPolicy:
    """How a queued sink is fed: queue bound, retries, backoff (seconds on the hub's clock), rate limit."""

    queue_size: int = 100
    retries: int = 4
    backoff: float = 1.0
    max_backoff: float = 60.0
    rate_per_minute: float = 30.0


@dataclass(slots=True)
class SinkHealth:
    name: str
    kind: str
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    dropped: int = 0
    consecutive_failures: int = 0
    queued: int = 0
    last_error: str | None = None
    last_ok_at: float | None = None
    last_error_at: float | None = None

    @property
    def state(self) -> str:
        if self.consecutive_failures >= FAILING_AFTER:
            return "failing"
        if self.consecutive_failures:
            return "retrying"
        return "ok"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind, "state": self.state, "delivered": self.delivered,
                "failed_attempts": self.failed_attempts, "given_up": self.given_up, "dropped": self.dropped,
                "queued": self.queued, "consecutive_failures": self.consecutive_failures,
                "last_error": self.last_error, "last_ok_at": self.last_ok_at}


@dataclass(slots=True)
class _Lane:
    sink: Sink
    policy: SinkPolicy
    health: SinkHealth
    queue: deque[Delivery] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None
    busy: bool = False
    last_send: float | None = None


class SinkHub:
    """The bus subscriber that feeds every sink. ``rule`` is the one NotableRule of this session."""

    def __init__(self, bus: EventBus, clock: Any, rule: NotableRule, *, rng: random.Random | None = None,
                 status_of: Callable[[str], RolloutStatus | None] | None = None,
                 rollout_of: Callable[[str], str | None] | None = None) -> None:
        self.bus, self.clock, self.rule = bus, clock, rule
        self.status_of = status_of  # service → its status now, asked for notable events only
        self.rollout_of = rollout_of  # service → its rollout's id, asked after the inline sinks ran
        self._inline: list[Callable[[Delivery], None]] = []
        self._lanes: list[_Lane] = []
        self._rng = rng or random.Random()
        self._closed = False
        self._unsubscribe = bus.subscribe(self)

    # ---- configuration --------------------------------------------------------------------------

    def add_inline(self, sink: Callable[[Delivery], None]) -> None:
        """A synchronous, lossless sink (the journal): called on the publishing task, before any queue."""
        self._inline.append(sink)

    def add(self, sink: Sink, policy: SinkPolicy | None = None) -> None:
        policy = policy or SinkPolicy()
        self._lanes.append(_Lane(sink, policy, SinkHealth(sink.name, sink.kind)))

    @property
    def sinks(self) -> list[Sink]:
        return [lane.sink for lane in self._lanes]

    def health(self) -> list[SinkHealth]:
        for lane in self._lanes:
            lane.health.queued = len(lane.queue) + (1 if lane.busy else 0)
        return [lane.health for lane in self._lanes]

    # ---- the bus side: never blocks -------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        notice = self.rule.see(event)
        status = _ask(self.status_of, event.service) if notice is not None else None
        delivery = Delivery(event, notice, status)
        for inline in self._inline:
            inline(delivery)
        if self._closed:
            return
        if notice is not None and status is not None and not status.driving \
                and notice.kind is not Notable.STARTING:
            delivery = Delivery(event, None, status)  # a console that only watches tells nobody: its driver does
        elif notice is not None and self.rollout_of is not None:  # after the journal: a start names its rollout
            delivery = Delivery(event, notice, status, _ask(self.rollout_of, event.service))
        for lane in self._lanes:
            if not _wants(lane.sink, delivery):
                continue
            if len(lane.queue) >= lane.policy.queue_size:
                lane.queue.popleft()
                lane.health.dropped += 1
            lane.queue.append(delivery)
            self._wake(lane)

    def _wake(self, lane: _Lane) -> None:
        lane.wake.set()
        if lane.worker is None or lane.worker.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # published outside a loop (a sync test): delivered when one runs
                return
            lane.worker = loop.create_task(self._work(lane), name=f"sink:{lane.sink.name}")

    # ---- the sink side: one worker per sink -----------------------------------------------------

    async def _work(self, lane: _Lane) -> None:
        while not self._closed:
            if not lane.queue:
                lane.wake.clear()
                await lane.wake.wait()
                continue
            delivery = lane.queue.popleft()
            lane.busy = True
            try:
                await self._deliver(lane, delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken sink loses this delivery, never its worker
                lane.health.given_up += 1
                lane.health.last_error = f"{type(exc).__name__}"
            finally:
                lane.busy = False

    async def _deliver(self, lane: _Lane, delivery: Delivery) -> None:
        policy, health = lane.policy, lane.health
        for attempt in range(policy.retries + 1):
            await self._respect_rate(lane)
            lane.last_send = self.clock.now()
            try:
                await lane.sink.send(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                retryable = getattr(exc, "retryable", True)
                self._failed(lane, _describe(lane.sink, exc))
                if not retryable or attempt == policy.retries:
                    health.given_up += 1
                    return
                ceiling = min(policy.max_backoff, policy.backoff * 2 ** attempt)
                await self.clock.sleep(self._rng.uniform(ceiling / 2, ceiling))  # backoff with jitter
                continue
            self._ok(lane)
            return

    async def _respect_rate(self, lane: _Lane) -> None:
        if lane.last_send is None or lane.policy.rate_per_minute <= 0:
            return
        gap = 60.0 / lane.policy.rate_per_minute - (self.clock.now() - lane.last_send)
        if gap > 0:
            await self.clock.sleep(gap)

    def _failed(self, lane: _Lane, error: str) -> None:
        health = lane.health
        health.failed_attempts += 1
        health.consecutive_failures += 1
        health.last_error, health.last_error_at = error, self.clock.now()
        if health.consecutive_failures == FAILING_AFTER:
            self.bus.publish(Event(EventKind.ERROR, "*", self.clock.now(),
                                   f"notifications to {lane.sink.name} keep failing: {error}",
                                   {"sink": lane.sink.name, "failing": True}))

    def _ok(self, lane: _Lane) -> None:
        health = lane.health
        if health.consecutive_failures >= FAILING_AFTER:
            self.bus.publish(Event(EventKind.INFO, "*", self.clock.now(), f"notifications to {lane.sink.name} "
                                   "are delivered again", {"sink": lane.sink.name}))
        health.consecutive_failures = 0
        health.delivered += 1
        health.last_ok_at = self.clock.now()

    # ---- lifecycle ------------------------------------------------------------------------------

    async def drain(self, idle_rounds: int = 3, *, kinds: tuple[str, ...] | None = None) -> None:
        """Wait until every queue (of the sinks of ``kinds``, default all) is empty and no delivery is in
        flight (retries included: they run on the hub's clock, so under a virtual clock someone must advance
        it)."""
        lanes = [lane for lane in self._lanes if kinds is None or lane.sink.kind in kinds]
        while any(lane.queue or lane.busy for lane in lanes):
            for lane in lanes:
                if lane.queue:
                    self._wake(lane)
            await asyncio.sleep(0.001)
        for _ in range(idle_rounds):
            await asyncio.sleep(0)

    async def aclose(self) -> None:
        self._closed = True
        self._unsubscribe()
        workers = [lane.worker for lane in self._lanes if lane.worker is not None]
        for lane in self._lanes:  # what never went out is a counted loss
            lane.health.dropped += len(lane.queue) + (1 if lane.busy else 0)
            lane.queue.clear()
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for lane in self._lanes:
            if isinstance(lane.sink, Closable):
                try:
                    await lane.sink.aclose()
                except Exception:  # closing is best effort
                    pass


def _ask(question: Callable[[str], Any] | None, service: str) -> Any:
    try:
        return question(service) if question is not None else None
    except Exception:  # no context is still a notice
        return None


def _wants(sink: Sink, delivery: Delivery) -> bool:
    try:
        return bool(sink.wants(delivery))
    except Exception:  # a broken filter must never break the publisher
        return False


def _describe(sink: Sink, exc: BaseException) -> str:
    if isinstance(sink, DescribesErrors):
        text = sink.describe_error(exc)
    else:
        text = str(exc) if isinstance(exc, SinkError) else f"{type(exc).__name__}: {exc}"
    return str(redact(text))[:300]


class KubeEventSink:
    """Leaves each real action, and each answer of this driver to a person's request (CanaryRequestDone or
    CanaryRequestRefused, naming them), as a Kubernetes Event on the canary (best effort, queued: the
    journal has it). A read-only console never writes one."""

    name = "kubernetes-events"
    kind = "kubernetes"

    def __init__(self, cluster: Cluster, bus: EventBus, clock: Any) -> None:
        self.cluster, self.bus, self.clock = cluster, bus, clock

    def wants(self, delivery: Delivery) -> bool:
        event = delivery.event
        return (event.kind is EventKind.ACTION and not event.data.get("shadow")) or answer_reason(event) is not None

    async def send(self, delivery: Delivery) -> None:
        event = delivery.event
        reason = answer_reason(event) or event_reason(str(event.data.get("what", "action")))
        try:
            await self.cluster.record_event(event.service, reason, redact(event.message))
        except Exception as exc:  # said once here; not retried (no duplicate Events in the cluster)
            message = redact(f"recording the Kubernetes Event failed: {exc}")
            self.bus.publish(Event(EventKind.ERROR, event.service, self.clock.now(), message, {"sink": self.name}))
            raise SinkError(message, retryable=False) from None
