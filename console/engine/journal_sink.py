"""The journal as an inline sink: lossless, written on the publishing task, the rollout report's source.

Besides the action lines (console.engine.audit.Journal.entry, unchanged, plus ``entry: "action"``, ``at``
and ``version``) it appends what a report needs to be written after a crash, with the journal alone:

- ``decision``  every decision (advance, hold, await_approval, rollback, promote) with its verdict numbers;
- ``state``     every transition with its reason;
- ``sample``    at most one per ``sample_every`` seconds per service while a rollout is under way, and one
                at each decision that is not a hold: weight, state, verdict and each track's requests,
                error rate, P95 and P99 (the report's charts);
- ``announce``  the pre-canary "canary of SERVICE VERSION starting";
- ``report``    the path of a rollout report written;
- ``sink``      a notification sink that started failing, or delivers again (what `status` shows).

Every line carries ``entry``, ``time`` (ISO), ``at`` (seconds on the session's clock) and ``service``, and is
redacted before it is written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.engine.audit import Journal, redact
from console.engine.model import Event, EventKind, RolloutStatus, State, TrackWindow
from console.engine.sinks import Delivery

SAMPLE_EVERY = 60.0
QUIET = (State.IDLE, State.PROMOTED, State.ROLLED_BACK, State.FAILED)


class JournalSink:
    def __init__(self, journal: Journal, *, sample_every: float = SAMPLE_EVERY) -> None:
        self.journal = journal
        self.sample_every = sample_every
        self._sampled: dict[str, float] = {}
        self.started: dict[str, tuple[float, str]] = recent_starts(journal.path)  # service → (at, version)

    def __call__(self, delivery: Delivery) -> None:
        event = delivery.event
        data = event.data
        if event.kind is EventKind.ACTION:
            entry = self.journal.entry(event)
            extra = {"version": redact(data.get("version") or "")}
            if data.get("what") == "start_canary" and not data.get("shadow"):
                self.started[event.service] = (event.at, str(data.get("version") or ""))
                if delivery.status is not None:
                    extra["stable_version"] = redact(delivery.status.stable_version or "")
            self.journal.append({"entry": "action", "at": round(event.at, 3), **entry, **extra}, event.service,
                                event.at)
        elif event.kind is EventKind.DECISION:
            if data.get("action") != "hold":  # the charts get the moment of every decision
                self._sampled.pop(event.service, None)
            self._append(event, "decision", action=data.get("action"), weight=data.get("weight"),
                         reason=data.get("reason"), values=data.get("values") or {})
        elif event.kind is EventKind.STATE:
            self._append(event, "state", **{"from": data.get("from"), "to": data.get("to"),
                                            "reason": data.get("reason")})
        elif event.kind is EventKind.STATUS:
            self._sample(event)
        elif event.kind is EventKind.INFO and data.get("report"):
            self._append(event, "report", path=data.get("report"), rollout=data.get("rollout"))
        elif event.kind in (EventKind.ERROR, EventKind.INFO) and data.get("sink"):
            self._append(event, "sink", sink=data["sink"], state="failing" if data.get("failing") else "ok",
                         message=event.message)
        elif event.kind is EventKind.INFO and data.get("pre_canary"):
            self._append(event, "announce", version=data.get("version"), who=data.get("actor"),
                         message=event.message)

    def _append(self, event: Event, entry: str, **fields: Any) -> None:
        line = {"entry": entry, "time": datetime.fromtimestamp(event.at, tz=UTC).isoformat(timespec="seconds"),
                "at": round(event.at, 3), "service": event.service, **fields}
        self.journal.append(redact(line), event.service, event.at)

    def _sample(self, event: Event) -> None:
        status = event.data.get("status")
        if not isinstance(status, RolloutStatus) or status.state in QUIET:
            return
        last = self._sampled.get(event.service)
        if last is not None and event.at - last < self.sample_every:
            return
        self._sampled[event.service] = event.at
        metrics = status.metrics
        self._append(event, "sample", weight=status.weight, state=status.state.value,
                     stable_version=status.stable_version, canary_version=status.canary_version,
                     verdict=status.verdict.outcome.value if status.verdict else None,
                     stable=_track(metrics.stable if metrics else None),
                     canary=_track(metrics.canary if metrics else None),
                     problem=metrics.problem if metrics else None)


def _track(window: TrackWindow | None) -> dict[str, Any] | None:
    if window is None or window.requests <= 0:
        return None
    return {"requests": round(window.requests, 1), "error_rate": _round(window.error_rate),
            "p95": _round(window.p95), "p99": _round(window.p99)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def sink_states(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last known state of each notification sink, by name, from the journal's ``sink`` lines."""
    states: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.get("entry") == "sink" and line.get("sink"):
            states[str(line["sink"])] = {"state": line.get("state"), "since": line.get("time"),
                                         "last_error": line.get("message") if line.get("state") == "failing" else None}
    return states


def recent_starts(path: Path, tail_bytes: int = 2_000_000) -> dict[str, tuple[float, str]]:
    """(time, version) of each service's latest start in the journal's last ``tail_bytes``: a console that
    resumes a rollout names it as the one that started it did (the same report, the same PagerDuty key)."""
    try:
        with Path(path).expanduser().open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - tail_bytes))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return {}
    found: dict[str, tuple[float, str]] = {}
    for raw in text.splitlines():
        if '"start_canary"' not in raw:
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("what") == "start_canary" and not line.get("shadow") \
                and isinstance(line.get("at"), (int, float)):
            found[str(line.get("service"))] = (float(line["at"]), str(line.get("version") or ""))
    return found
