"""The sequential-checks room: anytime-valid error and latency tests over the stream of a phase's checks.

The fixed-sample judge (judge.py) tests each 5-minute window on its own, at alpha_fail per look; a regression
that starts mid-window has to fill the window before it shows, and every look spends error budget. Here every
check contributes only what is new since the previous check (``ServiceMetrics.recent``: the last check
interval, disjoint from the one before), and streams of those increments are tested with statistics that stay
valid however often they are looked at (Johari, Pekelis, Walsh, "Always Valid Inference"; Lindon, Sanden,
Shirikian, KDD 2022):

* error rates: a Beta-mixture confidence sequence for each track's binomial rate (Ville's inequality on the
  mixture martingale). ``error_rate`` breaches when the canary's lower bound exceeds stable's upper bound plus
  the threshold (same interval, so an incident on both tracks cancels); ``success_rate`` when the canary's
  lower bound exceeds the absolute limit.
* latency quantiles: each increment's log ratio canary/stable quantile (same interval) minus log(1 + limit),
  weighted by the quantile's sampling precision (the judge's log-normal order-statistic noise), fed to a
  one-sided normal-mixture SPRT (mSPRT). Increments are batched until both tracks have enough requests for
  the normal approximation.

A new stream starts every ``analysis.restart_every`` seconds of a phase (at most a phase's worth), so a fault
that begins mid-phase is tested on data that is all bad rather than diluted; the budget
``analysis.false_alarm`` is per check and per rollout, split evenly over every stream a rollout can start
(phases × starts) and, for the two-sample error test, over both tracks. docs/judging.md explains the choices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

from console.engine.binomial import counts
from console.engine.config import Config, format_duration
from console.engine.model import INCIDENT, TrackWindow

_NORMAL = NormalDist()
LATENCY_BATCH = 100  # requests each track needs in a latency batch (normal approximation of a quantile)
ERROR_PRIOR_MEAN = 0.02  # the Beta mixture's mean for error rates: most canaries fail at a few percent
ERROR_PRIOR_SIZE = 50.0  # its concentration (a + b); measured best of 2 … 1,000 for +1 … +5 pp (docs/judging.md)
LATENCY_TAU = 0.2  # the normal mixture's scale in log-ratio units (a 20 % excess)
_LEVELS = {"p95": 0.95, "p99": 0.99}
_SIGMA_SPAN = _NORMAL.inv_cdf(0.99) - _NORMAL.inv_cdf(0.95)


# ---------------------------------------------------------------- the statistics

def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def log_mixture(k: int, n: int, p: float, mean: float | None = None, size: float | None = None) -> float:
    """log of the Beta(mean·size, (1−mean)·size) mixture likelihood ratio against rate ``p`` after k of n:
    a nonnegative martingale with mean 1 when the true rate is p, so it rarely ever reaches 1/alpha."""
    mean = ERROR_PRIOR_MEAN if mean is None else mean
    size = ERROR_PRIOR_SIZE if size is None else size
    a, b = mean * size, (1.0 - mean) * size
    if p <= 0.0:
        return math.inf if k > 0 else _log_beta(a, b + n) - _log_beta(a, b)
    if p >= 1.0:
        return math.inf if k < n else _log_beta(a + n, b) - _log_beta(a, b)
    return _log_beta(a + k, b + n - k) - _log_beta(a, b) - k * math.log(p) - (n - k) * math.log1p(-p)


def confidence_sequence(k: int, n: int, alpha: float) -> tuple[float, float]:
    """(low, high): the rates not rejected by the mixture after k errors in n. Holds for every n at once with
    probability ≥ 1 − alpha (Ville), so it may be looked at after every check. (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    limit = math.log(1.0 / alpha)
    centre = k / n

    def bound(lo: float, hi: float, inside_is_hi: bool) -> float:
        # bisection between a rejected end and the (never rejected) centre
        for _ in range(60):
            middle = (lo + hi) / 2
            if (log_mixture(k, n, middle) < limit) == inside_is_hi:
                hi = middle
            else:
                lo = middle
        return hi if inside_is_hi else lo

    low = 0.0 if k == 0 or log_mixture(k, n, 0.0) < limit else bound(0.0, centre, True)
    high = 1.0 if k == n or log_mixture(k, n, 1.0) < limit else bound(centre, 1.0, False)
    return low, high


def log_normal_mixture(weighted_sum: float, precision: float, tau: float = LATENCY_TAU) -> float:
    """log of the one-sided normal-mixture SPRT statistic for a drift θ ≥ 0, after increments d_i with
    precisions w_i: S = Σ w_i d_i, V = Σ w_i. A supermartingale whenever the drift is ≤ 0."""
    if precision <= 0:
        return 0.0
    spread = 1.0 + tau * tau * precision
    z = tau * weighted_sum / math.sqrt(spread)
    tail = _NORMAL.cdf(z)
    if tail <= 0.0:
        return -math.inf
    return math.log(2.0 * tail) - 0.5 * math.log(spread) + 0.5 * z * z


def _log_sigma(window: TrackWindow | None) -> float:
    """The log-normal shape read off stable's P95 and P99 (the judge's rule), clamped to 0.15 … 1.5."""
    if window is not None and window.p95 and window.p99 and window.p99 > window.p95 > 0:
        sigma = math.log(window.p99 / window.p95) / _SIGMA_SPAN
    else:
        sigma = 0.5
    return min(max(sigma, 0.15), 1.5)


def quantile_spread(quantile: str) -> float:
    p = _LEVELS[quantile]
    return math.sqrt(p * (1.0 - p)) / _NORMAL.pdf(_NORMAL.inv_cdf(p))


# ---------------------------------------------------------------- one stream since one start

@dataclass
class _Latency:
    weighted: float = 0.0  # Σ w_i d_i
    precision: float = 0.0  # Σ w_i
    batch: list[tuple[TrackWindow, TrackWindow]] = field(default_factory=list)


@dataclass
class Stream:
    """What both tracks did since ``start``: counts, and the latency mSPRT's sums per quantile."""

    start: float
    canary_n: int = 0
    canary_k: int = 0
    stable_n: int = 0
    stable_k: int = 0
    latency: dict[str, _Latency] = field(default_factory=lambda: {"p95": _Latency(), "p99": _Latency()})

    def add(self, canary: TrackWindow, stable: TrackWindow | None, limits: dict[str, float],
            shape: TrackWindow | None) -> None:
        n, k = counts(canary.requests, canary.errors)
        self.canary_n, self.canary_k = self.canary_n + n, self.canary_k + k
        if stable is not None:
            n_s, k_s = counts(stable.requests, stable.errors)
            self.stable_n, self.stable_k = self.stable_n + n_s, self.stable_k + k_s
            for quantile, state in self.latency.items():
                state.batch.append((canary, stable))
                _fold(state, quantile, limits[f"{quantile}_latency"], shape)


def _weighted(windows: list[TrackWindow], quantile: str) -> tuple[float | None, int]:
    pairs = [(getattr(w, quantile), counts(w.requests, 0)[0]) for w in windows]
    pairs = [(q, n) for q, n in pairs if q is not None and q > 0 and n > 0]
    total = sum(n for _, n in pairs)
    if total == 0:
        return None, 0
    return math.exp(sum(math.log(q) * n for q, n in pairs) / total), total


def _fold(state: _Latency, quantile: str, limit: float, shape: TrackWindow | None) -> None:
    """Close the batch once both tracks have LATENCY_BATCH requests: one increment d = log(canary/stable)
    − log(1 + limit), with precision 1 / (σ² spread² (1/n_c + 1/n_s))."""
    canary_q, n_c = _weighted([c for c, _ in state.batch], quantile)
    stable_q, n_s = _weighted([s for _, s in state.batch], quantile)
    if n_c < LATENCY_BATCH or n_s < LATENCY_BATCH or canary_q is None or stable_q is None:
        return
    state.batch.clear()
    sigma = _log_sigma(shape) * quantile_spread(quantile)
    weight = 1.0 / (sigma * sigma * (1.0 / n_c + 1.0 / n_s))
    state.weighted += weight * (math.log(canary_q / stable_q) - math.log1p(limit))
    state.precision += weight


# ---------------------------------------------------------------- the monitor the controller keeps

@dataclass(frozen=True)
class Finding:
    """One check's sequential answer: ``breach`` (reject: the canary is worse than allowed) and why."""

    name: str
    breach: bool
    reason: str
    looked: bool  # False when the stream had nothing to test yet (the fixed check stands)
    incident: bool = False  # held: an incident on both tracks over the same stream


class SequentialMonitor:
    """Streams of this phase's increments; a new stream every ``restart_every`` seconds, at most a phase's
    worth. ``reset`` at every phase (a new weight is a new experiment)."""

    def __init__(self, config: Config) -> None:
        analysis = config.analysis
        self.restart_every = analysis.restart_every
        longest = max(p.duration for p in config.phases)
        self.max_starts = max(1, math.ceil(longest / analysis.restart_every))
        self.alpha = analysis.false_alarm / (len(config.phases) * self.max_starts)
        self.judging = config.judging
        self.step = config.check_interval
        self.streams: list[Stream] = []
        self._last_start: float | None = None
        self._now = 0.0

    def reset(self) -> None:
        self.streams, self._last_start = [], None

    def offer(self, now: float, canary: TrackWindow | None, stable: TrackWindow | None,
              limits: dict[str, float], shape: TrackWindow | None) -> bool:
        """Add one check's increment (the last check interval of each track). Returns False when there was
        no increment to add (the source gives none, or no canary window): the fixed checks then stand."""
        if canary is None:
            return False
        self._now = now
        due = self._last_start is None or now - self._last_start >= self.restart_every
        if due and len(self.streams) < self.max_starts:
            self.streams.append(Stream(start=now))
            self._last_start = now
        for stream in self.streams:
            stream.add(canary, stable, limits, shape)
        return True

    # ---- the tests

    def error_rate(self, limit: float) -> Finding:
        scored: list[tuple[float, Stream]] = []
        for stream in self.streams:
            if stream.stable_n == 0 or stream.canary_n == 0 or not self._enough(stream):
                continue
            if stream.canary_k / stream.canary_n - stream.stable_k / stream.stable_n <= limit:
                scored.append((-1.0, stream))  # the bounds lie beyond the estimates: no breach, no need to look
                continue
            canary_low, _ = confidence_sequence(stream.canary_k, stream.canary_n, self.alpha / 2)
            _, stable_high = confidence_sequence(stream.stable_k, stream.stable_n, self.alpha / 2)
            scored.append((canary_low - stable_high - limit, stream))
        return self._strongest("error_rate", scored, lambda s: (
            f"canary worse than stable by more than the limit ({s.canary_k}/{s.canary_n} vs "
            f"{s.stable_k}/{s.stable_n}, budget {self.alpha:.1e} a stream)"), "not shown worse")

    def success_rate(self, allowed_error: float) -> Finding:
        """The canary's rate above the absolute limit — unless, over the same stream, stable's own rate was
        at or above the limit too and the canary is not shown worse than stable (an incident on both tracks:
        the finding says so and does not breach). Stable's estimate, not its bound, decides here: a thin
        stable stream's wide bound is uncertainty, not an incident."""
        scored: list[tuple[float, Stream]] = []
        shared: list[Stream] = []
        for stream in self.streams:
            if stream.canary_n == 0 or not self._enough(stream):
                continue
            if stream.canary_k / stream.canary_n <= allowed_error:
                scored.append((-1.0, stream))  # the lower bound is below the estimate: no breach
                continue
            low, _ = confidence_sequence(stream.canary_k, stream.canary_n, self.alpha)
            if low > allowed_error and stream.stable_n and stream.stable_k / stream.stable_n >= allowed_error:
                _, stable_high = confidence_sequence(stream.stable_k, stream.stable_n, self.alpha)
                if low <= stable_high:
                    shared.append(stream)
                    continue
            scored.append((low - allowed_error, stream))
        finding = self._strongest("success_rate", scored, lambda s: (
            f"canary error rate above {allowed_error * 100:.2f} % ({s.canary_k}/{s.canary_n})"),
            "not shown above the limit")
        if shared and not finding.breach:
            s = shared[-1]
            return Finding("success_rate", False, f"sequential: {INCIDENT} — canary {s.canary_k}/{s.canary_n}, "
                           f"stable {s.stable_k}/{s.stable_n} {self._since(s)}, both may reach the "
                           f"{allowed_error * 100:.2f} % limit and the canary is not shown worse", True,
                           incident=True)
        return finding

    def _strongest(self, name: str, scored: list[tuple[float, Stream]], breach, clear: str) -> Finding:
        """The stream with the largest excess decides: a breach when it is above 0."""
        if not scored:
            return Finding(name, False, "sequential: no stream with data yet", False)
        excess, stream = max(scored, key=lambda pair: pair[0])
        if excess > 0:
            return Finding(name, True, f"sequential: {breach(stream)} {self._since(stream)}", True)
        return Finding(name, False, f"sequential: {clear} {self._since(stream)}", True)

    def latency(self, quantile: str) -> Finding:
        name = f"{quantile}_latency"
        threshold = math.log(1.0 / self.alpha)
        looked = [s for s in self.streams if s.latency[quantile].precision > 0]
        if not looked:
            return Finding(name, False, "sequential: no latency batch complete yet", False)
        scored = [(log_normal_mixture(s.latency[quantile].weighted, s.latency[quantile].precision), s)
                  for s in looked]
        score, stream = max(scored, key=lambda pair: pair[0])
        where = self._since(stream)
        if score >= threshold:
            return Finding(name, True, f"sequential: {quantile.upper()} above the limit {where} "
                           f"(evidence {math.exp(min(score, 700)):.3g} ≥ {1 / self.alpha:.3g})", True)
        return Finding(name, False, f"sequential: not shown above the limit {where}", True)

    def _enough(self, stream: Stream) -> bool:
        return stream.canary_n >= self.judging.min_requests or stream.canary_k >= 5

    def _since(self, stream: Stream) -> str:
        return f"over the last {format_duration(self._now - stream.start + self.step)}"
