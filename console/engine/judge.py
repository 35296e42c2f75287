"""The judge: pure functions from (config, phase, stable window, canary window) to a Verdict.

PLACEHOLDER SIGNATURE — being implemented; see docs/judging.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from console.engine.config import Config, Phase
from console.engine.model import ServiceMetrics, TrackWindow, Verdict


def evaluate(config: Config, service: str, phase: Phase, stable: TrackWindow | None,
             canary: TrackWindow | None, *, extras: Mapping[str, float | None] | None = None,
             canary_restarts: int = 0, previous: Verdict | None = None, at: float = 0.0) -> Verdict:
    """One analysis. ``stable`` is the window to compare with (the controller passes the last usable
    stable window at weight 100); ``extras`` the values of the service's extra checks; ``canary_restarts``
    the canary restarts during this phase (an anomaly in the late phase); ``previous`` the last verdict,
    whose ``streaks`` carry latency persistence."""
    raise NotImplementedError


def evaluate_metrics(config: Config, phase: Phase, metrics: ServiceMetrics, **kwargs) -> Verdict:
    """Convenience: evaluate() on one poll's ServiceMetrics."""
    return evaluate(config, metrics.service, phase, metrics.stable, metrics.canary,
                    extras=metrics.extras, **kwargs)
