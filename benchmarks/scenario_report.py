"""Benchmark room: the scenario set (tests/scenarios.py) through the policy (replay: the live controller and
judge) and through the runbook's canary-monitor.sh logic, printed as the markdown tables of docs/judging.md.

    python -m benchmarks.scenario_report [--seeds N] [--null N] [--null-step S] [--closed-loop] [--delays N]
                                         [--method fixed|sequential|both] [--jobs J]

Detection delay = the first rollback (or await_approval, for P99-only) decision − the fault's onset, on the
timeline's clock. ``--seeds N`` also replays the healthy low-traffic scenarios with N seeds each and counts
outcomes, since one seed is one draw. ``--null N`` replays N healthy rollouts across 2–2,000 rps at 10 s steps (``--null-step``)
(tests.scenarios.null_set) and counts false rollbacks and manual reviews (``--closed-loop``: their traffic
follows the policy's weight, as live traffic does, instead of a fixed recording's schedule); ``--delays N`` replays N error and
latency regressions at 10 s steps with onsets mid-phase (tests.scenarios.delay_set) and gives the median and
90th percentile of the detection delay. ``--method`` picks the analysis method (config ``analysis.method``);
``both`` prints every table once per method. ``--jobs`` replays in that many processes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import statistics
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

from console.engine.baseline import monitor_sh
from console.engine.config import Config
from console.engine.replay import closed_loop_async, replay_async
from console.engine.timeline import parse_timeline
from tests.scenarios import SCENARIOS, Scenario, delay_set, null_set, weight_at

METHODS = ("fixed", "sequential")
FELL_BEHIND = 300.0  # a window: longer behind the recording's weight and the tracks no longer fit the weight


def config_for(method: str | None) -> Config:
    """The default config with ``analysis.method`` set (None: the default method). The share of traffic is
    enforced: these timelines split their traffic by the same default phases the replay sets."""
    analysis = {"traffic_share": "enforce", **({"method": method} if method else {})}
    return Config.model_validate({"analysis": analysis})


def _delay(sc: Scenario, t: float | None) -> str:
    if t is None or sc.onset is None:
        return "—"
    return f"{(t - sc.onset) / 60:.1f} m"


@dataclasses.dataclass(frozen=True)
class Run:
    """One scenario through the policy: its outcome and when it first acted (rollback or review)."""

    name: str
    outcome: str
    acted: float | None
    spent: float
    decisions: tuple[tuple[float, str, int], ...] = ()  # (t, action, weight after it)
    end: float = 0.0
    closed: bool = False  # replayed in a closed loop: the traffic followed the policy's weight
    why: str = ""  # the first rollback's or review's weight and reason

    def kept_up_until(self, sc: Scenario) -> float:
        """When the replayed weight fell behind the recording's for longer than FELL_BEHIND (inf: never).
        A rollout that holds (thin data, a review) lags a fixed recording; from then on its tracks no longer
        carry the traffic its weight says, and what it does is graded on an artefact (docs/judging.md)."""
        if self.closed:
            return math.inf  # the traffic followed the weight: nothing to fall behind
        advances = [(t, after) for t, action, after in self.decisions if action == "advance"]
        t, weight, since = 0.0, 0, None
        while t <= self.end:
            weight = max([after for at, after in advances if at <= t], default=weight)
            if weight and weight_at(t, sc.config) > weight:
                since = t if since is None else since
                if t - since > FELL_BEHIND:
                    return since
            else:
                since = None
            t += sc.step
        return math.inf

    def graded(self, sc: Scenario) -> tuple[str, float | None]:
        """(outcome, first rollback or review) while the replay kept up with the recording."""
        cutoff = self.kept_up_until(sc)
        first = next(((t, action) for t, action, _ in self.decisions
                      if action in ("rollback", "await_approval", "pause") and t < cutoff), None)
        if first is not None:
            return {"rollback": "rolled_back", "await_approval": "awaiting_approval", "pause": "paused"}[first[1]], \
                first[0]
        if math.isinf(cutoff):
            return self.outcome, self.acted
        return "fell behind", None


def replay_one(sc: Scenario, method: str | None, closed: bool = False) -> Run:
    """Replay one scenario (a top-level function, so a process pool can run it); ``closed``: its traffic follows
    the policy's weight (replay.closed_loop_async) instead of the recording's schedule."""
    began = time.perf_counter()
    if closed:
        result = asyncio.run(closed_loop_async(config_for(method), sc.service, sc.times(), sc.feed()))
    else:
        result = asyncio.run(replay_async(config_for(method), parse_timeline(sc.lines())))
    spent = time.perf_counter() - began
    acted = next((d.t for d in result.decisions if d.action in ("rollback", "await_approval")), None)
    decisions = tuple((d.t, "pause" if d.reason.startswith("no usable data") else d.action,
                       int(d.values.get("to_weight", d.weight))) for d in result.decisions
                      if d.action in ("advance", "rollback", "await_approval", "promote")
                      or d.reason.startswith("no usable data"))
    why = next((f"at {d.weight} %: {d.reason}" for d in result.decisions if d.action in ("rollback", "await_approval")),
               "")
    return Run(sc.name, result.outcome, acted, spent, decisions, result.end, closed, why)


def replay_many(scenarios: list[Scenario], method: str | None, jobs: int, closed: bool = False) -> list[Run]:
    if jobs <= 1:
        return [replay_one(sc, method, closed) for sc in scenarios]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(replay_one, scenarios, [method] * len(scenarios), [closed] * len(scenarios),
                             chunksize=8))


def row(sc: Scenario, run: Run) -> str:
    timeline = parse_timeline(sc.lines())
    base = monitor_sh(timeline, sc.service)
    acted = run.acted
    policy = f"{run.outcome} at {acted / 60:.1f} m" if acted is not None and run.outcome != "promoted" \
        else run.outcome
    monitor = base.outcome if base.t is None else f"{base.outcome} at {base.t / 60:.1f} m"
    monitor_grade = sc.grade("rolled_back" if base.outcome == "rolled_back" else "promoted")
    return (f"| {sc.name} | {sc.truth}: {sc.description} | {policy} | {sc.grade(run.outcome)} | "
            f"{_delay(sc, acted) if sc.truth == 'regressed' else '—'} | {monitor} | {monitor_grade} | "
            f"{_delay(sc, base.t) if sc.truth == 'regressed' else '—'} |")


def scenario_table(method: str | None, jobs: int) -> list[str]:
    runs = replay_many(list(SCENARIOS), method, jobs)
    lines = ["| scenario | truth | policy | grade | detection delay | canary-monitor.sh | grade | delay |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [row(sc, run) for sc, run in zip(SCENARIOS, runs)]
    total = sum(r.spent for r in runs)
    lines.append(f"\n{len(SCENARIOS)} scenarios replayed in {total * 1000:.0f} ms "
                 f"({total / len(SCENARIOS) * 1000:.1f} ms each)")
    return lines


def seeds(count: int, method: str | None, jobs: int) -> list[str]:
    lines = []
    for name in ("healthy-low", "healthy-medium", "healthy-very-low"):
        base = next(s for s in SCENARIOS if s.name == name)
        runs = replay_many([dataclasses.replace(base, seed=100 + seed) for seed in range(count)], method, jobs)
        outcomes = Counter(r.outcome for r in runs)
        lines.append(f"- {name} over {count} seeds: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    return lines


def null_summary(count: int, method: str | None, jobs: int, step: float = 10.0, closed: bool = False) -> list[str]:
    """False rollbacks and manual reviews over ``count`` healthy rollouts, by traffic band."""
    scenarios = null_set(count, step=step)
    began = time.perf_counter()
    runs = replay_many(scenarios, method, jobs, closed)
    spent = time.perf_counter() - began
    bands = ((2, 20), (20, 200), (200, 2001))
    lines = ["| total rps | rollouts | promoted | false rollbacks | manual review | paused / incomplete | "
             "fell behind the recording | (after falling behind: rollbacks, reviews) |",
             "|---|---|---|---|---|---|---|---|"]
    for low, high in bands + ((2, 2001),):
        chosen = [(sc, r) for sc, r in zip(scenarios, runs) if low <= sc.rps < high]
        counted = Counter(r.graded(sc)[0] for sc, r in chosen)
        late = Counter(r.outcome for sc, r in chosen if r.graded(sc)[0] == "fell behind")
        label = "all" if (low, high) == (2, 2001) else f"{low}–{min(high, 2000)}"
        lines.append(f"| {label} | {len(chosen)} | {counted['promoted']} | {counted['rolled_back']} | "
                     f"{counted['awaiting_approval']} | {counted['paused'] + counted['incomplete']} | "
                     f"{counted['fell behind']} | {late['rolled_back']}, {late['awaiting_approval']} |")
    lines.append(f"\n{count} healthy rollouts replayed in {spent:.0f} s")
    for sc, run in zip(scenarios, runs):  # the wrong ones by name, so each can be replayed and read
        outcome, at = run.graded(sc)
        if outcome in ("rolled_back", "awaiting_approval"):
            lines.append(f"- {sc.name} ({sc.rps:g} rps): {outcome} at {at or 0:.0f} s {run.why}")
    return lines


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _seconds(value: float) -> str:
    return "not within 20 m" if math.isinf(value) else f"{value:.0f} s"


def delay_summary(count: int, method: str | None, jobs: int) -> list[str]:
    """Median and 90th percentile of the detection delay (a miss counts as infinitely late)."""
    scenarios = delay_set(count)
    runs = replay_many(scenarios, method, jobs)
    lines = ["| fault | regressions | median delay | 90th percentile | caught | promoted |", "|---|---|---|---|---|---|"]
    for kind in ("errors", "latency"):
        chosen = [(sc, r) for sc, r in zip(scenarios, runs) if sc.faults[0].kind == kind]
        delays = [r.acted - sc.onset if r.acted is not None and r.outcome != "promoted" and r.acted >= sc.onset
                  else math.inf for sc, r in chosen]
        early = sum(1 for sc, r in chosen if r.acted is not None and r.acted < sc.onset)
        caught = sum(1 for d in delays if not math.isinf(d))
        promoted = sum(1 for _, r in chosen if r.outcome == "promoted")
        lines.append(f"| {kind} | {len(chosen)} | {_seconds(statistics.median(delays))} | "
                     f"{_seconds(_percentile(delays, 0.9))} | {caught} | {promoted} |"
                     + (f" ({early} acted before the onset)" if early else ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=0)
    parser.add_argument("--null", type=int, default=0, help="healthy rollouts in the null set")
    parser.add_argument("--null-step", type=float, default=10.0, help="the null set's step (check interval)")
    parser.add_argument("--closed-loop", action="store_true",
                        help="the null set's traffic follows the policy's weight (no fixed recording to fall behind)")
    parser.add_argument("--delays", type=int, default=0, help="regressions in the detection-delay set")
    parser.add_argument("--method", choices=(*METHODS, "both", "default"), default="default")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--no-table", action="store_true", help="skip the named scenarios")
    args = parser.parse_args()
    methods: list[str | None] = list(METHODS) if args.method == "both" else \
        [None if args.method == "default" else args.method]
    for method in methods:
        print(f"## analysis.method: {method or 'default'}\n")
        if not args.no_table:
            print("\n".join(scenario_table(method, args.jobs)))
        if args.seeds:
            print("\n" + "\n".join(seeds(args.seeds, method, args.jobs)))
        if args.null:
            print(f"\nnull set at {args.null_step:g} s steps{', closed loop' if args.closed_loop else ''}\n")
            print("\n".join(null_summary(args.null, method, args.jobs, args.null_step, args.closed_loop)))
        if args.delays:
            print("\n" + "\n".join(delay_summary(args.delays, method, args.jobs)))
        print()


if __name__ == "__main__":
    main()
