"""Benchmark room: the scenario set (tests/scenarios.py) through the policy (replay: the live controller and
judge) and through the runbook's canary-monitor.sh logic, printed as the markdown table of docs/judging.md.

    python -m benchmarks.scenario_report [--seeds N]

Detection delay = the first rollback (or await_approval, for P99-only) decision − the fault's onset, on the
timeline's clock. ``--seeds N`` also replays the healthy low-traffic scenarios with N seeds each and counts
outcomes, since one seed is one draw.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from collections import Counter

from console.engine.baseline import monitor_sh
from console.engine.config import Config
from console.engine.replay import replay_async
from console.engine.timeline import parse_timeline
from tests.scenarios import SCENARIOS, Scenario


def _delay(sc: Scenario, t: float | None) -> str:
    if t is None or sc.onset is None:
        return "—"
    return f"{(t - sc.onset) / 60:.1f} m"


async def row(sc: Scenario, config: Config) -> tuple[str, float]:
    timeline = parse_timeline(sc.lines())
    began = time.perf_counter()
    result = await replay_async(config, timeline)
    spent = time.perf_counter() - began
    acted = next((d.t for d in result.decisions if d.action in ("rollback", "await_approval")), None)
    base = monitor_sh(timeline, sc.service)
    policy = f"{result.outcome} at {acted / 60:.1f} m" if acted is not None and result.outcome != "promoted" \
        else result.outcome
    monitor = base.outcome if base.t is None else f"{base.outcome} at {base.t / 60:.1f} m"
    monitor_grade = sc.grade("rolled_back" if base.outcome == "rolled_back" else "promoted")
    line = (f"| {sc.name} | {sc.truth}: {sc.description} | {policy} | {sc.grade(result.outcome)} | "
            f"{_delay(sc, acted) if sc.truth == 'regressed' else '—'} | {monitor} | {monitor_grade} | "
            f"{_delay(sc, base.t) if sc.truth == 'regressed' else '—'} |")
    return line, spent


async def seeds(count: int, config: Config) -> list[str]:
    lines = []
    for name in ("healthy-low", "healthy-medium", "healthy-very-low"):
        base = next(s for s in SCENARIOS if s.name == name)
        outcomes: Counter[str] = Counter()
        for seed in range(count):
            sc = dataclasses.replace(base, seed=100 + seed)
            outcomes[(await replay_async(config, parse_timeline(sc.lines()))).outcome] += 1
        lines.append(f"- {name} over {count} seeds: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=0)
    args = parser.parse_args()
    config = Config()
    print("| scenario | truth | policy | grade | detection delay | canary-monitor.sh | grade | delay |")
    print("|---|---|---|---|---|---|---|---|")
    total = 0.0
    for sc in SCENARIOS:
        line, spent = await row(sc, config)
        total += spent
        print(line)
    print(f"\n{len(SCENARIOS)} scenarios replayed in {total * 1000:.0f} ms "
          f"({total / len(SCENARIOS) * 1000:.1f} ms each, 360 lines a scenario)")
    if args.seeds:
        print("\n" + "\n".join(await seeds(args.seeds, config)))


if __name__ == "__main__":
    asyncio.run(main())
