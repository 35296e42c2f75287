"""The notable room: the ONE rule for which engine events are worth telling a person, and what to say.

Every consumer that tells people — the dashboard's alert (bell + toast), the headless printer's stop, the
notification sinks (Slack, PagerDuty, webhooks), the rollout report — asks a ``NotableRule`` instead of
matching events itself. The rule is a small state machine per service (it remembers the last rollback
action, so "rolled back" says automatically or by whom, and edges of incidents and stuck rollouts); each
consumer keeps its own instance.

What is notable, and which engine event it comes from today:

=================  ==========================================================================================
starting           INFO with ``data["pre_canary"]`` (the runbook's "Team notified", before the canary)
started            ACTION ``start_canary`` (not shadow)
advanced           ACTION ``set_weight`` (not shadow): the canary got its next phase's weight
approved           ACTION ``approve``
resumed            ACTION ``resume``
awaiting_approval  STATE → awaiting_approval (manual review, phase complete in manual mode, fail without
                   auto-rollback)
paused             STATE → paused (by a person, or a canary found without a record)
stuck              STATE → paused because no usable data came for the progress deadline; and, detected
                   here, a rollout left DEPLOYING, PROMOTING or ROLLING_BACK for longer than the progress
                   deadline (a rollback write that keeps failing, a promotion that never lands)
override           an ACTION ``override`` or any event with ``data["override"]`` (the driver saw a change it
                   did not make), an ACTION ``promote_held`` (the stable Deployment paused by a person while
                   promoting), or a transition whose reason says the canary was removed outside this
                   console
would_roll_back    ACTION ``rollback`` with ``shadow`` (the judge would roll back; nothing was done)
rolled_back        STATE → rolled_back; automatic or by whom comes from the rollback ACTION before it
promoted           STATE → promoted
failed             STATE → failed
incident           the judge's "incident on both tracks" (a verdict's problem: stable reaches the absolute
                   limit too and the canary is not worse, so it holds instead of rolling back — judge.py,
                   sequential.py), or both tracks' error rates above the absolute bound (1 −
                   criteria.min_success_rate) in the same window with at least judging.min_requests
                   requests each: the service is in trouble, not (only) the canary. Said when it begins and
                   when it ends (``cleared``: the judge no longer names it and stable is back within the
                   bound).
report             INFO with ``data["report"]`` (a rollout report was written)
sink_failing       ERROR with ``data["sink"]`` and ``data["failing"]`` (a notification sink keeps failing)
=================  ==========================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from console.engine.exits import STATE_OUTCOME, RolloutOutcome
from console.engine.model import INCIDENT as INCIDENT_WORDS
from console.engine.model import Event, EventKind, RolloutStatus, State

OUTSIDE = ("outside this console", "without a rollout record", "changed by someone else")
AUTOMATIC = ("automatic", "auto")  # an ACTION's ``why`` when the policy acted (older journals: "auto")


class Notable(StrEnum):
    STARTING = "starting"
    STARTED = "started"
    ADVANCED = "advanced"
    APPROVED = "approved"
    RESUMED = "resumed"
    AWAITING_APPROVAL = "awaiting_approval"
    PAUSED = "paused"
    STUCK = "stuck"
    OVERRIDE = "override"
    WOULD_ROLL_BACK = "would_roll_back"
    ROLLED_BACK = "rolled_back"
    PROMOTED = "promoted"
    FAILED = "failed"
    INCIDENT = "incident"
    REPORT = "report"
    SINK_FAILING = "sink_failing"


NOTABLE_NAMES = tuple(n.value for n in Notable)

SEVERITY = {Notable.ROLLED_BACK: "critical", Notable.INCIDENT: "critical", Notable.FAILED: "critical",
            Notable.STUCK: "error", Notable.AWAITING_APPROVAL: "warning", Notable.OVERRIDE: "warning",
            Notable.WOULD_ROLL_BACK: "warning", Notable.PAUSED: "warning", Notable.SINK_FAILING: "warning"}

# the outcome a headless run stops at, by the state a STATE event goes to
STOP_AT = STATE_OUTCOME


@dataclass(frozen=True, slots=True)
class Notice:
    """One notable thing, said once, with what a person needs to act on it."""

    kind: Notable
    service: str
    at: float
    summary: str  # one line for people (already redacted by the engine)
    actor: str = ""  # who acted: a person's name, or "" when the engine did it on its own
    automatic: bool = False
    severity: str = "info"  # critical | error | warning | info (PagerDuty's severities)
    needs_person: bool = False  # ring the bell, page someone
    stop_at: RolloutOutcome | None = None  # the headless run's outcome when it stops here
    cleared: bool = False  # an incident that ended
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "service": self.service, "at": round(self.at, 3),
                "summary": self.summary, "actor": self.actor, "automatic": self.automatic,
                "severity": self.severity, "needs_person": self.needs_person, "cleared": self.cleared,
                **({"data": self.data} if self.data else {})}


class NotableRule:
    """``see(event)`` → a Notice, or None when the event is not worth telling a person.

    ``progress_deadline`` bounds DEPLOYING/PROMOTING/ROLLING_BACK before a rollout is called stuck;
    ``max_error_rate`` and ``min_requests`` define an incident on both tracks (see the module's table).
    """

    def __init__(self, *, progress_deadline: float = 600.0, max_error_rate: float = 0.01,
                 min_requests: float = 50.0) -> None:
        self.progress_deadline = progress_deadline
        self.max_error_rate = max_error_rate
        self.min_requests = min_requests
        self._rollback: dict[str, dict[str, Any]] = {}  # service → the last rollback ACTION's data
        self._entered: dict[str, tuple[str, float]] = {}  # service → (slow state, when entered)
        self._stuck: set[str] = set()
        self._incident: set[str] = set()

    @classmethod
    def for_config(cls, config: Any) -> NotableRule:
        return cls(progress_deadline=config.progress_deadline,
                   max_error_rate=1.0 - config.criteria.min_success_rate,
                   min_requests=config.judging.min_requests)

    def see(self, event: Event) -> Notice | None:
        kind = event.kind
        if kind is EventKind.ACTION:
            return self._action(event)
        if kind is EventKind.STATE:
            return self._state(event)
        if kind is EventKind.STATUS:
            return self._status(event)
        if kind is EventKind.INFO:
            return self._info(event)
        if kind is EventKind.ERROR and event.data.get("sink"):
            if event.data.get("failing"):
                return self._notice(Notable.SINK_FAILING, event, event.message)
            return None
        if event.data.get("override"):
            return self._notice(Notable.OVERRIDE, event, event.message, needs_person=True)
        return None

    # ---- by kind of event ------------------------------------------------------------------------

    def _action(self, event: Event) -> Notice | None:
        data = event.data
        what, shadow = data.get("what"), bool(data.get("shadow"))
        if data.get("override") or what in ("override", "promote_held"):
            return self._notice(Notable.OVERRIDE, event, f"{event.service}: {event.message}", needs_person=True)
        if what == "rollback":
            if shadow:
                return self._notice(Notable.WOULD_ROLL_BACK, event, f"(shadow, nothing done) {event.message}",
                                    needs_person=True, stop_at=RolloutOutcome.AWAITING_APPROVAL)
            self._rollback[event.service] = dict(data)
            return None  # told when the state says rolled back
        if shadow:
            return None
        automatic = data.get("why") in AUTOMATIC
        actor = "" if automatic else str(data.get("actor") or "")
        simple = {"start_canary": Notable.STARTED, "set_weight": Notable.ADVANCED, "approve": Notable.APPROVED,
                  "resume": Notable.RESUMED}
        if what in simple:
            notable = simple[what]
            summary = (f"canary {data.get('version') or ''} started by {actor or 'the console'}".replace("  ", " ")
                       if notable is Notable.STARTED else event.message)
            return self._notice(notable, event, summary, actor=actor, automatic=automatic)
        return None

    def _state(self, event: Event) -> Notice | None:
        to = str(event.data.get("to", ""))
        reason = str(event.data.get("reason", ""))
        service = event.service
        self._entered[service] = (to, event.at)
        self._stuck.discard(service)
        try:
            state = State(to)
        except ValueError:
            return None
        stop_at = STOP_AT.get(state)
        if event.data.get("override") or any(marker in reason for marker in OUTSIDE):
            return self._notice(Notable.OVERRIDE, event, f"{service}: {reason}", needs_person=True, stop_at=stop_at)
        if state is State.ROLLED_BACK:
            action = self._rollback.pop(service, {})
            automatic = action.get("why", "automatic") in AUTOMATIC
            actor = "" if automatic else str(action.get("actor") or "")
            how = "automatically" if automatic else f"by {actor or 'a person'}"
            return self._notice(Notable.ROLLED_BACK, event, f"{service} rolled back {how}: {reason}", actor=actor,
                                automatic=automatic, needs_person=automatic, stop_at=stop_at,
                                data={k: action[k] for k in ("from_weight", "to_weight") if k in action})
        if state is State.PROMOTED:
            return self._notice(Notable.PROMOTED, event, f"{service} promoted: {reason}", stop_at=stop_at)
        if state is State.FAILED:
            return self._notice(Notable.FAILED, event, f"{service} failed: {reason}", needs_person=True,
                                stop_at=stop_at)
        if state is State.AWAITING_APPROVAL:
            return self._notice(Notable.AWAITING_APPROVAL, event, f"{service} needs a person: {reason}",
                                needs_person=True, stop_at=stop_at)
        if state is State.PAUSED:
            if reason.startswith("no usable data"):
                return self._notice(Notable.STUCK, event, f"{service} stuck: {reason}", needs_person=True,
                                    stop_at=stop_at)
            by_person = reason.startswith("paused by")
            return self._notice(Notable.PAUSED, event, f"{service} paused: {reason}", needs_person=not by_person,
                                stop_at=stop_at, actor=reason.removeprefix("paused by ") if by_person else "")
        return None

    def _status(self, event: Event) -> Notice | None:
        status = event.data.get("status")
        if not isinstance(status, RolloutStatus):
            return None
        return self._stuck_in_slow_state(event, status) or self._incident_edge(event, status)

    def _stuck_in_slow_state(self, event: Event, status: RolloutStatus) -> Notice | None:
        service = event.service
        entered = self._entered.get(service)
        slow = (State.DEPLOYING.value, State.PROMOTING.value, State.ROLLING_BACK.value)
        if entered is None or entered[0] != status.state.value:
            self._entered[service] = (status.state.value, event.at)  # first sight (a resumed rollout)
            return None
        if entered[0] not in slow or service in self._stuck or event.at - entered[1] < self.progress_deadline:
            return None
        self._stuck.add(service)
        minutes = int((event.at - entered[1]) // 60)
        return self._notice(Notable.STUCK, event, f"{service} stuck: {status.state.label} for {minutes}m "
                                                  f"(past the progress deadline): {status.reason}", needs_person=True)

    def _incident_edge(self, event: Event, status: RolloutStatus) -> Notice | None:
        service, metrics = event.service, status.metrics
        named = next((p for p in (status.verdict.problems if status.verdict else ())
                      if p.startswith(INCIDENT_WORDS)), None)  # the judge held for it: its words
        windows = None if metrics is None or metrics.stable is None or metrics.canary is None \
            else (metrics.stable, metrics.canary)
        if named is None and windows is None:
            return None  # no data is no incident (and no recovery either)
        if named is None and windows is not None and min(w.requests for w in windows) < self.min_requests:
            return None  # too few requests to tell either way
        over = [(w.error_rate or 0.0) > self.max_error_rate for w in windows] if windows else [False, False]
        ongoing = service in self._incident
        on = named is not None or all(over) or (ongoing and over[0])  # it ends once stable is back within the bound
        if on == ongoing:
            return None
        stable = metrics.stable if metrics is not None else None
        canary = metrics.canary if metrics is not None else None
        numbers = {"stable_error_rate": stable.error_rate if stable else None,
                   "canary_error_rate": canary.error_rate if canary else None}
        if on:
            self._incident.add(service)
            summary = f"{service}: {named}" if named is not None else (
                f"{service}: {INCIDENT_WORDS}: stable {_pct(numbers['stable_error_rate'])}, canary "
                f"{_pct(numbers['canary_error_rate'])} errors (bound {_pct(self.max_error_rate)}): not only the canary")
            return self._notice(Notable.INCIDENT, event, summary, needs_person=True, data=numbers)
        self._incident.discard(service)
        return self._notice(Notable.INCIDENT, event, f"{service}: {INCIDENT_WORDS} is over", cleared=True,
                            data=numbers)

    def _info(self, event: Event) -> Notice | None:
        data = event.data
        if data.get("pre_canary"):
            return self._notice(Notable.STARTING, event, event.message, actor=str(data.get("actor") or ""))
        if data.get("report"):
            return self._notice(Notable.REPORT, event, event.message)
        if data.get("override"):
            return self._notice(Notable.OVERRIDE, event, event.message, needs_person=True)
        return None

    def _notice(self, kind: Notable, event: Event, summary: str, *, actor: str = "", automatic: bool = False,
                needs_person: bool = False, stop_at: RolloutOutcome | None = None, cleared: bool = False,
                data: dict[str, Any] | None = None) -> Notice:
        severity = "info" if cleared else SEVERITY.get(kind, "info")
        if kind is Notable.ROLLED_BACK and not automatic:
            severity = "warning"
        if kind is Notable.PAUSED and not needs_person:
            severity = "info"
        return Notice(kind, event.service, event.at, summary, actor=actor, automatic=automatic, severity=severity,
                      needs_person=needs_person, stop_at=stop_at, cleared=cleared, data=data or {})


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"
