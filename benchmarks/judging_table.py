"""Benchmark room for the judge: how many canary requests it needs to pass or to fail, how long an error
regression takes to detect at a given canary traffic, and what one evaluate() costs. Prints markdown
tables for docs/judging.md; every figure comes from console.engine.judge.evaluate itself.

    python benchmarks/judging_table.py
"""

from __future__ import annotations

import time

from console.engine.config import Config, Phase
from console.engine.judge import evaluate
from console.engine.model import Outcome, TrackWindow

CONFIG = Config()
STABLE = TrackWindow(requests=27_000, errors=135, p95=0.15, p99=0.30)  # 90 rps, 0.5 %, 5 minutes
ERROR_CHECKS = ("error_rate", "success_rate")


def phase(name: str) -> Phase:
    return next(p for p in CONFIG.phases if p.name == name)


def error_outcome(p: Phase, requests: int, rate: float) -> str:
    """'pass' / 'fail' / 'wait' from the error checks alone (latency is judged separately)."""
    canary = TrackWindow(requests=requests, errors=round(requests * rate), p95=0.15, p99=0.30)
    verdict = evaluate(CONFIG, "perception", p, STABLE, canary)
    results = [verdict.check(name).result.value for name in ERROR_CHECKS]
    if "fail" in results:
        return "fail"
    return "pass" if all(r == "pass" for r in results) else "wait"


def first_requests(p: Phase, rate: float, goal: str, cap: int = 200_000) -> int | None:
    """Smallest canary sample (on a 1.05× grid, then exact) at which the error checks reach ``goal``."""
    size, previous = 1, 0
    while size <= cap:
        if error_outcome(p, size, rate) == goal:
            for exact in range(previous + 1, size + 1):
                if error_outcome(p, exact, rate) == goal:
                    return exact
        previous, size = size, max(size + 1, int(size * 1.05))
    return None


def detection_delay(p: Phase, rps: float, bad: float, healthy: float = 0.005, step: float = 10.0) -> float | None:
    """Seconds after the onset of an error regression until a verdict fails, checking every ``step``
    seconds over the configured window, the canary at ``rps`` long before the onset."""
    window = CONFIG.window
    t = step
    while t <= 3 * window:
        bad_part = min(t, window)
        requests = rps * window
        errors = rps * (window - bad_part) * healthy + rps * bad_part * bad
        canary = TrackWindow(requests=requests, errors=errors, p95=0.15, p99=0.30)
        if evaluate(CONFIG, "perception", p, STABLE, canary).outcome is Outcome.FAIL:
            return t
        t += step
    return None


def cost_per_evaluate(repeat: int = 2000) -> float:
    canary = TrackWindow(requests=3000, errors=15, p95=0.15, p99=0.30)
    thin = TrackWindow(requests=300, errors=2, p95=0.15, p99=0.30)
    start = time.perf_counter()
    for i in range(repeat):
        evaluate(CONFIG, "perception", phase("early"), STABLE, canary if i % 2 else thin)
    return (time.perf_counter() - start) / repeat


def main() -> None:
    print("| phase | pass 0 % | pass 0.5 % | fail 2 % | fail 4 % | fail 10 % | fail 100 % |")
    print("|---|---|---|---|---|---|---|")
    for name in ("initial", "early", "mid", "late"):
        p = phase(name)
        cells = [first_requests(p, r, "pass") for r in (0.0, 0.005)] + [first_requests(p, r, "fail") for r in (0.02, 0.04, 0.10, 1.0)]
        print(f"| {name} ({p.weight} %) | " + " | ".join("never" if c is None else f"{c:,}" for c in cells) + " |")
    print()
    print("| canary traffic | 2 % errors | 4 % errors | 10 % errors | 100 % errors |")
    print("|---|---|---|---|---|")
    for rps in (10.0, 2.0, 0.5):
        delays = [detection_delay(phase("initial"), rps, bad) for bad in (0.02, 0.04, 0.10, 1.0)]
        print(f"| {rps:g} rps | " + " | ".join("not within 15 min" if d is None else f"{d:.0f} s" for d in delays)
              + " |")
    print()
    print(f"evaluate(): {cost_per_evaluate() * 1e3:.3f} ms per call (mean of a healthy and a thin canary)")


if __name__ == "__main__":
    main()
