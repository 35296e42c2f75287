"""Benchmarks room: the simulated world on a virtual clock under the real app, headless (Textual's
run_test), for the benchmarks that drive the dashboard without a terminal. No benchmarks here, only the
set-up they share: a Session over the seeded sim, canaries started, stepped a check interval at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.engine.clock import VirtualClock  # noqa: E402
from console.engine.config import Config  # noqa: E402
from console.engine.session import Session  # noqa: E402
from console.sim import build_demo  # noqa: E402

START = 1_700_000_000.0
SIZE = (120, 40)


def sim_session(scenario: Any = "healthy", seed: int = 7,
                config: Config | None = None) -> tuple[Session, VirtualClock, Any, Any]:
    """(session, clock, SimCluster, SimMetrics) over the seeded simulated world."""
    config = config or Config()
    clock = VirtualClock(START)
    _world, cluster, metrics = build_demo(config, seed=seed, scenario=scenario, clock=clock)
    return Session(config, cluster, metrics, clock), clock, cluster, metrics


async def start_all(session: Session, version: str = "1.2.4") -> None:
    for service in session.config.service_names:
        await session.intent(service, "start", version=version)


async def step_for(session: Session, clock: VirtualClock, seconds: float) -> int:
    """One session step per check interval for ``seconds`` of virtual time; returns the steps taken."""
    end, steps = clock.now() + seconds, 0
    while clock.now() < end:
        await session.step()
        await clock.advance(session.config.check_interval)
        steps += 1
    return steps


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_with_count(doc: str, run: Callable[[int], Awaitable[None]], option: str, default: int) -> None:
    """The command line of a benchmark that takes one count (--seeds N, --steps N)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(f"--{option}", type=int, default=default)
    asyncio.run(run(getattr(parser.parse_args(), option)))
