"""The catalog room: every metric the console reads per track and every check judged on them, described once
as data (name, unit, how it compares, which metrics it reads, how its query is composed from theirs).

The judge holds each check's rule (console/engine/judge.py); the metrics adapters render each metric's
query from the config's template (``prometheus.queries.<metric>``) and, with ``explain``, fill every
check's ``query`` for people to read; screens read the units from here through console.engine.model,
which re-exports it. docs/architecture.md ("Adding a check") lists what a new check touches.

Nothing here imports the config or does I/O (the command line loads this before pydantic).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    """What a number is, so it is shown the same way everywhere."""

    COUNT = "count"  # requests, errors, restarts: a whole number
    SECONDS = "seconds"  # a latency (shown in ms)
    FRACTION = "fraction"  # a rate from 0 to 1 (shown as a percentage)
    NUMBER = "number"  # anything else (a service's own check)


class Comparison(StrEnum):
    """What a check compares with its threshold."""

    DIFFERENCE = "difference"  # canary − stable (percentage points for rates)
    RATIO = "ratio"  # canary / stable − 1 (an increase, in %)
    ABSOLUTE = "absolute"  # the canary's own value


@dataclass(frozen=True, slots=True)
class Metric:
    """One per-track metric: a TrackWindow field, a timeline key and a query template of the config."""

    name: str
    unit: Unit
    about: str


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One canary-vs-stable check (or the canary alone): what it reads and how it reads out."""

    name: str
    uses: tuple[str, ...]  # the metrics it reads
    expression: str  # its query, composed from the metrics' queries: "{errors} / {requests}"
    unit: Unit  # of its canary and stable values
    comparison: Comparison  # what ``value`` is (the compared quantity)
    breach: str  # "above" or "below": the side of the threshold that breaches
    about: str


METRICS: tuple[Metric, ...] = (
    Metric("requests", Unit.COUNT, "requests in the window, by track"),
    Metric("errors", Unit.COUNT, "5xx responses in the window, by track"),
    Metric("p95", Unit.SECONDS, "95th percentile latency over the window, by track"),
    Metric("p99", Unit.SECONDS, "99th percentile latency over the window, by track"),
)

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("error_rate", ("errors", "requests"), "{errors} / {requests}", Unit.FRACTION, Comparison.DIFFERENCE,
              "above", "error rate increase: canary − stable, in percentage points"),
    CheckSpec("p95_latency", ("p95",), "{p95}", Unit.SECONDS, Comparison.RATIO, "above",
              "P95 increase: canary P95 / stable P95 − 1"),
    CheckSpec("p99_latency", ("p99",), "{p99}", Unit.SECONDS, Comparison.RATIO, "above",
              "P99 increase: canary P99 / stable P99 − 1"),
    CheckSpec("success_rate", ("errors", "requests"), "1 - {errors} / {requests}", Unit.FRACTION,
              Comparison.ABSOLUTE, "below", "canary success rate: non-5xx / total"),
    CheckSpec("canary_restarts", (), "", Unit.COUNT, Comparison.ABSOLUTE, "above",
              "canary restarts during a phase with 'any anomaly' (from the cluster, not a metric)"),
    CheckSpec("traffic_share", ("requests",), "", Unit.FRACTION, Comparison.ABSOLUTE, "below",
              "the canary's share of requests against the weight it was given"),
)

METRIC_NAMES = tuple(metric.name for metric in METRICS)
COUNTS = ("requests", "errors")  # every track window has them; the others may be missing (None)
MEASURED = tuple(name for name in METRIC_NAMES if name not in COUNTS)
CHECK_NAMES = tuple(check.name for check in CHECKS)
_BY_NAME = {check.name: check for check in CHECKS}


def check_spec(name: str) -> CheckSpec | None:
    """The description of a built-in check; None for a service's own check (its unit is a plain number)."""
    return _BY_NAME.get(name)


def unit_of(name: str) -> Unit:
    spec = check_spec(name)
    return spec.unit if spec is not None else Unit.NUMBER


def explain(templates: Mapping[str, str], service: str, window: str,
            extras: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each check's query for people to read, by check name: the metric templates (``${SERVICES}`` and
    ``${WINDOW}`` filled with one service and ``window``) composed by each check's expression, and a
    service's own checks' queries as they are asked (``${SERVICE}``, ``${TRACK}`` = canary, ``${WINDOW}``)."""
    rendered = {name: template.replace("${SERVICES}", service).replace("${WINDOW}", window)
                for name, template in templates.items()}
    queries = {check.name: check.expression.format(**rendered) for check in CHECKS
               if check.expression and all(name in rendered for name in check.uses)}
    for name, query in (extras or {}).items():
        queries[name] = (query.replace("${SERVICE}", service).replace("${TRACK}", "canary")
                         .replace("${WINDOW}", window))
    return queries
