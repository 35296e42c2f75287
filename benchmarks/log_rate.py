"""Benchmarks room: how many log lines per second the detail screen keeps up with, and the longest gap
between frames meanwhile. The real app runs headless (run_test) with perception's detail screen open and its log view full screen (`l`); the
session's follow_logs is replaced by a source that yields LogLines at a fixed rate (wall time), so lines
travel the session's path: the app's `logs:<service>` worker → LogView.feed → its batched flush → Log.

"Keeps up" = the worker handed the view at least 99 % of the lines the source was due to emit and the
view's backlog stays bounded. A frame = one compositor refresh of the screen (hooked); the longest gap is
measured while the stream runs. The event loop's worst lateness (a 10 ms ticker) is printed too: it is
what a key press would wait. Usage:
    python -m benchmarks.log_rate [--seconds 3] [--rates 1000,5000,10000,20000,50000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator

from benchmarks.headless import SIZE, sim_session, start_all, step_for
from console.app import CanaryApp
from console.engine.model import Track
from console.engine.ports import LogLine
from screens.detail import ServiceDetailScreen
from widgets.log_view import LogView

TARGET_RATE, TARGET_GAP_MS = 10_000, 100


class Pace:
    """When the source may start, when it started, how many lines it sent, when it is done."""

    def __init__(self) -> None:
        self.go, self.done = asyncio.Event(), asyncio.Event()
        self.sent, self.started = 0, 0.0


def paced_source(rate: int, seconds: float, pace: Pace) -> AsyncIterator[LogLine]:
    async def lines(service: str, track: Track | None = None) -> AsyncIterator[LogLine]:
        await pace.go.wait()
        started = pace.started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            due = int(elapsed * rate)
            while pace.sent < due:
                n = pace.sent
                pace.sent += 1
                yield LogLine(pod=f"{service}-canary-7d9f-x{n % 3}", track=Track.CANARY,
                              text=f"INFO request {n} served in {n % 250} ms [trace {n:08x}]")
            await asyncio.sleep(0.002)
        pace.done.set()
    return lines


async def loop_lateness(stop: asyncio.Event, worst: list[float]) -> None:
    while not stop.is_set():
        expected = time.perf_counter() + 0.01
        await asyncio.sleep(0.01)
        worst[0] = max(worst[0], time.perf_counter() - expected)


async def one_rate(rate: int, seconds: float) -> tuple[float, float, float, int]:
    """(lines/s delivered to the view, longest frame gap ms, worst loop lateness ms, frames)."""
    session, clock, _cluster, _metrics = sim_session()
    await start_all(session)
    await step_for(session, clock, 60)
    pace = Pace()
    session.follow_logs = paced_source(rate, seconds, pace)  # type: ignore[method-assign]
    app = CanaryApp(session, autorun=False, freeze_gc=True)  # as the command line runs it
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.push_screen(ServiceDetailScreen("perception", app.weights))
        await pilot.pause()
        screen, view = app.screen, app.screen.query_one(LogView)
        screen.action_logs_full()  # `l`: the log view full screen, as someone watching a busy log would
        await pilot.pause()
        frames: list[float] = []
        refresh = screen._compositor_refresh

        def counted() -> None:
            refresh()
            frames.append(time.perf_counter())
        screen._compositor_refresh = counted  # type: ignore[method-assign]
        stop, worst = asyncio.Event(), [0.0]
        ticker = asyncio.create_task(loop_lateness(stop, worst))
        pace.go.set()
        await pace.done.wait()
        started = pace.started
        elapsed = time.perf_counter() - started
        stop.set()
        await ticker
        delivered = view.received
        stamps = [started, *[f for f in frames if f >= started], time.perf_counter()]
        gap = max(b - a for a, b in zip(stamps, stamps[1:]))
        view.flush()
        await pilot.pause()
    return delivered / elapsed, gap * 1000, worst[0] * 1000, len(frames)


async def run(rates: list[int], seconds: float) -> None:
    for rate in rates:
        delivered, gap, late, frames = await one_rate(rate, seconds)
        kept_up = delivered >= 0.99 * rate
        print(f"{rate:>6} lines/s offered: {delivered:8.0f} delivered/s ({'kept up' if kept_up else 'fell behind'}), "
              f"{frames} frames, longest frame gap {gap:4.0f} ms, worst loop lateness {late:4.0f} ms")
    print(f"targets: >= {TARGET_RATE} lines/s kept up with no frame gap over {TARGET_GAP_MS} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rates", default="1000,5000,10000,20000,50000")
    args = parser.parse_args()
    asyncio.run(run([int(r) for r in args.rates.split(",")], args.seconds))


if __name__ == "__main__":
    main()
