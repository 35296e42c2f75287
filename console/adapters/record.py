"""The record room (an adapter: it speaks PromQL): a timeline (docs/contracts.md) written from Prometheus
range queries, so a real incident can be replayed with another config.

For each step point T over the last ``since_s`` seconds (aligned to the step), with the configured query
templates rendered for one service and a range of one step: requests and errors are ``increase`` over
(T − step, T], P95 and P99 ``histogram_quantile`` over the same step. Each (T, track) that Prometheus has a
request count for becomes one line; a point without one is left out (no data), a NaN quantile is null.
``t`` is seconds from the start of the recording (the first line has t = step); ``at`` keeps the epoch time.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator
from console.adapters.prometheus import METRICS, PrometheusMetrics
from console.engine.catalog import MEASURED
from console.engine.config import Config


async def record(config: Config, metrics: PrometheusMetrics, service: str, since_s: float, step_s: float, *,
                 end: float | None = None) -> AsyncIterator[str]:
    """Yield timeline lines, oldest first, from ``metrics`` (``render``, ``query_range``); its MetricsError
    (Prometheus unreachable or warning) propagates for the CLI to turn into exit 4."""
    if step_s <= 0 or since_s < step_s:
        raise ValueError("record needs a step above 0 and --since at least one step")
    end = math.floor((time.time() if end is None else end) / step_s) * step_s
    start = end - math.floor(since_s / step_s) * step_s
    values: dict[str, dict[tuple[float, str], float | None]] = {}
    for name in METRICS:
        promql = metrics.render(name, [service], step_s)
        series = await metrics.query_range(promql, start + step_s, end, step_s)
        values[name] = {(round(at, 3), s.labels.get("track", "")): value
                        for s in series if s.labels.get("service") == service for at, value in s.points}
    for (at, track) in sorted(values["requests"], key=lambda key: (key[0], key[1] != "stable")):
        if track not in ("stable", "canary"):
            continue
        line = _line(service, track, at, start, values)
        if line is not None:
            yield line


def _line(service: str, track: str, at: float, start: float,
          values: dict[str, dict[tuple[float, str], float | None]]) -> str | None:
    requests = values["requests"].get((at, track))
    if requests is None:
        return None
    errors = min(values["errors"].get((at, track)) or 0.0, requests)
    measured = {name: _round(values[name].get((at, track)) if requests > 0 else None) for name in MEASURED}
    return json.dumps({"t": _tidy(at - start), "service": service, "track": track,
                       "requests": _tidy(requests), "errors": _tidy(errors),
                       **measured, "at": _tidy(at)},
                      separators=(", ", ": "))


def _tidy(value: float) -> float | int:
    value = round(value, 3)
    return int(value) if value.is_integer() else value


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
