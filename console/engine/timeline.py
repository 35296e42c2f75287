"""Recorded timelines: the NDJSON format of contracts.md parsed, indexed by time, and served as a Metrics port.

A timeline holds, per service and track, one sample per step: ``requests`` and ``errors`` counted in the
interval ending at ``t`` and that interval's ``p95`` / ``p99`` in seconds (null when it had no requests).
A missing line is no data. `TimelineMetrics` answers the engine's ``poll`` from these samples as if it
were Prometheus at the clock's time: counts summed over the samples in (t − window, t] (prefix sums), and
each window quantile the request-weighted MEDIAN of the samples' quantiles (samples with a null quantile
add nothing). Why the median: a P95 of a few requests is close to their maximum, so at low traffic the
canary's per-step P95s are skewed upwards; their mean reads a healthy canary +15 % slower than stable
(37 % of windows over a 20 % limit at 15 canary requests a step, against 8 % for the true pooled P95),
while the median is unbiased (13 %) — at that size. Its cost: a regression shows once it covers half the
window's requests, not at once. ``quantiles="mean"`` keeps the mean for comparison.

By default (``quantiles="levelled"``) each sample's quantile is first moved to the level it estimates: the
nearest-rank p-quantile of n requests is the k-th of n (k = ⌈p·n⌉), whose median level (k − 1/3)/(n + 1/3)
is below p for most small n — 0.93 for a P95 of 24 requests, 0.97 for a P99 of 24 (their maximum) — so a
track with few requests a step reads fast, and its P99/P95 ratio (the judge's noise shape) reads narrow.
With stable the thinner track (weight 75 at low traffic, or a replay that fell behind its recording) a
healthy canary then reads 20–50 % slower than stable, beyond the judge's noise margin (docs/judging.md,
"Fell behind"). The move is log-normal: × exp(σ (z_p − z_level)), σ = log(P99/P95) of the steps' medians over
the gap between their median levels (0.5 when no step has the two apart), clamped like the judge's.
``quantiles="median"`` keeps the unmoved median for comparison. Thousands of samples replay in
milliseconds: sums are O(log n), the median sorts only the window's own samples.
"""

from __future__ import annotations

import bisect
import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import cast

from console.engine.model import Problem, ServiceMetrics, Track, TrackWindow


# Bounds that keep a replay's memory and time proportional to a real rollout, whatever the file says
# (issue 13: a 680-byte file whose t jumped to 1e12 asked for a 2.9 GB grid of checks)
MAX_SAMPLES = 250_000  # a week at a 10 s step for one service, both tracks, with room to spare
MAX_LINE = 4096  # characters in one NDJSON line
MAX_SPAN = 31 * 86400.0  # seconds from the first sample to the last
MAX_GAP = 86400.0  # seconds between two consecutive sample times of one service
MAX_CHECKS = 1_000_000  # checks a replay runs (span / step)
_LIMITS = {"t": 1e10, "requests": 1e12, "errors": 1e12, "p95": 86400.0, "p99": 86400.0}


class TimelineError(ValueError):
    """A timeline that cannot be read; the message names the line number and the field."""

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.field = field


@dataclass(frozen=True, slots=True)
class Sample:
    t: float
    service: str
    track: Track
    requests: float
    errors: float
    p95: float | None
    p99: float | None

    def to_json(self) -> dict[str, object]:
        return {"t": _tidy(self.t), "service": self.service, "track": self.track.value,
                "requests": _tidy(self.requests), "errors": _tidy(self.errors),
                "p95": self.p95, "p99": self.p99}

    def to_line(self) -> str:
        return json.dumps(self.to_json(), separators=(", ", ": "))


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 6)


def _number(obj: dict, key: str, lineno: int) -> float:
    """A field that must be a number."""
    value = _maybe_number(obj, key, lineno, nullable=False)
    assert value is not None  # nullable=False: a missing value raised
    return value


def _maybe_number(obj: dict, key: str, lineno: int, *, nullable: bool = True) -> float | None:
    if key not in obj or obj[key] is None:
        if nullable:
            return None
        raise TimelineError(f"line {lineno}: field '{key}' is missing", line=lineno, field=key)
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TimelineError(f"line {lineno}: field '{key}' must be a number, got {value!r}"[:200],
                            line=lineno, field=key)
    if isinstance(value, float) and math.isnan(value) and nullable:
        return None
    limit = _LIMITS[key]
    if isinstance(value, int) and not -limit <= value <= limit:  # before float(): 10**400 would overflow
        raise TimelineError(f"line {lineno}: field '{key}' must be a number from 0 to {limit:g}",
                            line=lineno, field=key)
    if not math.isfinite(value) or value < 0 or value > limit:
        raise TimelineError(f"line {lineno}: field '{key}' must be a finite number from 0 to {limit:g}, "
                            f"got {value!r}"[:200], line=lineno, field=key)
    return float(value)


def parse_sample(text: str, lineno: int) -> Sample:
    """One NDJSON line → Sample, or TimelineError naming the line and the field."""
    if len(text) > MAX_LINE:
        raise TimelineError(f"line {lineno}: longer than {MAX_LINE} characters: not a timeline sample",
                            line=lineno)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TimelineError(f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})",
                            line=lineno, field=None) from None
    except (ValueError, RecursionError):  # e.g. an integer of more digits than Python converts
        raise TimelineError(f"line {lineno}: a number or nesting beyond any timeline's", line=lineno) from None
    if not isinstance(obj, dict):
        raise TimelineError(f"line {lineno}: a sample must be a JSON object", line=lineno)
    service = obj.get("service")
    if not isinstance(service, str) or not service or not service.isprintable() or len(service) > 253:
        raise TimelineError(f"line {lineno}: field 'service' must be a short printable name", line=lineno,
                            field="service")
    try:
        track = Track(cast(str, obj.get("track")))  # anything else is a ValueError, said below
    except ValueError:
        raise TimelineError(f"line {lineno}: field 'track' must be 'stable' or 'canary', got "
                            f"{obj.get('track')!r}"[:200], line=lineno, field="track") from None
    t, requests, errors = (_number(obj, key, lineno) for key in ("t", "requests", "errors"))
    if errors > requests:
        raise TimelineError(f"line {lineno}: field 'errors' ({errors:g}) exceeds 'requests' ({requests:g})",
                            line=lineno, field="errors")
    p95, p99 = (_maybe_number(obj, key, lineno) for key in ("p95", "p99"))
    return Sample(t, service, track, requests, errors, p95, p99)


def read_lines(source: str | Path | Iterable[str]) -> Iterable[str]:
    """A path (str or Path; "-" is standard input) is read as a file, line by line; anything else iterable
    is the lines. Nothing reads the whole file at once: memory is bounded by the caps, not by the file."""
    if source == "-":
        return sys.stdin
    if isinstance(source, (str, Path)):
        try:
            handle = open(Path(source), encoding="utf-8")  # noqa: SIM115 - closed by _lines_of
        except OSError as exc:
            raise TimelineError(f"{source}: cannot read the timeline: {exc.strerror or exc}") from None
        return _lines_of(handle, str(source))
    return source


def _lines_of(handle, name: str) -> Iterable[str]:
    with handle:
        try:
            for text in handle:
                yield text.rstrip("\n")
        except UnicodeDecodeError:
            raise TimelineError(f"{name}: the timeline is not UTF-8 text") from None
        except OSError as exc:
            raise TimelineError(f"{name}: cannot read the timeline: {exc.strerror or exc}") from None


def parse_timeline(source: str | Path | Iterable[str], *, quantiles: str = "levelled") -> Timeline:
    seen: set[tuple[float, str, Track]] = set()
    samples: list[Sample] = []
    for lineno, text in enumerate(read_lines(source), start=1):
        if not text.strip():
            continue
        sample = parse_sample(text, lineno)
        key = (sample.t, sample.service, sample.track)
        if key in seen:
            raise TimelineError(f"line {lineno}: field 't': a second {sample.track.value} sample for "
                                f"{sample.service} at t={sample.t:g}", line=lineno, field="t")
        seen.add(key)
        samples.append(sample)
        if len(samples) > MAX_SAMPLES:
            raise TimelineError(f"line {lineno}: the timeline holds more than {MAX_SAMPLES:,} samples; record "
                                "a shorter span or a longer step", line=lineno)
    if not samples:
        raise TimelineError("the timeline has no samples")
    _check_extent(samples)
    return Timeline(samples, quantiles=quantiles)


def _check_extent(samples: Sequence[Sample]) -> None:
    """The span and every gap within their caps, so the checks a replay runs stay bounded."""
    first, last = min(s.t for s in samples), max(s.t for s in samples)
    if last - first > MAX_SPAN:
        raise TimelineError(f"field 't': the timeline spans {last - first:g} s, more than the {MAX_SPAN:g} s "
                            "(31 days) a replay accepts", field="t")
    times: dict[str, set[float]] = {}
    for sample in samples:
        times.setdefault(sample.service, set()).add(sample.t)
    for service, present in times.items():
        ordered = sorted(present)
        for a, b in zip(ordered, ordered[1:]):
            if b - a > MAX_GAP:
                raise TimelineError(f"field 't': a gap of {b - a:g} s in {service} (t={a:g} to t={b:g}), more "
                                    f"than the {MAX_GAP:g} s (1 day) a replay accepts", field="t")


def weighted_median(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    """The value at half the total weight; pairs with no value or no weight count for nothing."""
    usable = sorted((value, weight) for value, weight in pairs if value is not None and weight > 0)
    half, seen = sum(weight for _, weight in usable) / 2, 0.0
    for value, weight in usable:
        seen += weight
        if seen >= half:
            return value
    return None


_Z = NormalDist().inv_cdf
_LEVELS = {"p95": 0.95, "p99": 0.99}
QUANTILE_MODES = ("levelled", "median", "mean")


@lru_cache(maxsize=16384)
def rank_z(p: float, n: int) -> float:
    """z of the level the nearest-rank p-quantile of n requests sits at: the median of its order statistic's
    Beta(k, n + 1 − k), k = ⌈p·n⌉ (Kerman's approximation (k − 1/3)/(n + 1/3)); → z_p as n grows."""
    n = max(1, n)
    k = min(n, max(1, math.ceil(p * n - 1e-9)))
    return _Z((k - 1.0 / 3.0) / (n + 1.0 / 3.0))


def levelled_median(samples: Sequence[Sample], quantile: str) -> float | None:
    """The request-weighted median of the samples' ``quantile``, each moved to the level it estimates (the
    module's docstring says why and how)."""
    sized = [(s, int(round(s.requests))) for s in samples if s.requests >= 0.5]
    informative = [(s, n) for s, n in sized if s.p95 and s.p99 and s.p99 >= s.p95
                   and rank_z(0.99, n) - rank_z(0.95, n) > 0.05]
    sigma_read = None  # below ~20 requests a step both are the same order statistic: no shape in them
    if informative:
        m95, m99 = (weighted_median([(getattr(s, q), s.requests) for s, _ in informative]) for q in ("p95", "p99"))
        z95, z99 = (weighted_median([(rank_z(p, n), s.requests) for s, n in informative]) for p in (0.95, 0.99))
        if m95 and m99 and z95 is not None and z99 is not None and z99 - z95 > 0.05:
            sigma_read = math.log(m99 / m95) / (z99 - z95)
    sigma = min(max(0.5 if sigma_read is None else sigma_read, 0.15), 1.5)
    p = _LEVELS[quantile]
    z = _Z(p)
    return weighted_median([(value * math.exp(sigma * (z - rank_z(p, n))), s.requests)
                            for s, n in sized if (value := getattr(s, quantile)) is not None])


class _Prefix:
    """Cumulative sums of one quantity over one track's samples, in time order."""

    __slots__ = ("sums",)

    def __init__(self, values: Iterable[float]) -> None:
        self.sums = [0.0]
        for value in values:
            self.sums.append(self.sums[-1] + value)

    def between(self, lo: int, hi: int) -> float:
        return self.sums[hi] - self.sums[lo]

    def add(self, value: float) -> None:
        self.sums.append(self.sums[-1] + value)


@dataclass
class TrackSeries:
    """One track of one service, indexed for window sums."""

    samples: list[Sample]
    quantiles: str = "levelled"  # levelled | median | mean of the samples' quantiles, weighted by requests
    times: list[float] = field(init=False)
    at: dict[float, int] = field(init=False)

    def __post_init__(self) -> None:
        self.samples.sort(key=lambda s: s.t)
        self.times = [s.t for s in self.samples]
        self.at = {s.t: i for i, s in enumerate(self.samples)}
        self._requests = _Prefix(s.requests for s in self.samples)
        self._errors = _Prefix(s.errors for s in self.samples)
        self._weighted = {q: _Prefix((getattr(s, q) or 0.0) * s.requests for s in self.samples)
                          for q in ("p95", "p99")}
        self._weights = {q: _Prefix(s.requests if getattr(s, q) is not None else 0.0 for s in self.samples)
                         for q in ("p95", "p99")}

    def append(self, sample: Sample) -> None:
        """One sample after the last (a closed-loop replay adds each step's samples as it goes)."""
        if self.times and sample.t <= self.times[-1]:
            raise ValueError(f"a sample at t={sample.t:g} is not after the track's last, t={self.times[-1]:g}")
        self.at[sample.t] = len(self.samples)
        self.samples.append(sample)
        self.times.append(sample.t)
        self._requests.add(sample.requests)
        self._errors.add(sample.errors)
        for q in ("p95", "p99"):
            value = getattr(sample, q)
            self._weighted[q].add((value or 0.0) * sample.requests)
            self._weights[q].add(sample.requests if value is not None else 0.0)

    def _quantile(self, q: str, lo: int, hi: int) -> float | None:
        if self.quantiles == "mean":
            weight = self._weights[q].between(lo, hi)
            return self._weighted[q].between(lo, hi) / weight if weight > 0 else None
        if self.quantiles == "levelled":
            return levelled_median(self.samples[lo:hi], q)
        return weighted_median([(getattr(s, q), s.requests) for s in self.samples[lo:hi]])

    def window(self, t: float, window_s: float) -> TrackWindow | None:
        """The samples in (t − window_s, t]; None when there is no sample at ``t`` itself (no data)."""
        if t not in self.at:
            return None
        hi = self.at[t] + 1
        lo = bisect.bisect_right(self.times, t - window_s, 0, hi)
        quantiles = {q: self._quantile(q, lo, hi) for q in ("p95", "p99")}
        return TrackWindow(requests=self._requests.between(lo, hi), errors=self._errors.between(lo, hi),
                           p95=quantiles["p95"], p99=quantiles["p99"], seconds=window_s)


class Timeline:
    """All samples of a timeline, per service and track."""

    def __init__(self, samples: Sequence[Sample], *, quantiles: str = "levelled") -> None:
        if quantiles not in QUANTILE_MODES:
            raise ValueError(f"quantiles must be one of {', '.join(QUANTILE_MODES)}, not {quantiles!r}")
        self.samples = list(samples)
        self.quantiles = quantiles
        by_key: dict[tuple[str, Track], list[Sample]] = {}
        for sample in self.samples:
            by_key.setdefault((sample.service, sample.track), []).append(sample)
        self.services = sorted({s.service for s in self.samples})
        self._series = {key: TrackSeries(list(group), quantiles) for key, group in by_key.items()}

    def series(self, service: str, track: Track) -> TrackSeries:
        return self._series.get((service, track)) or TrackSeries([])

    def add(self, samples: Iterable[Sample]) -> None:
        """Samples later than any of their track's so far (a closed-loop replay feeds each step this way)."""
        for sample in samples:
            key = (sample.service, sample.track)
            if key not in self._series:
                self._series[key] = TrackSeries([], self.quantiles)
                self.services = sorted({*self.services, sample.service})
            self._series[key].append(sample)
            self.samples.append(sample)

    def times(self, service: str) -> list[float]:
        """Every time a check runs for ``service``: the sample times, plus the regular step's grid through
        any gap (a gap is checked and found to have no data, as a live console would)."""
        present = sorted({s.t for s in self.samples if s.service == service})
        if len(present) < 2:
            return present
        step = self.step(service)
        if step <= 0:  # times closer than a microsecond: no grid to check through
            return present
        count = int((present[-1] - present[0]) / step + 1e-9) + 1
        if count > MAX_CHECKS:
            raise TimelineError(f"field 't': a step of {step:g} s over {present[-1] - present[0]:g} s is {count:,} "
                                f"checks, more than the {MAX_CHECKS:,} a replay runs", field="t")
        grid = [round(present[0] + k * step, 6) for k in range(count)]
        return sorted(set(present) | set(grid))

    def step(self, service: str) -> float:
        """The timeline's regular step: the commonest gap between consecutive sample times."""
        present = sorted({s.t for s in self.samples if s.service == service})
        gaps = Counter(gap for a, b in zip(present, present[1:]) if (gap := round(b - a, 6)) > 0)
        return gaps.most_common(1)[0][0] if gaps else 0.0

    def metrics(self, service: str, t: float, window_s: float) -> ServiceMetrics:
        stable = self.series(service, Track.STABLE).window(t, window_s)
        canary = self.series(service, Track.CANARY).window(t, window_s)
        missing = [track.value for track, win in ((Track.STABLE, stable), (Track.CANARY, canary)) if win is None]
        problem = f"no data in the timeline at t={t:g} for {' and '.join(missing)}" if missing else None
        return ServiceMetrics(service=service, stable=stable, canary=canary, problem=problem, at=t,
                              problem_kinds=(Problem.NO_DATA,) if problem else ())


class TimelineMetrics:
    """ports.Metrics over a recorded timeline, at the time of the given clock."""

    def __init__(self, timeline: Timeline, clock) -> None:
        self.timeline = timeline
        self.clock = clock
        self.polls = 0

    async def poll(self, services: Sequence[str], window_s: float,
                   extras: dict[str, dict[str, str]] | None = None) -> dict[str, ServiceMetrics]:
        self.polls += 1
        now = self.clock.now()
        return {service: self.timeline.metrics(service, now, window_s) for service in services}

    async def history(self, services: Sequence[str], window_s: float, since_s: float,
                      step_s: float) -> dict[str, list[ServiceMetrics]]:
        now = self.clock.now()
        count = int(since_s // step_s) if step_s > 0 else 0
        times = [now - k * step_s for k in range(count, -1, -1)]
        return {service: [self.timeline.metrics(service, t, window_s) for t in times] for service in services}
