"""The pod watch under faults (issue 13, and issue 12's "list, then watch"): a proxy that buffers the watch
must not hang the first snapshot, and a server that ends every watch stream at once is reconnected to with
backoff and jitter, counted, never in a hot loop."""

from __future__ import annotations

import asyncio

from tests.kubedouble.harness import console_on, seeded_double
from tests.kubedouble.stepclock import StepClock


async def test_the_first_snapshot_never_waits_on_the_watch_streams_headers(tmp_path) -> None:
    async with seeded_double() as double:
        double.watch_headers_held = asyncio.Event()  # a buffering proxy: the watch's headers never come
        async with console_on(double, tmp_path) as cluster:
            snaps = await asyncio.wait_for(cluster.snapshot_all(["perception"]), timeout=10)
            assert len(snaps["perception"].pods) == 2 and snaps["perception"].problem is None
            double.watch_headers_held.set()


async def test_a_stream_that_ends_at_once_is_reconnected_with_jittered_backoff_not_a_hot_loop(tmp_path) -> None:
    clock = StepClock()
    async with seeded_double() as double:
        double.end_watches_at_once = True
        async with console_on(double, tmp_path, clock=clock) as cluster:
            await cluster.snapshot_all(["perception"])
            watcher = cluster.watcher
            await asyncio.wait_for(watcher.wait_for(lambda: watcher.reconnects >= 6), timeout=30)
            watches = [r for r in double.requests if r.query.get("watch") == "true"]
            waits = [s for s in clock.slept if s > 0]
    assert len(waits) >= len(watches) - 1  # every quick end waited before watching again
    assert len(watches) <= watcher.reconnects + 1
    assert waits[0] >= 0.5 and max(waits) > 2 * waits[0]  # it backs off
    assert len(set(waits)) > 1 and any(w not in (1.0, 2.0, 4.0, 8.0, 16.0, 30.0) for w in waits)  # jitter
    assert watcher.problem is None or "ended" in watcher.problem
