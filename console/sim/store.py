"""Storage room of the simulated world: one track's per-second traffic in compact ring buffers.

Each second holds the running counts since the world began, as a Prometheus counter does: 2xx, 500 and 503
requests, seconds with pods and the cumulative bucket counts, all whole numbers; and the second's own latency
sum. A window's counts are the row at its end minus the row before its start: two rows, whatever its length
(the demo reads twelve 5-minute windows every second, and summing them was much of its idle CPU). The
buffers grow to the retention and then wrap, and hold the running counts modulo 2**32, so a difference is
exact while it is under 2**32 (a window or a fold covers at most the retention's seconds). The totals since
the start (what the exporter serves) are folded in as seconds are written, chunk by chunk.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from console.sim.latency import BUCKETS

NB = len(BUCKETS)
WIDTH = 4 + NB  # the counts a second holds: ok, e500, e503, present, then the buckets
MASK = (1 << 32) - 1


@dataclass(slots=True)
class Totals:
    """Sums over a span of seconds: counts by status, seconds with pods, latency sum, cumulative buckets."""

    ok: float = 0.0
    e500: float = 0.0
    e503: float = 0.0
    present: float = 0.0
    latency_sum: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * NB)

    @property
    def requests(self) -> float:
        return self.ok + self.e500 + self.e503

    def add(self, other: Totals) -> None:
        self.ok += other.ok
        self.e500 += other.e500
        self.e503 += other.e503
        self.present += other.present
        self.latency_sum += other.latency_sum
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets)]


class TrackStore:
    def __init__(self, retention: int, origin: int) -> None:
        self.retention = retention
        self.origin = origin  # the first second ever written
        self.end = origin  # seconds [origin, end) have been written
        self.latency_sum = array("d")  # each second's own
        # WIDTH per second: [ok, e500, e503, present, *buckets] since the origin, modulo 2**32 (32 bits a count,
        # as the per-second counts took before; a difference of two is exact while a window holds fewer than
        # 2**32 of a count, and a window holds at most the retention's seconds)
        self.running = array("I")
        self._last = [0] * WIDTH  # the newest second's running counts (modulo 2**32)
        self._before_oldest = [0] * WIDTH  # the running counts before the oldest second held
        self.total = Totals()  # since the origin, as far as folded (what the exporter serves)
        self._folded = origin

    @property
    def rows(self) -> int:
        return len(self.latency_sum)

    def put(self, ok: int, e500: int, e503: int, present: int, latency_sum: float,
            buckets: list[int]) -> None:
        """Write the next second (seconds are written strictly in order)."""
        self._write([(a + b) & MASK for a, b in zip(self._last, (ok, e500, e503, present, *buckets))], latency_sum)

    def put_served(self, ok: int, e500: int, present: int, latency_sum: float, n: int,
                   shares: tuple[float, ...], offset: float) -> None:
        """put() of a second whose ``n`` answered requests (no 503) fall into the buckets by their cumulative
        ``shares``: bucket i counts int(n * shares[i] + offset). Worked out straight into the running row, in
        one pass instead of two (the demo writes 120 such seconds every second of wall time)."""
        last = self._last
        row = [(last[0] + ok) & MASK, (last[1] + e500) & MASK, last[2], (last[3] + present) & MASK]
        row += [(a + int(n * s + offset)) & MASK for a, s in zip(last[4:], shares)]
        self._write(row, latency_sum)

    def put_quiet(self, present: int) -> None:
        """put() of a second without a request."""
        row = self._last.copy()
        row[3] = (row[3] + present) & MASK
        self._write(row, 0.0)

    def _write(self, row: list[int], latency_sum: float) -> None:
        """The next second's running counts and its own latency sum, into the ring."""
        if len(self.latency_sum) < self.retention:
            self.latency_sum.append(latency_sum)
            self.running.extend(row)
        else:
            i = (self.end - self.origin) % self.retention
            self._before_oldest = list(self.running[i * WIDTH:(i + 1) * WIDTH])  # the oldest second leaves
            self.latency_sum[i] = latency_sum
            self.running[i * WIDTH:(i + 1) * WIDTH] = array("I", row)
        self._last = row
        self.end += 1

    def fold(self) -> None:
        """Add the seconds written since the last fold to the running totals (before they can wrap)."""
        start, end = self._held(self._folded, self.end)
        if end > start:
            self.total.add(self._totals(start, end))
        self._folded = self.end

    def sum(self, start: int, end: int) -> Totals:
        """Totals over seconds [start, end), clipped to what is still held."""
        start, end = self._held(start, end)
        return self._totals(start, end) if end > start else Totals()

    def counts(self, start: int, end: int) -> list[int]:
        """[ok, e500, e503, present, *buckets] over seconds [start, end), clipped to what is held: a window
        as a poll reads it (no latency sum, which only the exporter's running totals serve)."""
        start, end = self._held(start, end)
        if end <= start:
            return [0] * WIDTH
        return self._counts(start, end)

    def _totals(self, start: int, end: int) -> Totals:
        """Totals over seconds [start, end), all held."""
        counts = self._counts(start, end)
        return Totals(float(counts[0]), float(counts[1]), float(counts[2]), float(counts[3]),
                      self._latency(start, end), [float(c) for c in counts[4:]])

    def _held(self, start: int, end: int) -> tuple[int, int]:
        return max(start, self.origin, self.end - self.rows), min(end, self.end)

    def _counts(self, start: int, end: int) -> list[int]:
        """The running counts after second end - 1 minus those before second ``start`` (both held)."""
        after = self._row(end - 1)
        before = self._before_oldest if start == self.end - self.rows else self._row(start - 1)
        return [(a - b) & MASK for a, b in zip(after, before)]

    def _row(self, second: int) -> array:
        i = (second - self.origin) % self.retention
        return self.running[i * WIDTH:(i + 1) * WIDTH]

    def _latency(self, start: int, end: int) -> float:
        latency = 0.0
        for a, b in self._spans(start, end):
            latency += sum(self.latency_sum[a:b])
        return latency

    def _spans(self, start: int, end: int) -> list[tuple[int, int]]:
        if end <= start:
            return []
        a = (start - self.origin) % self.retention
        b = a + (end - start)
        if b <= self.retention:
            return [(a, b)]
        return [(a, self.retention), (0, b - self.retention)]
