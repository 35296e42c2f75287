"""The replay room: the policy (the live RolloutController and judge) run over a recorded timeline.

The rollout starts at the timeline's first sample with the configured phases, on a VirtualClock; at every
sample time (and through gaps, on the timeline's step) the controller gets a snapshot from ReplayCluster
(a canary that is always ready, at whatever weight the controller last set) and the window from
TimelineMetrics, and decides exactly as it would live. The recorded traffic is taken as it is, whatever
weight the policy sets. The checks run every step, so the replay's check interval is the timeline's step.
It ends at the last sample (outcome incomplete when nothing terminal happened) or when the rollout is
promoted or rolled back. Decision times are the timeline's own ``t``.

A closed loop (``closed_loop_async``) runs the same checks over traffic that follows the policy: a synthetic
scenario gives each step's samples for the weight the policy set, so the split always fits the weight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from console.engine.bus import EventBus
from console.engine.clock import VirtualClock
from console.engine.config import Config, Service
from console.engine.controller import RolloutController
from console.engine.exits import RolloutOutcome, outcome_exit
from console.engine.model import (Decision, Event, EventKind, Pod, RolloutRecord, ServiceSnapshot, State,
                                  Track)
from console.engine.ports import LogLine
from console.engine.timeline import Sample, Timeline, TimelineError, TimelineMetrics, parse_timeline


class ReplayCluster:
    """ports.Cluster for replay: nothing real is touched; writes are recorded and shape the snapshot."""

    def __init__(self, clock, service: str) -> None:
        self.clock, self.service = clock, service
        self.weight, self.version, self.canary = 0, "", False
        self.record: RolloutRecord | None = None
        self.writes: list[tuple[float, str, int]] = []  # (time, operation, weight after)

    def _wrote(self, operation: str) -> None:
        self.writes.append((self.clock.now(), operation, self.weight))

    async def snapshot_all(self, services: Sequence[str]) -> dict[str, ServiceSnapshot]:
        pods: tuple[Pod, ...] = (Pod(f"{self.service}-stable", Track.STABLE, True),)
        if self.canary:
            pods += (Pod(f"{self.service}-canary", Track.CANARY, True),)
        return {name: ServiceSnapshot(service=name, stable_version="recorded stable",
                                      canary_version=self.version or None, canary_exists=self.canary,
                                      weight=self.weight, pods=pods, at=self.clock.now())
                for name in services}

    async def start_canary(self, service: str, version: str, weight: int) -> None:
        self.version, self.canary, self.weight = version, True, weight
        self._wrote("start_canary")

    async def set_weight(self, service: str, weight: int) -> None:
        self.weight = weight
        self._wrote("set_weight")

    async def rollback(self, service: str) -> None:
        self.weight = 0
        self._wrote("rollback")

    async def promote(self, service: str, version: str) -> None:
        self.weight = 100
        self._wrote("promote")

    async def delete_canary(self, service: str) -> None:
        self.canary = False
        self._wrote("delete_canary")

    async def save_record(self, service: str, record: RolloutRecord) -> None:
        self.record = record

    async def record_event(self, service: str, reason: str, message: str) -> None:
        return None

    async def follow_logs(self, service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        return
        yield  # an async generator with nothing in it: a timeline has no logs


@dataclass
class ReplayResult:
    service: str
    outcome: RolloutOutcome  # promoted | rolled_back | awaiting_approval | paused | incomplete
    decisions: list[Decision]
    start: float
    end: float  # the time the replay stopped (terminal decision or last sample)
    checks: int
    shadow: bool = False
    would: list[Event] = field(default_factory=list)  # shadow / read-only "would roll back" notices
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return int(outcome_exit(self.outcome))

    @property
    def would_roll_back(self) -> list[Decision]:
        return [d for d in self.decisions if d.reason.startswith("would roll back")]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"service": self.service, "outcome": self.outcome,
                                "decisions": [d.to_json() for d in self.decisions],
                                "start": self.start, "end": self.end, "checks": self.checks,
                                "shadow": self.shadow}
        if self.would:
            data["would"] = [{"t": e.at, "message": e.message} for e in self.would]
        if self.notes:
            data["notes"] = list(self.notes)
        if self.errors:
            data["errors"] = list(self.errors)
        return data

    def table(self) -> str:
        """The decisions for a person: time, weight, action, reason and the values behind each."""
        head = (f"{self.service}: {self.outcome.replace('_', ' ')} after {self.checks} checks "
                f"(t {self.start:g}s … {self.end:g}s){' — shadow mode' if self.shadow else ''}")
        rows = [head, f"{'t':>8}  {'weight':>6}  {'action':<14} reason"]
        for d in self.decisions:
            rows.append(f"{_clock(d.t):>8}  {d.weight:>5}%  {d.action:<14} {d.reason}")
            shown = _shown_values(d.values)
            if shown:
                rows.append(f"{'':>8}  {'':>6}  {'':<14} {shown}")
        rows += [f"note: {n}" for n in self.notes] + [f"error: {e}" for e in dict.fromkeys(self.errors)]
        rows.append(f"outcome: {self.outcome} (exit {self.exit_code})")
        return "\n".join(rows)


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


def _number(name: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value:.2%}" if name in ("error_rate", "success_rate") else f"{value * 1000:.0f}ms"


def _shown_values(values: dict[str, Any]) -> str:
    """"error_rate 2.31% vs 0.48% (fail) · p95_latency 152ms vs 150ms (pass) …" from a decision's values."""
    checks = values.get("checks") or {}
    parts = [f"{name} {_number(name, c.get('canary'))} vs {_number(name, c.get('stable'))} ({c.get('result')})"
             for name, c in checks.items() if name != "success_rate"]
    return " · ".join(parts)


def replay_config(config: Config, service: str, step: float) -> tuple[Config, list[str]]:
    """The config a replay runs with: checks every step, and only the checks a timeline can feed."""
    notes: list[str] = []
    known = {s.name: s for s in config.services}
    extra = [c.name for c in known[service].checks] if service in known else []
    if extra:
        notes.append(f"not judged (not in a timeline): {', '.join(extra)}")
    if step != config.check_interval:
        notes.append(f"checks every {step:g}s (the timeline's step), not every {config.check_interval:g}s")
    services = [Service.model_construct(name=service, checks=[])]
    analysis = config.analysis
    if "traffic_share" not in analysis.model_fields_set:
        analysis = analysis.model_copy(update={"traffic_share": "report"})
        notes.append("traffic share reported, never held: recorded traffic does not follow the replayed weights "
                     "(set analysis.traffic_share: enforce when it does)")
    notes.append(f"analysis method: {analysis.method}")
    return config.model_copy(update={"services": services, "check_interval": step, "analysis": analysis}), notes


def choose_service(timeline: Timeline, service: str | None) -> str:
    if service is None:
        if len(timeline.services) > 1:
            raise TimelineError(f"the timeline holds {', '.join(timeline.services)}: choose one with --service",
                                field="service")
        return timeline.services[0]
    if service not in timeline.services:
        raise TimelineError(f"no samples for service '{service}' in the timeline (it holds "
                            f"{', '.join(timeline.services)})", field="service")
    return service


async def replay_async(config: Config, timeline: Timeline, service: str | None = None, *,
                       version: str = "replay") -> ReplayResult:
    service = choose_service(timeline, service)
    times = timeline.times(service)
    config, notes = replay_config(config, service, timeline.step(service) or config.check_interval)
    return await _drive(config, timeline, service, times, notes, version)


Feed = Callable[[float, int], Iterable[Sample]]  # (t, the weight the policy set) → that step's samples


async def closed_loop_async(config: Config, service: str, times: Sequence[float], feed: Feed, *,
                            version: str = "replay") -> ReplayResult:
    """The policy over traffic that follows it: before each check ``feed(t, weight)`` gives the step's samples
    for the weight the policy set, as live traffic would. A synthetic scenario replayed this way never lags
    its recording (a fixed recording splits its traffic by a schedule the policy may not keep)."""
    step = times[1] - times[0] if len(times) > 1 else config.check_interval
    config, notes = replay_config(config, service, step)
    return await _drive(config, Timeline([]), service, list(times), notes, version, feed)


async def _drive(config: Config, timeline: Timeline, service: str, times: list[float], notes: list[str],
                 version: str, feed: Feed | None = None) -> ReplayResult:
    clock = VirtualClock(start=times[0])
    bus = EventBus()
    would: list[Event] = []
    errors: list[str] = []
    bus.subscribe(lambda e: would.append(e) if e.kind is EventKind.ACTION and e.data.get("shadow") else None)
    bus.subscribe(lambda e: errors.append(e.message) if e.kind is EventKind.ERROR else None)
    cluster = ReplayCluster(clock, service)
    metrics = TimelineMetrics(timeline, clock)
    controller = RolloutController(service, config, cluster, clock, bus, actor="replay")
    await controller.start(version)
    checks, end = 0, times[0]
    for index, t in enumerate(times):
        await clock.run_until(t)
        end = t
        if feed is not None:
            timeline.add(feed(t, cluster.weight))
        for _ in range(2 if index == 0 else 1):  # at the first sample: the canary is ready, then judged
            snapshot = (await cluster.snapshot_all([service]))[service]
            polled = (await metrics.poll([service], config.window))[service]
            if config.analysis.method == "sequential":  # the increments the sequential checks test
                recent = (await metrics.poll([service], config.check_interval))[service]
                polled = replace(polled, recent_stable=recent.stable, recent_canary=recent.canary)
            await controller.tick(snapshot, polled)
            await controller.drain()
        checks += 1
        if controller.state in (State.PROMOTED, State.ROLLED_BACK, State.FAILED):
            break
    decisions = [replace(d, t=d.t + times[0]) for d in controller.decisions]
    return ReplayResult(service=service, outcome=controller.outcome or RolloutOutcome.INCOMPLETE, decisions=decisions,
                        start=times[0], end=end, checks=checks, shadow=config.shadow, would=would,
                        errors=errors, notes=notes)


def replay_timeline(config: Config, lines_or_path: str | Path | Iterable[str], service: str | None = None,
                    *, version: str = "replay") -> ReplayResult:
    """Parse and replay. Raises TimelineError (exit 2) for a malformed timeline or an unknown service."""
    timeline = parse_timeline(lines_or_path)
    return asyncio.run(replay_async(config, timeline, service, version=version))
