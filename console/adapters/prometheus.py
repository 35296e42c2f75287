"""Adapters room: the Metrics port over a real Prometheus (httpx), with the runbook's queries by default.

One instant query per metric per poll for all services and both tracks (``by (service, track)``), issued
concurrently, so the number of requests does not grow with the number of services; one more query per
service-specific check. From the second poll on, each of those queries also carries the increment since the
previous answered poll (``with_recent``: the same template over that span, marked by RECENT_LABEL), which
fills ``ServiceMetrics.recent_*`` for the sequential checks: still one request per metric. Range queries
back-fill the charts (``history``) and feed ``record`` (``query_range``). Nothing about the data raises:
NaN, Inf, empty results, a missing track, warnings, HTTP errors and timeouts come back as a ServiceMetrics
with the track None and ``problem`` saying why.
Polls never overlap: a second poll waits for the first one to finish.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from console.adapters.prometheus_api import PrometheusAPI, QueryFailed, Sample, Series, promql_duration
from console.engine.clock import Clock
from console.engine.catalog import MEASURED, METRIC_NAMES, explain
from console.engine.config import PrometheusSettings, format_duration
from console.engine.model import Problem, ServiceMetrics, Track, TrackWindow
from console.engine.ports import MetricsError

METRICS = METRIC_NAMES  # one instant query each per poll (console/engine/catalog.py)
Key = tuple[str, str]  # (service, track)
RECENT_LABEL = "canary_console_recent"  # marks the increment's series in a combined answer


def with_recent(whole: str, recent: str) -> str:
    """One query for two spans: the window's series as they are, and the increment's (the same template over
    the span since the previous poll) with RECENT_LABEL added, so ``or`` keeps both and they can be told
    apart. increase()/rate() run per series before any sum, so a counter reset (a restarted pod) costs
    nothing and never makes an increment negative."""
    return f'({whole}) or label_replace(({recent}), "{RECENT_LABEL}", "1", "", "")'


def services_regex(services: Sequence[str]) -> str:
    """An anchored-by-PromQL regex matching exactly these names, escaped for a double-quoted PromQL string."""
    def escape(name: str) -> str:
        return "".join(c if c.isalnum() or c in "-_" else "\\\\" + c for c in name).replace('"', '\\"')
    return "|".join(escape(s) for s in services)


@dataclass(slots=True)
class _Answer:
    """One metric's values by (service, track), or why there are none."""

    values: dict[Key, float | None]
    problem: str | None = None
    kind: Problem = Problem.FAILED  # what kind ``problem`` is


def _answer(samples: list[Sample], warnings: list[str]) -> _Answer:
    if warnings:  # partial or doubtful data is no data: never judge on it
        return _Answer({}, f"Prometheus warned: {warnings[0]}", Problem.WARNED)
    return _Answer({(s.labels.get("service", ""), s.labels.get("track", "")): s.value for s in samples
                    if RECENT_LABEL not in s.labels})


def split_recent(answer: _Answer, samples: list[Sample]) -> _Answer:
    """The increment's part of a combined answer (empty when the query failed or warned: no increment)."""
    if answer.problem:
        return _Answer({}, answer.problem, answer.kind)
    return _Answer({(s.labels.get("service", ""), s.labels.get("track", "")): s.value for s in samples
                    if RECENT_LABEL in s.labels})


Said = tuple[str, Problem]  # a problem in words, and its kind


def _track_window(service: str, track: Track, answers: Mapping[str, _Answer], window_s: float,
                  ) -> tuple[TrackWindow | None, Said | None]:
    """A track's window from the four answers, or None with the reason."""
    key = (service, track.value)
    for name in ("requests", "errors"):
        failed = answers[name]
        if failed.problem:
            return None, (failed.problem, failed.kind)
    if key not in answers["requests"].values:
        return None, (f"no data for {track.value}", Problem.NO_DATA)
    requests = answers["requests"].values[key]
    errors = answers["errors"].values.get(key, 0.0)  # no 5xx series yet: no errors
    if requests is None or errors is None:
        return None, (f"no data for {track.value} (NaN or Inf)", Problem.NO_DATA)
    measured: dict[str, Any] = {name: answers[name].values.get(key) for name in MEASURED}
    return TrackWindow(requests=requests, errors=errors, seconds=window_s, **measured), None


def assemble(service: str, answers: Mapping[str, _Answer], window_s: float, at: float,
             extras: dict[str, float | None] | None = None, extra_problems: Sequence[Said] = (),
             queries: dict[str, str] | None = None, recent: Mapping[str, _Answer] | None = None,
             recent_s: float = 0.0) -> ServiceMetrics:
    """One service's ServiceMetrics from one poll's answers; problems joined in one line for the screen,
    each with its kind. ``recent`` (the increments' answers over ``recent_s``) fills recent_stable/
    recent_canary; a track with no increment series stays None — missing data is no increment, never a zero
    one."""
    problems: list[Said] = []
    windows: dict[Track, TrackWindow | None] = {}
    for track in (Track.STABLE, Track.CANARY):
        windows[track], problem = _track_window(service, track, answers, window_s)
        if problem and problem[0] not in [text for text, _ in problems]:
            problems.append(problem)
    if windows[Track.STABLE] is None and windows[Track.CANARY] is None and [text for text, _ in problems] == [
            "no data for stable", "no data for canary"]:
        problems = [("no data for stable or canary", Problem.NO_DATA)]
    for name in MEASURED:
        if answers[name].problem and any(windows.values()):
            problems.append((f"{name}: {answers[name].problem}", answers[name].kind))
    problems.extend(extra_problems)
    increments = {track: _track_window(service, track, recent, recent_s)[0] if recent and recent_s > 0 else None
                  for track in (Track.STABLE, Track.CANARY)}
    return ServiceMetrics(service=service, stable=windows[Track.STABLE], canary=windows[Track.CANARY],
                          extras=dict(extras or {}), problem="; ".join(text for text, _ in problems) or None, at=at,
                          problem_kinds=tuple(kind for _, kind in problems), queries=dict(queries or {}),
                          recent_stable=increments[Track.STABLE], recent_canary=increments[Track.CANARY])


class PrometheusMetrics:
    """ports.Metrics over Prometheus' HTTP API. ``queries`` counts the HTTP requests sent (retries too)."""

    def __init__(self, settings: PrometheusSettings | str, *, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Clock | None = None, backoff: float = 0.25) -> None:
        self.settings = PrometheusSettings.model_validate({"url": settings}) if isinstance(settings, str) else settings
        self.api = PrometheusAPI(self.settings, transport=transport, backoff=backoff)
        self._clock = clock
        self._lock = asyncio.Lock()
        # wall time of the last poll whose increments were answered, per set of services: the next
        # increment starts there (a failed or empty poll leaves it, so the next one covers the gap)
        self._answered: dict[tuple[str, ...], float] = {}

    def __repr__(self) -> str:
        return f"PrometheusMetrics({self.api!r})"

    @property
    def queries(self) -> int:
        return self.api.requests

    def _stamp(self) -> float:
        return self._clock.now() if self._clock else time.time()

    def render(self, name: str, services: Sequence[str], window_s: float) -> str:
        template: str = getattr(self.settings.queries, name)
        return template.replace("${SERVICES}", services_regex(services)).replace(
            "${WINDOW}", promql_duration(window_s))

    def explain(self, service: str, window_s: float, extras: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every check's query for one service, for people to read (Check.query): the configured templates
        for that service alone, composed as each check reads them (console/engine/catalog.py)."""
        templates = {name: getattr(self.settings.queries, name) for name in METRICS}
        return explain(templates, service, format_duration(window_s), extras)

    async def _instant(self, promql: str, at: float) -> _Answer:
        return (await self._instant_samples(promql, at))[0]

    async def _instant_samples(self, promql: str, at: float) -> tuple[_Answer, list[Sample]]:
        try:
            samples, warnings = await self.api.instant(promql, at)
        except QueryFailed as failure:
            return _Answer({}, str(failure), failure.problem), []
        return _answer(samples, warnings), samples

    def increment_span(self, services: Sequence[str], window_s: float, at_wall: float) -> float:
        """Seconds since the last answered poll of these services (at most a window; 0 on the first poll)."""
        since = self._answered.get(tuple(services))
        return 0.0 if since is None else max(0.0, min(at_wall - since, window_s))

    def _metric_query(self, name: str, services: Sequence[str], window_s: float, recent_s: float) -> str:
        whole = self.render(name, services, window_s)
        return with_recent(whole, self.render(name, services, recent_s)) if recent_s >= 0.001 else whole

    async def _extra(self, name: str, promql: str, at: float) -> tuple[float | None, Said | None]:
        answer = await self._instant(promql, at)
        if answer.problem:
            return None, (f"{name}: {answer.problem}", answer.kind)
        if len(answer.values) != 1:
            if not answer.values:
                return None, (f"{name}: no data", Problem.NO_DATA)
            return None, (f"{name}: {len(answer.values)} series (aggregate it to one)", Problem.REJECTED)
        value = next(iter(answer.values.values()))
        return value, None if value is not None else (f"{name}: NaN or Inf", Problem.NO_DATA)

    async def poll(self, services: Sequence[str], window_s: float,
                   extras: dict[str, dict[str, str]] | None = None) -> dict[str, ServiceMetrics]:
        async with self._lock:
            at_wall, stamp = time.time(), self._stamp()
            recent_s = self.increment_span(services, window_s, at_wall)
            extra_jobs = [(service, name, promql.replace("${SERVICE}", service).replace("${TRACK}", "canary")
                           .replace("${WINDOW}", promql_duration(window_s)))
                          for service, checks in (extras or {}).items() if service in services
                          for name, promql in checks.items()]
            results, extra_answers = await asyncio.gather(  # all at once, typed apart
                asyncio.gather(*(self._instant_samples(self._metric_query(name, services, window_s, recent_s), at_wall)
                                 for name in METRICS)),
                asyncio.gather(*(self._extra(name, promql, at_wall) for _, name, promql in extra_jobs)))
            answers = {name: answer for name, (answer, _) in zip(METRICS, results)}
            recent = {name: split_recent(answer, samples) for name, (answer, samples) in zip(METRICS, results)}
            if not answers["requests"].problem and (not recent_s or recent["requests"].values):
                self._answered[tuple(services)] = at_wall  # the next increment starts here
        extra_values: dict[str, dict[str, float | None]] = {s: {} for s in services}
        extra_problems: dict[str, list[Said]] = {s: [] for s in services}
        for (service, name, _), (value, problem) in zip(extra_jobs, extra_answers):
            extra_values[service][name] = value
            if problem:
                extra_problems[service].append(problem)
        return {s: assemble(s, answers, window_s, stamp, extra_values[s], extra_problems[s],
                            self.explain(s, window_s, (extras or {}).get(s)), recent, recent_s) for s in services}

    async def history(self, services: Sequence[str], window_s: float, since_s: float,
                      step_s: float) -> dict[str, list[ServiceMetrics]]:
        """Windows every ``step_s`` over the last ``since_s`` seconds (four range queries for all services)."""
        end = time.time()
        start = end - since_s
        offset = self._stamp() - end  # report times on the session's clock
        results = await asyncio.gather(*(self._range(self.render(name, services, window_s), start, end, step_s)
                                         for name in METRICS))
        by_time: dict[float, dict[str, _Answer]] = {}
        for name, (series, problem) in zip(METRICS, results):
            if problem:
                continue
            for one in series:
                key = (one.labels.get("service", ""), one.labels.get("track", ""))
                for t, value in one.points:
                    by_time.setdefault(t, {m: _Answer({}) for m in METRICS})[name].values[key] = value
        failed = next((p for _, p in results if p), None)
        if failed:
            return {s: [ServiceMetrics(service=s, problem=failed[0], at=end + offset, problem_kinds=(failed[1],))]
                    for s in services}
        return {s: [assemble(s, answers, window_s, t + offset, queries=self.explain(s, window_s))
                    for t, answers in sorted(by_time.items())] for s in services}

    async def _range(self, promql: str, start: float, end: float, step: float) -> tuple[list[Series], Said | None]:
        try:
            series, warnings = await self.api.range(promql, start, end, step)
        except QueryFailed as failure:
            return [], (str(failure), failure.problem)
        return series, (f"Prometheus warned: {warnings[0]}", Problem.WARNED) if warnings else None

    async def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        """Raw range query for ``record``: raises MetricsError when Prometheus cannot be asked or warns."""
        series, problem = await self._range(promql, start, end, step)
        if problem:
            raise MetricsError(problem[0], problem=problem[1])
        return series

    async def query(self, promql: str, at: float | None = None) -> list[Sample]:
        """Raw instant query: raises MetricsError when Prometheus cannot be asked or warns."""
        answer_samples: list[Sample]
        try:
            answer_samples, warnings = await self.api.instant(promql, at)
        except QueryFailed as failure:
            raise MetricsError(str(failure), problem=failure.problem) from None
        if warnings:
            raise MetricsError(f"Prometheus warned: {warnings[0]}", problem=Problem.WARNED)
        return answer_samples

    async def aclose(self) -> None:
        await self.api.aclose()
