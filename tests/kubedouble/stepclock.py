"""A virtual clock for tests of code that waits on I/O and on time together: ``sleep`` moves the clock
forward by the asked time at once (and yields), so backoff and polling loops run without waiting while every
delay they asked for is recorded and asserted on.
"""

from __future__ import annotations

import asyncio


class StepClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self._now += seconds
