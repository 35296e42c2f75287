"""Value types shared by every room: metric windows, pods, snapshots, verdicts, rollout states, events.

Nothing here does I/O. Adapters build these from the world, the judge and controller consume them, and
screens, the headless console and the journal render them. Times are seconds on the session's clock
(epoch seconds on the real clock, virtual seconds under tests and replay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

# the metrics and checks described as data (re-exported: screens read units from here, not from names)
from console.engine.catalog import (CHECKS, METRICS, CheckSpec, Comparison, Metric, Unit,  # noqa: F401
                                    check_spec, unit_of)


class Problem(StrEnum):
    """Why a port (the cluster, the metrics source) could not give what was asked, as a type. Exit codes and
    decisions are chosen from it, never from the message, which is for people and says it in words."""

    UNREACHABLE = "unreachable"  # could not be asked: connection refused, DNS, a 5xx or 429, not the API at all
    TIMEOUT = "timeout"  # asked, and no answer came in time
    UNAUTHORIZED = "unauthorized"  # 401: the credentials were not accepted
    FORBIDDEN = "forbidden"  # 403: accepted, and not allowed
    REJECTED = "rejected"  # it answered and refused this one request (a bad query, a conflict, another 4xx)
    WARNED = "warned"  # it answered with warnings: partial or doubtful data, taken as none
    NO_DATA = "no_data"  # it answered: there is nothing (or not enough) there
    FAILED = "failed"  # anything else (an unreadable credentials file, a simulated failure)

    @property
    def not_asked(self) -> bool:
        """The source could not be asked, or would not let this console in: exit 4 for a metrics source
        ("Prometheus unreachable"); the cluster's refusals are exit 2 (console/output.py)."""
        return self in (Problem.UNREACHABLE, Problem.TIMEOUT, Problem.UNAUTHORIZED, Problem.FORBIDDEN)

    @property
    def unanswered(self) -> bool:
        """No answer came (unreachable, or timed out): trying again later may help (exit 4)."""
        return self in (Problem.UNREACHABLE, Problem.TIMEOUT)

    @staticmethod
    def gravest(*kinds: Problem | None) -> Problem | None:
        """Of several problems said together, the one that decides: the first that could not ask, else the
        first there is."""
        present = [kind for kind in kinds if kind is not None]
        return next((kind for kind in present if kind.not_asked), present[0] if present else None)


INCIDENT = "incident on both tracks"  # the judge's word for a shared incident (judge.py, sequential.py, notable.py)


class Track(StrEnum):
    STABLE = "stable"
    CANARY = "canary"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log line of one pod (console/engine/ports.Cluster.follow_logs)."""

    pod: str
    track: Track
    text: str  # untrusted: render literally
    at: float = 0.0


class CheckResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    MANUAL_REVIEW = "manual_review"
    NO_DATA = "no_data"
    INSUFFICIENT_DATA = "insufficient_data"


class Outcome(StrEnum):
    """The overall verdict of one analysis."""

    PASS = "pass"
    FAIL = "fail"
    MANUAL_REVIEW = "manual_review"
    INCONCLUSIVE = "inconclusive"


class Action(StrEnum):
    """What a breached check asks for."""

    ROLLBACK = "rollback"
    MANUAL_REVIEW = "manual_review"
    WARN = "warn"


class State(StrEnum):
    IDLE = "idle"  # no canary
    DEPLOYING = "deploying"
    OBSERVING = "observing"
    PAUSED = "paused"
    AWAITING_APPROVAL = "awaiting_approval"
    PROMOTING = "promoting"
    PROMOTED = "promoted"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return "no canary" if self is State.IDLE else self.value.replace("_", " ")

    @property
    def terminal(self) -> bool:
        return self in (State.PROMOTED, State.ROLLED_BACK, State.FAILED, State.IDLE)


def _finite(value: float | None) -> float | None:
    """NaN and infinities are no value at all."""
    if value is None or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class TrackWindow:
    """What one track did over one analysis window, as Prometheus' increase()/rate() would see it.

    ``requests`` and ``errors`` (5xx) are counts over the window (floats: Prometheus extrapolates);
    ``p95`` and ``p99`` are latency quantiles in seconds, None when there were no requests.
    """

    requests: float
    errors: float
    p95: float | None = None
    p99: float | None = None
    seconds: float = 300.0
    age: float = 0.0  # seconds since the window ended: 0 for a fresh poll, more for a carried-over one

    def __post_init__(self) -> None:
        object.__setattr__(self, "requests", _finite(self.requests) or 0.0)
        object.__setattr__(self, "errors", min(_finite(self.errors) or 0.0, self.requests))
        object.__setattr__(self, "p95", _finite(self.p95))
        object.__setattr__(self, "p99", _finite(self.p99))

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    @property
    def success_rate(self) -> float | None:
        rate = self.error_rate
        return None if rate is None else 1.0 - rate

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ServiceMetrics:
    """One poll's view of one service: both tracks, extra named checks, and why anything is missing."""

    service: str
    stable: TrackWindow | None = None
    canary: TrackWindow | None = None
    extras: dict[str, float | None] = field(default_factory=dict)
    problem: str | None = None  # e.g. "Prometheus unreachable: connection refused"
    at: float = 0.0
    problem_kinds: tuple[Problem, ...] = ()  # the kind of each problem joined in ``problem``, in order
    queries: dict[str, str] = field(default_factory=dict)  # check name → its query as the source was asked
    # the last check interval of each track (disjoint from the previous poll's), when the source gives it:
    # the sequential checks' increments (console/engine/sequential.py)
    recent_stable: TrackWindow | None = None
    recent_canary: TrackWindow | None = None

    @property
    def problem_kind(self) -> Problem | None:
        """The kind of the first problem (the one ``problem`` starts with)."""
        return self.problem_kinds[0] if self.problem_kinds else None

    @property
    def not_asked(self) -> bool:
        """Some of this poll could not be asked at all (the source unreachable, timing out, refusing us)."""
        return any(kind.not_asked for kind in self.problem_kinds)


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    track: Track
    ready: bool
    phase: str = "Running"  # Pending, Running, Succeeded, Failed, Unknown; CrashLoopBackOff shown as reason
    restarts: int = 0
    started_at: float | None = None
    reason: str = ""
    uid: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ready": self.ready, "phase": self.phase, "restarts": self.restarts,
                "reason": self.reason, "started_at": self.started_at}


@dataclass(frozen=True, slots=True)
class RolloutRecord:
    """The rollout's state as persisted in the cluster (the ConfigMap ``<service>-canary-rollout``; records
    written by earlier releases are read from the canary Ingress' annotations)."""

    state: State
    phase: int
    weight: int
    phase_started_at: float  # clock time the phase began
    phase_elapsed: float  # observed (usable-data) seconds already counted in this phase
    version: str = ""
    verdict: str = ""  # the verdict behind the state; empty where none agrees with it (a person's rollback)
    driver: str = ""  # who drives it now; cleared by a driver that exits cleanly
    mode: str = "auto"
    reason: str = ""  # the one-line why of the state (the final record says how the rollout ended)
    updated_at: float = 0.0  # clock time of this save
    last_driver: str = ""  # who drove it last (kept when ``driver`` is cleared)


@dataclass(frozen=True, slots=True)
class ServiceSnapshot:
    """The cluster's view of one service at one moment."""

    service: str
    stable_version: str | None = None
    canary_version: str | None = None
    canary_exists: bool = False
    weight: int = 0
    pods: tuple[Pod, ...] = ()
    record: RolloutRecord | None = None
    driver: str | None = None  # who holds this service's lease, if anyone
    driver_left: float | None = None  # seconds from ``at`` that Lease has left unless renewed, as this console saw it
    problem: str | None = None  # e.g. "API server unreachable; retrying"
    at: float = 0.0
    unread: tuple[str, ...] = ()  # kinds that could not be read this time ("deployments"): their fields are old
    # ``weight`` is the router's live weight. ``override`` says, in one line, that it differs from what the
    # console last wrote or was writing (a change it did not make), None otherwise; ``router`` names the
    # router and the object that carries the weight ("gateway: HTTPRoute perception").
    override: str | None = None
    router: str = ""
    canary_deployment: bool | None = None  # the canary Deployment exists (None: this port does not say)
    canary_replicas: int | None = None  # its spec.replicas (None: no Deployment, or not said)
    weight_changed_by: str | None = None  # who last set the live weight (managedFields), when known
    problem_kind: Problem | None = None  # what kind of problem ``problem`` is, when the port says
    stable_paused: bool = False  # the stable Deployment's spec.paused (`kubectl rollout pause`): it cannot roll

    def pods_of(self, track: Track) -> tuple[Pod, ...]:
        return tuple(p for p in self.pods if p.track == track)

    def ready_count(self, track: Track) -> tuple[int, int]:
        pods = self.pods_of(track)
        return sum(1 for p in pods if p.ready), len(pods)

    def restarts(self, track: Track) -> int:
        return sum(p.restarts for p in self.pods_of(track))


@dataclass(frozen=True, slots=True)
class Check:
    """One check's result: explainable on its own (query, values, threshold, reason)."""

    name: str
    result: CheckResult
    canary: float | None
    stable: float | None
    threshold: float
    reason: str
    action: Action = Action.ROLLBACK
    value: float | None = None  # the compared quantity (increase, ratio, rate), when it differs from canary
    query: str = ""

    def to_json(self) -> dict[str, Any]:
        # every field is a plain value: read them directly (dataclasses.asdict deep-copies each one, and every
        # check of every verdict, six a second in the demo, went through it)
        data = {name: getattr(self, name) for name in _CHECK_FIELDS}
        data["result"] = self.result.value
        data["action"] = self.action.value
        return data


_CHECK_FIELDS = tuple(f.name for f in fields(Check))


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    checks: tuple[Check, ...]
    reason: str
    weight: int = 0
    at: float = 0.0
    streaks: dict[str, int] = field(default_factory=dict)  # consecutive breaches per check (persistence)
    problems: tuple[str, ...] = ()  # named conditions a person should see (incident on both tracks, share)
    not_asked: Problem | None = None  # the metrics source could not be asked at all (then inconclusive): why

    @property
    def usable(self) -> bool:
        """True when the data was good enough to decide (the phase clock runs only then)."""
        return self.outcome is not Outcome.INCONCLUSIVE

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def explained(self, queries: dict[str, str]) -> Verdict:
        """This verdict with each check's ``query`` as the metrics source says it asked (ServiceMetrics.queries);
        the judge knows metrics, not a query language."""
        if not queries:
            return self
        return replace(self, checks=tuple(replace(c, query=queries[c.name]) if c.name in queries and not c.query
                                          else c for c in self.checks))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"verdict": self.outcome.value, "reason": self.reason, "weight": self.weight,
                                "checks": [c.to_json() for c in self.checks]}
        if self.problems:
            data["problems"] = list(self.problems)
        return data


class EventKind(StrEnum):
    STATE = "state"  # a transition
    VERDICT = "verdict"  # an analysis result
    ACTION = "action"  # a write to the cluster (or a shadow "would do")
    DECISION = "decision"  # advance / hold / await_approval / rollback / promote, with its reason
    REFUSED = "refused"  # an intent refused in the wrong state
    ERROR = "error"  # something failed (and will be retried, or needs a person)
    STATUS = "status"  # the periodic full status of one service, for screens
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    service: str
    at: float
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "service": self.service, "at": round(self.at, 3),
                "message": self.message, **self.data}

    def to_line(self, origin: float = 0.0) -> str:
        """One human line: "+  12m30s perception  state      observing → paused: …"."""
        t = max(0.0, self.at - origin)
        minutes, seconds = divmod(int(t), 60)
        return f"+{minutes:4d}m{seconds:02d}s {self.service:<11} {self.kind.value:<9} {self.message}"


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision of the policy, as `run --json` and `replay --json` report it."""

    t: float
    action: str  # advance | hold | await_approval | rollback | promote
    weight: int
    reason: str
    values: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 3), "action": self.action, "weight": self.weight, "reason": self.reason,
                **({"values": self.values} if self.values else {})}


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    """Everything a screen needs to draw one service, published on every tick and every transition."""

    service: str
    state: State
    weight: int
    phase: int  # index into the configured phases, -1 when no rollout
    phase_weight: int
    phase_elapsed: float  # observed seconds counted in this phase
    phase_duration: float
    mode: str  # auto | manual
    verdict: Verdict | None
    reason: str  # the one-line why of the current state
    stable_version: str | None
    canary_version: str | None
    snapshot: ServiceSnapshot | None
    metrics: ServiceMetrics | None
    driver: str | None = None
    read_only: bool = False
    at: float = 0.0
    driving: bool = False  # this console drives the service (started, resumed, took over or was told to)
    unusable: str | None = None  # why the data behind a manual advance is missing now (it then asks first)
    cluster_down_since: float | None = None  # since when (engine time) the cluster cannot be read, or None
    metrics_down_since: float | None = None  # since when Prometheus cannot be asked, or None

    @property
    def time_left(self) -> float:
        return max(0.0, self.phase_duration - self.phase_elapsed)

    @property
    def needs_person(self) -> bool:
        failing = self.verdict is not None and self.verdict.outcome is Outcome.FAIL
        return self.state in (State.AWAITING_APPROVAL, State.ROLLED_BACK, State.FAILED, State.PAUSED,
                              State.ROLLING_BACK) or failing

    def to_json(self) -> dict[str, Any]:
        snap = self.snapshot

        def track(track: Track, version: str | None) -> dict[str, Any]:
            pods = snap.pods_of(track) if snap else ()
            return {"version": version, "pods": [p.to_json() for p in pods]}

        return {
            "name": self.service, "state": self.state.value, "weight": self.weight,
            "phase": self.phase, "phase_elapsed": round(self.phase_elapsed, 1),
            "phase_duration": self.phase_duration, "mode": self.mode,
            "verdict": self.verdict.outcome.value if self.verdict else "unknown",
            "reason": self.reason, "driver": self.driver, "driving": self.driving,
            "stable": track(Track.STABLE, self.stable_version),
            "canary": track(Track.CANARY, self.canary_version),
            "problems": [p for p in ((snap.problem if snap else None),
                                     (self.metrics.problem if self.metrics else None),
                                     *(self.verdict.problems if self.verdict else ())) if p],
            **({"router": snap.router} if snap and snap.router else {}),
            **({"override": snap.override} if snap and snap.override else {}),
        }


@dataclass(frozen=True, slots=True)
class IntentResult:
    """The answer to a person's (or a script's) intent: done, refused with the reason, or (``failed``)
    accepted but its write not taken by the cluster, with the server's reason."""

    ok: bool
    message: str
    failed: bool = False
