"""The requests room: how a console that does not drive a service asks the one that does.

When another console or a `canary-console controller` replica holds a service's Lease, a person's key or
one-shot command cannot write for that service. It becomes a *request*: a small object in the cluster
(see adapters/kube_requests.py) naming the service, the action, who asks and when. The driver picks up
pending requests for the services it drives at its next check, runs each through the very intent rules a
key press goes through (so a request is refused for the same reasons a key is), and acknowledges it with
the result and the reason. The asker follows the acknowledgement: pending → done or refused; a request
nobody acknowledges within its deadline is reported as such, never silently dropped. A request for a
service no one drives is answered "no driver" at once, without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from console.engine.intent_table import BY_NAME, REQUESTABLE
from console.engine.model import Event, EventKind

PENDING, DONE, REFUSED, UNANSWERED, NO_DRIVER = "pending", "done", "refused", "unanswered", "no driver"
ANSWER_REASONS = {DONE: "CanaryRequestDone", REFUSED: "CanaryRequestRefused"}  # the audit Event of an answer


@dataclass(frozen=True)
class Request:
    """One request as stored in the cluster."""

    name: str
    service: str
    action: str
    actor: str
    requested_at: float
    args: dict[str, Any] = field(default_factory=dict)
    result: str = PENDING  # pending, done, refused
    reason: str = ""
    handled_by: str = ""


class RequestBox(Protocol):
    """Where requests live (the Kubernetes adapter implements it with one ConfigMap per request)."""

    async def submit(self, service: str, action: str, actor: str, args: dict[str, Any]) -> Request: ...

    async def get(self, name: str) -> Request | None: ...

    async def pending(self, services: list[str]) -> list[Request]: ...

    async def acknowledge(self, request: Request, result: str, reason: str, by: str) -> None: ...


def validate(action: str, args: dict[str, Any]) -> str | None:
    """Why a request is malformed (typed by hand with kubectl, say), or None."""
    if action not in REQUESTABLE:
        return f"unknown action {action!r} (one of {', '.join(REQUESTABLE)})"
    allowed = {"version"} if action == "start" else {"force"} if BY_NAME[action].forceable else set()
    extra = set(args) - allowed
    if extra:
        return f"{action} takes no {', '.join(sorted(extra))}"
    if action == "start" and not str(args.get("version") or "").strip():
        return "start needs a version"
    return None


def intent_arguments(request: Request) -> dict[str, Any]:
    """The keyword arguments of the intent a request stands for."""
    args = dict(request.args)
    if "force" in args:
        args["force"] = str(args["force"]).lower() in ("1", "true", "yes")
    return args


def answer_reason(event: Event) -> str | None:
    """The audit Event reason when ``event`` is a driver's answer to a request (it names the person who
    asked: ``data["actor"]``), else None; the asker's own pending/done events are not answers."""
    data = event.data
    if event.kind is EventKind.INFO and data.get("request") and data.get("actor"):
        return ANSWER_REASONS.get(str(data.get("result")))
    return None
