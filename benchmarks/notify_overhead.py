"""Benchmarks room: what notification sinks cost a rollout. The seeded simulated world gives perception an
error regression from 25 %; the same rollout runs on the virtual clock (a) with no sinks, (b) with Slack,
PagerDuty and webhook sinks posting to a loopback receiver that answers, (c) to one that hangs (each
request until its 0.5 s timeout), (d) to a port where nothing listens. Printed per run: the virtual
times of the weight changes and of the rollback (they must be identical), the wall time of the rollout's
own work, and the wall time the bus spent in the SinkHub per event (median, p99). Usage:
    python -m benchmarks.notify_overhead
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from console.engine.clock import VirtualClock
from console.engine.config import Config
from console.engine.notify_config import Notification
from console.engine.session import Session
from console.sim import build_demo
from console.wiring import add_notifications
from tests.receivers import Receiver, down_url

START = 1_700_000_000.0


def sinks_for(url: str, secrets: Path) -> list[Notification]:
    (secrets / "hmac").write_text("benchmark-key")
    os.environ["BENCH_PD_KEY"] = "benchmark-routing-key"
    os.environ["BENCH_SLACK_URL"] = url.rstrip("/") + "/services/x"
    common = {"timeout": 0.5, "retries": 2, "backoff": 1.0}
    return [Notification(type="slack", url_env="BENCH_SLACK_URL", **common),
            Notification(type="pagerduty", url=url.rstrip("/") + "/v2/enqueue", routing_key_env="BENCH_PD_KEY",
                         **common),
            Notification(type="webhook", url=url, secret_file=str(secrets / "hmac"), **common)]


async def one_run(label: str, url: str | None, tmp: Path) -> tuple[list, float, list[float]]:
    notifications = sinks_for(url, tmp) if url else []
    config = Config(notifications=notifications)
    clock = VirtualClock(start=START)
    _world, cluster, metrics = build_demo(config, seed=7, scenario={"perception": "error-regression"}, clock=clock)
    session = Session(config, cluster, metrics, clock, actor="bench")
    add_notifications(session, config)
    hub = session.sinks
    spent: list[float] = []
    original = hub.__call__

    def timed(event):
        began = time.perf_counter()
        original(event)
        spent.append(time.perf_counter() - began)
    session.bus._subscribers[session.bus._subscribers.index(hub)] = timed
    began = time.perf_counter()
    await session.intent("perception", "start", version="1.2.4")
    while clock.now() < START + 3600 and not cluster.call_times.get("rollback"):
        await session.step()
        await clock.advance(config.check_interval)
    wall = time.perf_counter() - began
    times = [round(t - START, 3) for t in cluster.call_times.get("set_weight", []) + cluster.call_times["rollback"]]
    health = [h.to_json() for h in hub.health() if h.kind in ("slack", "pagerduty", "webhook")]
    await hub.aclose()
    print(f"{label:<22} writes at {times} s; rollout {wall * 1000:7.1f} ms wall; hub per event: median "
          f"{statistics.median(spent) * 1e6:6.1f} µs, p99 {sorted(spent)[int(len(spent) * 0.99)] * 1e6:6.1f} µs "
          f"over {len(spent)} events; sinks {[(h['name'], h['delivered'], h['failed_attempts']) for h in health]}")
    return times, wall, spent


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Receiver("ok") as ok, Receiver("hang") as hanging:
        runs = [await one_run("no sinks", None, Path(tmp)),
                await one_run("receiver answers", ok.url(), Path(tmp)),
                await one_run("receiver hangs", hanging.url(), Path(tmp)),
                await one_run("receiver down", down_url(), Path(tmp))]
    same = all(r[0] == runs[0][0] for r in runs)
    print(f"virtual times of every weight change and the rollback identical in all runs: {same}")


if __name__ == "__main__":
    asyncio.run(main())
