"""Calibration of the judge room's error budgets: seeded simulated windows of a canary exactly at the edge
of what is allowed (the worst case of the null hypothesis) must fail no more often than ``alpha_fail`` and
pass no more often than ``1 − confidence_pass``, the bounds docs/judging.md states; the same simulation a
clear regression beyond the edge shows the checks still act. Counts are drawn by exact inversion of the
binomial distribution (random.Random, seeded), latencies from a log-normal tail; nothing here uses
console/engine/binomial.py.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from functools import lru_cache

from console.engine.config import Config
from console.engine.judge import evaluate
from console.engine.model import CheckResult, TrackWindow

CONFIG = Config()
COMPLETE = next(p for p in CONFIG.phases if p.name == "complete")  # thresholds: +1 pp, 99 %, P95 +20 %
ALPHA = CONFIG.judging.alpha_fail  # 0.01
BETA = 1 - CONFIG.judging.confidence_pass  # 0.05
WINDOWS = 4000


def within_budget(count: int, rate: float, windows: int) -> bool:
    """``count`` events in ``windows`` trials are consistent with a probability ≤ ``rate`` (3 standard errors)."""
    return count <= windows * rate + 3 * math.sqrt(windows * rate * (1 - rate))


def binomial(rng: random.Random, n: int, p: float) -> int:
    """One Binomial(n, p) draw: walk the pmf recurrence from P(X = 0) until it passes a uniform draw."""
    u, k = rng.random(), 0
    pmf = (1.0 - p) ** n
    cdf, odds = pmf, p / (1.0 - p)
    while u > cdf and k < n:
        pmf *= (n - k) / (k + 1) * odds
        k += 1
        cdf += pmf
    return k


@lru_cache(maxsize=None)
def error_results(n_canary: int, k_canary: int, n_stable: int | None, k_stable: int) -> tuple[CheckResult, CheckResult]:
    stable = TrackWindow(n_stable, k_stable, 0.15, 0.30) if n_stable else None
    verdict = evaluate(CONFIG, "perception", COMPLETE, stable, TrackWindow(n_canary, k_canary, 0.15, 0.30))
    return verdict.check("error_rate").result, verdict.check("success_rate").result


def simulate(check: int, n_canary: int, canary_rate: float, n_stable: int | None, stable_rate: float,
             seed: int, *, sample_stable: bool = True) -> Counter[CheckResult]:
    """Results of one error check (0: error_rate, 1: success_rate) over WINDOWS seeded windows; the stable
    count is drawn too unless ``sample_stable`` is False (then it is its expectation)."""
    rng = random.Random(seed)
    tally: Counter[CheckResult] = Counter()
    for _ in range(WINDOWS):
        if not n_stable:
            k_stable = 0
        else:
            k_stable = binomial(rng, n_stable, stable_rate) if sample_stable else round(n_stable * stable_rate)
        k_canary = binomial(rng, n_canary, canary_rate)
        tally[error_results(n_canary, k_canary, n_stable, k_stable)[check]] += 1
    return tally


def test_the_sampler_draws_binomial_counts():
    rng = random.Random(3)
    draws = [binomial(rng, 1000, 0.015) for _ in range(WINDOWS)]
    mean = sum(draws) / WINDOWS
    variance = sum((d - mean) ** 2 for d in draws) / (WINDOWS - 1)
    assert abs(mean - 15.0) < 0.2 and abs(variance - 14.775) < 1.0


def test_error_rate_at_its_limit_with_a_large_stable_sample_stays_within_both_budgets():
    """Stable 135 errors in 27 000 requests (0.5 %, known well), canary 3 000 at 1.5 %: exactly +1 pp."""
    at_limit = simulate(0, 3000, 0.015, 27000, 0.005, seed=1, sample_stable=False)
    assert within_budget(at_limit[CheckResult.FAIL], ALPHA, WINDOWS)
    assert within_budget(at_limit[CheckResult.PASS], BETA, WINDOWS)
    beyond = simulate(0, 3000, 0.030, 27000, 0.005, seed=2, sample_stable=False)  # +2.5 pp
    assert beyond[CheckResult.FAIL] >= 0.9 * WINDOWS
    within = simulate(0, 3000, 0.005, 27000, 0.005, seed=3, sample_stable=False)  # no increase
    assert within[CheckResult.PASS] >= 0.9 * WINDOWS and within[CheckResult.FAIL] == 0


def test_error_rate_at_its_limit_with_a_thin_stable_sample_stays_within_both_budgets():
    """Stable 1 000 requests at 0.5 % (its rate is itself uncertain), canary 1 000 at 1.5 %."""
    at_limit = simulate(0, 1000, 0.015, 1000, 0.005, seed=4)
    assert within_budget(at_limit[CheckResult.FAIL], ALPHA, WINDOWS)
    assert within_budget(at_limit[CheckResult.PASS], BETA, WINDOWS)
    beyond = simulate(0, 1000, 0.06, 1000, 0.005, seed=5)
    assert beyond[CheckResult.FAIL] >= 0.9 * WINDOWS


def test_success_rate_at_one_percent_stays_within_both_budgets():
    at_limit = simulate(1, 3000, 0.01, None, 0.0, seed=6)
    assert within_budget(at_limit[CheckResult.FAIL], ALPHA, WINDOWS)
    assert within_budget(at_limit[CheckResult.PASS], BETA, WINDOWS)
    beyond = simulate(1, 3000, 0.025, None, 0.0, seed=7)
    assert beyond[CheckResult.FAIL] >= 0.9 * WINDOWS
    clean = simulate(1, 3000, 0.002, None, 0.0, seed=8)
    assert clean[CheckResult.PASS] >= 0.9 * WINDOWS


# ---------------------------------------------------------------- latency: breaches of a canary at the limit

def latency_breaches(scale: float, n_canary: int, seed: int, windows: int = 500) -> tuple[int, int]:
    """(breaches, passes) of p95_latency when the canary's latencies are stable's scaled by ``scale``.

    Stable: 27 000 requests of a log-normal tail (σ 0.5), its P95/P99 the true quantiles. Canary: the
    empirical P95 of ``n_canary`` draws. The canary's errors are set high so its error checks decide at
    once (they are not under test here)."""
    rng = random.Random(seed)
    mu, sigma = math.log(0.08), 0.5
    stable = TrackWindow(27000, 135, math.exp(mu + sigma * 1.6448536269514722),
                         math.exp(mu + sigma * 2.3263478740408408))
    breaches = passes = 0
    for _ in range(windows):
        samples = sorted(rng.lognormvariate(mu + math.log(scale), sigma) for _ in range(n_canary))
        p95 = samples[math.ceil(0.95 * n_canary) - 1]
        verdict = evaluate(CONFIG, "perception", COMPLETE, stable, TrackWindow(n_canary, n_canary // 2, p95, None))
        breaches += verdict.streaks["p95_latency"]
        passes += verdict.check("p95_latency").result is CheckResult.PASS
    return breaches, passes


def test_p95_at_its_limit_breaches_within_the_fail_budget():
    breaches, passes = latency_breaches(1.20, 400, seed=9)
    assert within_budget(breaches, ALPHA, 500)
    assert within_budget(passes, BETA, 500)
    assert latency_breaches(1.60, 400, seed=10, windows=100)[0] >= 0.9 * 100
    assert latency_breaches(1.00, 400, seed=11, windows=100)[1] >= 0.5 * 100
