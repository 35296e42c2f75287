"""Benchmarks room: key press to the first API request of the action, in the simulated world. The real app
runs headless (run_test) over the seeded sim (all six healthy and observing); SimCluster's set_weight and
rollback are wrapped to stamp the wall time of the call. Advance = from pressing `a` to set_weight;
rollback = from the confirming `y` on the modal to rollback (and, separately, from `r` itself, which
includes drawing the modal). Each service once per action; the app's engine loop is off, so the figure is
the key → intent → controller → cluster path alone. Usage:
    python -m benchmarks.key_to_request
"""

from __future__ import annotations

import asyncio
import statistics
import time

from benchmarks.headless import SIZE, sim_session, start_all, step_for
from console.app import CanaryApp

TARGET_MS = 50


def stamp_calls(cluster, names: tuple[str, ...]) -> dict[str, list[float]]:
    stamps: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        original = getattr(cluster, name)

        async def stamped(*args, _original=original, _name=name, **kwargs):
            stamps[_name].append(time.perf_counter())
            return await _original(*args, **kwargs)
        setattr(cluster, name, stamped)
    return stamps


async def until_called(pilot, calls: list[float], count: int) -> None:
    while len(calls) < count:
        await pilot.pause()


async def run() -> None:
    session, clock, cluster, _metrics = sim_session("healthy")
    await start_all(session)
    await step_for(session, clock, 120)
    stamps = stamp_calls(cluster, ("set_weight", "rollback"))
    app = CanaryApp(session, autorun=False)
    advance, rollback, rollback_from_r = [], [], []
    async with app.run_test(size=SIZE) as pilot:
        app.flush()
        await pilot.pause()
        for index, _service in enumerate(session.config.service_names):
            started = time.perf_counter()
            await pilot.press("a")
            await until_called(pilot, stamps["set_weight"], index + 1)
            advance.append(stamps["set_weight"][-1] - started)
            app.flush()
            await pilot.press("j")
        for index, _service in enumerate(session.config.service_names):
            pressed_r = time.perf_counter()
            await pilot.press("r")
            started = time.perf_counter()
            await pilot.press("y")
            await until_called(pilot, stamps["rollback"], index + 1)
            rollback.append(stamps["rollback"][-1] - started)
            rollback_from_r.append(stamps["rollback"][-1] - pressed_r)
            app.flush()
            await pilot.press("j")
    for name, values in (("advance (a)", advance), ("rollback (y on the modal)", rollback),
                         ("rollback (r, modal, y)", rollback_from_r)):
        print(f"key → first request, {name}: median {statistics.median(values) * 1000:.1f} ms, "
              f"max {max(values) * 1000:.1f} ms over {len(values)} presses")
    worst = max(max(advance), max(rollback)) * 1000
    print(f"target <= {TARGET_MS} ms: {'met' if worst <= TARGET_MS else 'NOT met'} (worst {worst:.1f} ms)")


if __name__ == "__main__":
    asyncio.run(run())
