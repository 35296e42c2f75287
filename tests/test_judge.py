"""Tests of the judge room: the binomial statistics, every criterion and phase trigger at both sides of its
boundary, small samples, missing data, carry-over of the stable window, persistence and extra checks.

Realistic traffic: stable 0.5 % errors, P95 0.15 s at 90 rps; canary at 10 rps; windows of 5 minutes.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from math import comb

import pytest

from console.engine.binomial import (counts, lower_tail, requests_needed, significantly_above, surely_within,
                                     upper_tail, wilson_bounds)
from console.engine.config import Config, Criteria, ExtraCheck, Judging, Service
from console.engine.judge import effective_thresholds, evaluate, evaluate_metrics
from console.engine.model import Action, CheckResult, Outcome, ServiceMetrics, TrackWindow
from tests.fakes import as_asked

SERVICE = "perception"


def window(rps: float, error_rate: float, p95: float | None = 0.15, p99: float | None = 0.30,
           seconds: float = 300.0) -> TrackWindow:
    requests = rps * seconds
    return TrackWindow(requests=requests, errors=requests * error_rate, p95=p95, p99=p99, seconds=seconds)


STABLE = window(90, 0.005)
CANARY = window(10, 0.005)
BIG_STABLE = window(900, 0.005, seconds=1000)  # 900 000 requests: boundaries judged with large samples
BIG = 300.0  # canary rps for the large-sample boundary rows (300 000 requests)


def phase(config: Config, name: str):
    return next(p for p in config.phases if p.name == name)


def judge(config: Config | None = None, phase_name: str = "complete", stable=STABLE, canary=CANARY, **kw):
    config = config or Config()
    return evaluate(config, SERVICE, phase(config, phase_name), stable, canary, **kw)


def persisted(config: Config | None = None, phase_name: str = "complete", **kw):
    """Judge the same windows latency_persistence times in a row, chaining the previous verdict."""
    config = config or Config()
    verdict = None
    for _ in range(config.judging.latency_persistence):
        verdict = judge(config, phase_name, previous=verdict, **kw)
    return verdict


# ---------------------------------------------------------------- binomial statistics

def exact_upper(k: int, n: int, p: float) -> float:
    """P(X ≥ k) in integer arithmetic: p = a/b as written in decimal, Σ C(n,j) a^j (b−a)^(n−j) / b^n."""
    q = Fraction(str(p))
    a, b = q.numerator, q.denominator
    total = sum(comb(n, j) * a ** j * (b - a) ** (n - j) for j in range(max(k, 0), n + 1))
    return float(Fraction(total, b ** n))


@pytest.mark.parametrize("k,n,p", [(0, 10, 0.01), (3, 50, 0.01), (20, 20, 0.01), (1, 300, 0.005),
                                   (15, 3000, 0.01), (40, 3000, 0.01), (150, 200, 0.6), (7, 7, 0.5)])
def test_binomial_tails_match_exact_rational_sums(k, n, p):
    expected = exact_upper(k, n, p)
    assert upper_tail(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert lower_tail(k, n, p) == pytest.approx(1 - exact_upper(k + 1, n, p), rel=1e-9, abs=1e-15)


def test_binomial_tail_edges():
    assert upper_tail(0, 10, 0.3) == 1.0 and upper_tail(11, 10, 0.3) == 0.0
    assert lower_tail(-1, 10, 0.3) == 0.0 and lower_tail(10, 10, 0.3) == 1.0
    assert upper_tail(1, 10, 0.0) == 0.0 and lower_tail(3, 10, 1.0) == 0.0
    assert upper_tail(20, 20, 0.01) == pytest.approx(1e-40, rel=1e-9, abs=0.0)  # tiny tails stay accurate, not 0


def test_counts_round_prometheus_extrapolation():
    assert counts(2999.6, 15.4) == (3000, 15)
    assert counts(10.2, 12.0) == (10, 10)
    assert counts(-1.0, 3.0) == (0, 0)


def clopper_pearson_upper(k: int, n: int, beta: float) -> float:
    low, high = 0.0, 1.0
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if lower_tail(k, n, middle) > beta else (low, middle)
    return high


@pytest.mark.parametrize("k,n", [(0, 299), (0, 300), (15, 3000), (5, 1000), (2, 60)])
def test_surely_within_is_the_clopper_pearson_upper_bound(k, n):
    bound = clopper_pearson_upper(k, n, 0.05)
    assert surely_within(k, n, bound * 1.001, 0.05)
    assert not surely_within(k, n, bound * 0.999, 0.05)


def test_wilson_bounds_are_conservative_and_bracket_the_rate():
    low, high = wilson_bounds(135, 27000, 0.975)
    assert low < 0.005 < high
    assert high > clopper_pearson_upper(135, 27000, 0.025) * 0.99
    assert wilson_bounds(0, 100, 0.95)[0] == 0.0
    assert wilson_bounds(0, 100, 0.95)[1] >= clopper_pearson_upper(0, 100, 0.05)
    assert wilson_bounds(5, 5, 0.95)[1] == 1.0
    assert wilson_bounds(0, 0, 0.95) == (0.0, 1.0)


def test_requests_needed_pass_and_fail():
    to_pass = requests_needed(0.0, lambda k, n: surely_within(k, n, 0.01, 0.05))
    assert to_pass == 299  # (0.99)^299 ≤ 0.05 < (0.99)^298
    to_fail = requests_needed(0.04, lambda k, n: significantly_above(k, n, 0.01, 0.01)[0])
    assert 50 < to_fail < 200
    assert requests_needed(0.01, lambda k, n: surely_within(k, n, 0.01, 0.05)) is None


# ---------------------------------------------------------------- the realistic healthy case

def test_healthy_canary_at_ten_rps_passes_every_phase():
    config = Config()
    for p in config.phases:
        verdict = evaluate(config, SERVICE, p, STABLE, CANARY, at=123.0)
        assert verdict.outcome is Outcome.PASS, (p.name, verdict.reason)
        assert verdict.weight == p.weight and verdict.at == 123.0
        assert [c.name for c in verdict.checks][:4] == ["error_rate", "p95_latency", "p99_latency",
                                                         "success_rate"]
        assert verdict.reason.startswith("all ")


def test_check_values_and_query_are_explainable():
    assert all(c.query == "" for c in judge().checks)  # the judge knows metrics; the metrics adapter the query
    verdict = as_asked(judge())
    error = verdict.check("error_rate")
    assert error.canary == pytest.approx(0.005) and error.stable == pytest.approx(0.005)
    assert error.threshold == 0.01 and error.value == pytest.approx(0.0)
    assert "15/3000" in error.reason and "135/27000" in error.reason
    assert 'status=~"5.."' in error.query and 'service=~"perception"' in error.query and "[5m]" in error.query
    p95 = verdict.check("p95_latency")
    assert p95.canary == 0.15 and p95.stable == 0.15 and p95.threshold == 0.20
    assert "histogram_quantile(0.95" in p95.query
    assert verdict.check("success_rate").canary == pytest.approx(0.995)
    assert "\n" not in verdict.reason and all("\n" not in c.reason for c in verdict.checks)
    assert verdict.to_json()["checks"][0]["result"] == "pass"


# ---------------------------------------------------------------- the criteria table, both sides

@pytest.mark.parametrize("name,canary_rate,expected", [
    ("error_rate", 0.012, CheckResult.PASS), ("error_rate", 0.0135, CheckResult.PASS),  # +0.70, +0.85 pp
    ("error_rate", 0.0165, CheckResult.FAIL), ("error_rate", 0.02, CheckResult.FAIL),  # +1.15, +1.50 pp
    ("success_rate", 0.007, CheckResult.PASS), ("success_rate", 0.009, CheckResult.PASS),
    ("success_rate", 0.011, CheckResult.FAIL), ("success_rate", 0.013, CheckResult.FAIL),
])
def test_error_criteria_boundaries_with_large_samples(name, canary_rate, expected):
    """error_rate: canary − stable < 1 pp; success_rate: canary non-5xx > 99 %; both roll back."""
    verdict = judge(stable=BIG_STABLE, canary=window(BIG, canary_rate, seconds=1000))
    check = verdict.check(name)
    assert check.result is expected, check.reason
    assert check.action is Action.ROLLBACK
    assert check.threshold == {"error_rate": 0.01, "success_rate": 0.99}[name]
    if expected is CheckResult.FAIL:
        assert verdict.outcome is Outcome.FAIL


@pytest.mark.parametrize("increase,expected", [(0.10, CheckResult.PASS), (0.18, CheckResult.PASS),
                                               (0.22, CheckResult.FAIL), (0.40, CheckResult.FAIL)])
def test_p95_boundary_at_twenty_percent_rolls_back(increase, expected):
    verdict = persisted(stable=BIG_STABLE, canary=window(BIG, 0.005, seconds=1000, p95=0.15 * (1 + increase)))
    check = verdict.check("p95_latency")
    assert check.result is expected, check.reason
    assert check.value == pytest.approx(increase)
    assert (verdict.outcome is Outcome.FAIL) == (expected is CheckResult.FAIL)


@pytest.mark.parametrize("increase,expected", [(0.30, CheckResult.PASS), (0.45, CheckResult.PASS),
                                               (0.55, CheckResult.MANUAL_REVIEW),
                                               (0.90, CheckResult.MANUAL_REVIEW)])
def test_p99_boundary_at_fifty_percent_asks_for_review(increase, expected):
    verdict = persisted(stable=BIG_STABLE, canary=window(BIG, 0.005, seconds=1000, p99=0.30 * (1 + increase)))
    check = verdict.check("p99_latency")
    assert check.result is expected, check.reason
    assert check.action is Action.MANUAL_REVIEW
    if expected is CheckResult.MANUAL_REVIEW:
        assert verdict.outcome is Outcome.MANUAL_REVIEW and "manual review" in verdict.reason


def test_p99_action_rollback_makes_a_p99_breach_fail():
    config = Config(criteria=Criteria(p99_action=Action.ROLLBACK))
    verdict = persisted(config, stable=BIG_STABLE, canary=window(BIG, 0.005, seconds=1000, p99=0.60))
    assert verdict.check("p99_latency").result is CheckResult.FAIL
    assert verdict.outcome is Outcome.FAIL


# ---------------------------------------------------------------- the phase table, both sides

def test_phase_thresholds_are_the_stricter_of_base_and_phase():
    config = Config()
    assert effective_thresholds(config, phase(config, "initial"))["success_rate"] == pytest.approx(0.99)
    assert effective_thresholds(config, phase(config, "early"))["error_rate"] == pytest.approx(0.005)
    assert effective_thresholds(config, phase(config, "mid"))["p99_latency"] == pytest.approx(0.20)
    assert effective_thresholds(config, phase(config, "complete"))["p99_latency"] == pytest.approx(0.50)
    loose = Config(criteria=Criteria(min_success_rate=0.95, error_rate_increase=0.002))
    assert effective_thresholds(loose, phase(loose, "initial"))["success_rate"] == pytest.approx(0.99)
    assert effective_thresholds(loose, phase(loose, "early"))["error_rate"] == pytest.approx(0.002)


@pytest.mark.parametrize("canary_rate,initial,complete", [(0.008, CheckResult.PASS, CheckResult.PASS),
                                                          (0.013, CheckResult.FAIL, CheckResult.PASS)])
def test_initial_phase_fails_any_absolute_error_rate_above_one_percent(canary_rate, initial, complete):
    config = Config(criteria=Criteria(min_success_rate=0.98))  # the base alone would allow 2 %
    stable = window(900, 0.005, seconds=1000)  # a stable at the 1 % limit too would be an incident on both tracks
    canary = window(BIG, canary_rate, seconds=1000)
    assert judge(config, "initial", stable, canary).check("success_rate").result is initial
    assert judge(config, "complete", stable, canary).check("success_rate").result is complete
    if initial is CheckResult.FAIL:
        assert "initial phase" in judge(config, "initial", stable, canary).check("success_rate").reason


@pytest.mark.parametrize("canary_rate,early,complete", [(0.007, CheckResult.PASS, CheckResult.PASS),
                                                        (0.0125, CheckResult.FAIL, CheckResult.PASS)])
def test_early_phase_fails_an_increase_above_half_a_point(canary_rate, early, complete):
    config = Config(criteria=Criteria(min_success_rate=0.95))  # isolate error_rate from success_rate
    canary = window(BIG, canary_rate, seconds=1000)
    assert judge(config, "early", BIG_STABLE, canary).check("error_rate").result is early
    assert judge(config, "complete", BIG_STABLE, canary).check("error_rate").result is complete


@pytest.mark.parametrize("increase,mid,complete", [(0.15, CheckResult.PASS, CheckResult.PASS),
                                                   (0.30, CheckResult.MANUAL_REVIEW, CheckResult.PASS)])
def test_mid_phase_tightens_p99_to_twenty_percent_still_manual_review(increase, mid, complete):
    canary = window(BIG, 0.005, seconds=1000, p99=0.30 * (1 + increase))
    assert persisted(phase_name="mid", stable=BIG_STABLE, canary=canary).check("p99_latency").result is mid
    assert persisted(phase_name="complete", stable=BIG_STABLE, canary=canary).check("p99_latency").result is complete


def test_mid_phase_latency_above_twenty_percent_rolls_back():
    assert persisted(phase_name="mid", stable=BIG_STABLE, canary=window(BIG, 0.005, seconds=1000, p95=0.19)).outcome is Outcome.FAIL
    assert persisted(phase_name="mid", stable=BIG_STABLE, canary=window(BIG, 0.005, seconds=1000, p95=0.17)).outcome is Outcome.PASS


def test_late_phase_any_anomaly_restarts_ask_for_a_person():
    clean = judge(phase_name="late", canary_restarts=0)
    assert clean.outcome is Outcome.PASS and clean.check("canary_restarts").result is CheckResult.PASS
    restarted = judge(phase_name="late", canary_restarts=2)
    assert restarted.outcome is Outcome.MANUAL_REVIEW
    assert "restarted 2" in restarted.reason
    assert judge(phase_name="mid", canary_restarts=2).check("canary_restarts") is None


def warn_config(action: Action = Action.WARN, breach: str = "above") -> Config:
    check = ExtraCheck(name="kafka_lag", query='sum(kafka_lag{service="${SERVICE}",track="${TRACK}"})',
                       threshold=1000, breach=breach, action=action)
    return Config(services=[Service(name=SERVICE, checks=[check])])


def test_late_phase_escalates_a_warn_check_to_manual_review():
    config = warn_config()
    mid = judge(config, "mid", extras={"kafka_lag": 5000})
    assert mid.outcome is Outcome.PASS and mid.check("kafka_lag").result is CheckResult.PASS
    assert mid.reason.startswith("kafka_lag") and "warning" in mid.reason
    late = judge(config, "late", extras={"kafka_lag": 5000})
    assert late.outcome is Outcome.MANUAL_REVIEW and late.check("kafka_lag").result is CheckResult.MANUAL_REVIEW
    assert "any anomaly" in late.reason


def test_late_phase_tightens_both_error_triggers():
    config = Config(criteria=Criteria(min_success_rate=0.95))
    canary = window(BIG, 0.0125, seconds=1000)
    verdict = judge(config, "late", BIG_STABLE, canary)
    assert verdict.check("error_rate").result is CheckResult.FAIL
    assert verdict.check("success_rate").result is CheckResult.FAIL  # 1.25 % > the phase's 1 % absolute


# ---------------------------------------------------------------- small samples

def test_healthy_canary_with_forty_requests_is_not_a_failure():
    verdict = judge(phase_name="initial", canary=window(10, 0.0, seconds=4))
    assert verdict.outcome is Outcome.INCONCLUSIVE
    check = verdict.check("error_rate")
    assert check.result is CheckResult.INSUFFICIENT_DATA
    assert "have 40" in check.reason and "need ~" in check.reason


def test_one_error_in_forty_requests_is_not_a_failure():
    canary = TrackWindow(requests=40, errors=1, p95=0.15, p99=0.3)
    assert judge(phase_name="initial", canary=canary).outcome is Outcome.INCONCLUSIVE


def test_all_errors_in_twenty_requests_fails_at_once():
    canary = TrackWindow(requests=20, errors=20, p95=None, p99=None)
    verdict = judge(phase_name="initial", canary=canary)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.check("error_rate").result is CheckResult.FAIL
    assert "significantly above" in verdict.reason


def test_below_min_requests_a_few_errors_do_not_fail():
    canary = TrackWindow(requests=10, errors=3, p95=0.15, p99=0.3)  # 30 %, but only 3 errors in 10
    assert judge(phase_name="initial", canary=canary).outcome is Outcome.INCONCLUSIVE


def test_healthy_canary_passes_once_it_has_enough_requests():
    needed = []
    for seconds in (30, 60, 120, 300):
        verdict = judge(phase_name="initial", canary=window(10, 0.005, seconds=seconds))
        needed.append(verdict.check("success_rate").result)
    assert needed[0] is CheckResult.INSUFFICIENT_DATA  # 300 requests cannot show < 1 % yet
    assert needed[-1] is CheckResult.PASS


def test_insufficient_reason_says_how_many_requests_are_needed():
    check = judge(phase_name="initial", canary=window(10, 0.005, seconds=30)).check("success_rate")
    assert check.result is CheckResult.INSUFFICIENT_DATA
    number = int(check.reason.split("need ~")[1].split(" ")[0])
    assert 300 < number < 3000 and "have 300" in check.reason
    # and indeed that many requests at the same rate would pass
    passing = judge(phase_name="initial", canary=TrackWindow(number, round(number * 0.005), 0.15, 0.3))
    assert passing.check("success_rate").result is CheckResult.PASS


def test_healthy_low_traffic_canaries_are_never_rolled_back():
    rng = random.Random(7)
    failures = 0
    for _ in range(400):
        n = rng.randint(1, 600)
        errors = sum(rng.random() < 0.005 for _ in range(n))
        verdict = judge(phase_name="initial", canary=TrackWindow(n, errors, 0.15, 0.3))
        failures += verdict.outcome is Outcome.FAIL
    assert failures == 0


def test_a_four_percent_canary_fails_within_a_minute_at_ten_rps():
    rng = random.Random(11)
    errors = sum(rng.random() < 0.04 for _ in range(600))
    assert judge(phase_name="early", canary=TrackWindow(600, errors, 0.15, 0.3)).outcome is Outcome.FAIL


def test_latency_needs_samples_on_both_tracks():
    realistic = window(90, 0.005, p99=0.21)
    verdict = judge(stable=realistic, canary=window(10, 0.005, p99=0.21, seconds=30))  # 300: P95 yes, P99 no
    assert verdict.check("p95_latency").result is CheckResult.PASS
    assert verdict.check("p99_latency").result is CheckResult.INSUFFICIENT_DATA
    assert "need 400 on each" in verdict.check("p99_latency").reason
    thin_stable = judge(stable=window(90, 0.005, seconds=1))
    assert thin_stable.check("p95_latency").result is CheckResult.INSUFFICIENT_DATA


# ---------------------------------------------------------------- no data and carry-over

@pytest.mark.parametrize("stable,canary,words", [
    (STABLE, None, "no canary metrics"),
    (None, CANARY, "no stable metrics"),
    (STABLE, TrackWindow(0, 0), "canary has no traffic"),
    (TrackWindow(0, 0), CANARY, "stable has no traffic"),
])
def test_missing_windows_are_no_data_never_pass_or_fail(stable, canary, words):
    verdict = judge(stable=stable, canary=canary)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.check("error_rate").result is CheckResult.NO_DATA
    assert words in verdict.check("error_rate").reason and words in verdict.reason


def test_success_rate_is_still_judged_without_a_stable_window():
    verdict = judge(stable=None, canary=window(10, 0.05))
    assert verdict.check("success_rate").result is CheckResult.FAIL
    assert verdict.outcome is Outcome.FAIL


def test_missing_quantile_is_no_data_naming_it():
    verdict = judge(canary=window(10, 0.005, p95=None))
    assert verdict.check("p95_latency").result is CheckResult.NO_DATA
    assert "canary P95 missing" in verdict.check("p95_latency").reason
    assert judge(stable=window(90, 0.005, p99=None)).check("p99_latency").reason == "stable P99 missing"
    assert verdict.outcome is Outcome.INCONCLUSIVE


def test_nan_counts_and_quantiles_are_missing_data():
    canary = TrackWindow(float("nan"), float("nan"), float("nan"), float("inf"))
    assert judge(canary=canary).check("error_rate").result is CheckResult.NO_DATA


def test_carried_over_stable_window_is_named_in_reasons():
    verdict = judge(phase_name="complete", canary=window(100, 0.005), stable_carried_over=True)
    assert verdict.outcome is Outcome.PASS
    assert "vs last stable window" in verdict.check("error_rate").reason
    assert "last stable window" in verdict.check("p95_latency").reason
    silent = judge(stable=TrackWindow(0, 0), canary=window(100, 0.005), stable_carried_over=True)
    assert "last stable window has no traffic" in silent.reason


# ---------------------------------------------------------------- persistence

def test_latency_breach_waits_for_persistence_and_holds_meanwhile():
    slow = window(10, 0.005, p95=0.30)
    first = judge(canary=slow)
    assert first.check("p95_latency").result is CheckResult.INSUFFICIENT_DATA
    assert "breach 1/2, waiting for persistence" in first.check("p95_latency").reason
    assert first.outcome is Outcome.INCONCLUSIVE and first.streaks["p95_latency"] == 1
    second = judge(canary=slow, previous=first)
    assert second.outcome is Outcome.FAIL and second.streaks["p95_latency"] == 2
    assert "2 checks in a row" in second.reason


def test_clean_check_resets_and_no_data_keeps_the_streak():
    slow = window(10, 0.005, p95=0.30)
    first = judge(canary=slow)
    clean = judge(canary=CANARY, previous=first)
    assert clean.streaks["p95_latency"] == 0
    assert judge(canary=slow, previous=clean).outcome is Outcome.INCONCLUSIVE
    gap = judge(canary=None, previous=first)
    assert gap.streaks["p95_latency"] == 1
    assert judge(canary=slow, previous=gap).outcome is Outcome.FAIL


def test_persistence_of_one_acts_at_once():
    config = Config(judging=Judging(latency_persistence=1))
    assert judge(config, canary=window(10, 0.005, p95=0.30)).outcome is Outcome.FAIL


# ---------------------------------------------------------------- service-specific checks

@pytest.mark.parametrize("breach,value,expected", [("above", 500, CheckResult.PASS),
                                                   ("above", 1500, CheckResult.MANUAL_REVIEW),
                                                   ("below", 1500, CheckResult.PASS),
                                                   ("below", 500, CheckResult.MANUAL_REVIEW)])
def test_extra_check_breaches_above_or_below(breach, value, expected):
    config = warn_config(Action.MANUAL_REVIEW, breach)
    verdict = as_asked(judge(config, extras={"kafka_lag": value}), config)
    check = verdict.check("kafka_lag")
    assert check.result is expected and check.canary == value and check.threshold == 1000
    assert check.query == 'sum(kafka_lag{service="perception",track="canary"})'


def test_extra_check_with_rollback_action_fails():
    verdict = judge(warn_config(Action.ROLLBACK), extras={"kafka_lag": 2000})
    assert verdict.outcome is Outcome.FAIL and verdict.reason.startswith("kafka_lag")


@pytest.mark.parametrize("extras", [{}, {"kafka_lag": None}, {"kafka_lag": float("nan")}, None])
def test_extra_check_missing_value_is_no_data(extras):
    verdict = judge(warn_config(), extras=extras)
    assert verdict.check("kafka_lag").result is CheckResult.NO_DATA
    assert verdict.outcome is Outcome.INCONCLUSIVE and "no value for kafka_lag" in verdict.reason


def test_evaluate_metrics_uses_the_polls_windows_and_extras():
    config = warn_config(Action.ROLLBACK)
    metrics = ServiceMetrics(service=SERVICE, stable=STABLE, canary=CANARY, extras={"kafka_lag": 10})
    verdict = evaluate_metrics(config, phase(config, "initial"), metrics, at=5.0)
    assert verdict.outcome is Outcome.PASS and verdict.at == 5.0 and len(verdict.checks) == 5


def test_unknown_service_has_no_extra_checks():
    config = Config()
    verdict = evaluate(config, "unknown", phase(config, "initial"), STABLE, CANARY)
    assert verdict.outcome is Outcome.PASS and len(verdict.checks) == 4


# ---------------------------------------------------------------- latency sampling noise

def test_low_traffic_latency_noise_is_not_a_breach():
    """250 canary requests: a P95 40 % above stable is within the sampling noise of the quantile, so
    it is neither a pass nor a failure (the phase clock waits), while the same +40 % at 3000 requests is."""
    thin = persisted(canary=window(250 / 300, 0.0, p95=0.15 * 1.4, p99=0.42))
    assert thin.check("p95_latency").result is CheckResult.INSUFFICIENT_DATA
    assert "sampling noise" in thin.check("p95_latency").reason
    assert thin.outcome is not Outcome.FAIL
    thick = persisted(canary=window(10, 0.005, p95=0.15 * 1.4, p99=0.42))
    assert thick.check("p95_latency").result is CheckResult.FAIL


def test_a_sixty_percent_p95_regression_fails_at_ten_rps():
    verdict = persisted(canary=window(10, 0.005, p95=0.24, p99=0.48))
    assert verdict.check("p95_latency").result is CheckResult.FAIL
    assert verdict.outcome is Outcome.FAIL


def test_seeded_low_traffic_latency_noise_never_rolls_back():
    """Draw canary P95s the way 200-request windows scatter around the true (equal) P95; none fails."""
    rng = random.Random(11)
    failures = 0
    for _ in range(400):
        samples = sorted(rng.lognormvariate(math.log(0.08), 0.4) for _ in range(200))
        p95, p99 = samples[int(0.95 * 200) - 1], samples[int(0.99 * 200) - 1]
        stable_p95, stable_p99 = math.exp(math.log(0.08) + 0.4 * 1.6449), math.exp(math.log(0.08) + 0.4 * 2.3263)
        verdict = persisted(stable=window(90, 0.005, p95=stable_p95, p99=stable_p99),
                            canary=window(200 / 300, 0.0, p95=p95, p99=p99))
        failures += verdict.check("p95_latency").result is CheckResult.FAIL
    assert failures == 0
