"""The session room: every service's controller, fed by one cluster snapshot and ONE metrics poll per step.

``step()`` asks the Cluster and the Metrics ports concurrently, turns port failures into problems on the
snapshots/metrics plus ERROR events (never exceptions), then ticks every controller concurrently.
``run()`` steps every check_interval on the session's clock without overlapping steps (and once more at the
instant a dead driver's Lease runs out on a service it means to drive). ``intent()`` routes a
person's or a script's intent to the right controller.

Who drives: a session drives a service only when it was told to (``drive``: the names ``run SERVICE`` or a
controller process names, or ``"all"``) or when an intent through it started, resumed or took the service
over; every other service is watched (its record followed, what the policy would do said, nothing written).
``close_out()`` is every exit path's last word: background work stopped, then each driven service's final
record saved with the driver cleared, so the next driver resumes from it. An optional Journal records every action, and each
real action is also left as a Kubernetes Event through ``cluster.record_event`` (best effort). Both are
sinks of ``self.sinks`` (console.engine.sinks): the journal inline and lossless, the Events queued, like
any notification sink added with ``self.sinks.add``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Callable

from console.engine.audit import Journal, redact
from console.engine.bus import EventBus
from console.engine.config import Config
from console.engine.controller import RolloutController
from console.engine.journal_sink import JournalSink
from console.engine.model import (Event, EventKind, IntentResult, Problem, RolloutStatus, ServiceMetrics,
                                  ServiceSnapshot, Track, Verdict)
from console.engine.notable import NotableRule
from console.engine.ports import Cluster, LogLine, Metrics, ReadOnlyCluster
from console.engine.report import ReportSink
from console.engine.protocols import WatchesLeases
from console.engine.intent_table import BY_NAME, NAMES
from console.engine.requests import (DONE, NO_DRIVER, PENDING, REFUSED, UNANSWERED, Request, RequestBox,
                                     intent_arguments, validate)
from console.engine.sinks import KubeEventSink, SinkHub, SinkPolicy, rollout_id


class Session:
    def __init__(self, config: Config, cluster: Cluster | ReadOnlyCluster, metrics: Metrics, clock, *,
                 bus: EventBus | None = None,
                 actor: str = "console", read_only: bool = False, journal: Journal | None = None,
                 judge: Callable[..., Verdict] | None = None, drive: Any = (),
                 actor_kind: str = "key", requests: RequestBox | None = None) -> None:
        self.config, self.cluster, self.metrics, self.clock = config, cluster, metrics, clock
        self.bus = bus or EventBus()
        self.read_only = read_only or config.read_only
        self.controllers: dict[str, RolloutController] = {
            name: RolloutController(name, config, cluster, clock, self.bus, actor=actor,
                                    read_only=self.read_only, judge=judge, actor_kind=actor_kind,
                                    drive=not self.read_only and (drive == "all" or name in drive))
            for name in config.service_names}
        self.extras = {s.name: {c.name: c.query for c in s.checks} for s in config.services if s.checks}
        self.steps = 0
        self.ephemeral = False  # the world ends with this process (the demo): nothing is left undriven
        self._stepping = asyncio.Lock()
        self._problems: dict[str, str | None] = {"cluster": None, "metrics": None}
        self._snapshots: dict[str, ServiceSnapshot] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self.actor = actor
        self.requests = None if self.read_only else requests
        self.request_deadline = 3 * config.check_interval + 15.0
        self.journal = journal
        self.sinks = SinkHub(self.bus, clock, NotableRule.for_config(config), status_of=self._status_of,
                             rollout_of=self._rollout_of)
        self._journal_sink: JournalSink | None = None
        if journal is not None:  # lossless: written on the publishing task, before any queue
            journal.bind(self.bus, cluster, subscribe=False)
            self._journal_sink = JournalSink(journal)
            self.sinks.add_inline(self._journal_sink)
            self.sinks.add(ReportSink(journal.path, self.bus, clock), SinkPolicy(retries=0, rate_per_minute=0))
        if not self.read_only and not isinstance(cluster, ReadOnlyCluster):  # a read-only port records nothing
            self.sinks.add(KubeEventSink(cluster, self.bus, clock), SinkPolicy(retries=0, rate_per_minute=0))

    # ---- polling --------------------------------------------------------------------------------

    async def step(self) -> None:
        async with self._stepping:
            services = list(self.controllers)
            snapshots, metrics = await asyncio.gather(self._snapshot(services), self._poll(services))
            await asyncio.gather(*(controller.tick(snapshots[name], metrics[name])
                                   for name, controller in self.controllers.items()))
            await self._serve_requests()
            self.steps += 1

    @property
    def check(self) -> int:
        """The number of the check under way (1 for the first); between checks, of the last one."""
        return self.steps + (1 if self._stepping.locked() else 0)

    async def _snapshot(self, services: list[str]) -> dict[str, ServiceSnapshot]:
        now = self.clock.now()
        try:
            got = await self.cluster.snapshot_all(services)
            self._problem("cluster", None)
        except Exception as exc:
            problem = self._problem("cluster", f"cluster unreachable: {exc}")
            unreachable = Problem.UNREACHABLE  # whatever went wrong, the snapshot could not be had
            got = {name: dataclasses.replace(self._snapshots[name], problem=problem, at=now, problem_kind=unreachable)
                   if name in self._snapshots else ServiceSnapshot(name, problem=problem, at=now,
                                                                   problem_kind=unreachable)
                   for name in services}
        result = {name: got.get(name) or ServiceSnapshot(name, problem="no snapshot for this service", at=now,
                                                         problem_kind=Problem.NO_DATA)
                  for name in services}
        self._snapshots.update(result)
        return result

    async def _poll(self, services: list[str]) -> dict[str, ServiceMetrics]:
        now = self.clock.now()
        try:
            got = await self.metrics.poll(services, self.config.window, self.extras or None)
            self._problem("metrics", None)
        except Exception as exc:
            problem = self._problem("metrics", f"Prometheus unreachable: {exc}")
            got = {name: ServiceMetrics(name, problem=problem, at=now, problem_kinds=(Problem.UNREACHABLE,))
                   for name in services}
        return {name: got.get(name) or ServiceMetrics(name, problem="no data for this service", at=now,
                                                      problem_kinds=(Problem.NO_DATA,))
                for name in services}

    def port_problem(self, port: str) -> str | None:
        """The current problem of a port ("cluster", "metrics"), or None while it answers."""
        return self._problems.get(port)

    def _problem(self, port: str, problem: str | None) -> str | None:
        """Report a port's problem once when it starts or changes, and once when it clears."""
        problem = redact(problem) if problem else None
        before, self._problems[port] = self._problems[port], problem
        if problem != before:
            kind, message = (EventKind.ERROR, problem) if problem else (EventKind.INFO, f"{port} is back")
            for name in self.controllers:
                self.bus.publish(Event(kind, name, self.clock.now(), message, {"port": port}))
        return problem

    async def run(self, stop: asyncio.Event | None = None,
                  after_step: Callable[[float], Awaitable[None]] | None = None) -> None:
        """Step every check_interval on the clock until ``stop`` is set, and at the instant a dead driver's
        Lease runs out on a service this session means to drive (``takeover_at``). Steps never overlap.
        ``after_step(started)`` runs after each step (the controller's health and housekeeping)."""
        stop = stop or asyncio.Event()
        interval = self.config.check_interval
        next_check, at_expiry = self.clock.now(), False
        while not stop.is_set():
            started = self.clock.now()
            if not at_expiry:  # a check at a Lease's expiry is extra: the checks keep their own cadence
                next_check = started + interval
            try:
                await self.step()
                if after_step is not None:
                    await after_step(started)
            except Exception as exc:  # step never raises by design; this is the last fence
                self.bus.publish(Event(EventKind.ERROR, "session", self.clock.now(), redact(f"step failed: {exc}")))
            wake, at_expiry = next_check, False
            takeover = self.takeover_at()
            if takeover is not None and isinstance(self.cluster, WatchesLeases):
                self.cluster.watch_leases()  # waiting for a Lease: see its renewals when they happen
            if takeover is not None and takeover < next_check:  # a Lease we wait for runs out before then
                wake, at_expiry = takeover, True
            await self._sleep_or_stop(max(0.0, wake - self.clock.now()), stop)

    def takeover_at(self) -> float | None:
        """The earliest instant at which another console's Lease on a service this session means to drive
        runs out unless renewed (as this console observed it), or None. ``run`` checks then as well, so a
        dead driver is replaced at its Lease's expiry, not at the first check after it; a renewal seen
        at that check keeps the Lease alive and nothing is taken."""
        instants = [c.snapshot.at + c.snapshot.driver_left for c in self.controllers.values()
                    if c.driving and c.snapshot is not None and c.snapshot.driver_left is not None
                    and "leases" not in c.snapshot.unread and c.driven_elsewhere()]
        return min(instants, default=None)

    async def _sleep_or_stop(self, seconds: float, stop: asyncio.Event) -> None:
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()

    def _status_of(self, service: str) -> RolloutStatus | None:
        controller = self.controllers.get(service)
        return controller.status if controller is not None else None

    def _rollout_of(self, service: str) -> str | None:
        """The rollout's id (notifications, PagerDuty's dedup_key, reports): from its start in the journal, so a
        resumed rollout keeps its first name; else from when this console started or resumed it."""
        controller = self.controllers.get(service)
        if controller is None:
            return None
        started = controller._started_at
        known = self._journal_sink.started.get(service) if self._journal_sink is not None else None
        if known is not None and known[1] == controller.version:
            started = known[0]
        return rollout_id(service, started)

    def announce(self, service: str, version: str) -> bool:
        """The runbook's "Team notified": tell the notification sinks that a canary of ``service`` ``version``
        is about to start (before the start intent). Only when notifications are configured."""
        controller = self.controllers.get(service)
        if controller is None or not self.config.notifications or self.read_only:
            return False
        self.bus.publish(Event(EventKind.INFO, service, self.clock.now(),
                               f"canary of {service} {version} starting ({controller.actor})",
                               {"pre_canary": True, "version": version, "actor": controller.actor}))
        return True

    # ---- intents and reads ----------------------------------------------------------------------

    async def intent(self, service: str, name: str, **kwargs: Any) -> IntentResult:
        controller = self.controllers.get(service)
        if controller is None:
            return self._refuse(service, f"unknown service {service!r} (known: {', '.join(self.controllers)})")
        intent = BY_NAME.get(name)
        if intent is None:
            return self._refuse(service, f"unknown intent {name!r} (known: {', '.join(NAMES)})")
        driving = controller.driving
        if intent.requestable and self.requests is not None and controller.driven_elsewhere():
            return await self.request(service, name, **kwargs)
        try:
            result = await controller.act(intent, **kwargs)
            if not result.ok and not driving:  # a refused or failed intent makes no one the driver
                controller.driving = False
            return result
        except TypeError as exc:
            return self._refuse(service, f"{name}: bad arguments: {exc}")
        except Exception as exc:
            message = redact(f"{name} failed: {exc}")
            self.bus.publish(Event(EventKind.ERROR, service, self.clock.now(), message))
            return IntentResult(False, message)

    # ---- requests to the driver of a service driven elsewhere (see engine/requests.py) -------------

    async def request(self, service: str, name: str, *, wait: bool = False, **kwargs: Any) -> IntentResult:
        """Ask the live driver of ``service`` to do ``name``: "no driver" at once when there is none;
        else the request is written and followed in the background (``wait``: until it is answered or
        its deadline passes, and the answer is the result)."""
        controller = self.controllers[service]
        driver = controller.driven_elsewhere()
        problem = validate(name, kwargs)
        if problem:
            return self._refuse(service, f"{name}: {problem}")
        if self.requests is None:
            return self._refuse(service, f"{name} {service}: this console cannot write requests (read-only)")
        if not driver:
            return self._refuse(service, f"{NO_DRIVER}: no console or controller drives {service}; "
                                         f"drive it here (T, or canary-console run {service})")
        try:
            sent = await self.requests.submit(service, name, self.actor, kwargs)
        except Exception as exc:
            return self._refuse(service, redact(f"{name} {service}: the request could not be written: {exc}"))
        self.bus.publish(Event(EventKind.INFO, service, self.clock.now(),
                               f"{name} {PENDING}: asked of {driver}",  # the answer first: toasts clip
                               {"request": sent.name, "result": PENDING, "what": name}))
        follow = asyncio.ensure_future(self._follow_request(sent, driver))
        self._tasks.add(follow)
        follow.add_done_callback(self._tasks.discard)
        if not wait:
            return IntentResult(True, f"{service}: {name} {PENDING}: asked of {driver}")
        return await asyncio.shield(follow)

    async def _follow_request(self, sent: Request, driver: str) -> IntentResult:
        deadline = self.clock.now() + self.request_deadline
        while self.clock.now() < deadline:
            await self.clock.sleep(1.0)
            try:
                got = await self.requests.get(sent.name) if self.requests else None
            except Exception:  # a failed look is tried again until the deadline
                continue
            if got is not None and got.result != PENDING:
                ok = got.result == DONE
                kind = EventKind.INFO if ok else EventKind.REFUSED
                message = f"{sent.action} {got.result} by {got.handled_by or driver}: {got.reason}"
                self.bus.publish(Event(kind, sent.service, self.clock.now(), redact(message),
                                       {"request": sent.name, "result": got.result, "what": sent.action}))
                return IntentResult(ok, redact(message))
        message = (f"{sent.action} {UNANSWERED}: {driver} did not answer within "
                   f"{self.request_deadline:.0f} s (request {sent.name} is still in the cluster)")
        self.bus.publish(Event(EventKind.ERROR, sent.service, self.clock.now(), message,
                               {"request": sent.name, "result": UNANSWERED, "what": sent.action}))
        return IntentResult(False, message)

    async def _serve_requests(self) -> None:
        """The driver's side: run the pending requests for the services this session drives, each through
        the same intent rules as a key, on behalf of the person who asked, and acknowledge each."""
        box = self.requests
        if box is None:  # read-only: no request box, nothing to serve
            return
        mine = [name for name, c in self.controllers.items() if c.driving and c._acting()]
        if not mine:
            return
        try:
            pending = await box.pending(mine)
        except Exception as exc:
            self.bus.publish(Event(EventKind.ERROR, "*", self.clock.now(), redact(f"reading requests failed: {exc}"),
                                   {"port": "cluster"}))
            return
        for request in pending:
            await self._serve(box, request)

    async def _serve(self, box: RequestBox, request: Request) -> None:
        controller = self.controllers[request.service]
        problem = validate(request.action, request.args)
        if problem:
            ok, message = False, problem
        else:
            try:
                result = await controller.on_behalf(f"{request.actor} via {controller.actor}", request.action,
                                                    **intent_arguments(request))
                ok, message = result.ok, result.message
            except Exception as exc:
                ok, message = False, f"failed: {exc}"
        result_word = DONE if ok else REFUSED
        try:
            await box.acknowledge(request, result_word, redact(message), controller.actor)
        except Exception as exc:
            self.bus.publish(Event(EventKind.ERROR, request.service, self.clock.now(),
                                   redact(f"acknowledging request {request.name} failed: {exc}")))
        text = redact(f"{request.action} requested by {request.actor}: {result_word}: {message}")
        self.bus.publish(Event(EventKind.INFO, request.service, self.clock.now(), text,  # the audit Event: sinks
                               {"request": request.name, "result": result_word, "what": request.action,
                                "actor": request.actor}))

    def _refuse(self, service: str, message: str) -> IntentResult:
        self.bus.publish(Event(EventKind.REFUSED, service, self.clock.now(), message))
        return IntentResult(False, message)

    def status_all(self) -> list[RolloutStatus]:
        return [controller.status for controller in self.controllers.values()]

    async def backfill(self, since_s: float = 3600.0, step_s: float | None = None) -> dict[str, list[ServiceMetrics]]:
        """The last ``since_s`` seconds of windows for every service (range queries, one per metric), so a
        restarted console's charts are not blind. A port that cannot answer gives empty lists, never raises."""
        services = self.config.service_names
        step = step_s or max(self.config.check_interval, since_s / 360)
        try:
            history = await self.metrics.history(services, self.config.window, since_s, step)
        except Exception as exc:  # charts stay empty; the live polls still come
            self.bus.publish(Event(EventKind.ERROR, "*", self.clock.now(), f"chart back-fill failed: {exc}",
                                   {"port": "metrics"}))
            return {s: [] for s in services}
        return {s: list(history.get(s, [])) for s in services}

    def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        return self.cluster.follow_logs(service, track)

    async def drain(self) -> None:
        """Wait for every controller's background work and pending audit Events."""
        for controller in self.controllers.values():
            await controller.drain()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.sinks.drain(kinds=("kubernetes", "report"))  # never retried: no clock needed to finish

    async def close_out(self) -> None:
        """Every exit path's last word: stop background work, then save each driven service's final record
        (state, weight, reason) with the driver cleared, before the cluster's Leases are released."""
        for controller in self.controllers.values():
            await controller.cancel_background()
        for controller in self.controllers.values():
            await controller.save_final()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.sinks.drain(kinds=("kubernetes",))  # the audit Events of the last actions

    async def aclose(self) -> None:
        """Cancel background work (a rollback still retrying, a promotion waiting) when the console exits."""
        for controller in self.controllers.values():
            await controller.cancel_background()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.sinks.aclose()
