"""What each command does once the command line is parsed: open the world, drive the engine, print
lines or the contract's JSON, and return the exit code. No Textual here: the dashboard is
console.dashboard_command.

Reading never writes: status and analyze open the world through ``open_reader`` (a read-only cluster with
no write method, a session that drives nothing). ``run SERVICE`` drives that service only, resumes a
rollout already under way, and on SIGTERM, SIGHUP or SIGINT stops after saving its final record, then
releases its Lease; every exit path goes through World.aclose, which saves first.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from console.engine.audit import redact
from console.engine.config import Config, ConfigError, parse_duration
from console.engine.exits import (EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, EXIT_WAITING, VERDICT_EXIT,
                                  RolloutOutcome, outcome_exit)
from console.engine.intent_table import BY_NAME
from console.engine.model import Event, EventKind, Outcome, Problem, RolloutStatus, State, Track, Verdict
from console.engine.notable import STOP_AT, Notable, NotableRule, Notice
from console.engine.outage import OutageWatch
from console.engine.ports import ClusterError, MetricsError, problem_of
from console.engine.protocols import Checked
from console.engine.requests import NO_DRIVER, REQUESTABLE, UNANSWERED
from console.engine.text import inert, inert_lines
from console.engine.words import check_word, humane, outcome_word, result_word
from console.output import cluster_exit, confirm, err as _err, json_line, out as _out, print_json
from console.signals import handle_signals
from console.wiring import Options, World, open_reader, open_world, prometheus_for, warm_demo


async def _open(config: Config, options: Options, *, reading: bool = False, drive: Any = (),
                actor_kind: str = "command") -> World | int:
    try:
        if reading:
            return await open_reader(config, options)
        return await open_world(config, options, drive=drive, actor_kind=actor_kind)
    except ClusterError as exc:
        return cluster_exit(exc)


# --- run --headless ------------------------------------------------------------------------------------

class _Printer:
    """Prints one line per event (or NDJSON), and a progress line per minute of rollout time."""

    def __init__(self, service: str, origin: float, as_json: bool) -> None:
        self.service, self.origin, self.as_json = service, origin, as_json
        self.next_progress = origin + 60.0
        self.stopped = asyncio.Event()
        self.stop_state: RolloutOutcome | None = None
        self.summary: str | None = None  # the last line's why, when it is not the controller's reason
        self.closed = False
        self._last_outcome: str | None = None
        self._outage = OutageWatch()
        self.notable = NotableRule()

    def __call__(self, event: Event) -> None:
        if event.service != self.service:
            return
        notice = self._note_stop(event)  # before printing: a closed stdout must not keep the run going
        if event.kind is EventKind.STATUS:
            self._progress(event)
        elif self.as_json:
            self.emit(json_line(event.to_json()))
        elif self._worth_a_line(event):
            self.emit(humane(event.to_line(self.origin)))
        if notice is not None and notice.kind is Notable.INCIDENT:  # said by no other event: its own line
            self._say(event.at, "incident", notice.summary)

    def _note_stop(self, event: Event) -> Notice | None:
        """Stop where the one rule (console.engine.notable) says a headless run ends: promoted, rolled back,
        failed, awaiting a person (a shadow "would roll back" included) or paused. Returns the notice."""
        notice = self.notable.see(event)
        if notice is not None and notice.stop_at:
            self.stop_state = notice.stop_at
            self.stopped.set()
        return notice

    def _say(self, at: float, kind: str, message: str) -> None:
        """One line of a kind no single event prints (an outage, an incident on both tracks)."""
        minutes, seconds = divmod(int(max(0.0, at - self.origin)), 60)
        self.emit(json_line({"service": self.service, "at": at, "kind": kind, "message": message})
                  if self.as_json else f"+{minutes:4d}m{seconds:02d}s {self.service:<11} {kind:<9} {message}")

    def _worth_a_line(self, event: Event) -> bool:
        """For people, a verdict is a line when its outcome changes; the progress line covers the rest.
        (--json keeps every event.)"""
        if event.kind is not EventKind.VERDICT:
            return True
        outcome = event.data.get("verdict", {}).get("verdict")
        changed, self._last_outcome = outcome != self._last_outcome, outcome
        return changed

    def emit(self, line: str, stream: Any = None) -> None:
        try:
            print(inert_lines(redact(line)), file=stream or sys.stdout, flush=True)
        except BrokenPipeError:  # the reader went away (| head): stop the run, say nothing more
            self.closed = True
            self.stopped.set()

    def _progress(self, event: Event) -> None:
        status = event.data.get("status")
        if status is None:
            return
        if (outage := self._outage.update(status, event.at)) is not None:  # one line as it starts, one as it ends
            self._say(event.at, "outage", outage)
        if event.at < self.next_progress:
            return
        self.next_progress = event.at + 60.0
        left = int(status.time_left)
        verdict = outcome_word(status.verdict.outcome) if status.verdict else "none yet"
        line = (f"  … {status.state.label}, weight {status.weight}%, phase {status.phase + 1}, "
                f"{left // 60}m{left % 60:02d}s left in phase, verdict {verdict}")
        self.emit(line, sys.stderr if self.as_json else sys.stdout)


class _Stop:
    """What a driving command (``run``, a one-shot action) is told by SIGTERM, SIGHUP (a dropped SSH
    session) or SIGINT: stop after the step under way, save, release (``_stop``). ``signalled`` names it."""

    def __init__(self, wake: asyncio.Event | None = None) -> None:
        self.signalled: str | None = None
        self.event = asyncio.Event()
        self._wake = wake

    def __call__(self, sig: signal.Signals) -> None:
        self.signalled = sig.name
        self.event.set()
        if self._wake is not None:
            self._wake.set()

    def stopped_line(self, service: str, controller: Any, then: str) -> str:
        return (f"{service}: stopped by {self.signalled} — {controller.state.label} at {controller.weight}%, "
                f"saved; `canary-console run {service} --version {controller.version}` {then}")


async def _begin(world: World, service: str, version: str, printer: _Printer) -> str | None:
    """Start the rollout, or resume the one already under way (the first step only observes); the
    refusal's message when neither."""
    session = world.session
    controller = session.controllers[service]
    await session.step()
    status = await _outwait_a_silent_lease(world, service)
    if status.read_only:  # another console's live Lease, or --read-only
        return f"read-only: {status.driver} drives {service}" if status.driver else \
            "read-only: this console only watches"
    snapshot = status.snapshot
    if controller.state.terminal and snapshot and not snapshot.canary_exists and snapshot.stable_version == version:
        if controller.state is State.PROMOTED:  # a promote killed in its cleanup, finished by this first step
            printer.stop_state = RolloutOutcome.PROMOTED
        else:  # nothing was rolled out: not "promoted", which would claim a rollout happened
            printer.stop_state = RolloutOutcome.ALREADY_STABLE
            printer.summary = f"{version} is the stable version already: nothing to roll out"
        printer.stopped.set()  # done, not started again
        return None
    if controller.state.terminal:
        session.announce(service, version)  # the runbook's "Team notified", when notifications are configured
        result = await session.intent(service, "start", version=version)
        return None if result.ok else result.message
    if controller.version and version and controller.version != version:
        return (f"a rollout of {controller.version} is under way ({controller.state.label} at {status.weight}%): "
                f"run it with --version {controller.version}, or roll it back first")
    result = await session.intent(service, "drive")  # run SERVICE on a rollout under way resumes it
    if not result.ok:
        return result.message
    _err(f"resuming {service}: {controller.state.label} at {status.weight}%, "
         f"{int(controller.phase_elapsed)}s counted in phase {controller.phase + 1}")
    if controller.state in STOP_AT:  # it waits for a person: say so and stop, as a run that got there
        printer.stop_state = STOP_AT[controller.state]
        printer.stopped.set()
    return None


async def _outwait_a_silent_lease(world: World, service: str) -> RolloutStatus:
    """Another console's Lease on ``service``, judged as client-go's leader election does: alive if it is
    renewed while we watch (refused at once then), expired once it stood unchanged for its duration by our own
    clock. A fresh process cannot know how long it stood before it looked, so `run` watches it that long
    (a killed run's Lease is taken after at most its duration, instead of refusing every new run)."""
    controller = world.session.controllers[service]
    status = controller.status
    left = status.snapshot.driver_left if status.snapshot else None
    if controller.read_only or not (status.read_only and status.driver) or left is None:
        return status
    _err(f"{status.driver} holds the Lease on {service}: watching it up to {left:.0f}s (renewed: it drives; "
         "not renewed: it is taken)")
    while status.read_only and status.driver and left is not None:
        await world.let_time_pass(min(world.session.config.check_interval, left + 0.1))
        await world.session.step()
        status = controller.status
        now_left = status.snapshot.driver_left if status.snapshot else None
        if now_left is not None and now_left > left:
            break  # renewed: its driver is alive
        left = now_left
    return status


async def _stop(world: World, runner: asyncio.Task[Any], stop: asyncio.Event) -> None:
    """Every driving command's exit path (a run's end, a signal, a one-shot action's end): let the step under
    way finish (its writes and record saves land), then close: the final record is saved before the Lease is
    released (World.aclose)."""
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(runner), timeout=3 * world.session.config.check_interval + 15)
    except (asyncio.TimeoutError, Exception):
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    await world.aclose()


async def run_headless(config: Config, options: Options, service: str, version: str, *,
                       as_json: bool) -> int:
    world = await _open(config, options, actor_kind="command")  # it drives what _begin starts or resumes
    if isinstance(world, int):
        return world
    session = world.session
    printer = _Printer(service, world.clock.now(), as_json)
    session.bus.subscribe(printer)
    stop = asyncio.Event()
    signals = _Stop(wake=printer.stopped)
    restore_signals = handle_signals(signals)
    runner: asyncio.Task[None] | None = None
    try:
        refused = await _begin(world, service, version, printer)
        if refused:
            _err(f"cannot drive {service}: {refused}")
            return EXIT_USAGE
        runner = asyncio.create_task(session.run(stop))
        await printer.stopped.wait()
    finally:
        restore_signals()
        if runner is None:
            await world.aclose()
        else:
            await _stop(world, runner, stop)
    controller = session.controllers[service]
    if signals.signalled:
        if not printer.closed:
            printer.emit(json_line({"service": service, "outcome": RolloutOutcome.STOPPED, "signal": signals.signalled,
                                    "state": controller.state.value, "weight": controller.weight})
                         if as_json else signals.stopped_line(service, controller, "resumes it"))
        return EXIT_WAITING
    outcome = printer.stop_state or RolloutOutcome.INCOMPLETE
    summary = {"service": service, "outcome": outcome,
               "decisions": [d.to_json() for d in controller.decisions]}
    if not printer.closed:
        printer.emit(json_line(summary) if as_json
                      else humane(f"{service}: {outcome.replace('_', ' ')} — {printer.summary or controller.status.reason}"))
    return outcome_exit(outcome)


# --- status and analyze --------------------------------------------------------------------------------

async def _prepared(config: Config, options: Options, services: Sequence[str], *,
                    reading: bool = False) -> World | int:
    """The world, started and stepped once (the demo also runs a few simulated minutes to fill windows).
    ``reading``: opened read-only (open_reader), the step only observes."""
    world = await _open(config, options, reading=reading)
    if isinstance(world, int):
        return world
    if world.demo:
        await warm_demo(world, services)
        return world
    cluster = world.session.cluster
    if isinstance(cluster, Checked):
        try:
            await cluster.check()
        except ClusterError as exc:
            await world.aclose()
            return cluster_exit(exc)
    await world.session.step()
    return world


def _notifications(config: Config) -> list[dict[str, Any]]:
    """Each configured sink (its secrets checked readable) and its last state as the journal knows it: the
    driving console writes a line when a sink starts failing and when it delivers again."""
    from console.adapters.notify import build_sinks
    from console.engine.journal_sink import sink_states
    from console.engine.report import read_journal

    sinks = build_sinks(config.notifications, config.service_names)
    known = sink_states(read_journal(config.journal_path())) if sinks else {}
    return [{"name": sink.name, "type": sink.kind, "events": sorted(sink.item.wanted_events),
             "services": sink.item.services or "all", "state": "unknown", "since": None, "last_error": None,
             **known.get(sink.name, {})} for sink, _policy in sinks]


PROBE_SECONDS = 3.0  # the first question to Prometheus: an unreachable one is said at once, not after retries


async def _probe_prometheus(config: Config, options: Options) -> int | None:
    """Ask the configured Prometheus once, briefly; exit 4 with one line when it does not answer."""
    url = options.prometheus or config.prometheus.url
    if not url:
        return None
    metrics = prometheus_for(config, url)
    try:
        await asyncio.wait_for(metrics.query("1"), PROBE_SECONDS)
    except (MetricsError, TimeoutError, asyncio.TimeoutError) as exc:  # whatever it is, no answer: exit 4
        _err(_prometheus_unreachable(exc, f"no answer from {metrics!r} within {PROBE_SECONDS:g}s"))
        return EXIT_UNREACHABLE
    finally:
        await metrics.aclose()
    return None


def _prometheus_unreachable(exc: BaseException, fallback: str = "") -> str:
    """`Prometheus unreachable: <why>`, said once, chosen by the error's kind, not its words: the adapter words
    what it could not ask (unreachable, timeout, 401/403) so already (console/adapters/prometheus_api.py);
    any other kind (a rejected query, a warning, a bare timeout) gets the words in front."""
    text = str(exc) or fallback
    return text if problem_of(exc).not_asked else f"Prometheus unreachable: {text}"


#: status exit code: the worst of the services (docs/contracts.md codes): failing or rolled back 1, waiting
#: for a person (awaiting approval, paused) 3, everything fine 0; unreachable 4 overrides them
def status_exit(statuses: Sequence[Any]) -> int:
    if any(s.state in (State.ROLLING_BACK, State.ROLLED_BACK, State.FAILED)
           or (s.verdict is not None and s.verdict.outcome is Outcome.FAIL) for s in statuses):
        return EXIT_FAILED
    if any(s.state in (State.AWAITING_APPROVAL, State.PAUSED) for s in statuses):
        return EXIT_WAITING
    return EXIT_OK


async def status(config: Config, options: Options, services: Sequence[str], *, as_json: bool) -> int:
    options.notify = False  # looking tells nobody
    probed = await _probe_prometheus(config, options)
    if probed is not None:
        return probed
    sinks = _notifications(config)
    world = await _prepared(config, options, services, reading=True)
    if isinstance(world, int):
        return world
    try:
        statuses = [world.session.controllers[s].status for s in services]
    finally:
        await world.aclose()
    if as_json:
        print_json({"services": [s.to_json() for s in statuses], "notifications": sinks})
    else:
        print(f"{'SERVICE':<12} {'STATE':<18} {'WEIGHT':>6}  {'STABLE':<9} {'CANARY':<9} {'PODS S/C':<10} VERDICT")
        for s in statuses:
            snap = s.snapshot
            pods = "-"
            if snap:
                (sr, st), (cr, ct) = snap.ready_count(Track.STABLE), snap.ready_count(Track.CANARY)
                pods = f"{sr}/{st} {cr}/{ct}"
            verdict = outcome_word(s.verdict.outcome) if s.verdict else "no verdict yet"
            _out(f"{s.service:<12} {s.state.label:<18} {s.weight:>5}%  {s.stable_version or '-':<9} "
                 f"{s.canary_version or '-':<9} {pods:<10} {humane(f'{verdict}: {s.reason}')}")
        for problem in dict.fromkeys(p for s in statuses if s.snapshot and (p := s.snapshot.problem)):
            _err(problem)
        for sink in sinks:
            _out(f"notifications {sink['name']} ({sink['type']}): {sink['state']}"
                 + (f" since {sink['since']}: {sink['last_error']}" if sink.get("last_error") else ""))
    if any(_not_read(s) for s in statuses):
        return EXIT_UNREACHABLE
    return status_exit(statuses)


def _not_read(status: Any) -> bool:
    """The world was not seen: a failed read (the snapshot's fields are old), the cluster or the metrics
    source not asked (by the kind of their problem, never its words)."""
    snapshot, metrics = status.snapshot, status.metrics
    if snapshot is not None and (snapshot.unread or (snapshot.problem_kind and snapshot.problem_kind.not_asked)):
        return True
    return metrics is not None and metrics.not_asked


def _print_verdict(service: str, verdict: Verdict, as_json: bool) -> None:
    if as_json:
        print_json({"service": service, "weight": verdict.weight, "verdict": verdict.outcome.value,
                    "reason": verdict.reason, "checks": [c.to_json() for c in verdict.checks],
                    **({"problems": list(verdict.problems)} if verdict.problems else {})})
        return
    _out(f"{service} at {verdict.weight}%: {outcome_word(verdict.outcome)} — {humane(verdict.reason)}")
    for check in verdict.checks:
        _out(f"  {check_word(check.name):<22} {result_word(check.result):<17} {humane(check.reason)}")


async def analyze(config: Config, options: Options, service: str, weight: int | None, *,
                  as_json: bool) -> int:
    from console.engine.analysis import analyze_once

    options.notify = False  # looking tells nobody

    if options.prometheus and not options.demo:  # Prometheus alone, no cluster
        metrics = prometheus_for(config, options.prometheus)
        try:
            verdict = await analyze_once(config, metrics, service, weight)
        finally:
            await metrics.aclose()
    else:
        world = await _prepared(config, options, [service], reading=True)
        if isinstance(world, int):
            return world
        try:
            session = world.session
            current = session.controllers[service].status.weight
            verdict = await analyze_once(config, session.metrics, service,
                                         weight if weight is not None else current)
        finally:
            await world.aclose()
    if verdict.not_asked is not None:
        _err(verdict.reason)
        if as_json:
            _print_verdict(service, verdict, as_json)
        return EXIT_UNREACHABLE
    _print_verdict(service, verdict, as_json)
    return VERDICT_EXIT[verdict.outcome]


# --- one-shot actions ----------------------------------------------------------------------------------

async def action(config: Config, options: Options, name: str, service: str, *, yes: bool, force: bool,
                 as_json: bool) -> int:
    needs_confirmation = BY_NAME[name].needs_confirmation(force)
    world = await _prepared(config, options, [service])  # the first step only observes
    if isinstance(world, int):
        return world
    session = world.session
    if needs_confirmation and not yes and not options.read_only:
        why = _forced_because(session.controllers[service]) if force else ""
        answer = confirm(f"{name} {service}{f' (forced: {why})' if why else ' (forced)' if force else ''}?")
        if not answer:
            await world.aclose()
            if answer is None:  # no terminal to ask on
                _err(f"{name} {service} needs a confirmation and there is no terminal to ask on; add --yes")
                return EXIT_USAGE
            _err(f"{name} {service} not confirmed: nothing done")  # the person said no (exit 3, "stopped")
            return EXIT_WAITING
    kwargs: dict[str, Any] = {"force": True} if force else {}
    errors: list[Event] = []
    unsubscribe = session.bus.subscribe(
        lambda e: errors.append(e) if e.service == service and e.kind is EventKind.ERROR else None)
    unsubscribe_held = session.bus.subscribe(_say_held(service))  # a promote held by a person waits: say so
    controller = session.controllers[service]
    before = controller.status
    signals = _Stop()
    restore_signals = handle_signals(signals)  # killed in flight, it saves and releases as `run` does
    work = asyncio.create_task(_act(world, service, name, kwargs, errors, signals.event))
    signalled = asyncio.create_task(signals.event.wait())
    try:
        await asyncio.wait([work, signalled], return_when=asyncio.FIRST_COMPLETED)
    finally:
        signalled.cancel()  # the action ended first: nothing waits for a signal any more
        restore_signals()
        unsubscribe()
        unsubscribe_held()
        await _stop(world, work, signals.event)  # the one exit path: the step under way lands, saved, released
    after = controller.status
    if signals.signalled:
        message = signals.stopped_line(service, controller, "finishes it")
        if as_json:
            print_json({"service": service, "action": name, "ok": False, "message": message, "signal": signals.signalled,
                        "state": after.state.value, "from_weight": before.weight, "weight": after.weight})
        else:
            _err(f"{name} {message}")
        return EXIT_WAITING
    result, failure = work.result()
    ok = result.ok and failure is None
    if as_json:
        print_json({"service": service, "action": name, "ok": ok, "message": failure[0] if failure else result.message,
                    "state": after.state.value, "from_weight": before.weight, "weight": after.weight})
    elif ok:
        _out(f"{service}: {name} done — {after.state.label}, weight {before.weight}% → {after.weight}%")
    if failure is not None:
        _err(f"{name} {service} failed: {failure[0]}")
        return EXIT_UNREACHABLE if failure[1].unanswered else EXIT_USAGE  # the server's side: 4
    if not result.ok:
        if UNANSWERED in result.message:  # asked the service's driver; nobody answered in time (docs/controller.md)
            _err(f"{name} {service}: {result.message}")
            return EXIT_WAITING
        _err(f"{name} {service} refused: {result.message}")
        return EXIT_USAGE
    return EXIT_OK


Failure = tuple[str, Problem]  # why an action did not land, in words, and its kind


def _say_held(service: str) -> Callable[[Event], None]:
    """While an action waits for its result, the driver's word that a person holds it (the stable
    Deployment paused by `kubectl rollout pause`) and that it goes on, each a line on stderr."""

    def say(event: Event) -> None:
        if (event.service == service and event.kind is EventKind.ACTION
                and event.data.get("what") in ("promote_held", "promote_resumed")):
            _err(humane(event.message))

    return say


async def _act(world: World, service: str, name: str, kwargs: dict[str, Any], errors: list[Event],
               stop: asyncio.Event) -> tuple[Any, Failure | None]:
    """The action, then (when accepted) its result waited for and read back; ``stop`` (a signal) ends the
    wait at the next step."""
    session = world.session
    if name in REQUESTABLE and session.controllers[service].driven_elsewhere():
        result = await session.request(service, name, wait=True, **kwargs)  # its driver does it
    else:
        result = await session.intent(service, name, **kwargs)
    failure: Failure | None = None
    if result.ok:
        failure = _write_failed(session.controllers[service].state, name, errors)
        if failure is None:
            await _settle(world, service, stop)
            failure = None if stop.is_set() else await _not_landed(world, service, name)
    elif result.failed:  # accepted, but the cluster did not take its write
        controller = session.controllers[service]
        failure = (controller.write_failure or result.message, controller.write_problem)
    return result, failure


def _kind(event: Event) -> Problem:
    try:
        return Problem(event.data.get("problem", Problem.FAILED))
    except ValueError:
        return Problem.FAILED


def _write_failed(state: State, name: str, errors: list[Event]) -> Failure | None:
    """Why the action's write did not land, when the controller says so (a rollback still in flight means
    its write failed; its record says so, and the next console that drives the service retries it)."""
    if name == "rollback" and state is State.ROLLING_BACK:
        writes = [e for e in errors if e.message.startswith("rollback failed")]
        last = writes[-1] if writes else (errors[-1] if errors else None)
        why = last.message if last else "the rollback write did not land"
        saved = not any(e.message.startswith("saving the rollout record failed") for e in errors)
        return (why + ("; the rollout record says rolling back: the next console that drives it retries" if saved
                       else "; the rollout record could not be saved either"),
                _kind(last) if last else Problem.FAILED)
    return None


async def _not_landed(world: World, service: str, name: str) -> Failure | None:
    """Read the cluster back: None when it shows what the action meant to do, else what it shows."""
    controller = world.session.controllers[service]
    if name == "promote" and controller.state not in (State.PROMOTING, State.PROMOTED):
        return (controller.write_failure or controller.reason,  # its write was refused: it stopped for a person
                controller.write_problem)
    if name not in ("rollback", "advance") or controller.state is State.PROMOTING:
        return None
    try:
        snapshot = (await world.session.cluster.snapshot_all([service]))[service]
    except ClusterError as exc:
        return f"cannot read the result back: {exc}", exc.problem
    if "ingresses" in snapshot.unread or (snapshot.problem and not snapshot.unread):
        return f"cannot read the result back: {snapshot.problem}", snapshot.problem_kind or Problem.FAILED
    if snapshot.problem:  # the weight was read back; say what else could not be
        _err(f"warning: {snapshot.problem}")
    expected = 0 if name == "rollback" else controller.weight
    if snapshot.canary_exists and snapshot.weight != expected:
        return f"the cluster shows weight {snapshot.weight}%, not {expected}%", Problem.FAILED
    return None


async def request_start(config: Config, options: Options, service: str, version: str, *, as_json: bool) -> int:
    """`start SERVICE --version V`: ask the service's driver (a controller replica or another console) to
    start a canary. 0 done; 2 refused or no driver (nothing is written then); 3 nobody answered in time."""
    world = await _prepared(config, options, [service])
    if isinstance(world, int):
        return world
    try:
        result = await world.session.request(service, "start", wait=True, version=version)
    finally:
        await world.aclose()
    if as_json:
        print_json({"service": service, "action": "start", "version": version, "ok": result.ok,
                    "message": result.message})
    elif result.ok:
        print(f"{service}: {result.message}")
    if result.ok:
        return EXIT_OK
    _err(f"start {service} {version}: {result.message}")
    return EXIT_WAITING if UNANSWERED in result.message and NO_DRIVER not in result.message else EXIT_USAGE


def _forced_because(controller: Any) -> str:
    """What a forced action overrides: the failing verdict, or the missing data (said in the question)."""
    verdict = controller.verdict
    if verdict is not None and verdict.outcome is Outcome.FAIL:
        return f"the checks fail: {verdict.reason}"
    return controller.unusable() or ""


async def _settle(world: World, service: str, stop: asyncio.Event) -> None:
    """Let a rollback or promotion that is under way finish (its retries run on the clock), unless told to
    stop (a signal)."""
    controller = world.session.controllers[service]
    deadline = world.clock.now() + world.session.config.progress_deadline
    while (controller.status.state in (State.ROLLING_BACK, State.PROMOTING) and world.clock.now() < deadline
           and not stop.is_set()):
        await world.let_time_pass(1.0)
        if not stop.is_set():
            await world.session.step()


# --- replay, record, sandbox ---------------------------------------------------------------------------

def replay(config: Config, timeline: str, service: str | None, *, as_json: bool) -> int:
    from console.engine.replay import TimelineError, replay_timeline

    try:
        result = replay_timeline(config, sys.stdin if timeline == "-" else timeline, service=service)
    except TimelineError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{timeline}: cannot read the timeline: {exc.strerror or exc}") from None
    if as_json:
        print_json(result.to_json())
    else:
        _out(result.table())
    return outcome_exit(result.outcome)


async def record(config: Config, options: Options, service: str, since: str, step: str) -> int:
    from console.adapters.record import record as record_timeline

    url = options.prometheus or config.prometheus.url
    if not url:
        raise ConfigError("record needs --prometheus URL (or prometheus.url in the config)")
    try:
        since_s, step_s = parse_duration(since), parse_duration(step)
    except ValueError as exc:
        raise ConfigError(f"--since/--step: {exc}") from None
    metrics = prometheus_for(config, url)
    try:
        async for line in record_timeline(config, metrics, service, since_s, step_s):
            print(line, flush=True)
    except MetricsError as exc:
        _err(_prometheus_unreachable(exc))
        return EXIT_UNREACHABLE
    finally:
        await metrics.aclose()
    return EXIT_OK


async def sandbox(config: Config, options: Options, port: int, *, start: bool) -> int:
    from console.sim.exporter import scrape_config, start_exporter

    options.demo = True
    world = await _open(config, options)
    if isinstance(world, int):
        return world
    session = world.session
    assert world.sim is not None, "options.demo opens a simulated world"
    try:
        server, bound = start_exporter(world.sim, world.clock, port=port)
    except OSError as exc:
        _err(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}")
        return EXIT_USAGE
    print(f"serving the simulated world's metrics on http://127.0.0.1:{bound}/metrics")
    print("scrape config for prometheus.yml:\n")
    print(scrape_config(f"127.0.0.1:{bound}"), flush=True)
    if start:
        for service in config.service_names:
            await session.intent(service, "start", version="1.2.4")
    try:
        await session.run()
    finally:
        server.shutdown()
        await world.aclose()
    return EXIT_OK


# --- report ----------------------------------------------------------------------------------------------

async def report(config: Config, options: Options, service: str, rollout: str | None, out_dir: str | None, *,
                 as_json: bool) -> int:
    """Write a rollout's report from the journal (works after a crash) and, when the cluster answers, its
    rollout record. Exit 0 written, 2 no journal or no such rollout."""
    from console.engine.report import write_report

    journal = config.journal_path()
    if not journal.exists():
        raise ConfigError(f"no journal at {journal} (config 'journal'): nothing to report")
    record = None if options.demo else await _record_of(config, options, service)
    try:
        path, chosen = write_report(journal, service, rollout=rollout, record=record, out_dir=out_dir)
    except LookupError as exc:
        raise ConfigError(str(exc).strip("'\"")) from None
    except OSError as exc:
        raise ConfigError(f"--output: cannot write the report: {exc.strerror or exc}") from None
    if as_json:
        print_json({"service": service, "rollout": chosen.id, "outcome": chosen.outcome, "path": str(path)})
    else:
        print(path)
    return EXIT_OK


async def _record_of(config: Config, options: Options, service: str) -> Any:
    """The cluster's rollout record of ``service``, read-only; None (said on stderr) when it cannot be had."""
    options.read_only = True
    try:
        world = await open_world(config, options)
    except Exception as exc:
        _err(f"report without the cluster record: {exc}")
        return None
    try:
        snapshots = await world.session.cluster.snapshot_all([service])
        return snapshots[service].record if service in snapshots else None
    except Exception as exc:
        _err(f"report without the cluster record: {exc}")
        return None
    finally:
        await world.aclose()
