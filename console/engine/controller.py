"""The controller room: one RolloutController per service, the phase state machine of a canary rollout.

It is driven by ``tick(snapshot, metrics)`` (the session calls it once per check interval) and by intents
(start, advance, pause, resume, approve, rollback, promote, set_mode, delete_canary). It asks the judge,
decides, acts only through the Cluster port, and publishes every transition, verdict, action and decision
on the EventBus. Nothing here raises into its caller: port errors become ERROR events and are retried.

Rules worth knowing: a new canary is deployed at 0 % and gets the first phase's weight once a pod is ready
(a weighted canary without a ready endpoint answers its share with 503s); the phase clock runs only on ticks whose verdict is PASS (time
since the previous tick, capped at 2 × check_interval); a FAIL rolls back at once; rollback is first
priority (state changes before any await, cluster writes are serialised so no stale write lands after it,
and failed rollback writes are retried with backoff on the clock); an approval of a manual review covers
the rest of its phase.

Who drives: a controller acts only while it drives the service (``driving``: the session was told to, or a
person's intent through it started, resumed or took the rollout over) and nothing blocks it (read-only,
another console's Lease). Otherwise it follows the saved record and only says what it "would" do; an
orphaned rollout says since when nobody drives it. While it drives, the cluster is the truth: every check
compares the live weight, the canary Deployment and its replicas and the stable image with what it last
wrote or saw (console/engine/outside.py); a change it did not make pauses the service, is announced as an
override and is never written over. A canary with no ready pod past the deploy phase has its traffic taken
away (weight 0) at once and the rollout pauses; nothing advances it but a forced advance.

Who acts: ``actor`` is this console's name, except inside ``on_behalf(actor, intent)`` (a request served
for a person): that call, and only that call and the work it spawns, acts under the person's name; an
intent from this console's own keys at the same moment keeps its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, Callable

from console.engine import judge as judge_module
from console.engine.audit import redact
from console.engine.bus import EventBus
from console.engine.config import Config, Phase, format_duration
from console.engine.evidence import PhaseEvidence
from console.engine.intent_table import BY_NAME
from console.engine.exits import RolloutOutcome
from console.engine.intents import ACTIVE, Intents
from console.engine.outage import OutageClock
from console.engine.outside import Expected
from console.engine.model import (CheckResult, Decision, Event, EventKind, IntentResult, Outcome, Problem,
                                  RolloutRecord, RolloutStatus, ServiceMetrics, ServiceSnapshot, State, Track, Verdict)
from console.engine.ports import Cluster, ReadOnlyCluster, ReadOnlyError, problem_of
from console.engine.protocols import Claims, console_id_of, identity_of
from console.engine.sequential_judge import SequentialJudge
from console.engine.stable_window import StableBaseline
from console.engine.traffic_share import ShareTracker

SAVE_EVERY = 60.0  # seconds of counted phase progress between periodic record saves
TAKEN_AWAY = "its traffic taken away (weight 0)"  # said once in a reason, however many checks see it
# (controller, actor) of the intent running in this task (and the tasks it spawns), set by on_behalf
_ON_BEHALF: contextvars.ContextVar[tuple[Any, str] | None] = contextvars.ContextVar("on_behalf", default=None)


def _values(verdict: Verdict | None) -> dict[str, Any]:
    """The numbers behind a decision: the verdict and each check's compared values."""
    if verdict is None:
        return {}
    checks = {c.name: {"result": c.result.value, "canary": c.canary, "stable": c.stable,
                       "value": c.value, "threshold": c.threshold} for c in verdict.checks}
    return {"verdict": verdict.outcome.value, "checks": checks}


def _retryable(exc: Exception) -> bool:
    """Whether trying a failed write again may help: not after a refusal (401/403, another console's Lease)."""
    return bool(getattr(exc, "retryable", True)) and not isinstance(exc, ReadOnlyError)


class RolloutController(Intents):
    def __init__(self, service: str, config: Config, cluster: Cluster | ReadOnlyCluster, clock, bus: EventBus, *,
                 actor: str = "console", read_only: bool = False,
                 judge: Callable[..., Verdict] | None = None, drive: bool = False, actor_kind: str = "key") -> None:
        self.service, self.config, self.cluster, self.clock, self.bus = service, config, cluster, clock, bus
        self.actor = actor
        self.actor_kind = actor_kind  # what a person's intent through this console is: key or command
        self.read_only = read_only or config.read_only
        self.driving = drive and not self.read_only
        self._claimed = False
        self._expected = Expected()  # what this driver last wrote or saw: the outside changes are the rest
        self.write_failure = ""  # why the last cluster write (or record save) failed, as the server said it
        self.write_retryable = True  # whether trying that write again may help (not after a 401/403)
        self.write_problem = Problem.FAILED  # its kind (console/engine/model.py Problem)
        self._outage = OutageClock()  # since when the cluster / Prometheus cannot be read
        self._last_write_at = -math.inf
        self._judge = judge
        self.auto = config.auto
        self.state = State.IDLE
        self.reason = "no canary"
        self.phase = -1
        self.weight = 0
        self.phase_elapsed = 0.0
        self.phase_started_at = 0.0
        self.version = ""
        self.verdict: Verdict | None = None
        self.decisions: list[Decision] = []
        self.snapshot: ServiceSnapshot | None = None
        self.metrics: ServiceMetrics | None = None
        self._started_at: float | None = None
        self._deploy_started = 0.0
        self._last_tick: float | None = None
        self._last_usable = 0.0
        self._baseline = StableBaseline(config)
        self._evidence = PhaseEvidence(config.window)
        self._sequential = SequentialJudge(config) if config.analysis.method == "sequential" else None
        self._share = ShareTracker(config.window)
        self._thin = False  # the last verdict was inconclusive only for want of samples
        self._restarts_base = 0
        self._approved_phase: int | None = None
        self._awaiting = ""  # why we await approval: review | phase_complete | fail
        self._saved_elapsed = 0.0
        self._record_dirty = False
        self._seen_first_tick = False
        self._adopted: RolloutRecord | None = None  # the driver's record last followed (when watching)
        self._said: set[tuple[int, str]] = set()  # "would …" already published per (phase, what)
        self._hold_key: tuple[str, str] | None = None
        self._promote_held = False  # the stable Deployment was seen paused by a person while promoting
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def actor(self) -> str:
        """Who acts: the person of the request being served in this task, else this console."""
        acting = _ON_BEHALF.get()
        return acting[1] if acting is not None and acting[0] is self else self._actor

    @actor.setter
    def actor(self, value: str) -> None:
        self._actor = value

    async def on_behalf(self, actor: str, intent: str, **kwargs: Any) -> IntentResult:
        """Run ``intent`` with ``actor`` as who acts (a request: "alice via controller-0"). The name is
        bound to this call's context, never to the controller, so a key pressed meanwhile is not theirs."""
        token = _ON_BEHALF.set((self, actor))
        try:
            return await self.act(BY_NAME[intent], **kwargs)
        finally:
            _ON_BEHALF.reset(token)

    # ---- what screens and scripts read ------------------------------------------------------------

    @property
    def status(self) -> RolloutStatus:
        phases = self.config.phases
        phase = phases[self.phase] if 0 <= self.phase < len(phases) else None
        snap = self.snapshot
        weight = snap.weight if snap is not None and snap.at > self._last_write_at else self.weight
        return RolloutStatus(
            service=self.service, state=self.state, weight=weight, phase=self.phase,
            phase_weight=phase.weight if phase else 0, phase_elapsed=self.phase_elapsed,
            phase_duration=phase.duration if phase else 0.0, mode="auto" if self.auto else "manual",
            verdict=self.verdict, reason=self.reason,
            stable_version=snap.stable_version if snap else None,
            canary_version=self.version or (snap.canary_version if snap else None),
            snapshot=snap, metrics=self.metrics, driver=snap.driver if snap else None,
            read_only=self._blocked() is not None, at=self.clock.now(), driving=self._acting(),
            unusable=self.unusable(), cluster_down_since=self._outage.cluster_since,
            metrics_down_since=self._outage.metrics_since)

    @property
    def outcome(self) -> RolloutOutcome | None:
        if self._started_at is None and self.state is State.IDLE:
            return None
        return {State.PROMOTED: RolloutOutcome.PROMOTED, State.ROLLED_BACK: RolloutOutcome.ROLLED_BACK,
                State.ROLLING_BACK: RolloutOutcome.ROLLED_BACK, State.AWAITING_APPROVAL: RolloutOutcome.AWAITING_APPROVAL,
                State.PAUSED: RolloutOutcome.PAUSED}.get(self.state, RolloutOutcome.INCOMPLETE)

    @property
    def busy(self) -> bool:
        """True while a background rollback retry or promotion is running."""
        return any(not task.done() for task in self._tasks)

    async def drain(self) -> None:
        """Wait for background work (rollback retries, promotion) to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_background(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- the tick -------------------------------------------------------------------------------

    async def tick(self, snapshot: ServiceSnapshot, metrics: ServiceMetrics) -> None:
        try:
            await self._tick(snapshot, metrics)
        except Exception as exc:  # never escape: the next tick tries again
            self._error(f"check failed: {exc}", problem=problem_of(exc))
        self._publish_status()

    async def _tick(self, snapshot: ServiceSnapshot, metrics: ServiceMetrics) -> None:
        now = self.clock.now()
        self.snapshot, self.metrics = snapshot, metrics
        self._outage.update(snapshot, metrics, now)
        if not self._seen_first_tick and (snapshot.problem is None or snapshot.canary_exists):
            self._seen_first_tick = True
            self._resume_from(snapshot)
        elif not self._acting() and snapshot.record is not None and snapshot.record != self._adopted:
            self._adopt(snapshot.record, "following the driving console" if snapshot.driver
                        else "following the saved record")
        acting = self._acting()
        if acting:
            await self._claim()
            await self._notice_outside_changes(snapshot)
        else:
            self._say_orphaned(snapshot)
        if self._record_dirty:
            await self._save()
        if self.state is State.DEPLOYING:
            if acting:
                await self._check_deploy(snapshot, now)
        elif self.state is State.PROMOTING:
            if acting:
                self._notice_held_promote(snapshot)
            if acting and not self.busy:
                self._spawn(self._promote_task("auto"))
        elif self.state in ACTIVE:
            if self._canary_vanished(snapshot):
                self._transition(State.IDLE, "the canary was removed outside this console", save=False)
            else:
                await self._judge_and_act(snapshot, metrics, now)
        self._last_tick = now
        progressed = self.state in ACTIVE and abs(self.phase_elapsed - self._saved_elapsed) >= SAVE_EVERY
        if progressed or self._record_dirty:
            await self._save()

    async def _notice_outside_changes(self, snapshot: ServiceSnapshot) -> None:
        """Compare the live weight, the canary Deployment and the stable image with what this driver last
        wrote or saw; a change it did not make pauses the service and is announced, never written over.
        Only a snapshot taken after our last write counts (an older one cannot show it yet)."""
        watched = self.state is State.DEPLOYING or self.state in ACTIVE
        if (not watched or snapshot.problem is not None or not snapshot.canary_exists
                or snapshot.at <= self._last_write_at):
            return
        changes = self._expected.changes(snapshot, self.weight, self.config.kube.canary_name(self.service))
        self._expected.see(snapshot)
        if not changes:
            return
        reason = "; ".join(changes)
        from_weight, self.weight = self.weight, snapshot.weight
        self._announce("override", "outside", from_weight, self.weight,
                       f"overridden at {from_weight}%: {reason}; nothing written over it")
        if self.state is State.PAUSED:
            self._decide("hold", reason)
            self._transition(State.PAUSED, f"{reason}: paused")
        else:
            self._stop_for_person(State.PAUSED, "override", f"{reason}: paused", "hold")

    def _notice_held_promote(self, snapshot: ServiceSnapshot) -> None:
        """A person paused the stable Deployment (`kubectl rollout pause`) while it is promoted: its rollout
        cannot go on, so the promote is held for them, said once (status reason, Warning Event, a line),
        never waited out against the deadline (the adapter's); it goes on when they `kubectl rollout resume`."""
        if "deployments" in snapshot.unread or snapshot.stable_paused == self._promote_held:
            return
        self._promote_held = held = snapshot.stable_paused
        if held:
            self.reason = (f"promote held: the stable Deployment {self.service} was paused outside the console "
                           f"(kubectl rollout pause); `kubectl rollout resume deploy/{self.service}` lets it go on")
            self._announce("promote_held", "outside", self.weight, self.weight,
                           f"promote of {self.version} held at {self.weight}%: the stable Deployment "
                           f"{self.service} is paused (kubectl rollout pause); waiting for a person to resume it")
        else:
            self.reason = f"promoting {self.version} to stable (the stable Deployment was resumed)"
            self._announce("promote_resumed", "outside", self.weight, self.weight,
                           f"promote of {self.version} goes on: the stable Deployment {self.service} was resumed")
        self._publish_status()  # the record takes the reason at its next save (the promote's write holds the
        # lock until the stable rollout completes; an exit path saves after stopping it)

    async def _without_ready_canary(self, snapshot: ServiceSnapshot) -> bool:
        """Past the deploy phase a canary with no ready pod answers its share with 503s its own metrics never
        see: take the traffic away (weight 0) at once and pause with the reason. So does a canary whose
        Deployment was deleted or scaled to 0: its pods are going away (the garbage collector's or the
        ReplicaSet controller's, in their own time, Ready meanwhile) and nothing will bring them back. True
        when that is so."""
        if not self._acting() or snapshot.problem is not None or not snapshot.canary_exists:
            return False
        ready, total = snapshot.ready_count(Track.CANARY)
        going = ("with their deleted Deployment" if snapshot.canary_deployment is False
                 else "with their Deployment scaled to 0" if snapshot.canary_replicas == 0 else None)
        if ready and going is None:
            return False
        pods = (f"canary pods going away {going} ({ready}/{total} ready)" if ready
                else f"no ready canary pod ({ready}/{total})")
        why = f"{pods}; {TAKEN_AWAY}"
        if self.state is not State.PAUSED:
            self._stop_for_person(State.PAUSED, "no_ready_canary", why, "hold")
        elif TAKEN_AWAY not in self.reason:
            self._transition(State.PAUSED, f"{self.reason}; {why}")
        if self.weight > 0 and await self._write("set_weight", 0, why="auto", to_weight=0):
            self.weight = 0
            self._record_dirty = True
        return True

    def _canary_vanished(self, snapshot: ServiceSnapshot) -> bool:
        return not snapshot.canary_exists and snapshot.problem is None and snapshot.at > self.phase_started_at

    async def _check_deploy(self, snapshot: ServiceSnapshot, now: float) -> None:
        """The canary takes traffic only once a pod is ready: until then nginx would answer its share with
        503s, which would both hurt users and poison the first analysis windows of a healthy canary."""
        ready, total = snapshot.ready_count(Track.CANARY)
        if ready:
            first = self.config.phases[0]
            if self.weight != first.weight:
                if not await self._write("set_weight", first.weight, why="auto", to_weight=first.weight):
                    return  # retried on the next tick
                self._decide("advance", f"canary {self.version} ready: {first.weight}% of traffic",
                             weight=first.weight, to_weight=first.weight)
                self._set_phase(0, first.weight)
            self._restarts_base = snapshot.restarts(Track.CANARY)
            self._last_usable = now
            self._transition(State.OBSERVING, f"canary ready; observing {self._phase_name()}")
            await self._save()
        elif now - self._deploy_started >= self.config.progress_deadline:
            reason = (f"no ready canary pod within {format_duration(self.config.progress_deadline)} "
                      f"({ready}/{total} ready)")
            await self._roll_back(reason, "auto")

    def _judge_now(self, snapshot: ServiceSnapshot, metrics: ServiceMetrics, now: float) -> Verdict:
        phase = self.config.phases[self.phase]
        stable, carried = self._baseline.choose(metrics.stable, self.weight, now)
        restarts = snapshot.restarts(Track.CANARY)
        if restarts < self._restarts_base:  # pods replaced: their counters started again
            self._restarts_base = restarts
        judge = self._judge or judge_module.evaluate
        recent = (metrics.recent_canary, metrics.recent_stable) if metrics.recent_canary is not None else None
        traffic = self._share.offer(now, recent, (metrics.canary, metrics.stable))
        kwargs: dict[str, Any] = dict(extras=metrics.extras, canary_restarts=restarts - self._restarts_base,
                                      previous=self.verdict, at=now, stable_carried_over=carried,
                                      traffic=() if traffic is None else traffic)
        verdict = judge(self.config, self.service, phase, stable, metrics.canary, **kwargs)
        if self._sequential is not None and self._sequential.offer(
                now, phase, metrics.recent_canary, None if carried else metrics.recent_stable, stable):
            verdict = self._sequential.apply(verdict, phase, stable, metrics.canary, stable_live=not carried)
        self._evidence.offer(metrics.canary, stable, now)
        return self._pooled_if_thin(verdict, judge, phase, kwargs).explained(metrics.queries)

    def _pooled_if_thin(self, verdict: Verdict, judge: Callable[..., Verdict], phase: Phase,
                        kwargs: dict[str, Any]) -> Verdict:
        """When one window is too thin to decide (and no breach is pending), ask again on this phase's
        banked disjoint windows; a decision there stands, marked as such."""
        self._thin = (verdict.outcome is Outcome.INCONCLUSIVE and not any(verdict.streaks.values()) and
                      all(c.result in (CheckResult.PASS, CheckResult.INSUFFICIENT_DATA) for c in verdict.checks))
        if not self._thin:
            return verdict  # no data is no data: pooling old windows must not hide an outage
        pooled = self._evidence.pooled()
        if pooled is None:
            return verdict
        canary, stable = pooled
        again = judge(self.config, self.service, phase, stable, canary, **{**kwargs, "previous": None})
        if again.outcome is Outcome.INCONCLUSIVE:
            return verdict
        minutes = int(canary.seconds // 60)
        return replace(again, reason=f"over {self._evidence.count} windows ({minutes}m) of this phase: "
                                     f"{again.reason}", streaks=verdict.streaks)

    async def _judge_and_act(self, snapshot: ServiceSnapshot, metrics: ServiceMetrics, now: float) -> None:
        verdict = self._judge_now(snapshot, metrics, now)
        self.verdict = verdict
        self.bus.publish(Event(EventKind.VERDICT, self.service, now, f"{verdict.outcome.value}: {verdict.reason}",
                               {"verdict": verdict.to_json()}))
        outcome = verdict.outcome
        if outcome is not Outcome.INCONCLUSIVE:
            self._last_usable = now
        if outcome is Outcome.FAIL:
            await self._on_fail(verdict)
            return
        if await self._without_ready_canary(snapshot):
            return
        if self.state is not State.OBSERVING:
            return  # paused or awaiting a person: the phase clock stands still
        reviewed = outcome is Outcome.MANUAL_REVIEW and self._approved_phase != self.phase
        if reviewed:
            self._await_approval("review", f"manual review: {verdict.reason}", "await_approval")
            return
        if outcome is Outcome.INCONCLUSIVE:
            self._on_no_data(metrics, verdict, now)
            return
        if snapshot.problem:  # the cluster cannot be read (unreachable, unauthorized, a failed list): hold
            self._decide("hold", f"phase clock held: {snapshot.problem}")
            return
        if self._last_tick is not None:
            self.phase_elapsed += min(now - self._last_tick, 2 * self.config.check_interval)
        await self._on_progress()

    async def _on_fail(self, verdict: Verdict) -> None:
        reason = verdict.reason
        if self.config.shadow or not self._acting():
            self._would("rollback", f"would roll back: {reason}")
            self._decide("hold", f"would roll back: {reason}")
        elif not self.config.auto_rollback:
            if self.state is not State.AWAITING_APPROVAL:
                self._await_approval("fail", f"failing ({reason}); auto-rollback is off: rollback or approve",
                                     "await_approval")
        else:
            await self._roll_back(reason, "auto")

    def _on_no_data(self, metrics: ServiceMetrics, verdict: Verdict, now: float) -> None:
        why = metrics.problem or verdict.reason
        silent = now - self._last_usable
        deadline = self.config.progress_deadline
        if self._thin:  # traffic flows but is thin: the phase's pooled windows get one phase longer
            deadline += self.config.phases[self.phase].duration
        if silent >= deadline:
            reason = f"no usable data for {format_duration(deadline)}: {why}"
            self._stop_for_person(State.PAUSED, "no_data", reason, "hold")
        else:
            self._decide("hold", f"inconclusive: {why}")

    async def _on_progress(self) -> None:
        phase = self.config.phases[self.phase]
        if self.phase_elapsed < phase.duration:
            return
        if not self.auto:
            self._await_approval("phase_complete", "phase complete: advance to continue", "await_approval")
        elif not self._acting():
            self._would("advance", f"would {self._next_step()}")
        elif self.phase + 1 < len(self.config.phases):
            await self._advance("auto")
        else:
            await self._promote("auto")

    def _next_step(self) -> str:
        phases = self.config.phases
        return f"advance to {phases[self.phase + 1].weight}%" if self.phase + 1 < len(phases) else "promote"

    def _await_approval(self, kind: str, reason: str, action: str) -> None:
        self._stop_for_person(State.AWAITING_APPROVAL, kind, reason, action)

    def _stop_for_person(self, to: State, kind: str, reason: str, action: str) -> None:
        """Pause or await approval; a console that does not drive only says it would."""
        if not self._acting():
            self._would(kind, f"would {'pause' if to is State.PAUSED else 'wait for approval'}: {reason}")
            return
        self._awaiting = kind
        self._decide(action, reason)
        self._transition(to, reason)
        if to is State.PAUSED:
            self._announce("pause", "auto", self.weight, self.weight, f"paused at {self.weight}%: {reason}")

    # ---- resume ---------------------------------------------------------------------------------

    def _resume_from(self, snapshot: ServiceSnapshot) -> None:
        record = snapshot.record
        # a promote stopped after its cleanup began (canary gone, record left: it is deleted last) is finished
        finishing = record is not None and record.state is State.PROMOTING
        if record is not None and (snapshot.canary_exists or finishing) and not record.state.terminal:
            self._adopt(record, "resumed from the saved record")
            if record.state is State.ROLLING_BACK and self._acting():
                self._spawn(self._retry_rollback("auto"))
        elif snapshot.canary_exists and self.state is State.IDLE and snapshot.weight > 0:
            fitting = [i for i, p in enumerate(self.config.phases) if p.weight <= snapshot.weight]
            self._set_phase(fitting[-1] if fitting else 0, snapshot.weight)
            self.version = snapshot.canary_version or ""
            self._started_at = self.clock.now()
            self._transition(State.PAUSED, f"canary found at {snapshot.weight}% without a rollout record: "
                                           "resume to drive it", save=False)

    def _adopt(self, record: RolloutRecord, why: str) -> None:
        now = self.clock.now()
        self._adopted = record
        record = self._landed_advance(record, now)
        if self._started_at is None:
            self._started_at = now
        changed_phase = record.phase != self.phase
        self.phase, self.weight, self.version = record.phase, record.weight, record.version or self.version
        self.phase_elapsed, self.phase_started_at = record.phase_elapsed, record.phase_started_at
        self._saved_elapsed = record.phase_elapsed
        self.auto = record.mode != "manual"
        self._deploy_started = self._last_usable = now
        if changed_phase:
            self._restarts_base = self.snapshot.restarts(Track.CANARY) if self.snapshot else 0
            self._reset_phase_evidence(now)
        phases = self.config.phases
        if record.state is State.AWAITING_APPROVAL and 0 <= record.phase < len(phases):
            done = record.phase_elapsed >= phases[record.phase].duration
            self._awaiting = "phase_complete" if done else "review"
        if record.state is not self.state or changed_phase:  # a watcher's reason names the phase it follows
            detail = f"{self._phase_name()}, {format_duration(record.phase_elapsed)} counted"
            self._transition(record.state, f"{why} ({detail})", save=False)

    def _landed_advance(self, record: RolloutRecord, now: float) -> RolloutRecord:
        """A driver killed between an advance's weight write (which the adapter's intent log confirms into
        the record) and the save of its new phase leaves the old phase at the next phase's weight. That
        advance happened: read it as observing the next phase from now, so the weight is never written twice."""
        phases, nxt = self.config.phases, record.phase + 1
        if (record.state in (State.OBSERVING, State.AWAITING_APPROVAL) and 0 <= record.phase and nxt < len(phases)
                and record.weight == phases[nxt].weight != phases[record.phase].weight):
            return replace(record, state=State.OBSERVING, phase=nxt, phase_elapsed=0.0, phase_started_at=now)
        return record

    # ---- cluster writes -------------------------------------------------------------------------

    def _acting(self) -> bool:
        """This console drives the service and nothing stops it from writing."""
        return self.driving and self._blocked() is None

    def _drive_here(self) -> None:
        """A person's intent through this console (or a start) makes it the service's driver."""
        if not self.driving:
            self.driving, self._claimed = True, False
            self._expected = Expected()

    async def _claim(self) -> None:
        """Take the service's Lease as soon as this console drives it, so others see who drives."""
        if self._claimed or not isinstance(self.cluster, Claims):
            self._claimed = True
            return
        try:
            await self.cluster.claim(self.service)
            self._claimed = True
            self._last_write_at = self.clock.now()  # claiming may finish our interrupted weight write (the
            # adapter's intent log): a snapshot taken before cannot show it, so it is no override
        except Exception as exc:  # another console holds it (the snapshot will say so) or the API failed
            self._error(f"cannot take the lease on {self.service}: {exc}", retryable=not isinstance(exc, ReadOnlyError),
                        problem=problem_of(exc))

    def _say_orphaned(self, snapshot: ServiceSnapshot) -> None:
        """A rollout under way that no console drives: say since when, who drove it last, how to drive it."""
        record = snapshot.record
        if (snapshot.driver or record is None or record.state.terminal
                or self.state.terminal or not snapshot.canary_exists):
            return
        since = record.updated_at or record.phase_started_at
        last = record.last_driver or record.driver or "unknown"
        self.reason = (f"no driver since {time.strftime('%H:%M', time.localtime(since))} (last: {last}); "
                       f"drive it here: T, or canary-console run {self.service}")

    def driven_elsewhere(self) -> str | None:
        """The live driver of this service when it is another console or controller, else None."""
        driver = self.snapshot.driver if self.snapshot else None
        if driver and driver not in (self.actor, identity_of(self.cluster), console_id_of(self.cluster)):
            return driver
        return None

    def _blocked(self) -> str | None:
        """Why this console may not write, or None when it drives the service."""
        if self.read_only:
            return "read-only: this console only watches"
        driver = self.snapshot.driver if self.snapshot else None
        if driver and driver not in (self.actor, identity_of(self.cluster)):
            return f"read-only: {driver} drives {self.service}"
        return None

    async def _write(self, operation: str, *args: Any, why: str, to_weight: int | None = None) -> bool:
        """One cluster write, serialised, never after a rollback began (except the rollback itself)."""
        from_weight = self.weight
        if blocked := self._blocked():
            self.write_failure, self.write_problem = blocked, Problem.FAILED
            return False  # a watching console never writes (the adapter enforces it too)
        async with self._lock:
            if self.state in (State.ROLLING_BACK, State.ROLLED_BACK) and operation in ("set_weight", "promote"):
                self.write_failure = f"{operation.replace('_', ' ')} not sent: a rollback began"
                self.write_problem = Problem.FAILED
                return False
            try:
                await self._operation(operation)(self.service, *args)
            except Exception as exc:
                self.write_failure = f"{operation.replace('_', ' ')} failed: {exc}"
                self.write_retryable, self.write_problem = _retryable(exc), problem_of(exc)
                self._error(self.write_failure, retryable=self.write_retryable, problem=self.write_problem)
                return False
            finally:
                self._last_write_at = self.clock.now()
            self._expected.wrote(operation, to_weight)
        self._announce(operation, why, from_weight, from_weight if to_weight is None else to_weight)
        return True

    def _writer(self) -> Cluster:
        """The cluster to write through: a read-only port (ReadOnlyCluster) has no write method at all."""
        if isinstance(self.cluster, ReadOnlyCluster):
            raise ReadOnlyError(f"read-only: this console only watches {self.service}")
        return self.cluster

    def _operation(self, operation: str) -> Callable[..., Awaitable[None]]:
        """The Cluster port's write called ``operation`` (its name is also the audit's word for it)."""
        cluster = self._writer()
        match operation:
            case "start_canary":
                return cluster.start_canary
            case "set_weight":
                return cluster.set_weight
            case "rollback":
                return cluster.rollback
            case "promote":
                return cluster.promote
            case "delete_canary":
                return cluster.delete_canary
        raise ValueError(f"no cluster write called {operation!r}")

    def _announce(self, what: str, why: str, from_weight: int, to_weight: int, message: str = "",
                  shadow: bool = False) -> None:
        """An ACTION event: a write done (or, with ``shadow``, one this console would have done). ``why`` is
        the actor's kind (audit.ACTOR_KINDS; "auto" and "key" are the policy's and this console's own)."""
        why = {"auto": "automatic", "key": self.actor_kind}.get(why, why)
        if not shadow:
            message = f"{message or self._message(what, from_weight, to_weight)} ({why}, {self.actor})"
        self.bus.publish(Event(EventKind.ACTION, self.service, self.clock.now(), message, {
            "what": what, "actor": self.actor, "why": why, "from_weight": from_weight, "to_weight": to_weight,
            "verdict": self.verdict.outcome.value if self.verdict else None, "reason": self.reason,
            "version": self.version, **({"shadow": True} if shadow else {})}))

    def _message(self, what: str, from_weight: int, to_weight: int) -> str:
        """The audit line of an action, with its numbers and why."""
        if what == "rollback":
            return f"rolled back at {from_weight}%: {self.reason}"
        if what == "set_weight":
            return f"weight {from_weight}% → {to_weight}%: {self.reason}"
        if what == "promote":
            return f"promoted {self.version} at {from_weight}% → 100%"
        if what == "start_canary":
            return f"canary {self.version} deployed at {to_weight}%"
        return f"{what.replace('_', ' ')} at {from_weight}%: {self.reason}"

    def _record(self) -> RolloutRecord:
        verdict = self.verdict.outcome.value if self.verdict else ""
        if self.state in (State.ROLLING_BACK, State.ROLLED_BACK) and verdict != Outcome.FAIL.value:
            verdict = ""  # a person's rollback: no passing verdict beside "rolled back"
        me = identity_of(self.cluster) or self.actor
        return RolloutRecord(state=self.state, phase=self.phase, weight=self.weight,
                             phase_started_at=self.phase_started_at, phase_elapsed=self.phase_elapsed,
                             version=self.version, verdict=verdict, driver=me,
                             mode="auto" if self.auto else "manual", reason=self.reason,
                             updated_at=self.clock.now(), last_driver=me)

    async def save_final(self) -> None:
        """The last save of a driver that exits: outcome, state, weight and reason, with the driver cleared
        so the next console sees nobody drives (and since when), then this console drives no more."""
        if not self._acting() or self.state is State.IDLE:
            return
        async with self._lock:
            record = replace(self._record(), driver="")
            try:
                await self._writer().save_record(self.service, record)
            except Exception as exc:
                self._error(f"saving the final rollout record failed: {exc}", problem=problem_of(exc))
        self.driving = False
        self._record_dirty = False

    async def _save(self) -> bool:
        """Save the rollout record; False when the cluster refused or failed it (the next check retries)."""
        if not self._acting() or self.state is State.IDLE:
            self._record_dirty = False
            return True
        async with self._lock:
            record = self._record()
            try:
                await self._writer().save_record(self.service, record)
            except Exception as exc:
                self._record_dirty = True
                self.write_failure = f"saving the rollout record failed: {exc}"
                self.write_retryable, self.write_problem = _retryable(exc), problem_of(exc)
                self._error(self.write_failure, problem=self.write_problem)
                return False
        self._record_dirty = False
        self._saved_elapsed = record.phase_elapsed
        return True

    # ---- transitions and events -----------------------------------------------------------------

    def _transition(self, to: State, reason: str, *, save: bool = True) -> None:
        if self.state is State.ROLLING_BACK and to not in (State.ROLLED_BACK, State.FAILED):
            return  # nothing overrides a rollback in flight
        before, self.state, self.reason = self.state, to, reason
        self._hold_key = None
        if to is not State.PROMOTING:
            self._promote_held = False  # a held promote that ended says nothing to the next rollout's promote
        self.bus.publish(Event(EventKind.STATE, self.service, self.clock.now(),
                               f"{before.value} → {to.value}: {reason}",
                               {"from": before.value, "to": to.value, "reason": reason}))
        if save:
            self._record_dirty = True
        self._publish_status()

    def _decide(self, action: str, reason: str, *, weight: int | None = None, to_weight: int | None = None) -> None:
        """Record a decision. ``weight`` is the weight the decision was taken at (for the first advance,
        the first phase's weight, as there is none before); an advance also names ``to_weight``."""
        key = (action, reason.split(":")[0])
        if action == "hold" and key == self._hold_key:
            return  # a hold is reported once until something changes
        self._hold_key = key if action == "hold" else None
        t = self.clock.now() - (self._started_at if self._started_at is not None else self.clock.now())
        values = _values(self.verdict) | ({"to_weight": to_weight} if to_weight is not None else {})
        decision = Decision(t=t, action=action, weight=self.weight if weight is None else weight, reason=reason,
                            values=values)
        self.decisions.append(decision)
        self.bus.publish(Event(EventKind.DECISION, self.service, self.clock.now(), f"{action}: {reason}",
                               decision.to_json()))

    def _would(self, what: str, message: str) -> None:
        if (self.phase, what) in self._said:
            return
        self._said.add((self.phase, what))
        self._announce(what, "auto", self.weight, self.weight, message, shadow=True)

    def _error(self, message: str, *, retryable: bool = True, problem: Problem | None = None) -> None:
        """An ERROR event; ``problem`` (its kind, from the port's exception) lets a caller choose an exit code."""
        self.bus.publish(Event(EventKind.ERROR, self.service, self.clock.now(), redact(message),
                               {"retryable": retryable, **({"problem": problem.value} if problem else {})}))

    def _publish_status(self) -> None:
        self.bus.publish(Event(EventKind.STATUS, self.service, self.clock.now(),
                               f"{self.state.label} at {self.weight}%", {"status": self.status}))

    def _phase_name(self) -> str:
        if not 0 <= self.phase < len(self.config.phases):
            return "no phase"
        phase = self.config.phases[self.phase]
        return f"phase {phase.name} ({phase.weight}%)"

    def _set_phase(self, index: int, weight: int) -> None:
        self.phase, self.weight = index, weight
        self.phase_elapsed, self.phase_started_at = 0.0, self.clock.now()
        self._saved_elapsed = 0.0
        self._approved_phase = None
        self._restarts_base = self.snapshot.restarts(Track.CANARY) if self.snapshot else 0
        self._reset_phase_evidence(self.clock.now())

    def _reset_phase_evidence(self, now: float) -> None:
        """A new weight is a new experiment: banked windows, sequential streams and the share start again."""
        self._evidence.reset(now)
        self._share.reset(now)
        if self._sequential is not None:
            self._sequential.reset()

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- moves shared by ticks and intents ------------------------------------------------------

    async def _advance(self, why: str) -> bool:
        nxt = self.phase + 1
        target: Phase = self.config.phases[nxt]
        if not await self._write("set_weight", target.weight, why=why, to_weight=target.weight):
            return False
        self._decide("advance", f"{self._phase_name()} complete → {target.weight}%" if why == "auto"
                     else f"advanced by {self.actor} → {target.weight}%", to_weight=target.weight)
        self._set_phase(nxt, target.weight)
        self._transition(State.OBSERVING, f"observing {self._phase_name()}")
        await self._save()
        return True

    async def _promote(self, why: str) -> None:
        self._decide("promote", f"{self._phase_name()} complete → promote" if why == "auto"
                     else f"promoted by {self.actor}")
        self._transition(State.PROMOTING, f"promoting {self.version} to stable")
        await self._save()
        self._spawn(self._promote_task(why))

    async def _promote_task(self, why: str) -> None:
        if await self._write("promote", self.version, why=why, to_weight=100):
            self.weight = 100
            self._transition(State.PROMOTED, f"{self.version} is stable")
            await self._save()
        elif not self.write_retryable:  # refused (403, a lost Lease): asking again cannot help, a person must
            self._stop_for_person(State.PAUSED, "promote_failed", self.write_failure, "hold")

    async def _roll_back(self, reason: str, why: str) -> bool:
        """First priority: the state changes before any await; the write goes out before the record."""
        if self.state in (State.ROLLING_BACK, State.ROLLED_BACK):
            return True
        self._decide("rollback", reason)
        self._transition(State.ROLLING_BACK, reason, save=False)
        if await self._rollback_write(why):
            return True
        await self._save()
        self._spawn(self._retry_rollback(why))
        return False

    async def _rollback_write(self, why: str) -> bool:
        from_weight = self.weight
        if not await self._write("rollback", why=why, to_weight=0):
            return False
        self.weight = 0
        self._transition(State.ROLLED_BACK, f"rolled back from {from_weight}%: {self.reason}")
        await self._save()
        return True

    async def _retry_rollback(self, why: str) -> None:
        delay = 1.0
        while self.state is State.ROLLING_BACK:
            await self.clock.sleep(delay)
            if await self._rollback_write(why):
                return
            delay = min(delay * 2, self.config.check_interval)
