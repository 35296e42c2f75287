"""Benchmarks room: resident memory of the dashboard after an hour of simulated history and 10,000 log
lines per service. The real app runs headless (run_test) over the seeded simulated world on a virtual
clock: one session step per check interval for an hour (360 statuses per service, each flushed to the
screen), then each service's detail screen is opened and fed 10,000 lines through the same sink the log
worker uses, flushed to the Log widget. VmRSS is read from /proc/self/status. Usage:
    python -m benchmarks.memory_hour [--minutes 60] [--lines 10000]
"""

from __future__ import annotations

import argparse
import asyncio

from benchmarks.headless import SIZE, rss_mb, sim_session, start_all, step_for
from console.app import CanaryApp
from console.engine.model import Track
from console.engine.ports import LogLine
from screens.detail import ServiceDetailScreen
from widgets.log_view import LogView

TARGET_MB = 120


async def run(minutes: float, lines: int) -> None:
    session, clock, _cluster, _metrics = sim_session("mixed")
    before = rss_mb()
    await start_all(session)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(int(minutes * 60 / session.config.check_interval)):
            await step_for(session, clock, session.config.check_interval)
            app.flush()
            await pilot.pause()
        after_history = rss_mb()
        for service in session.config.service_names:
            await app.push_screen(ServiceDetailScreen(service, app.weights))
            await pilot.pause()
            view = app.screen.query_one(LogView)
            for n in range(lines):
                track = Track.CANARY if n % 4 == 0 else Track.STABLE
                view.feed(LogLine(pod=f"{service}-{track.value}-7d9f-x{n % 3}", track=track,
                                  text=f"INFO c.b.{service} request {n} served in {n % 250} ms"))
                if n % 500 == 499:
                    view.flush()
                    await pilot.pause()
            view.flush()
            await pilot.pause()
            app.pop_screen()
            await pilot.pause()
        after_logs = rss_mb()
        histories = {s: len(h) for s, h in app.histories.items()}
    print(f"RSS: {before:.0f} MB with the world built, {after_history:.0f} MB after {minutes:.0f} min of "
          f"simulated history ({min(histories.values())}–{max(histories.values())} points per service), "
          f"{after_logs:.0f} MB after {lines} log lines per service (target <= {TARGET_MB} MB: "
          f"{'met' if after_logs <= TARGET_MB else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run(args.minutes, args.lines))


if __name__ == "__main__":
    main()
