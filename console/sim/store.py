"""Storage room of the simulated world: one track's per-second traffic in compact ring buffers.

Each second holds the 2xx, 500 and 503 counts, whether the track had pods, the latency sum and the
cumulative bucket counts, in ``array`` buffers that grow to the retention and then wrap. Totals since the
start (what a Prometheus exporter serves) are folded in as seconds are written, chunk by chunk.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from console.sim.latency import BUCKETS

NB = len(BUCKETS)


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
        self.ok = array("I")
        self.e500 = array("I")
        self.e503 = array("I")
        self.present = array("B")
        self.latency_sum = array("d")
        self.buckets = array("I")  # NB entries per second
        self.total = Totals()
        self._folded = origin
        # the last window summed of each length: (start, end, its counts); a window one poll later slides by
        # a second or two, so its counts are the last ones plus the seconds that came minus those that left
        self._windows: dict[int, tuple[int, int, list[int]]] = {}

    @property
    def rows(self) -> int:
        return len(self.ok)

    def put(self, ok: int, e500: int, e503: int, present: int, latency_sum: float,
            buckets: list[int]) -> None:
        """Write the next second (seconds are written strictly in order)."""
        if len(self.ok) < self.retention:
            self.ok.append(ok)
            self.e500.append(e500)
            self.e503.append(e503)
            self.present.append(present)
            self.latency_sum.append(latency_sum)
            self.buckets.extend(buckets)
        else:
            i = (self.end - self.origin) % self.retention
            self.ok[i] = ok
            self.e500[i] = e500
            self.e503[i] = e503
            self.present[i] = present
            self.latency_sum[i] = latency_sum
            self.buckets[i * NB:(i + 1) * NB] = array("I", buckets)
        self.end += 1

    def fold(self) -> None:
        """Add the seconds written since the last fold to the running totals (before they can wrap). Summed
        afresh, not through the sliding windows: a fold's length changes from one fold to the next, and
        remembering it would push the 5-minute window the polls slide out of their memory."""
        start, end = max(self._folded, self.origin, self.end - self.rows), self.end
        if end > start:
            self.total.add(self._totals(start, end, self._span_counts(start, end)))
        self._folded = self.end

    def sum(self, start: int, end: int) -> Totals:
        """Totals over seconds [start, end), clipped to what is still held."""
        start = max(start, self.origin, self.end - self.rows)
        end = min(end, self.end)
        totals = Totals()
        if end <= start:
            return totals
        totals.add(self._totals(start, end, self._counts(start, end)))
        return totals

    def counts(self, start: int, end: int) -> list[int]:
        """[ok, e500, e503, present, *buckets] over seconds [start, end), clipped to what is held: a window
        as a poll reads it (no latency sum, which only the exporter's running totals serve)."""
        start = max(start, self.origin, self.end - self.rows)
        end = min(end, self.end)
        if end <= start:
            return [0] * (4 + NB)
        return list(self._counts(start, end))

    def _totals(self, start: int, end: int, counts: list[int]) -> Totals:
        latency = 0.0
        for a, b in self._spans(start, end):
            latency += sum(self.latency_sum[a:b])
        return Totals(float(counts[0]), float(counts[1]), float(counts[2]), float(counts[3]), latency,
                      [float(c) for c in counts[4:]])

    def _counts(self, start: int, end: int) -> list[int]:
        """[ok, e500, e503, present, *buckets] over seconds [start, end), all held. Whole numbers, so a window
        slid from the last one of its length adds up to exactly what summing it afresh gives; the demo polls
        six services' 5-minute windows every second, and summing each afresh was much of its idle CPU."""
        length = end - start
        last = self._windows.get(length)
        if last is not None and last[0] <= start < last[1] and last[0] >= self.end - self.rows:
            counts = list(last[2])  # the seconds that left are still held: take them away
            for sign, a, b in ((1, last[1], end), (-1, last[0], start)):
                for i, value in enumerate(self._span_counts(a, b)):
                    counts[i] += sign * value
        else:
            counts = self._span_counts(start, end)
        if length not in self._windows and len(self._windows) >= 4:
            self._windows.clear()
        self._windows[length] = (start, end, counts)
        return counts

    def _span_counts(self, start: int, end: int) -> list[int]:
        counts = [0] * (4 + NB)
        for a, b in self._spans(start, end):
            if b - a <= 4:  # a few seconds: row by row
                for i in range(a, b):
                    row = (self.ok[i], self.e500[i], self.e503[i], self.present[i], *self.buckets[i * NB:(i + 1) * NB])
                    for j, value in enumerate(row):
                        counts[j] += value
            else:
                columns = (self.ok[a:b], self.e500[a:b], self.e503[a:b], self.present[a:b],
                           *(self.buckets[a * NB + j:b * NB:NB] for j in range(NB)))
                for j, column in enumerate(columns):
                    counts[j] += sum(column)
        return counts

    def _spans(self, start: int, end: int) -> list[tuple[int, int]]:
        if end <= start:
            return []
        a = (start - self.origin) % self.retention
        b = a + (end - start)
        if b <= self.retention:
            return [(a, b)]
        return [(a, self.retention), (0, b - self.retention)]
