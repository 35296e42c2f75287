"""Engine room: one analysis now, for `canary-console analyze SERVICE [--weight N]` — poll the metrics once
and judge with the phase that matches the weight.

Callers tell "Prometheus could not be asked" (exit 4) from "Prometheus answered, but there is no data" (an
inconclusive verdict, exit 3) by the problem's kind (model.Problem) that the metrics source sets, never by
its words.
"""

from __future__ import annotations

from console.engine import judge
from console.engine.config import Config, Phase
from console.engine.model import Outcome, Problem, ServiceMetrics, Verdict
from console.engine.ports import Metrics

UNREACHABLE = "Prometheus unreachable"  # how people are told: transport failures, timeouts, HTTP errors, …


def could_not_ask(metrics: ServiceMetrics) -> bool:
    """True when the source could not be asked at all (as opposed to answering with no data): no track, and
    the first problem is of a kind that did not get an answer."""
    kind = metrics.problem_kind
    return metrics.stable is None and metrics.canary is None and kind is not None and kind.not_asked


def phase_for_weight(config: Config, weight: int | None) -> Phase:
    """The configured phase at ``weight`` (the last phase whose weight is ≤ it, else the first one); with no
    weight, a neutral phase that applies only the general criteria, none of the per-phase triggers."""
    if weight is None:
        return Phase.model_construct(name="now", weight=0, duration=0.0, max_error_rate=None, error_rate_increase=None,
                                     p95_increase=None, p99_increase=None, anomaly=False)
    eligible = [p for p in config.phases if p.weight <= weight]
    return eligible[-1] if eligible else config.phases[0]


def extra_queries(config: Config, service: str, track: str = "canary") -> dict[str, str]:
    """The service's extra checks as {check name: PromQL} with ${SERVICE} and ${TRACK} filled in."""
    try:
        checks = config.service(service).checks
    except KeyError:
        return {}
    return {c.name: c.query.replace("${SERVICE}", service).replace("${TRACK}", track) for c in checks}


async def analyze_once(config: Config, metrics: Metrics, service: str, weight: int | None,
                       *, at: float = 0.0) -> Verdict:
    """Poll ``service`` once over the configured window and judge it.

    When the source could not be asked at all the verdict is inconclusive and its reason is the source's
    problem, and ``not_asked`` carries its kind (→ exit 4); every other data problem (no data, one track
    missing, NaN) comes back as the judge's verdict on what there is (inconclusive → exit 3).
    """
    polled = await metrics.poll([service], config.window, {service: extra_queries(config, service)})
    result = polled.get(service) or ServiceMetrics(service=service, problem="no data", problem_kinds=(Problem.NO_DATA,))
    traffic = None if weight is None else tuple(w.requests if w is not None else 0.0
                                                for w in (result.canary, result.stable))
    verdict = judge.evaluate_metrics(config, phase_for_weight(config, weight), result, at=at or result.at,
                                     traffic=traffic)
    reason = verdict.reason
    if could_not_ask(result):
        reason = result.problem or UNREACHABLE
    elif result.problem and result.problem not in reason and not verdict.usable:
        reason = f"{reason} ({result.problem})"
    outcome = Outcome.INCONCLUSIVE if could_not_ask(result) else verdict.outcome
    return Verdict(outcome=outcome, checks=verdict.checks, reason=reason,
                   weight=verdict.weight if weight is None else weight, at=verdict.at, streaks=verdict.streaks,
                   problems=verdict.problems, not_asked=result.problem_kind if could_not_ask(result) else None)
