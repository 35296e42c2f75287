"""Tests of the judge room at the exact edge of every decision: each error budget (p-values computed
independently with scipy, quoted beside each case), min_requests, the small-sample error count, the latency
noise margin (recomputed here from its formula, stable's sampling noise included), a stable quantile of 0,
the phase triggers, extra-check thresholds, restarts, and which check's reason the verdict carries.

Each case sits one step either side of its edge, so a changed comparison, budget or constant flips it.
"""

from __future__ import annotations

import re

import math
from statistics import NormalDist

import pytest

from console.engine.config import Config, Criteria, ExtraCheck, Judging, Phase, Service
from console.engine.judge import MIN_ERRORS_TO_FAIL_SMALL_SAMPLE, effective_thresholds, evaluate
from console.engine.model import Action, Check, CheckResult, Outcome, TrackWindow
from tests.fakes import as_asked

SERVICE = "perception"
STABLE = TrackWindow(27000, 135, 0.15, 0.30)  # 90 rps over 5 minutes at 0.5 %
P, I, F, M, N = (CheckResult.PASS, CheckResult.INSUFFICIENT_DATA, CheckResult.FAIL, CheckResult.MANUAL_REVIEW,
                 CheckResult.NO_DATA)

def _plain(reason: str) -> str:
    """The reason without the time estimate a quiet service gets ("~3 more minutes at 1 canary rps"): these
    tests pin the sample sizes, the estimate is judging.md's and tested there."""
    return re.sub(r" \(~[^)]*more minutes[^)]*\)|, ~[\d.]+ more minutes at [^)]*rps", "", reason)



def phase(config: Config, name: str) -> Phase:
    return next(p for p in config.phases if p.name == name)


def judge(canary, stable=STABLE, config: Config | None = None, phase_name: str = "complete", **kw):
    config = config or Config()
    return evaluate(config, SERVICE, phase(config, phase_name), stable, canary, **kw)


def canary(requests: float, errors: float, p95: float | None = 0.15, p99: float | None = 0.30) -> TrackWindow:
    return TrackWindow(requests, errors, p95, p99)


# ---------------------------------------------------------------- error_rate: each half of each budget

# Stable 135/27000. Wilson bounds (scipy wilsoncc): upper at 99.5 % 0.0062544, lower at 97.5 % 0.0042092.
# Fail: P(X ≥ k | 3000, 0.0162544) < alpha_fail/2 = 0.005 — k=67: 0.00715, k=68: 0.00495.
# Pass: P(X ≤ k | 3000, 0.0142092) ≤ (1 − confidence_pass)/2 = 0.025 — k=29: 0.0171, k=30: 0.0259.
@pytest.mark.parametrize("errors,expected", [(67, I), (68, F), (29, P), (30, I)])
def test_error_rate_spends_half_of_each_budget_on_the_canary_test(errors, expected):
    check = judge(canary(3000, errors)).check("error_rate")
    assert check.result is expected, check.reason


def test_error_rate_reasons_name_the_allowed_rate_and_halved_budgets():
    failed = judge(canary(3000, 68)).check("error_rate")
    assert failed.reason.endswith("significantly above 1.63 % (p=0.0049 < 0.005)")
    assert failed.reason.startswith("canary 2.27 % (68/3000) vs stable 0.50 % (135/27000): +1.77 pp, limit 1.00 pp;")
    passed = judge(canary(3000, 29)).check("error_rate")
    assert passed.reason.endswith("canary error rate ≤ 1.42 % at 97.5 % confidence")


def test_error_rate_check_carries_its_numbers():
    check = as_asked(judge(canary(3000, 68))).check("error_rate")
    assert check == Check("error_rate", F, pytest.approx(68 / 3000), pytest.approx(0.005), 0.01, check.reason,
                          Action.ROLLBACK, pytest.approx(68 / 3000 - 0.005), check.query)
    queries = Config().prometheus.queries
    errors, requests = (q.replace("${SERVICES}", SERVICE).replace("${WINDOW}", "5m")
                        for q in (queries.errors, queries.requests))
    assert check.query == f"{errors} / {requests}"
    assert as_asked(judge(canary(3000, 68))).check("success_rate").query == f"1 - {errors} / {requests}"


def test_a_hundred_clean_requests_are_too_few_to_pass():
    check = judge(canary(100, 0)).check("error_rate")
    assert check.result is I and "too few to tell" in check.reason
    assert judge(canary(100, 0)).check("success_rate").result is I


# ---------------------------------------------------------------- success_rate: the whole budget, absolute

# P(X ≥ k | 3000, 0.01) < alpha_fail = 0.01 — k=43: 0.0144, k=44: 0.0094.
# P(X ≤ k | 3000, 0.01) ≤ 1 − confidence_pass = 0.05 — k=20: 0.0346, k=21: 0.0536.
@pytest.mark.parametrize("errors,expected", [(43, I), (44, F), (20, P), (21, I)])
def test_success_rate_spends_each_whole_budget_against_one_percent(errors, expected):
    check = judge(canary(3000, errors), stable=None).check("success_rate")
    assert check.result is expected, check.reason
    assert check.threshold == 0.99 and check.stable is None
    assert check.canary == pytest.approx(1 - errors / 3000) and check.value == check.canary


def test_success_rate_reason_and_stable_value():
    check = judge(canary(3000, 44)).check("success_rate")
    assert check.reason == ("canary success 98.53 % (44 errors in 3000), must stay above 99.00 %; "
                            "canary error rate significantly above 1.00 % (p=0.0094 < 0.01)")
    assert check.stable == pytest.approx(0.995) and check.action is Action.ROLLBACK


# ---------------------------------------------------------------- min_requests and the small-sample count

def test_min_requests_is_the_first_sample_that_may_pass():
    """0 errors: P(X ≤ 0 | n, 1 %) is 0.0495 at 299 and 0.0490 at 300, both ≤ 0.05; only min_requests differs."""
    config = Config(judging=Judging(min_requests=300))
    below = judge(canary(299, 0), config=config).check("success_rate")
    assert below.result is I and _plain(below.reason).endswith("too few to judge (min 300): need ~300 canary requests, have 299")
    assert judge(canary(300, 0), config=config).check("success_rate").result is P


def test_at_min_requests_a_significant_count_below_five_fails():
    """4 errors: P(X ≥ 4 | 50, 1 %) = 0.0016 and P(X ≥ 4 | 49, 1 %) = 0.0015, both significant."""
    at = judge(canary(50, 4), stable=None).check("success_rate")
    assert at.result is F
    below = judge(canary(49, 4), stable=None).check("success_rate")
    assert below.result is I and "too few to judge (min 50)" in below.reason


def test_below_min_requests_five_errors_fail_and_four_wait():
    assert MIN_ERRORS_TO_FAIL_SMALL_SAMPLE == 5
    assert judge(canary(10, 5), stable=None).check("success_rate").result is F  # p = 2.4e-8
    assert judge(canary(10, 4), stable=None).check("success_rate").result is I  # p = 2.0e-6, but only 4


def test_streaks_of_error_checks_follow_the_point_estimate_once_judged():
    thin = judge(canary(49, 4))
    assert thin.streaks["error_rate"] == 0 and thin.streaks["success_rate"] == 0  # too small: not counted
    judged = judge(canary(3000, 67))  # 2.23 %: above both limits, not yet significant
    assert judged.streaks["error_rate"] == 1 and judged.streaks["success_rate"] == 1
    clean = judge(canary(3000, 15), previous=judged)
    assert clean.streaks["error_rate"] == 0 and clean.streaks["success_rate"] == 0
    kept = judge(canary(49, 1), previous=judged)
    assert kept.streaks["error_rate"] == 1 and kept.streaks["success_rate"] == 1


def test_a_small_window_that_fails_counts_as_a_breach():
    verdict = judge(canary(10, 5))
    assert verdict.check("error_rate").result is F and verdict.streaks["error_rate"] == 1


def test_the_increase_exactly_at_the_limit_is_not_a_breach():
    # canary 1.5 % vs stable 0.5 %: the increase is 1.00 pp (in floats a hair under or over, compare exactly)
    verdict = judge(TrackWindow(200_000, 3000, 0.15, 0.30), stable=TrackWindow(200_000, 1000, 0.15, 0.30))
    increase = 3000 / 200_000 - 1000 / 200_000
    assert verdict.streaks["error_rate"] == int(increase > 0.01)
    at_limit = judge(TrackWindow(100_000, 1000, 0.15, 0.30), stable=None)  # success exactly 99 %
    assert at_limit.streaks["success_rate"] == 0


# ---------------------------------------------------------------- latency: the noise margin, recomputed

NORMAL = NormalDist()
LEVEL = {"p95": 0.95, "p99": 0.99}


def expected_margin(stable: TrackWindow, quantile: str, n_canary: int) -> float:
    """docs/judging.md, "Latency": σ·√(p(1−p))/φ(z_p) · √(1/n_c + 1/n_s), σ from stable's P95 and P99."""
    if stable.p99 and stable.p99 > stable.p95 > 0:
        sigma = math.log(stable.p99 / stable.p95) / (NORMAL.inv_cdf(0.99) - NORMAL.inv_cdf(0.95))
    else:
        sigma = 0.5
    sigma = min(max(sigma, 0.15), 1.5)
    p = LEVEL[quantile]
    spread = math.sqrt(p * (1 - p)) / NORMAL.pdf(NORMAL.inv_cdf(p))
    return sigma * spread * math.sqrt(1 / n_canary + 1 / stable.requests)


def at_distance(stable: TrackWindow, quantile: str, n_canary: int, z: float, limit: float) -> float:
    """The canary quantile whose log-distance beyond ln(1 + limit) is z margins."""
    base = getattr(stable, quantile)
    return base * (1 + limit) * math.exp(z * expected_margin(stable, quantile, n_canary))


Z_FAIL, Z_PASS = NORMAL.inv_cdf(0.99), NORMAL.inv_cdf(0.95)


@pytest.mark.parametrize("stable", [
    TrackWindow(250, 1, 0.15, 0.30),  # few stable samples: stable's own noise dominates the margin
    TrackWindow(27000, 135, 0.15, 0.30),
    TrackWindow(27000, 135, 0.15, 0.151),  # σ below 0.15: clamped up
    TrackWindow(27000, 135, 0.15, 30.0),  # σ above 1.5: clamped down
    TrackWindow(27000, 135, 0.15, 0.15),  # P99 not above P95: σ taken as 0.5
    TrackWindow(27000, 135, 0.15, None),
], ids=["thin-stable", "stable", "sigma-floor", "sigma-ceiling", "flat-tail", "no-p99"])
@pytest.mark.parametrize("z,expected", [(1.03, "breach"), (0.97, "noise"), (-0.97, "noise"), (-1.03, "pass")])
def test_p95_decision_edges_are_the_noise_margin(stable, z, expected):
    n_canary = 400
    edge = Z_FAIL if z > 0 else Z_PASS
    p95 = at_distance(stable, "p95", n_canary, math.copysign(abs(z) * edge, z), 0.20)
    check = judge(canary(n_canary, 2, p95=p95, p99=None), stable=stable).check("p95_latency")
    if expected == "breach":
        assert check.result is I and "breach 1/2, waiting for persistence" in check.reason
    elif expected == "noise":
        assert check.result is I and "within sampling noise" in check.reason
    else:
        assert check.result is P and check.reason.endswith("; within")


def test_p99_decision_edges_use_the_p99_spread_and_its_limit():
    stable, n_canary = TrackWindow(27000, 135, 0.15, 0.30), 2000
    assert judge(canary(n_canary, 5, p99=at_distance(stable, "p99", n_canary, 1.03 * Z_FAIL, 0.5)),
                 stable=stable).check("p99_latency").reason.endswith("breach 1/2, waiting for persistence")
    assert "sampling noise" in judge(canary(n_canary, 5, p99=at_distance(stable, "p99", n_canary, 0.97 * Z_FAIL, 0.5)),
                                     stable=stable).check("p99_latency").reason
    assert judge(canary(n_canary, 5, p99=at_distance(stable, "p99", n_canary, -1.03 * Z_PASS, 0.5)),
                 stable=stable).check("p99_latency").result is P


def test_noise_reason_states_the_margin():
    stable, n_canary = TrackWindow(27000, 135, 0.15, 0.30), 400
    check = judge(canary(n_canary, 2, p95=0.15 * 1.2), stable=stable).check("p95_latency")
    noise = math.expm1(Z_FAIL * expected_margin(stable, "p95", n_canary)) * 100
    assert check.reason == (f"canary P95 0.180 s vs stable 0.150 s: +20.0 %, limit 20 %; "
                            f"within sampling noise (±{noise:.0f} % at 400 canary requests)")


def test_latency_sample_minimums_are_inclusive_on_both_tracks():
    slow = 0.15 * 1.2  # exactly at the limit: within noise once there are enough samples
    stable = TrackWindow(200, 1, 0.15, 0.30)
    assert "sampling noise" in judge(canary(200, 1, p95=slow), stable=stable).check("p95_latency").reason
    few = judge(canary(199, 1, p95=slow), stable=stable).check("p95_latency")
    assert few.result is I and _plain(few.reason).endswith("too few requests for P95 (canary 199, stable 200; need 200 on each)")
    assert "too few requests" in judge(canary(200, 1, p95=slow), stable=TrackWindow(199, 1, 0.15, 0.3)) \
        .check("p95_latency").reason
    p99 = judge(canary(399, 1), stable=TrackWindow(400, 1, 0.15, 0.3)).check("p99_latency")
    assert _plain(p99.reason).endswith("too few requests for P99 (canary 399, stable 400; need 400 on each)")


def test_a_stable_quantile_of_zero_is_no_data_not_a_division():
    verdict = judge(canary(3000, 15), stable=TrackWindow(27000, 135, 0.0, 0.0))
    for name, label in (("p95_latency", "P95"), ("p99_latency", "P99")):
        check = verdict.check(name)
        assert check.result is N and check.reason == f"stable {label} is 0"


def test_a_canary_quantile_of_zero_is_no_data_not_a_math_error():
    verdict = judge(canary(3000, 15, p95=0.0, p99=0.0))
    assert verdict.check("p95_latency").result is N and verdict.check("p95_latency").reason == "canary P95 is 0"
    assert verdict.check("p99_latency").reason == "canary P99 is 0"


def test_latency_checks_carry_their_numbers_and_action():
    verdict = as_asked(judge(canary(3000, 15, p95=0.30, p99=0.90)))
    p95, p99 = verdict.check("p95_latency"), verdict.check("p99_latency")
    assert (p95.canary, p95.stable, p95.threshold, p95.action) == (0.30, 0.15, 0.20, Action.ROLLBACK)
    assert p95.value == pytest.approx(1.0) and "histogram_quantile(0.95" in p95.query
    assert (p99.canary, p99.stable, p99.threshold, p99.action) == (0.90, 0.30, 0.50, Action.MANUAL_REVIEW)
    assert p99.value == pytest.approx(2.0) and "histogram_quantile(0.99" in p99.query
    assert p95.reason == "canary P95 0.300 s vs stable 0.150 s: +100.0 %, limit 20 %; breach 1/2, waiting for persistence"


def test_a_persisted_breach_names_its_action():
    first = judge(canary(3000, 15, p95=0.30, p99=0.90))
    second = judge(canary(3000, 15, p95=0.30, p99=0.90), previous=first)
    assert second.check("p95_latency").reason.endswith("breached 2 checks in a row (roll back)")
    assert second.check("p99_latency").reason.endswith("breached 2 checks in a row (manual review)")
    assert second.streaks["p95_latency"] == 2 and second.streaks["p99_latency"] == 2
    late = phase(Config(), "late")
    warn = Config(criteria=Criteria(p99_action=Action.WARN))
    first = evaluate(warn, SERVICE, phase(warn, "complete"), STABLE, canary(3000, 15, p99=0.90))
    second = evaluate(warn, SERVICE, phase(warn, "complete"), STABLE, canary(3000, 15, p99=0.90), previous=first)
    assert second.check("p99_latency").result is P and second.check("p99_latency").reason.endswith("(warning)")
    first = evaluate(warn, SERVICE, late, STABLE, canary(3000, 15, p99=0.90))
    second = evaluate(warn, SERVICE, late, STABLE, canary(3000, 15, p99=0.90), previous=first)
    assert second.check("p99_latency").result is M
    assert second.check("p99_latency").reason.endswith("(any anomaly: manual review)")


# ---------------------------------------------------------------- phase triggers tighter than the criteria

LAST = Phase(name="complete", weight=100, duration=60)
LOOSE = Config(criteria=Criteria(error_rate_increase=0.02, p95_increase=0.5, p99_increase=0.9, min_success_rate=0.95))


def test_every_phase_trigger_tightens_a_looser_criterion():
    expected = {
        "initial": {"error_rate": 0.02, "p95_latency": 0.5, "p99_latency": 0.9, "success_rate": 0.99},
        "early": {"error_rate": 0.005, "p95_latency": 0.5, "p99_latency": 0.9, "success_rate": 0.95},
        "mid": {"error_rate": 0.02, "p95_latency": 0.2, "p99_latency": 0.2, "success_rate": 0.95},
        "late": {"error_rate": 0.005, "p95_latency": 0.2, "p99_latency": 0.2, "success_rate": 0.99},
        "complete": {"error_rate": 0.02, "p95_latency": 0.5, "p99_latency": 0.9, "success_rate": 0.95},
    }
    for name, thresholds in expected.items():
        assert effective_thresholds(LOOSE, phase(LOOSE, name)) == pytest.approx(thresholds), name


def test_a_looser_phase_trigger_never_loosens_a_criterion():
    config = Config(phases=[Phase(name="wide", weight=10, duration=60, max_error_rate=0.2, error_rate_increase=0.3,
                                  p95_increase=0.9, p99_increase=0.9), LAST])
    assert effective_thresholds(config, config.phases[0]) == pytest.approx(
        {"error_rate": 0.01, "p95_latency": 0.2, "p99_latency": 0.5, "success_rate": 0.99})


def test_mid_phase_p95_trigger_acts_on_the_verdict():
    slow = canary(30000, 150, p95=0.15 * 1.35)  # +35 %: inside the loose 50 %, beyond mid's 20 %
    stable = TrackWindow(270000, 1350, 0.15, 0.30)
    first = evaluate(LOOSE, SERVICE, phase(LOOSE, "mid"), stable, slow)
    assert first.check("p95_latency").threshold == 0.2
    assert evaluate(LOOSE, SERVICE, phase(LOOSE, "mid"), stable, slow, previous=first).outcome is Outcome.FAIL
    assert evaluate(LOOSE, SERVICE, phase(LOOSE, "complete"), stable, slow).check("p95_latency").result is P


def test_phase_names_appear_only_when_the_phase_tightens():
    early = judge(canary(3000, 15), phase_name="early").check("error_rate")
    assert "limit 0.50 pp (early phase);" in early.reason
    assert "phase" not in judge(canary(3000, 15), phase_name="complete").check("error_rate").reason
    initial = judge(canary(3000, 15), phase_name="initial").check("success_rate")
    assert "must stay above 99.00 % (initial phase);" in initial.reason
    loose_initial = evaluate(LOOSE, SERVICE, phase(LOOSE, "initial"), STABLE, canary(3000, 15))
    assert "(initial phase)" in loose_initial.check("success_rate").reason
    equal = Config(phases=[Phase(name="same", weight=10, duration=60, error_rate_increase=0.01, max_error_rate=0.01),
                           LAST])
    same = evaluate(equal, SERVICE, equal.phases[0], STABLE, canary(3000, 15))
    assert "(same phase)" in same.check("error_rate").reason and "(same phase)" in same.check("success_rate").reason
    wide = Config(phases=[Phase(name="wide", weight=10, duration=60, error_rate_increase=0.02, max_error_rate=0.02),
                          LAST])
    loose = evaluate(wide, SERVICE, wide.phases[0], STABLE, canary(3000, 15))
    assert "phase" not in loose.check("error_rate").reason and "phase" not in loose.check("success_rate").reason


# ---------------------------------------------------------------- extra checks and restarts

def extra_config(breach: str, action: Action = Action.ROLLBACK, threshold: float = 1000) -> Config:
    check = ExtraCheck(name="kafka_lag", query='sum(kafka_lag{service="${SERVICE}",track="${TRACK}"})',
                       threshold=threshold, breach=breach, action=action)
    return Config(services=[Service(name=SERVICE, checks=[check])])


@pytest.mark.parametrize("breach,value,expected", [
    ("above", 1000, P), ("above", 1000.001, F), ("below", 1000, P), ("below", 999.999, F)])
def test_an_extra_check_at_its_threshold_is_within(breach, value, expected):
    verdict = judge(canary(3000, 15), config=extra_config(breach), extras={"kafka_lag": value})
    check = verdict.check("kafka_lag")
    assert check.result is expected
    assert (check.canary, check.stable, check.threshold, check.action, check.value) == \
        (value, None, 1000, Action.ROLLBACK, value)
    assert verdict.streaks["kafka_lag"] == int(expected is F)
    if expected is P:
        assert check.reason == f"kafka_lag {value:g}: within (breaches {breach} 1000)"
    else:
        assert check.reason == f"kafka_lag {value:g}: {breach} 1000 (roll back)"


def test_an_extra_check_takes_integers_and_refuses_other_types():
    config = extra_config("above")
    assert judge(canary(3000, 15), config=config, extras={"kafka_lag": 5}).check("kafka_lag").canary == 5.0
    assert type(judge(canary(3000, 15), config=config, extras={"kafka_lag": 5}).check("kafka_lag").canary) is float
    for bad in ("5", float("inf"), None):
        check = as_asked(judge(canary(3000, 15), config=config, extras={"kafka_lag": bad}), config).check("kafka_lag")
        assert check == Check("kafka_lag", N, None, None, 1000, "no value for kafka_lag", Action.ROLLBACK, None,
                              'sum(kafka_lag{service="perception",track="canary"})')


def test_restarts_in_an_anomaly_phase():
    one = judge(canary(3000, 15), phase_name="late", canary_restarts=1)
    check = one.check("canary_restarts")
    assert check == Check("canary_restarts", M, 1.0, None, 0.0,
                          "canary restarted 1 time(s) during the late phase (any anomaly: a person looks)",
                          Action.MANUAL_REVIEW, 1.0)
    assert one.streaks["canary_restarts"] == 1 and one.outcome is Outcome.MANUAL_REVIEW
    none = judge(canary(3000, 15), phase_name="late", canary_restarts=0)
    assert none.check("canary_restarts") == Check("canary_restarts", P, 0.0, None, 0.0,
                                                  "no canary restarts during the late phase",
                                                  Action.MANUAL_REVIEW, 0.0)
    assert none.streaks["canary_restarts"] == 0
    negative = judge(canary(3000, 15), phase_name="late", canary_restarts=-3)  # counters reset: not a restart
    assert negative.check("canary_restarts").result is P
    assert judge(canary(3000, 15), phase_name="late", canary_restarts=None).check("canary_restarts").result is P


# ---------------------------------------------------------------- which reason the verdict carries

def test_no_data_outranks_insufficient_data_and_a_warning_outranks_a_clean_pass():
    config = extra_config("above", Action.WARN)
    thin = canary(100, 0)  # every check insufficient
    verdict = judge(thin, config=config, extras={})
    assert verdict.outcome is Outcome.INCONCLUSIVE and verdict.reason == "kafka_lag: no value for kafka_lag"
    warned = judge(canary(3000, 15), config=config, extras={"kafka_lag": 5000})
    assert warned.outcome is Outcome.PASS and warned.reason == "kafka_lag: kafka_lag 5000: above 1000 (warning)"
    waiting = judge(canary(100, 0), config=config, extras={"kafka_lag": 5000})
    assert waiting.outcome is Outcome.INCONCLUSIVE and waiting.reason.startswith("error_rate: ")
    clean = judge(canary(3000, 15), config=config, extras={"kafka_lag": 10})
    assert clean.reason.startswith("all 5 checks pass; error_rate: canary 0.50 % (15/3000)")


def test_manual_review_outranks_no_data_and_fail_outranks_manual_review():
    config = extra_config("above", Action.MANUAL_REVIEW)
    review = judge(None, config=config, extras={"kafka_lag": 5000})
    assert review.outcome is Outcome.MANUAL_REVIEW and review.reason.startswith("kafka_lag: ")
    failing = judge(canary(3000, 300), config=config, extras={"kafka_lag": 5000})
    assert failing.outcome is Outcome.FAIL and failing.reason.startswith("error_rate: ")


# ---------------------------------------------------------------- "need ~N canary requests"

def test_the_sample_size_named_is_the_one_that_settles_the_same_question():
    """67/3000 is above the fail allowance (1.63 %) but not significant: the fail search answers;
    30/3000 is below the pass allowance (1.42 %) but not shown: the pass search answers."""
    from console.engine.binomial import requests_needed, significantly_above, surely_within

    fail_allowed, pass_allowed = 0.01 + 0.0062543646858336, 0.01 + 0.004209241673216627
    to_fail = requests_needed(67 / 3000, lambda k, n: significantly_above(k, n, fail_allowed, 0.005)[0])
    to_pass = requests_needed(30 / 3000, lambda k, n: surely_within(k, n, pass_allowed, 0.025))
    assert to_fail > 3000 and to_pass > 3000
    assert _plain(judge(canary(3000, 67)).check("error_rate").reason).endswith(
        f"too few to tell: need ~{to_fail} canary requests, have 3000")
    assert _plain(judge(canary(3000, 30)).check("error_rate").reason).endswith(
        f"too few to tell: need ~{to_pass} canary requests, have 3000")


def test_the_sample_size_named_is_never_below_min_requests_nor_the_sample_at_hand():
    high = judge(canary(10, 4), stable=None).check("success_rate")  # 40 %: a handful would fail it
    assert _plain(high.reason).endswith("too few to judge (min 50): need ~50 canary requests, have 10")
    flicker = judge(canary(84, 4), stable=None).check("success_rate")  # fewer would settle, by rounding
    assert _plain(flicker.reason).endswith("too few to tell: need ~85 canary requests, have 84")


def test_a_canary_at_the_limit_is_told_no_sample_settles_it():
    reason = judge(canary(3000, 30), stable=None).check("success_rate").reason  # exactly 1 %
    assert reason.endswith("too few to tell: canary rate at the limit, no sample size settles it soon, have 3000")


# ---------------------------------------------------------------- no data and defaults

def test_no_data_checks_keep_their_threshold_action_and_query():
    config = extra_config("above", Action.WARN)
    verdict = as_asked(judge(None, config=config, extras={"kafka_lag": None}), config)
    assert [(c.name, c.result, c.canary, c.stable, c.threshold, c.action, c.value) for c in verdict.checks] == [
        ("error_rate", N, None, None, 0.01, Action.ROLLBACK, None),
        ("p95_latency", N, None, None, 0.20, Action.ROLLBACK, None),
        ("p99_latency", N, None, None, 0.50, Action.MANUAL_REVIEW, None),
        ("success_rate", N, None, None, 0.99, Action.ROLLBACK, None),
        ("kafka_lag", N, None, None, 1000, Action.WARN, None),
    ]
    assert all(c.reason == "no canary metrics in this window" for c in verdict.checks[:4])
    assert "histogram_quantile(0.99" in verdict.check("p99_latency").query
    assert verdict.check("success_rate").query.startswith("1 - ")
    assert verdict.check("kafka_lag").query == 'sum(kafka_lag{service="perception",track="canary"})'


def test_a_verdict_is_at_time_zero_unless_told():
    assert judge(canary(3000, 15)).at == 0.0
    assert judge(canary(3000, 15), at=42.5).at == 42.5


def test_latency_checks_say_why_there_is_nothing_to_compare():
    assert judge(canary(3000, 15), stable=None).check("p95_latency").reason == "no stable metrics in this window"
    silent = judge(canary(3000, 15), stable=TrackWindow(0, 0, 0.15, 0.30))
    assert silent.check("p99_latency").reason == "stable has no traffic"
    assert judge(canary(0, 0)).check("p95_latency").reason == "canary has no traffic"


def test_an_allowed_rate_never_exceeds_one_hundred_percent():
    """A stable failing every request: its lower bound plus the 1 pp limit would pass 100.6 %; capped at 100 %."""
    check = judge(canary(3000, 3000), stable=TrackWindow(1000, 1000, 0.15, 0.30)).check("error_rate")
    assert check.result is P and check.reason.endswith("canary error rate ≤ 100.00 % at 97.5 % confidence")


def test_error_streaks_count_from_min_requests_and_only_beyond_the_limit():
    at_min = judge(canary(50, 2), stable=None)  # 4 %: beyond 1 %, not significant (p = 0.089)
    assert at_min.check("success_rate").result is I and at_min.streaks["success_rate"] == 1
    exactly_at = judge(TrackWindow(100_000, 2000, 0.15, 0.30), stable=TrackWindow(100_000, 1000, 0.15, 0.30))
    assert 2000 / 100_000 - 1000 / 100_000 == 0.01  # +1 pp exactly, in floats too
    assert exactly_at.streaks["error_rate"] == 0


def test_a_wide_noise_margin_and_an_odd_limit_are_reported_as_computed():
    stable = TrackWindow(200, 1, 0.15, 30.0)  # σ at its ceiling: the widest margin
    check = judge(canary(200, 1, p95=0.18), stable=stable).check("p95_latency")
    noise = math.expm1(Z_FAIL * expected_margin(stable, "p95", 200)) * 100
    assert noise > 100 and check.reason.endswith(f"within sampling noise (±{noise:.0f} % at 200 canary requests)")
    odd = Config(criteria=Criteria(p95_increase=0.6))
    assert "limit 60 %" in judge(canary(3000, 15, p95=0.3), config=odd).check("p95_latency").reason
