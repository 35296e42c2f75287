"""The judge: pure functions from (config, phase, stable window, canary window) to a Verdict.

One Check per criterion (error_rate, p95_latency, p99_latency, success_rate), one per service-specific
ExtraCheck, and canary_restarts in phases with ``anomaly``. Error checks use exact one-sided binomial
tests so a thin canary is neither rolled back for having little traffic nor passed unseen; latency checks
need enough samples on both tracks and a breach that persists. docs/judging.md explains the method.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from statistics import NormalDist

from console.engine.binomial import counts, requests_needed, significantly_above, surely_within, wilson_bounds
from console.engine.catalog import CHECKS
from console.engine.config import Config, ExtraCheck, Phase, format_duration
from console.engine.model import (Action, Check, CheckResult, Outcome, ServiceMetrics, TrackWindow,
                                  Verdict)
from console.engine.sequential import INCIDENT
from console.engine.traffic_share import share_check

# Below judging.min_requests a window is too small to trust independence (one client retrying a bad
# request is a burst of correlated errors): nothing passes, and a fail needs at least this many errors.
MIN_ERRORS_TO_FAIL_SMALL_SAMPLE = 5

CHECK_ORDER = tuple(c.name for c in CHECKS if c.expression)  # canary-vs-stable (catalog.py), then extras, restarts
_SEVERITY = {CheckResult.FAIL: 0, CheckResult.MANUAL_REVIEW: 1, CheckResult.NO_DATA: 2,
             CheckResult.INSUFFICIENT_DATA: 3, CheckResult.PASS: 5}
_WARNED = 4  # a pass whose check breached with action "warn" outranks a clean pass


def evaluate(config: Config, service: str, phase: Phase, stable: TrackWindow | None,
             canary: TrackWindow | None, *, extras: Mapping[str, float | None] | None = None,
             canary_restarts: int = 0, previous: Verdict | None = None, at: float = 0.0,
             stable_carried_over: bool = False,
             traffic: tuple[float, float] | None = None) -> Verdict:
    """One analysis. ``stable`` is the window to compare with (the controller passes the last usable
    stable window at weight 100, with ``stable_carried_over=True``); ``extras`` the values of the
    service's extra checks; ``canary_restarts`` the canary restarts during this phase (an anomaly in the
    late phase); ``previous`` the last verdict, whose ``streaks`` carry latency persistence; ``traffic``
    the (canary, stable) requests to judge the canary's share of traffic on (None or ``()``: no share
    check)."""
    ctx = _Context(config, service, phase, stable, canary, stable_carried_over,
                   dict(previous.streaks) if previous else {})
    judged = [_error_check(ctx, "error_rate"), _latency(ctx, "p95"), _latency(ctx, "p99"),
              _error_check(ctx, "success_rate")]
    judged += [_extra(ctx, check, (extras or {}).get(check.name)) for check in _extra_checks(config, service)]
    if phase.anomaly:
        judged.append(_restarts(ctx, canary_restarts))
    problems: list[str] = []
    judged = _shared_incident(ctx, judged, problems)
    share = _traffic_share(ctx, traffic)
    if share is not None:
        judged.append(share)
        if share[1] and share[0].result is not CheckResult.PASS:
            problems.append(share[0].reason)
    streaks = {check.name: _next_streak(ctx.streaks.get(check.name, 0), breached) for check, breached in judged}
    return verdict_of(judged, streaks, weight=phase.weight, at=at, problems=tuple(problems))


def verdict_of(judged: list[tuple[Check, bool | None]], streaks: Mapping[str, int], *, weight: int,
               at: float, problems: tuple[str, ...] = ()) -> Verdict:
    """The Verdict of judged checks (check, breached?) with their ``streaks``: the overall outcome and
    reason; a named problem leads the reason unless a check fails or asks for a person."""
    outcome, reason = _overall(judged)
    if problems and outcome in (Outcome.INCONCLUSIVE, Outcome.PASS) and problems[0] not in reason:
        reason = f"{problems[0]}; {reason}"
    return Verdict(outcome=outcome, checks=tuple(check for check, _ in judged), reason=reason, weight=weight,
                   at=at, streaks=dict(streaks), problems=problems)


def evaluate_metrics(config: Config, phase: Phase, metrics: ServiceMetrics, **kwargs) -> Verdict:
    """Convenience: evaluate() on one poll's ServiceMetrics, each check's query as the source asked it."""
    return evaluate(config, metrics.service, phase, metrics.stable, metrics.canary,
                    extras=metrics.extras, **kwargs).explained(metrics.queries)


def effective_thresholds(config: Config, phase: Phase) -> dict[str, float]:
    """The stricter of the criteria and the phase's triggers, per check name."""
    criteria = config.criteria
    min_success = criteria.min_success_rate
    if phase.max_error_rate is not None:
        min_success = max(min_success, 1.0 - phase.max_error_rate)
    return {
        "error_rate": _stricter(criteria.error_rate_increase, phase.error_rate_increase),
        "p95_latency": _stricter(criteria.p95_increase, phase.p95_increase),
        "p99_latency": _stricter(criteria.p99_increase, phase.p99_increase),
        "success_rate": min_success,
    }


@dataclass(frozen=True, slots=True)
class _Context:
    config: Config
    service: str
    phase: Phase
    stable: TrackWindow | None
    canary: TrackWindow | None
    carried_over: bool
    streaks: dict[str, int]

    @property
    def thresholds(self) -> dict[str, float]:
        return effective_thresholds(self.config, self.phase)

    @property
    def stable_label(self) -> str:
        if not self.carried_over:
            return "stable"
        age = self.stable.age if self.stable is not None else 0.0
        return f"stable window from {format_duration(age)} ago" if age >= 1 else "last stable window"

    @property
    def judged_canary(self) -> TrackWindow:
        """The canary's window, read only once ``missing`` said there is one."""
        assert self.canary is not None, "judged a canary with no window"
        return self.canary

    @property
    def judged_stable(self) -> TrackWindow:
        """The stable's window, read only once ``missing(need_stable=True)`` said there is one."""
        assert self.stable is not None, "judged a stable with no window"
        return self.stable

    def missing(self, *, need_stable: bool) -> str | None:
        """Why there is nothing to compare, or None."""
        if self.canary is None:
            return "no canary metrics in this window"
        if counts(self.canary.requests, 0)[0] == 0:
            return "canary has no traffic"
        if need_stable and self.stable is None:
            return "no stable metrics in this window"
        if need_stable and self.stable is not None and counts(self.stable.requests, 0)[0] == 0:
            return f"{self.stable_label} has no traffic"
        return None


def _stricter(base: float, phase_value: float | None) -> float:
    return base if phase_value is None else min(base, phase_value)


def _next_streak(previous: int, breached: bool | None) -> int:
    """Consecutive breaches: a breach extends, a clean check resets, a check without data keeps."""
    if breached is None:
        return previous
    return previous + 1 if breached else 0


def _result_for(action: Action, anomaly_phase: bool) -> CheckResult:
    if action is Action.ROLLBACK:
        return CheckResult.FAIL
    if action is Action.MANUAL_REVIEW or anomaly_phase:
        return CheckResult.MANUAL_REVIEW
    return CheckResult.PASS


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f} %"


def minutes_more(requests: int, rps: float) -> str:
    """"~12 more minutes at 1.4 canary rps": how long the phase needs at the current rate to gather
    ``requests`` more (pooling the phase's windows, docs/judging.md); empty when nothing flows."""
    if requests <= 0 or rps <= 0:
        return ""
    minutes = requests / rps / 60
    return f"~{math.ceil(minutes)} more minutes at {rps:.2g} canary rps"


# ---------------------------------------------------------------- error checks (binomial)

@dataclass(frozen=True, slots=True)
class _ErrorTest:
    """A one-sided question about the canary's error rate: fail above fail_allowed, pass within
    pass_allowed, each at its own error budget."""

    fail_allowed: float
    fail_alpha: float
    pass_allowed: float
    pass_beta: float
    min_requests: int
    rps: float = 0.0  # the canary's current request rate, to say how long the missing requests take

    def judge(self, errors: int, requests: int) -> tuple[CheckResult, str]:
        significant, p_value = significantly_above(errors, requests, self.fail_allowed, self.fail_alpha)
        small = requests < self.min_requests
        if significant and (not small or errors >= MIN_ERRORS_TO_FAIL_SMALL_SAMPLE):
            return CheckResult.FAIL, (f"canary error rate significantly above {_pct(self.fail_allowed)} "
                                      f"(p={p_value:.2g} < {self.fail_alpha:g})")
        if not small and surely_within(errors, requests, self.pass_allowed, self.pass_beta):
            return CheckResult.PASS, (f"canary error rate ≤ {_pct(self.pass_allowed)} at "
                                      f"{(1 - self.pass_beta) * 100:g} % confidence")
        why = f"too few to judge (min {self.min_requests})" if small else "too few to tell"
        return CheckResult.INSUFFICIENT_DATA, f"{why}: {self.need(errors, requests)}, have {requests}"

    def need(self, errors: int, requests: int) -> str:
        """How many canary requests would settle it if the canary kept its observed rate."""
        rate = errors / requests
        if rate > self.fail_allowed:
            needed = requests_needed(rate, lambda k, n: significantly_above(k, n, self.fail_allowed,
                                                                            self.fail_alpha)[0])
        elif rate < self.pass_allowed:
            needed = requests_needed(rate, lambda k, n: surely_within(k, n, self.pass_allowed, self.pass_beta))
        else:
            needed = None
        if needed is None:
            return "canary rate at the limit, no sample size settles it soon"
        needed = max(needed, self.min_requests, requests + 1)
        more = minutes_more(needed - requests, self.rps)
        return f"need ~{needed} canary requests" + (f" ({more})" if more else "")


def _error_check(ctx: _Context, name: str) -> tuple[Check, bool | None]:
    """error_rate (canary − stable, against the stable's bounds) or success_rate (canary alone)."""
    comparative = name == "error_rate"
    threshold = ctx.thresholds[name]
    missing = ctx.missing(need_stable=comparative)
    if missing:
        return _no_data(name, missing, threshold), None
    requests, errors = counts(ctx.judged_canary.requests, ctx.judged_canary.errors)
    test = _increase_test(ctx, threshold) if comparative else _absolute_test(ctx, threshold)
    test = replace(test, rps=ctx.judged_canary.rps)
    result, verdict = test.judge(errors, requests)
    describe = _describe_increase if comparative else _describe_success
    check, value = describe(ctx, requests, errors, threshold, result, verdict)
    if requests < test.min_requests and result is not CheckResult.FAIL:
        return check, None
    return check, (value > threshold) if comparative else (value < threshold)


def _increase_test(ctx: _Context, threshold: float) -> _ErrorTest:
    """canary − stable ≤ threshold, with the stable rate's own uncertainty: each error budget is split
    evenly between a Wilson bound on the stable rate and the exact canary test (Bonferroni)."""
    judging = ctx.config.judging
    alpha, beta = judging.alpha_fail / 2, (1 - judging.confidence_pass) / 2
    n_s, k_s = counts(ctx.judged_stable.requests, ctx.judged_stable.errors)
    stable_low, _ = wilson_bounds(k_s, n_s, 1 - beta)
    _, stable_high = wilson_bounds(k_s, n_s, 1 - alpha)
    return _ErrorTest(fail_allowed=min(1.0, stable_high + threshold), fail_alpha=alpha,
                      pass_allowed=min(1.0, stable_low + threshold), pass_beta=beta,
                      min_requests=judging.min_requests)


def _absolute_test(ctx: _Context, threshold: float) -> _ErrorTest:
    judging = ctx.config.judging
    return _ErrorTest(fail_allowed=1.0 - threshold, fail_alpha=judging.alpha_fail, pass_allowed=1.0 - threshold,
                      pass_beta=1 - judging.confidence_pass, min_requests=judging.min_requests)


def _describe_increase(ctx: _Context, requests: int, errors: int, threshold: float, result: CheckResult,
                       verdict: str) -> tuple[Check, float]:
    """The error_rate check and its compared value (canary − stable)."""
    n_s, k_s = counts(ctx.judged_stable.requests, ctx.judged_stable.errors)
    rate_c, rate_s = errors / requests, k_s / n_s
    increase = rate_c - rate_s
    phase_value = ctx.phase.error_rate_increase
    tightened = f" ({ctx.phase.name} phase)" if phase_value is not None and \
        phase_value <= ctx.config.criteria.error_rate_increase else ""
    reason = (f"canary {_pct(rate_c)} ({errors}/{requests}) vs {ctx.stable_label} {_pct(rate_s)} ({k_s}/{n_s}): "
              f"{increase * 100:+.2f} pp, limit {threshold * 100:.2f} pp{tightened}; {verdict}")
    return Check("error_rate", result, rate_c, rate_s, threshold, reason, Action.ROLLBACK, increase), increase


def _describe_success(ctx: _Context, requests: int, errors: int, threshold: float, result: CheckResult,
                      verdict: str) -> tuple[Check, float]:
    """The success_rate check and its compared value (the canary's success rate)."""
    success = 1.0 - errors / requests
    stable = ctx.judged_stable.success_rate if ctx.stable is not None else None
    phase_value = ctx.phase.max_error_rate
    tightened = f" ({ctx.phase.name} phase)" if phase_value is not None and \
        1.0 - phase_value >= ctx.config.criteria.min_success_rate else ""
    reason = (f"canary success {success * 100:.2f} % ({errors} errors in {requests}), must stay above "
              f"{threshold * 100:.2f} %{tightened}; {verdict}")
    return Check("success_rate", result, success, stable, threshold, reason, Action.ROLLBACK, success), success


# ---------------------------------------------------------------- latency checks (persistence)

def _latency(ctx: _Context, quantile: str) -> tuple[Check, bool | None]:
    name = f"{quantile}_latency"
    label = quantile.upper()
    threshold = ctx.thresholds[name]
    action = Action.ROLLBACK if quantile == "p95" else ctx.config.criteria.p99_action
    missing = ctx.missing(need_stable=True)
    canary_q = getattr(ctx.canary, quantile, None)
    stable_q = getattr(ctx.stable, quantile, None)
    if not missing and (canary_q is None or canary_q <= 0):
        missing = f"canary {label} missing" if canary_q is None else f"canary {label} is 0"
    if not missing and (stable_q is None or stable_q <= 0):
        missing = f"{ctx.stable_label} {label} missing" if stable_q is None else f"{ctx.stable_label} {label} is 0"
    if missing or canary_q is None or stable_q is None:
        return _no_data(name, missing or f"{label} missing", threshold, action), None
    need = getattr(ctx.config.judging, f"min_latency_samples_{quantile}")
    n_c, n_s = counts(ctx.judged_canary.requests, 0)[0], counts(ctx.judged_stable.requests, 0)[0]
    increase = canary_q / stable_q - 1.0
    values = (f"canary {label} {canary_q:.3f} s vs {ctx.stable_label} {stable_q:.3f} s: "
              f"{increase * 100:+.1f} %, limit {threshold * 100:.0f} %")

    def check(result: CheckResult, why: str) -> Check:
        return Check(name, result, canary_q, stable_q, threshold, f"{values}; {why}", action, increase)

    if n_c < need or n_s < need:
        rate = min(ctx.judged_canary.rps, ctx.judged_stable.rps) if n_s < need else ctx.judged_canary.rps
        more = minutes_more(need - min(n_c, n_s), rate)
        return check(CheckResult.INSUFFICIENT_DATA, f"too few requests for {label} (canary {n_c}, stable {n_s}; "
                                                    f"need {need} on each{', ' + more if more else ''})"), None
    margin = _quantile_noise(ctx, quantile, n_c, n_s)
    distance = math.log(canary_q / stable_q) - math.log1p(threshold)
    judging = ctx.config.judging
    if distance <= -_z(judging.confidence_pass) * margin:
        return check(CheckResult.PASS, "within"), False
    if distance <= _z(1.0 - judging.alpha_fail) * margin:
        noise = math.expm1(_z(1.0 - judging.alpha_fail) * margin) * 100
        return check(CheckResult.INSUFFICIENT_DATA,
                     f"within sampling noise (±{noise:.0f} % at {n_c} canary requests)"), None
    streak = _next_streak(ctx.streaks.get(name, 0), True)
    persistence = ctx.config.judging.latency_persistence
    if streak < persistence:
        return check(CheckResult.INSUFFICIENT_DATA,
                     f"breach {streak}/{persistence}, waiting for persistence"), True
    result = _result_for(action, ctx.phase.anomaly)
    return check(result, f"breached {streak} checks in a row ({_action_words(action, result)})"), True


# Quantile sampling noise (docs/judging.md, "Latency"): the sample p-quantile of n requests has, in log
# space, a standard error of sigma * sqrt(p (1 - p) / n) / phi(z_p) when the tail is log-normal; sigma is
# read off stable's P95 and P99 (a tail regression must not widen its own noise margin).
_NORMAL = NormalDist()
_LEVELS = {"p95": 0.95, "p99": 0.99}
_SIGMA_SPAN = _NORMAL.inv_cdf(0.99) - _NORMAL.inv_cdf(0.95)


def _z(probability: float) -> float:
    return _NORMAL.inv_cdf(probability)


def _log_sigma(window: TrackWindow) -> float:
    if window.p95 and window.p99 and window.p99 > window.p95 > 0:
        sigma = math.log(window.p99 / window.p95) / _SIGMA_SPAN
    else:
        sigma = 0.5
    return min(max(sigma, 0.15), 1.5)


def _quantile_noise(ctx: _Context, quantile: str, n_canary: int, n_stable: int) -> float:
    """The standard error of log(canary quantile / stable quantile) at these sample sizes."""
    p = _LEVELS[quantile]
    spread = math.sqrt(p * (1.0 - p)) / _NORMAL.pdf(_NORMAL.inv_cdf(p))
    sigma = _log_sigma(ctx.judged_stable)  # under the null hypothesis the canary has stable's shape, scaled
    return sigma * spread * math.hypot(1.0 / math.sqrt(n_canary), 1.0 / math.sqrt(n_stable))


# ---------------------------------------------------------------- incidents on both tracks, traffic share

def _shared_incident(ctx: _Context, judged: list[tuple[Check, bool | None]],
                     problems: list[str]) -> list[tuple[Check, bool | None]]:
    """An absolute success_rate breach during an incident on both tracks holds instead of rolling back,
    unless the relative error_rate check fails too (incident_on_both_tracks says when)."""
    names = [check.name for check, _ in judged]
    success, breached = judged[names.index("success_rate")]
    relative = judged[names.index("error_rate")][0]
    if success.result is not CheckResult.FAIL or relative.result is CheckResult.FAIL:
        return judged
    problem = incident_on_both_tracks(ctx.config, ctx.stable, ctx.canary, ctx.carried_over, 1.0 - success.threshold)
    if problem is None:
        return judged
    problems.append(problem)
    held = replace(success, result=CheckResult.INSUFFICIENT_DATA, reason=f"{success.reason}; {problem}")
    judged[names.index("success_rate")] = (held, breached)
    return judged


def incident_on_both_tracks(config: Config, stable: TrackWindow | None, canary: TrackWindow | None,
                            carried_over: bool, allowed: float) -> str | None:
    """The named problem when a dependency failing hurts stable and canary alike, else None: stable's own
    current window may breach the absolute limit ``allowed`` (its upper bound at 1 − alpha_fail reaches it)
    and the canary's error rate is not significantly above that bound (not worse than stable). Never at
    weight 100, where stable is a carried-over window (no stable traffic now): the absolute rule stands."""
    stable_high = stable_breach_bound(config, stable, carried_over)
    if stable is None or stable_high is None or stable_high < allowed or canary is None:
        return None
    n_c, k_c = counts(canary.requests, canary.errors)
    if n_c == 0 or significantly_above(k_c, n_c, stable_high, config.judging.alpha_fail)[0]:
        return None  # the canary is worse than stable: the absolute breach is its own
    n_s, k_s = counts(stable.requests, stable.errors)
    return (f"{INCIDENT}: stable errors {_pct(k_s / n_s)} (up to {_pct(stable_high)}) also reach the "
            f"{_pct(allowed)} limit and the canary ({_pct(k_c / n_c)}) is not significantly worse than stable; "
            f"holding, not rolling back")


def stable_breach_bound(config: Config, stable: TrackWindow | None, carried_over: bool) -> float | None:
    """Stable's upper bound on its error rate in the current window (at 1 − alpha_fail), or None when there
    is no current stable traffic to speak of (weight 100: the carried-over window is not "now")."""
    if stable is None or carried_over:
        return None
    n_s, k_s = counts(stable.requests, stable.errors)
    if n_s == 0:
        return None
    return wilson_bounds(k_s, n_s, 1 - config.judging.alpha_fail)[1]


def _traffic_share(ctx: _Context, traffic: tuple[float, float] | None) -> tuple[Check, bool | None] | None:
    weight = ctx.phase.weight
    if not 0 < weight < 100 or ctx.carried_over or not traffic:
        return None  # None: not asked; (): the controller's "not yet" (the window holds the previous weight)
    return share_check(traffic[0], traffic[1], weight, enforce=ctx.config.analysis.traffic_share == "enforce")


# ---------------------------------------------------------------- service-specific and anomaly checks

def _extra_checks(config: Config, service: str) -> list[ExtraCheck]:
    try:
        return list(config.service(service).checks)
    except KeyError:
        return []


def _extra(ctx: _Context, spec: ExtraCheck, value: float | None) -> tuple[Check, bool | None]:
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        reason = f"no value for {spec.name}"
        return Check(spec.name, CheckResult.NO_DATA, None, None, spec.threshold, reason, spec.action), None
    value = float(value)
    breached = value > spec.threshold if spec.breach == "above" else value < spec.threshold
    if not breached:
        result, why = CheckResult.PASS, f"within (breaches {spec.breach} {spec.threshold:g})"
    else:
        result = _result_for(spec.action, ctx.phase.anomaly)
        why = f"{spec.breach} {spec.threshold:g} ({_action_words(spec.action, result)})"
    return Check(spec.name, result, value, None, spec.threshold, f"{spec.name} {value:g}: {why}",
                 spec.action, value), breached


def _restarts(ctx: _Context, restarts: int) -> tuple[Check, bool]:
    restarts = max(0, int(restarts or 0))
    if restarts:
        result = CheckResult.MANUAL_REVIEW
        reason = f"canary restarted {restarts} time(s) during the {ctx.phase.name} phase (any anomaly: a person looks)"
    else:
        result, reason = CheckResult.PASS, f"no canary restarts during the {ctx.phase.name} phase"
    return Check("canary_restarts", result, float(restarts), None, 0.0, reason, Action.MANUAL_REVIEW,
                 float(restarts)), restarts > 0


def _action_words(action: Action, result: CheckResult) -> str:
    if result is CheckResult.FAIL:
        return "roll back"
    if result is CheckResult.MANUAL_REVIEW:
        return "any anomaly: manual review" if action is Action.WARN else "manual review"
    return "warning"


def _no_data(name: str, reason: str, threshold: float, action: Action = Action.ROLLBACK) -> Check:
    return Check(name, CheckResult.NO_DATA, None, None, threshold, reason, action)


# ---------------------------------------------------------------- overall

def _rank(judged: tuple[Check, bool | None]) -> int:
    check, breached = judged
    if check.result is CheckResult.PASS and breached:  # only a warn-action breach passes
        return _WARNED
    return _SEVERITY[check.result]


def _overall(judged: list[tuple[Check, bool | None]]) -> tuple[Outcome, str]:
    """Any fail → FAIL; else any manual review → MANUAL_REVIEW; else any missing or insufficient data
    → INCONCLUSIVE; else PASS. The reason is the most severe check's (the first of equals)."""
    worst, breached = min(judged, key=_rank)
    outcome = {CheckResult.FAIL: Outcome.FAIL, CheckResult.MANUAL_REVIEW: Outcome.MANUAL_REVIEW,
               CheckResult.NO_DATA: Outcome.INCONCLUSIVE,
               CheckResult.INSUFFICIENT_DATA: Outcome.INCONCLUSIVE}.get(worst.result, Outcome.PASS)
    if outcome is Outcome.PASS and not breached:
        return outcome, f"all {len(judged)} checks pass; {worst.name}: {worst.reason}"
    return outcome, f"{worst.name}: {worst.reason}"
