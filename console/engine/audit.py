"""The audit room: the journal of actions (one JSON line per ACTION event), the Kubernetes Event reason
of each action, and token redaction.

Each line says when (ISO time), which service, who (the local user, plus the cluster identity when the
cluster has one), what was done, the actor's kind (``ACTOR_KINDS``: "key" for a dashboard key, "command"
for a one-shot command, "automatic" for the policy, "controller" for the in-cluster driver, "outside" for a
change someone else made), the weight before and after and the verdict behind it. Anything that looks like
a secret is redacted before it is written. A failed write is reported as an ERROR event, never raised.
"""

from __future__ import annotations

import getpass
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.engine.bus import EventBus
from console.engine.model import Event, EventKind
from console.engine.protocols import identity_of

_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), r"\1\2[REDACTED]"),
    (re.compile(r"(?i)\b(access_token|refresh_token|id_token|api[_-]?key|token|password|passwd|secret)"
                r"(\"?\s*[=:]\s*\"?)[^\s,;&\"'}]+"), r"\1\2[REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"), "[REDACTED]"),
)


_KNOWN: set[str] = set()  # the exact secrets this process sends (tokens, passwords, basic-auth pairs)
MIN_SECRET = 6  # shorter values would mask ordinary words


def register_secret(*values: str | None) -> None:
    """Remember secrets the console itself sends, so ``redact`` masks them wherever a server echoes them,
    bare or not (an API server that puts the bearer token in an error message)."""
    for value in values:
        if value and len(value.strip()) >= MIN_SECRET:
            _KNOWN.add(value.strip())


ACTOR_KINDS = ("key", "command", "automatic", "controller", "outside")

# what an ACTION event did → the reason of its Kubernetes Event (CamelCase, as `kubectl get events` shows)
EVENT_REASONS = {
    "start_canary": "CanaryStarted", "set_weight": "CanaryWeightChanged", "rollback": "CanaryRolledBack",
    "promote": "CanaryPromoted", "pause": "CanaryPaused", "resume": "CanaryResumed", "approve": "CanaryApproved",
    "delete_canary": "CanaryDeleted", "take_over": "CanaryTakenOver", "override": "CanaryOverridden",
}


def event_reason(what: str) -> str:
    """The Event reason of an action: the table's, else "Canary" + the CamelCase of its name."""
    return EVENT_REASONS.get(what) or "Canary" + "".join(part.capitalize() for part in what.split("_"))


def redact(value: Any) -> Any:
    """Strings with every registered secret and anything that looks like a token, password or JWT masked;
    containers recursively."""
    if isinstance(value, str):
        for secret in sorted(_KNOWN, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, "[REDACTED]")
        for pattern, replacement in _SECRETS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value


def local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in a bare container
        return "unknown"


class Journal:
    """Appends one JSON line per ACTION event to ``path`` (parent directories are created)."""

    def __init__(self, path: str | Path, *, identity: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.identity = identity
        self.user = local_user()
        self.bus: EventBus | None = None
        self.failures = 0

    def bind(self, bus: EventBus, cluster: object = None, *, subscribe: bool = True) -> None:
        """Listen to ``bus``; take the cluster's identity (if it has one) for the who of each line.
        (A Session feeds it through its SinkHub instead: ``subscribe=False``.)"""
        self.bus = bus
        if self.identity is None:
            self.identity = identity_of(cluster)
        if subscribe:
            bus.subscribe(self)

    def __call__(self, event: Event) -> None:
        if event.kind is EventKind.ACTION:
            self.write(event)

    def entry(self, event: Event) -> dict[str, Any]:
        data = event.data
        who = {"user": self.user, **({"cluster": self.identity} if self.identity else {}),
               **({"actor": data["actor"]} if data.get("actor") else {})}
        return redact({
            "time": datetime.fromtimestamp(event.at, tz=UTC).isoformat(timespec="seconds"),
            "service": event.service, "who": who, "what": data.get("what", ""), "why": data.get("why", ""),
            "from_weight": data.get("from_weight"), "to_weight": data.get("to_weight"),
            "verdict": data.get("verdict"), "reason": data.get("reason", ""), "shadow": bool(data.get("shadow")), "message": event.message,
        })

    def write(self, event: Event) -> bool:
        return self.append(self.entry(event), event.service, event.at)

    def append(self, entry: dict[str, Any], service: str = "", at: float = 0.0) -> bool:
        """Append one redacted JSON line (an action's entry, or a problem such as a UI error's traceback)."""
        try:
            line = json.dumps(redact(entry), ensure_ascii=False, default=str)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self._failing = False
            return True
        except Exception as exc:
            self.failures += 1
            said, self._failing = getattr(self, "_failing", False), True
            if self.bus is not None and not said:  # once per run of failures, not once per line
                message = redact(f"journal write to {self.path} failed: {exc}")
                self.bus.publish(Event(EventKind.ERROR, service, at, message, {"journal": True}))
            return False
