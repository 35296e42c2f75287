"""The intents room: what a person (a key, a CLI command, a script) may ask a RolloutController.

Each intent checks that nothing blocks this console (read-only, another console's Lease) and that the state
allows it, refuses with the reason otherwise (published as a REFUSED event), then acts through the
controller's own moves. An accepted intent makes this console the service's driver (a person asked it to
act here). Advancing or promoting on missing or unusable data (no ready canary pod, Prometheus or the
cluster unreachable) is refused unless forced, naming the reason, so the dashboard and the command line can
ask the person with it. It is a mixin of RolloutController (console/engine/controller.py), kept apart so each
file reads in one sitting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from console.engine.intent_table import ACTIVE, BY_NAME, Intent
from console.engine.model import Event, EventKind, IntentResult, Outcome, State, Track
from console.engine.outside import Expected
from console.engine.protocols import TakesOver, identity_of

if TYPE_CHECKING:
    from console.engine.bus import EventBus
    from console.engine.clock import Clock
    from console.engine.config import Config
    from console.engine.model import Decision, ServiceMetrics, ServiceSnapshot, Verdict
    from console.engine.ports import Cluster, ReadOnlyCluster
    from console.engine.stable_window import StableBaseline

__all__ = ["ACTIVE", "HANDLERS", "Intents"]


class Intents:
    """start, advance, pause, resume, approve, rollback, promote, set_mode, delete_canary, drive, take_over."""

    if TYPE_CHECKING:  # what the intents use of RolloutController (console/engine/controller.py), for mypy
        service: str
        config: Config
        cluster: Cluster | ReadOnlyCluster
        clock: Clock
        bus: EventBus
        actor: str
        read_only: bool
        auto: bool
        state: State
        reason: str
        write_failure: str
        write_retryable: bool
        phase: int
        weight: int
        version: str
        verdict: Verdict | None
        decisions: list[Decision]
        snapshot: ServiceSnapshot | None
        metrics: ServiceMetrics | None
        _started_at: float | None
        _deploy_started: float
        _last_tick: float | None
        _last_usable: float
        _baseline: StableBaseline
        _expected: Expected
        _approved_phase: int | None
        _awaiting: str
        _said: set[tuple[int, str]]

        def _blocked(self) -> str | None: ...
        def _drive_here(self) -> None: ...
        async def _write(self, operation: str, *args: Any, why: str, to_weight: int | None = None) -> bool: ...
        def _announce(self, what: str, why: str, from_weight: int, to_weight: int, message: str = "",
                      shadow: bool = False) -> None: ...
        async def _save(self) -> bool: ...
        def _transition(self, to: State, reason: str, *, save: bool = True) -> None: ...
        def _decide(self, action: str, reason: str, *, weight: int | None = None,
                    to_weight: int | None = None) -> None: ...
        def _error(self, message: str, *, retryable: bool = True) -> None: ...
        def _publish_status(self) -> None: ...
        def _phase_name(self) -> str: ...
        def _set_phase(self, index: int, weight: int) -> None: ...
        async def _advance(self, why: str) -> bool: ...
        async def _promote(self, why: str) -> None: ...
        async def _roll_back(self, reason: str, why: str) -> bool: ...

    def act(self, intent: Intent, **kwargs: Any) -> Awaitable[IntentResult]:
        """Do ``intent`` (a row of console/engine/intent_table.py) with its arguments: the one dispatch of
        the session, a request and a test. A bad argument raises TypeError, as a call would."""
        return HANDLERS[intent.name](self, **kwargs)

    def _refuse(self, message: str) -> IntentResult:
        self.bus.publish(Event(EventKind.REFUSED, self.service, self.clock.now(), message))
        return IntentResult(False, message)

    def _failed(self, intent: str) -> IntentResult:
        """An intent whose write the cluster did not take, with the server's own words (a 403 names the
        verb and resource refused)."""
        return IntentResult(False, f"{self.service}: {intent} failed: {self.write_failure or 'see the error'}",
                            failed=True)

    def _gate(self, name: str) -> IntentResult | None:
        """Refuse intent ``name`` when something blocks this console or the intent table's rule does not
        allow it in the current state (console/engine/intent_table.py); else this console drives."""
        intent = BY_NAME[name]
        blocked = self._blocked()
        if blocked:
            return self._refuse(f"{blocked}; {intent.refusal_verb} refused")
        refusal = intent.refusal(self.state)
        if refusal:
            return self._refuse(refusal)
        self._drive_here()
        return None

    def unusable(self) -> str | None:
        """Why the data behind a manual advance is missing or unusable now, or None."""
        snap, metrics = self.snapshot, self.metrics
        if snap is not None and snap.problem:
            return snap.problem
        if snap is not None and snap.canary_exists and self.state is not State.DEPLOYING:
            ready, total = snap.ready_count(Track.CANARY)
            if not ready:
                return f"no ready canary pod ({ready}/{total})"
        if metrics is not None and metrics.problem:
            return metrics.problem
        return None

    def _unusable(self, intent: str, force: bool) -> IntentResult | None:
        why = None if force else self.unusable()
        if why:
            return self._refuse(f"cannot {intent}: {why}; force to do it anyway")
        return None

    def _failing(self, intent: str, force: bool) -> IntentResult | None:
        if not force and self.verdict is not None and self.verdict.outcome is Outcome.FAIL:
            return self._refuse(f"cannot {intent}: the last verdict is FAIL ({self.verdict.reason}); "
                                "force to override")
        return None

    async def start(self, version: str, *, actor: str | None = None) -> IntentResult:
        if actor:
            self.actor = actor
        refused = self._gate("start")
        if refused:
            return refused
        if not version:
            return self._refuse("start needs a version")
        self.version = version
        self._started_at = self.clock.now()
        self.decisions, self.verdict, self._said = [], None, set()
        self._baseline.reset()
        self.state, self.weight = State.IDLE, 0  # a new rollout starts from nothing
        self._expected = Expected()
        if not await self._write("start_canary", version, 0, why="key", to_weight=0):
            self._started_at = None
            return self._failed("start")
        self._set_phase(0, 0)
        self._deploy_started = self._last_usable = self.clock.now()
        self._transition(State.DEPLOYING, "waiting for a ready canary pod before sending it traffic")
        await self._save()
        return IntentResult(True, f"{self.service}: canary {version} deployed; "
                                  f"{self.config.phases[0].weight}% of traffic once it is ready")

    async def advance(self, force: bool = False) -> IntentResult:
        refused = (self._gate("advance") or self._failing("advance", force)
                   or self._unusable("advance", force))
        if refused:
            return refused
        if self.phase + 1 >= len(self.config.phases):
            return await self.promote(force=force)
        if await self._advance("key"):
            return IntentResult(True, f"{self.service}: advanced to {self.weight}%")
        return self._failed("advance")

    async def _person_moves(self, what: str, to: State, reason: str) -> IntentResult:
        """A person's state change (no cluster write besides the record): saved, then announced. A save that
        failed on the way (a 500) is retried at the next check; a record the cluster refuses (403) fails the
        intent: a resume or approve is undone (the cluster still says the state before), a pause stays here
        (stopping is the safe side)."""
        before, before_reason = self.state, self.reason
        self._transition(to, reason)
        if not await self._save() and not self.write_retryable:
            if to is not State.PAUSED:
                self._transition(before, before_reason, save=False)
            return self._failed(what)
        self._announce(what, "key", self.weight, self.weight)
        return IntentResult(True, f"{self.service}: {what} at {self.weight}%")

    async def pause(self) -> IntentResult:
        refused = self._gate("pause")
        if refused:
            return refused
        self._decide("hold", f"paused by {self.actor}")
        return await self._person_moves("pause", State.PAUSED, f"paused by {self.actor}")

    async def resume(self) -> IntentResult:
        refused = self._gate("resume")
        if refused:
            return refused
        snap = self.snapshot
        if snap is not None and snap.canary_exists and not snap.ready_count(Track.CANARY)[0]:
            return self._refuse(f"cannot resume: no ready canary pod ({snap.ready_count(Track.CANARY)[1]} "
                                "listed); it would answer its traffic with 503s")
        phase_weight = self.config.phases[self.phase].weight if 0 <= self.phase < len(self.config.phases) else 0
        if phase_weight and self.weight != phase_weight:  # after a stop by hand: the phase's weight again
            if not await self._write("set_weight", phase_weight, why="key", to_weight=phase_weight):
                return self._failed("resume")
            self.weight = phase_weight
        self._last_tick = self._last_usable = self.clock.now()
        return await self._person_moves("resume", State.OBSERVING,
                                        f"resumed by {self.actor}; observing {self._phase_name()}")

    async def approve(self) -> IntentResult:
        refused = self._gate("approve")
        if refused:
            return refused
        if self._awaiting == "phase_complete":
            return await self.advance()
        self._approved_phase = self.phase
        self._last_tick = self.clock.now()
        return await self._person_moves("approve", State.OBSERVING,
                                        f"approved by {self.actor}; observing {self._phase_name()}")

    async def rollback(self, reason: str = "") -> IntentResult:
        refused = self._gate("rollback")
        if refused:
            return refused
        await self._roll_back(reason or f"rollback by {self.actor}", "key")
        return IntentResult(True, f"{self.service}: rolled back" if self.state is State.ROLLED_BACK
                            else f"{self.service}: rolling back; retrying the write")

    async def promote(self, force: bool = False) -> IntentResult:
        refused = (self._gate("promote") or self._failing("promote", force)
                   or self._unusable("promote", force))
        if refused:
            return refused
        await self._promote("key")
        return IntentResult(True, f"{self.service}: promoting {self.version}")

    async def set_mode(self, auto: bool) -> IntentResult:
        refused = self._gate("set_mode")
        if refused:
            return refused
        self.auto = bool(auto)
        await self._save()
        mode = "auto" if self.auto else "manual"
        self.bus.publish(Event(EventKind.INFO, self.service, self.clock.now(), f"mode {mode} ({self.actor})"))
        self._publish_status()
        return IntentResult(True, f"{self.service}: mode {mode}")

    async def delete_canary(self) -> IntentResult:
        refused = self._gate("delete_canary")
        if refused:
            return refused
        if not await self._write("delete_canary", why="key", to_weight=0):
            return self._failed("deleting the canary")
        self.weight, self.phase = 0, -1
        self._transition(State.IDLE, f"canary deleted by {self.actor}", save=False)
        return IntentResult(True, f"{self.service}: canary deleted")

    async def drive(self) -> IntentResult:
        """Drive the service from this console (``run SERVICE`` on a rollout under way, or a rollout no one
        drives): refused only when something blocks this console (read-only, another console's Lease)."""
        blocked = self._blocked()
        if blocked:
            return self._refuse(f"{blocked}; drive refused")
        self._drive_here()
        self._publish_status()
        return IntentResult(True, f"{self.service}: this console drives it")

    async def take_over(self) -> IntentResult:
        """Drive a service another console drives (its Lease), after the person confirmed: the other
        console stops acting at its next renewal. A read-only console never takes over."""
        if self.read_only:
            return self._refuse("read-only: this console only watches; take over refused")
        if not isinstance(self.cluster, TakesOver) or self.cluster.take_over is None:  # None: switched off
            return self._refuse("no console leases here: there is nothing to take over")
        driver = self.snapshot.driver if self.snapshot else None
        try:
            await self.cluster.take_over(self.service)
        except Exception as exc:
            self._error(f"take over failed: {exc}", retryable=False)
            return IntentResult(False, f"{self.service}: take over failed: {exc}")
        me = identity_of(self.cluster) or self.actor
        self._drive_here()
        if self.snapshot is not None:
            self.snapshot = replace(self.snapshot, driver=me)
        self._announce("take_over", "key", self.weight, self.weight,
                       f"took over {self.service} from {driver or 'nobody'}")
        self._publish_status()
        return IntentResult(True, f"{self.service}: this console drives it now (was {driver or 'nobody'})")


#: intent name → its method, built once from the intent table: a row's name is its method's name, so no second
#: list repeats the intents, and a row without a method fails here, at import
HANDLERS: dict[str, Callable[..., Awaitable[IntentResult]]] = {name: getattr(Intents, name) for name in BY_NAME}
