"""Benchmarks room: breach visible → rollback request on the virtual clock, default settings (10 s checks,
5 m window, 15 m phases). The seeded simulated world gives perception an error regression from 25 %
(the other five healthy); the Session steps once per check interval. Every poll the session makes is
also read by this benchmark: "breach visible" = the first poll at weight >= 25 % in which the canary's
error rate exceeds stable's by more than the phase's limit with at least judging.min_requests canary
requests; "rollback" = SimCluster's first rollback call (its call_times, on the same clock). Target:
within one check interval. Several seeds, since one seed is one draw. Usage:
    python -m benchmarks.breach_virtual [--seeds 5]
"""

from __future__ import annotations

import asyncio
import statistics

from benchmarks.headless import run_with_count, sim_session

SERVICE = "perception"


async def one_seed(seed: int) -> tuple[float, float]:
    """(seconds from breach visible to the rollback request, the check interval)."""
    session, clock, cluster, metrics = sim_session({SERVICE: "error-regression"}, seed=seed)
    config = session.config
    visible: list[float] = []
    poll = metrics.poll

    async def watched(services, window_s, extras=None):
        got = await poll(services, window_s, extras)
        status = session.controllers[SERVICE].status
        phase = next((p for p in config.phases if p.weight == status.weight), None)
        m = got.get(SERVICE)
        if not visible and phase is not None and status.weight >= 25 and m and m.canary and m.stable:
            limit = phase.error_rate_increase or config.criteria.error_rate_increase
            if m.canary.requests >= config.judging.min_requests and \
                    (m.canary.error_rate or 0) - (m.stable.error_rate or 0) > limit:
                visible.append(clock.now())
        return got
    metrics.poll = watched  # type: ignore[method-assign]
    await session.intent(SERVICE, "start", version="1.2.4")
    end = clock.now() + 3 * 3600
    while clock.now() < end and not cluster.call_times.get("rollback"):
        await session.step()
        if not cluster.call_times.get("rollback"):
            await clock.advance(config.check_interval)
    rolled = cluster.call_times.get("rollback")
    if not visible or not rolled:
        raise RuntimeError(f"seed {seed}: breach visible {visible}, rollback {rolled}")
    return rolled[0] - visible[0], config.check_interval


async def run(seeds: int) -> None:
    gaps = []
    for seed in range(7, 7 + seeds):
        gap, interval = await one_seed(seed)
        gaps.append(gap)
        print(f"seed {seed}: breach visible → rollback request {gap:.0f} s of virtual time")
    worst = max(gaps)
    print(f"virtual clock, {seeds} seeds: median {statistics.median(gaps):.0f} s, max {worst:.0f} s "
          f"(target <= one check interval, {interval:.0f} s: {'met' if worst <= interval else 'NOT met'})")


if __name__ == "__main__":
    run_with_count(__doc__, run, "seeds", 5)
