"""The judge's scenario set: synthetic timelines with known truth, deterministic and seeded.

Each Scenario describes a canary (healthy or regressed, how, how much, from when), the traffic, gaps in the
recording and what the stable track does at weight 100, and generates the contracts.md timeline for it.
Traffic is split by the weights the runbook's default phases would set (10 % for 15 m, 25, 50, 75, then
100 %), so at 100 % the stable track goes silent (zero requests, null quantiles; or no lines at all).

How numbers are drawn: requests per step are Poisson around rps × step, the canary's share binomial by the
weight, errors binomial by the track's true error rate; a step's P95 and P99 are the exact order statistics
of that many lognormal latencies (Beta-distributed uniforms mapped through the lognormal), so small
intervals are as noisy as they would be in life without drawing every request.

Besides the named SCENARIOS (the classes docs/judging.md reports), ``null_set`` draws any number of healthy
rollouts across 2–2,000 rps (the false-alarm benchmark) and ``delay_set`` error and latency regressions at
10 s steps with onsets mid-phase (the detection-delay benchmark); both are seeded, so a test can take a
small sample of the same population the benchmark measures.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist

from console.engine.config import Config
from console.engine.model import Track
from console.engine.timeline import Sample

Z95, Z99 = NormalDist().inv_cdf(0.95), NormalDist().inv_cdf(0.99)
STABLE_ERRORS, STABLE_P95, STABLE_P99 = 0.005, 0.15, 0.25
MINUTE = 60.0


@dataclass(frozen=True)
class Fault:
    """From ``onset`` seconds on, the canary is worse: ``errors`` adds ``size`` to its error rate (fraction),
    ``latency`` multiplies every latency by ``size``, ``tail`` multiplies only P99 (P95 unchanged)."""

    kind: str  # errors | latency | tail
    size: float
    onset: float = 0.0
    end: float = math.inf  # a shared incident ends; a canary's own fault lasts

    def active(self, t: float) -> bool:
        return self.onset < t <= self.end


@dataclass(frozen=True)
class Scenario:
    name: str
    truth: str  # healthy | regressed | starved (a canary that does not get its share: never promote it)
    description: str
    rps: float = 100.0  # total requests per second to the service
    faults: tuple[Fault, ...] = ()
    gaps: tuple[tuple[float, float], ...] = ()  # [start, end) seconds with no lines at all
    stable_at_100: str = "zero"  # zero (lines with 0 requests) | missing (no stable lines)
    duration: float = 90 * MINUTE
    step: float = 30.0
    seed: int = 0
    service: str = "perception"
    config: Config | None = field(default=None, compare=False)  # whose phases split the traffic
    shared: tuple[Fault, ...] = ()  # an incident on both tracks (a dependency fails): stable and canary alike
    rps_end: float | None = None  # traffic ramps linearly from rps to rps_end over the duration
    bursts: tuple[tuple[float, float, float], ...] = ()  # (start, end, traffic multiplier)
    canary_share: float | None = None  # the canary's real share of requests below 100 % (None: the weight)

    @property
    def onset(self) -> float | None:
        return min((f.onset for f in self.faults), default=None)

    @property
    def expected(self) -> str:
        """What a right policy does: roll back, ask a person (a P99-only regression), or promote."""
        if self.truth == "healthy":
            return "promote"
        if self.truth == "starved":
            return "hold"
        return "review" if all(f.kind == "tail" for f in self.faults) else "rollback"

    def grade(self, outcome: str) -> str:
        """right | stalled or asked a person (safe: nothing promoted or rolled back) | FALSE ROLLBACK | MISSED."""
        if self.truth == "healthy":
            return {"promoted": "right", "rolled_back": "FALSE ROLLBACK"}.get(outcome, "stalled")
        if self.truth == "starved":
            return "MISSED" if outcome == "promoted" else "right"
        return {"promoted": "MISSED", "rolled_back": "right",
                "awaiting_approval": "right" if self.expected == "review" else "asked a person"}.get(outcome, "stalled")

    def samples(self) -> list[Sample]:
        return _Generator(self).samples()

    def lines(self) -> list[str]:
        return [sample.to_line() for sample in self.samples()]

    def times(self) -> list[float]:
        return [k * self.step for k in range(1, int(self.duration // self.step) + 1)]

    def feed(self) -> Callable[[float, int], list[Sample]]:
        """Closed loop: each step's samples split by the weight the policy set then (replay.closed_loop_async).
        Same seed, same draws: for a policy that keeps the schedule it gives exactly ``samples()``."""
        return _Generator(self).step_samples


def weight_at(t: float, config: Config | None = None) -> int:
    """The weight the default phases would have set at ``t`` seconds after the start."""
    elapsed = 0.0
    for phase in (config or Config()).phases:
        elapsed += phase.duration
        if t <= elapsed or phase.weight == 100:
            return phase.weight
    return 100


@dataclass
class _Latency:
    """A lognormal latency distribution given by its P95 and P99."""

    mu: float
    sigma: float

    @classmethod
    def from_quantiles(cls, p95: float, p99: float) -> _Latency:
        sigma = math.log(p99 / p95) / (Z99 - Z95)
        return cls(math.log(p95) - Z95 * sigma, sigma)

    def at(self, u: float) -> float:
        u = min(max(u, 1e-12), 1 - 1e-12)
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(u))


@dataclass
class _Generator:
    scenario: Scenario
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.scenario.name}/{self.scenario.seed}")

    def poisson(self, lam: float) -> int:
        if lam > 30:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, product = math.exp(-lam), 0, self.rng.random()
        while product > limit:
            k += 1
            product *= self.rng.random()
        return k

    def binomial(self, n: int, p: float) -> int:
        if n <= 50:
            return sum(self.rng.random() < p for _ in range(n))
        mean, var = n * p, n * p * (1 - p)
        if var > 25:
            return min(n, max(0, round(self.rng.gauss(mean, math.sqrt(var)))))
        return min(n, self.poisson(mean)) if p <= 0.5 else n - min(n, self.poisson(n * (1 - p)))

    def quantiles(self, n: int, latency: _Latency) -> tuple[float | None, float | None]:
        """The nearest-rank P95 and P99 of ``n`` draws: order statistics of uniforms are Beta-distributed."""
        if n == 0:
            return None, None
        k95, k99 = math.ceil(0.95 * n), math.ceil(0.99 * n)
        u95 = self.rng.betavariate(k95, n + 1 - k95)
        u99 = u95 + (1 - u95) * self.rng.betavariate(k99 - k95, n + 1 - k99) if k99 > k95 else u95
        return round(latency.at(u95), 6), round(latency.at(u99), 6)

    def truth(self, t: float, track: Track) -> tuple[float, _Latency]:
        errors, p95, p99 = STABLE_ERRORS, STABLE_P95, STABLE_P99
        faults = self.scenario.shared + (self.scenario.faults if track is Track.CANARY else ())
        for fault in faults:
            if fault.active(t):
                if fault.kind == "errors":
                    errors += fault.size
                elif fault.kind == "latency":
                    p95, p99 = p95 * fault.size, p99 * fault.size
                elif fault.kind == "tail":
                    p99 *= fault.size
        return min(errors, 1.0), _Latency.from_quantiles(p95, p99)

    def canary_truth(self, t: float) -> tuple[float, _Latency]:
        return self.truth(t, Track.CANARY)

    def sample(self, t: float, track: Track, n: int) -> Sample:
        rate, latency = self.truth(t, track)
        p95, p99 = self.quantiles(n, latency)
        return Sample(t, self.scenario.service, track, n, self.binomial(n, rate), p95, p99)

    def rps(self, t: float) -> float:
        sc = self.scenario
        rps = sc.rps if sc.rps_end is None else sc.rps + (sc.rps_end - sc.rps) * min(1.0, t / sc.duration)
        for start, end, factor in sc.bursts:
            if start <= t < end:
                rps *= factor
        return rps

    def step_samples(self, t: float, weight: int) -> list[Sample]:
        """One step's samples with the traffic split by ``weight`` (none in a gap)."""
        sc = self.scenario
        total = self.poisson(self.rps(t) * sc.step)
        share = weight / 100 if sc.canary_share is None or weight >= 100 else sc.canary_share
        canary = self.binomial(total, share)
        pair = [self.sample(t, Track.STABLE, total - canary), self.sample(t, Track.CANARY, canary)]
        if any(start <= t < end for start, end in sc.gaps):
            return []
        if weight == 100 and sc.stable_at_100 == "missing":
            pair = pair[1:]
        return pair

    def samples(self) -> list[Sample]:
        """The recording: the traffic split by the schedule (``weight_at``), whatever a policy would do."""
        sc = self.scenario
        return [sample for t in sc.times() for sample in self.step_samples(t, weight_at(t, sc.config))]


def _m(minutes: float) -> float:
    return minutes * MINUTE


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy-high", "healthy", "healthy canary, 100 rps"),
    Scenario("healthy-medium", "healthy", "healthy canary, 20 rps", rps=20, seed=1),
    Scenario("healthy-low", "healthy", "healthy canary, 5 rps (0.5 rps to the canary at 10 %)", rps=5, seed=2),
    Scenario("healthy-very-low", "healthy", "healthy canary, 0.5 rps in all", rps=0.5, seed=3),
    Scenario("healthy-gaps", "healthy", "healthy, Prometheus down 3 m at 20 m and 6 m at 40 m",
             gaps=((_m(20), _m(23)), (_m(40), _m(46))), seed=4),
    Scenario("healthy-long-outage", "healthy", "healthy, Prometheus down 12 m at 40 m (past the 10 m deadline)",
             gaps=((_m(40), _m(52)),), seed=18),
    Scenario("healthy-stable-gone", "healthy", "healthy; at 100 % the stable track has no lines at all",
             stable_at_100="missing", seed=5),
    Scenario("errors+20pp-at-start", "regressed", "bad deploy: +20 pp errors from the start, 100 rps",
             faults=(Fault("errors", 0.20),), seed=6),
    Scenario("errors+5pp-at-start", "regressed", "+5 pp errors from the start", faults=(Fault("errors", 0.05),),
             seed=7),
    Scenario("errors+2pp-at-20m", "regressed", "+2 pp errors from 20 m (25 % phase)",
             faults=(Fault("errors", 0.02, _m(20)),), seed=8),
    Scenario("errors+1.5pp-at-50m", "regressed", "+1.5 pp errors from 50 m (75 % phase)",
             faults=(Fault("errors", 0.015, _m(50)),), seed=9),
    Scenario("errors+3pp-at-66m", "regressed", "+3 pp errors from 66 m, when stable is silent (100 %)",
             faults=(Fault("errors", 0.03, _m(66)),), seed=10),
    Scenario("errors+30pp-very-low", "regressed", "+30 pp errors from the start at 0.5 rps",
             rps=0.5, faults=(Fault("errors", 0.30),), seed=11),
    Scenario("errors+4pp-low", "regressed", "+4 pp errors from the start at 5 rps", rps=5,
             faults=(Fault("errors", 0.04),), seed=12),
    Scenario("errors+3pp-gaps", "regressed", "+3 pp errors from 25 m; Prometheus down 24–30 m",
             faults=(Fault("errors", 0.03, _m(25)),), gaps=((_m(24), _m(30)),), seed=13),
    Scenario("latency-x3-at-start", "regressed", "every latency ×3 from the start", faults=(Fault("latency", 3.0),),
             seed=14),
    Scenario("latency-x1.5-at-35m", "regressed", "every latency ×1.5 from 35 m (50 % phase)",
             faults=(Fault("latency", 1.5, _m(35)),), seed=15),
    Scenario("p99-only-x2.5-at-25m", "regressed", "P99 ×2.5 from 25 m, P95 unchanged",
             faults=(Fault("tail", 2.5, _m(25)),), seed=16),
    Scenario("p99-only-x3-at-start", "regressed", "P99 ×3 from the start, P95 unchanged",
             faults=(Fault("tail", 3.0),), seed=17),
)


# The classes issue 16 asked for: shared incidents, ramping traffic, near-limit regressions at high
# traffic, bursts, a starved and a zero-traffic canary, 10 s steps.
SCENARIOS += (
    Scenario("shared-errors-incident", "healthy", "healthy; a dependency fails: both tracks at +4 pp errors "
             "(4.5 %) from 20 m to 32 m", shared=(Fault("errors", 0.04, _m(20), _m(32)),), seed=30),
    Scenario("shared-errors-at-10pct", "healthy", "healthy; both tracks at 6 % errors from 5 m to 15 m "
             "(initial phase, 1 % absolute limit)", shared=(Fault("errors", 0.055, _m(5), _m(15)),), seed=31),
    Scenario("shared-latency-incident", "healthy", "healthy; both tracks ×2 latency from 20 m to 30 m",
             shared=(Fault("latency", 2.0, _m(20), _m(30)),), step=10.0, seed=32),
    Scenario("shared-errors-worse-canary", "regressed", "both tracks +5 pp errors from 20 m to 40 m; the canary "
             "+3 pp more from 24 m", shared=(Fault("errors", 0.05, _m(20), _m(40)),),
             faults=(Fault("errors", 0.03, _m(24)),), seed=33),
    Scenario("healthy-ramp", "healthy", "healthy; traffic ramps from 10 to 400 rps", rps=10, rps_end=400, seed=34),
    Scenario("healthy-bursts", "healthy", "healthy; traffic ×8 for 2 m every 20 m", step=10.0,
             bursts=((_m(10), _m(12), 8.0), (_m(30), _m(32), 8.0), (_m(50), _m(52), 8.0)), seed=35),
    Scenario("healthy-10s", "healthy", "healthy canary, 100 rps, 10 s steps", step=10.0, seed=36),
    Scenario("errors+0.8pp-high-at-20m", "regressed", "+0.8 pp errors from 20 m at 1,000 rps (limit 0.5 pp)",
             rps=1000, faults=(Fault("errors", 0.008, _m(20)),), step=10.0, seed=37),
    Scenario("latency-x1.3-high-at-35m", "regressed", "every latency ×1.3 from 35 m at 1,000 rps (limit 20 %)",
             rps=1000, faults=(Fault("latency", 1.3, _m(35)),), step=10.0, seed=38),
    Scenario("errors+3pp-10s-at-20m", "regressed", "+3 pp errors from 20 m, 10 s steps", step=10.0,
             faults=(Fault("errors", 0.03, _m(20)),), seed=39),
    Scenario("latency-x1.5-10s-at-35m", "regressed", "every latency ×1.5 from 35 m, 10 s steps", step=10.0,
             faults=(Fault("latency", 1.5, _m(35)),), seed=40),
    Scenario("starved-1pct", "starved", "the canary serves 1 % of requests at every weight, 200 rps",
             rps=200, canary_share=0.01, seed=41),
    Scenario("zero-traffic", "starved", "the canary serves no request at all, 100 rps", canary_share=0.0,
             seed=42),
)


def scenario(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


def _recorded_schedule() -> Config:
    """The traffic split of the null and delay sets: the default phases, but 75 % held for a day instead of
    going to 100 %. A replayed rollout that held (thin data, a review) lags the recording; with the default
    schedule the recorded stable would fall silent at 60 m while the replay is still at 25 or 50 %, and the
    policy would be graded on an artefact (stable carried over from another weight, P99 against it)."""
    phases = [p.model_copy(update={"duration": 24 * 60 * MINUTE}) if p.weight == 75 else p
              for p in Config().phases]
    return Config(phases=phases)


RECORDED = _recorded_schedule()


def null_set(count: int, *, seed: int = 0, step: float = 10.0, duration: float = 75 * MINUTE) -> list[Scenario]:
    """``count`` healthy rollouts, total traffic log-uniform over 2–2,000 rps, each with its own seed."""
    rng = random.Random(f"null/{seed}")
    return [Scenario(f"null-{seed}-{i}", "healthy", "healthy", rps=round(2 * 1000 ** rng.random(), 2),
                     step=step, duration=duration, seed=1000 * seed + i, config=RECORDED) for i in range(count)]


def delay_set(count: int, *, seed: int = 0) -> list[Scenario]:
    """``count`` regressions at 10 s steps, alternating error (+1…+5 pp) and latency (×1.3…×2) faults,
    20–1,000 rps, onset drawn within a phase (5–55 m): the detection-delay benchmark."""
    rng = random.Random(f"delay/{seed}")
    out = []
    for i in range(count):
        onset = _m(rng.uniform(5, 55))
        rps = round(20 * 50 ** rng.random(), 1)
        if i % 2 == 0:
            fault = Fault("errors", rng.choice((0.01, 0.02, 0.03, 0.05)), onset)
        else:
            fault = Fault("latency", rng.choice((1.3, 1.5, 2.0)), onset)
        out.append(Scenario(f"delay-{seed}-{i}", "regressed", f"{fault.kind} {fault.size:g} at {rps:g} rps",
                            rps=rps, faults=(fault,), step=10.0, duration=onset + _m(20), seed=2000 + 1000 * seed + i,
                            config=RECORDED))
    return out
