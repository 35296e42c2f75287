"""The report room: a rollout's Markdown report, built from the journal (and the cluster's rollout record when
there is one), so it can be written after a console crash as well as when a rollout ends.

``rollouts(lines, service)`` cuts a service's journal lines into rollouts (each begins at a ``start_canary``
action); ``render(rollout, ...)`` writes the report: who started it, the versions, the outcome, every phase
with its duration and the verdict numbers at its end, the decisive checks of a rollback, every action with
its actor and reason, every decision, and text charts (sparklines) of error rate and P95 per track.
``ReportSink`` writes one when a rollout ends and publishes its path (the journal records it; Slack posts a
summary when configured). Everything in a report comes from redacted journal lines, and outside text is
escaped for Markdown tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.engine.audit import redact
from console.engine.config import format_duration
from console.engine.model import Event, EventKind, RolloutRecord
from console.engine.notable import AUTOMATIC, Notable
from console.engine.sinks import Delivery, SinkError, rollout_id

SPARKS = "▁▂▃▄▅▆▇█"
CHART_WIDTH = 60
SECTIONS = ("## Summary", "## Phases", "## Actions", "## Decisions", "## Charts")


@dataclass
class Rollout:
    service: str
    id: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    def of(self, entry: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("entry", "action") == entry]

    @property
    def start(self) -> dict[str, Any] | None:
        return next((a for a in self.of("action") if a.get("what") == "start_canary"), None)

    @property
    def started_at(self) -> float:
        return _at(self.start or self.lines[0])

    @property
    def ended_at(self) -> float:
        return _at(self.lines[-1])

    @property
    def outcome(self) -> str:
        ends = [s["to"] for s in self.of("state") if s.get("to") in ("promoted", "rolled_back", "failed", "idle")]
        return ends[-1] if ends else "unfinished"


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """Every JSON object line of the journal; a torn or foreign line (a crash mid-write) is skipped."""
    lines = []
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines


def rollouts(lines: Iterable[dict[str, Any]], service: str) -> list[Rollout]:
    """The service's rollouts, oldest first. Lines before the first start (a journal begun mid-rollout)
    form a rollout of their own."""
    found: list[Rollout] = []
    for line in lines:
        if line.get("service") != service:
            continue
        is_start = (line.get("entry", "action") == "action" and line.get("what") == "start_canary"
                    and not line.get("shadow"))
        if is_start or not found:
            found.append(Rollout(service, rollout_id(service, _at(line)) or f"{service}-unknown"))
        found[-1].lines.append(line)
    return found


def _at(line: dict[str, Any]) -> float:
    if isinstance(line.get("at"), (int, float)):
        return float(line["at"])
    try:
        return datetime.fromisoformat(str(line.get("time"))).timestamp()
    except ValueError:
        return 0.0


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: Any) -> str:
    """Outside text made safe for one Markdown table cell."""
    text = str(redact("" if value is None else value)).replace("\n", " ").replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def _pct(value: Any) -> str:
    return f"{value * 100:.2f}%" if isinstance(value, (int, float)) else "–"


def _ms(value: Any) -> str:
    return f"{value * 1000:.1f} ms" if isinstance(value, (int, float)) else "–"


def _human(seconds: float) -> str:
    """12m30s, 1h05m, 40s."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _who(line: dict[str, Any]) -> str:
    who = line.get("who") or {}
    if line.get("why") in AUTOMATIC:
        return "canary-console (automatic)"
    person = who.get("actor") or who.get("user") or "?"
    return f"{person} (cluster {who['cluster']})" if who.get("cluster") else str(person)


def _rel(at: float, origin: float) -> str:
    seconds = max(0, int(at - origin))
    return f"+{seconds // 60}m{seconds % 60:02d}s"


# ---- the sections ---------------------------------------------------------------------------------------

def _outcome_line(rollout: Rollout) -> str:
    outcome = rollout.outcome
    if outcome == "rolled_back":
        action = next((a for a in reversed(rollout.of("action")) if a.get("what") == "rollback"), None)
        reason = next((s.get("reason") for s in reversed(rollout.of("state")) if s.get("to") == "rolling_back"),
                      None) or (action or {}).get("reason", "")
        how = "automatically" if action is None or action.get("why") in AUTOMATIC else f"by {_who(action)}"
        return f"rolled back {how}: {reason}"
    if outcome == "promoted":
        return "promoted: the canary version is the stable version"
    if outcome == "unfinished":
        last = rollout.of("state")[-1]["to"] if rollout.of("state") else "deploying"
        return f"not finished when the journal ends (last state: {last.replace('_', ' ')})"
    return outcome.replace("_", " ")


def _summary(rollout: Rollout, record: RolloutRecord | None) -> list[str]:
    start = rollout.start or {}
    canary = start.get("version") or next((a.get("version") for a in rollout.of("action") if a.get("version")), "?")
    stable = start.get("stable_version") or next((s.get("stable_version") for s in rollout.of("sample")
                                                  if s.get("stable_version")), None) or "?"
    rows = [("Rollout", rollout.id), ("Service", rollout.service), ("Versions", f"stable {stable} → canary {canary}"),
            ("Outcome", _outcome_line(rollout)),
            ("Started", f"{_iso(rollout.started_at)} by {_who(start) if start else 'unknown (journal begins mid-rollout)'}"),
            ("Ended", f"{_iso(rollout.ended_at)} (after {_human(rollout.ended_at - rollout.started_at)})"),
            ("Cluster record", _record_text(record))]
    return ["## Summary", "", "| | |", "|---|---|", *[f"| {k} | {_cell(v)} |" for k, v in rows], ""]


def _record_text(record: RolloutRecord | None) -> str:
    if record is None:
        return "not available (cluster not asked, or no record)"
    return (f"state {record.state.value}, phase {record.phase + 1}, weight {record.weight}%, "
            f"{format_duration(record.phase_elapsed)} counted in the phase, driver {record.driver or '?'}, "
            f"mode {record.mode}")


@dataclass
class _Phase:
    weight: int
    started: float
    ended: float
    ended_by: str
    values: dict[str, Any]


def _phases(rollout: Rollout) -> list[_Phase]:
    moves = [a for a in rollout.of("action") if a.get("what") in ("start_canary", "set_weight", "rollback", "promote")]
    decisions = rollout.of("decision")
    phases: list[_Phase] = []
    for index, move in enumerate(moves):
        if move.get("what") in ("rollback", "promote"):
            break
        nxt = moves[index + 1] if index + 1 < len(moves) else None
        ended = _at(nxt) if nxt else rollout.ended_at
        ended_by = (nxt.get("what", "").replace("set_weight", "advance").replace("_", " ") if nxt else
                    _outcome_line(rollout) if rollout.outcome != "unfinished" else "still running")
        if nxt is not None and nxt.get("what") != "start_canary":
            ended_by += f" ({'automatic' if nxt.get('why') in AUTOMATIC else _who(nxt)})"
        at_end = [d for d in decisions if _at(d) <= ended + 0.001 and d.get("values")]
        values = at_end[-1]["values"] if at_end else {}
        weight = int(move.get("to_weight") or 0)
        phases.append(_Phase(weight, _at(move), ended, ended_by, values))
    return phases


def _numbers(values: dict[str, Any], name: str, show) -> str:
    check = (values.get("checks") or {}).get(name)
    if not check:
        return "–"
    return f"{show(check.get('canary'))} / {show(check.get('stable'))}"


def _phases_section(rollout: Rollout) -> list[str]:
    out = ["## Phases", "", "| # | weight | started | duration | ended by | verdict at its end | "
           "error rate canary / stable | P95 canary / stable |", "|---|---|---|---|---|---|---|---|"]
    origin = rollout.started_at
    for number, phase in enumerate(_phases(rollout), start=1):
        name = "deploy (0%, waiting for a ready pod)" if phase.weight == 0 else f"{phase.weight}%"
        values = phase.values
        out.append(f"| {number} | {_cell(name)} | {_rel(phase.started, origin)} | "
                   f"{_human(phase.ended - phase.started)} | {_cell(phase.ended_by)} | "
                   f"{_cell(values.get('verdict', '–'))} | {_numbers(values, 'error_rate', _pct)} | "
                   f"{_numbers(values, 'p95_latency', _ms)} |")
    return out + [""]


def _decisive(rollout: Rollout) -> list[str]:
    if rollout.outcome != "rolled_back":
        return []
    decision = next((d for d in reversed(rollout.of("decision")) if d.get("action") == "rollback"), None)
    out = ["## Decisive checks", ""]
    if decision is None:
        return out + ["The rollback was a person's decision; no check decided it.", ""]
    checks = (decision.get("values") or {}).get("checks") or {}
    decisive = {k: v for k, v in checks.items() if v.get("result") in ("fail", "manual_review")}
    out += [f"Rollback decided at {_rel(_at(decision), rollout.started_at)} at {decision.get('weight')}%: "
            f"{_cell(decision.get('reason'))}", ""]
    if not decisive:
        return out + ["No check failed at that moment (a person's rollback, or no ready canary pod).", ""]
    out += ["| check | result | canary | stable | compared value | threshold |", "|---|---|---|---|---|---|"]
    for name, check in decisive.items():
        show = _ms if "latency" in name else _pct
        out.append(f"| {_cell(name)} | {_cell(check.get('result'))} | {show(check.get('canary'))} | "
                   f"{show(check.get('stable'))} | {_cell(_num(check.get('value')))} | "
                   f"{_cell(_num(check.get('threshold')))} |")
    return out + [""]


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "–"


def _actions(rollout: Rollout) -> list[str]:
    out = ["## Actions", "", "| time | who | what | weight | reason |", "|---|---|---|---|---|"]
    for action in rollout.of("action"):
        what = action.get("what", "") + (" (shadow: not done)" if action.get("shadow") else "")
        out.append(f"| {_rel(_at(action), rollout.started_at)} | {_cell(_who(action))} | {_cell(what)} | "
                   f"{action.get('from_weight')}% → {action.get('to_weight')}% | "
                   f"{_cell(action.get('message') or action.get('reason'))} |")
    return out + [""]


def _decisions(rollout: Rollout) -> list[str]:
    out = ["## Decisions", "", "| time | decision | weight | reason |", "|---|---|---|---|"]
    for decision in rollout.of("decision"):
        out.append(f"| {_rel(_at(decision), rollout.started_at)} | {_cell(decision.get('action'))} | "
                   f"{decision.get('weight')}% | {_cell(decision.get('reason'))} |")
    for announce in rollout.of("announce"):
        out.append(f"| {_rel(_at(announce), rollout.started_at)} | team notified | – | {_cell(announce.get('message'))} |")
    return out + [""]


def sparkline(values: Sequence[float | None], width: int = CHART_WIDTH) -> str:
    """One character per point (averaged into ``width`` buckets), scaled from the series' min to its max;
    a blank is no data."""
    if not values:
        return ""
    buckets: list[float | None] = []
    size = max(1, -(-len(values) // width))
    for start in range(0, len(values), size):
        known = [v for v in values[start:start + size] if v is not None]
        buckets.append(sum(known) / len(known) if known else None)
    known = [v for v in buckets if v is not None]
    if not known:
        return " " * len(buckets)
    low, high = min(known), max(known)
    span = high - low
    return "".join(" " if v is None else SPARKS[0 if span <= 0 else min(7, int((v - low) / span * 7.999))]
                   for v in buckets)


def _charts(rollout: Rollout) -> list[str]:
    samples = rollout.of("sample")
    out = ["## Charts", ""]
    if not samples:
        return out + ["No metric samples in the journal for this rollout.", ""]
    first, last = _at(samples[0]), _at(samples[-1])
    out += [f"A sample a minute and at each decision, {_rel(first, rollout.started_at)} to {_rel(last, rollout.started_at)} "
            f"({len(samples)} samples); each line is scaled to its own min–max; a blank is no data.", ""]
    for title, key, show in (("Error rate", "error_rate", _pct), ("P95 latency", "p95", _ms)):
        out += [f"### {title}", "", "```"]
        for track in ("stable", "canary"):
            series = [(s.get(track) or {}).get(key) for s in samples]
            known = [v for v in series if v is not None]
            span = f"min {show(min(known))}  max {show(max(known))}" if known else "no data"
            out.append(f"{track:<7} {sparkline(series)}  {span}")
        weights = [float(s.get("weight") or 0) for s in samples]
        out.append(f"{'weight':<7} {sparkline(weights)}  {int(min(weights))}% → {int(max(weights))}%")
        out += ["```", ""]
    return out


def render(rollout: Rollout, *, record: RolloutRecord | None = None, generated_at: float | None = None) -> str:
    start = rollout.start or {}
    version = start.get("version") or "?"
    lines = [f"# Rollout report: {_cell(rollout.service)} {_cell(version)}", "",
             *_summary(rollout, record), *_phases_section(rollout), *_decisive(rollout), *_actions(rollout),
             *_decisions(rollout), *_charts(rollout),
             f"_Written by canary-console {'at ' + _iso(generated_at) if generated_at else ''} from "
             f"{len(rollout.lines)} journal lines{' and the cluster record' if record else ''}._", ""]
    return "\n".join(lines)


def summary_line(rollout: Rollout) -> str:
    phases = _phases(rollout)
    top = max((p.weight for p in phases), default=0)
    return (f"{rollout.service} {(rollout.start or {}).get('version') or ''}: {_outcome_line(rollout)} — "
            f"{len(phases)} phase(s) up to {top}%, {_human(rollout.ended_at - rollout.started_at)}")


def write_report(journal_path: str | Path, service: str, *, rollout: str | None = None,
                 record: RolloutRecord | None = None, out_dir: str | Path | None = None,
                 generated_at: float | None = None) -> tuple[Path, Rollout]:
    """Write the report of ``service``'s rollout ``rollout`` (default: its latest) next to the journal
    (``reports/<rollout id>.md``). LookupError when the journal has no such rollout."""
    found = rollouts(read_journal(journal_path), service)
    if not found:
        raise LookupError(f"the journal has no rollout of {service}")
    if rollout is None:
        chosen = found[-1]
    else:
        matches = [r for r in found if r.id == rollout]
        if not matches:
            raise LookupError(f"no rollout {rollout!r} of {service}; known: {', '.join(r.id for r in found[-5:])}")
        chosen = matches[0]
    directory = Path(out_dir) if out_dir else Path(journal_path).expanduser().parent / "reports"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{chosen.id}.md"
    record = record if chosen is found[-1] else None  # the record only speaks of the latest rollout
    path.write_text(render(chosen, record=record, generated_at=generated_at), encoding="utf-8")
    return path, chosen


class ReportSink:
    """Writes the report when a rollout ends (promoted, rolled back, failed) and publishes its path."""

    name = "reports"
    kind = "report"

    def __init__(self, journal_path: Path, bus: Any, clock: Any, record_of: Any = None) -> None:
        self.journal_path, self.bus, self.clock, self.record_of = journal_path, bus, clock, record_of

    def wants(self, delivery: Delivery) -> bool:
        notice = delivery.notice
        return notice is not None and notice.kind in (Notable.PROMOTED, Notable.ROLLED_BACK, Notable.FAILED)

    async def send(self, delivery: Delivery) -> None:
        service = delivery.event.service
        record = self.record_of(service) if self.record_of is not None else None
        try:
            path, rollout = write_report(self.journal_path, service, record=record, generated_at=self.clock.now())
        except (OSError, LookupError) as exc:  # said at once; `canary-console report` can write it later
            message = redact(f"writing the rollout report failed: {exc}")
            self.bus.publish(Event(EventKind.ERROR, service, self.clock.now(), message))
            raise SinkError(message, retryable=False) from None
        self.bus.publish(Event(EventKind.INFO, service, self.clock.now(), f"rollout report written: {path}",
                               {"report": str(path), "rollout": rollout.id, "summary": summary_line(rollout)}))
