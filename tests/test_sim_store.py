"""Tests of the simulated world's storage room (console/sim/store.py): a window's totals are exactly what
summing its seconds one by one gives, across the ring buffer's wrap, read from two rows of running counts
whatever its length; and the running totals hold every second written."""

from __future__ import annotations

import random

import pytest

from console.sim.store import NB, Totals, TrackStore


def filled(retention: int, seconds: int, seed: int = 3) -> tuple[TrackStore, list[tuple]]:
    rng = random.Random(seed)
    store, rows = TrackStore(retention, origin=1000), []
    for _ in range(seconds):
        row = (rng.randrange(500), rng.randrange(9), rng.randrange(4), rng.randrange(2), rng.random() * 40,
               [rng.randrange(900) for _ in range(NB)])
        store.put(*row)
        rows.append(row)
    return store, rows


def by_hand(store: TrackStore, rows: list[tuple], start: int, end: int) -> Totals:
    """The definition: clip to what is held, then add the seconds up in order (as the store did before)."""
    start = max(start, store.origin, store.end - store.rows)
    end = min(end, store.end)
    totals = Totals()
    if end > start:
        chosen = rows[start - store.origin:end - store.origin]
        totals.add(Totals(float(sum(r[0] for r in chosen)), float(sum(r[1] for r in chosen)),
                          float(sum(r[2] for r in chosen)), float(sum(r[3] for r in chosen)),
                          _in_order([r[4] for r in chosen], store, start, end),
                          [float(sum(r[5][j] for r in chosen)) for j in range(NB)]))
    return totals


def _in_order(values: list[float], store: TrackStore, start: int, end: int) -> float:
    """The latency sum as the ring buffer adds it: each held span on its own, then the spans together."""
    split = store.retention - (start - store.origin) % store.retention
    first, second = values[:split], values[split:]
    return (0.0 + sum(first)) + (sum(second) if second else 0.0)


def test_sliding_windows_add_up_exactly_like_summing_them_afresh_across_the_wrap():
    store, rows = filled(retention=400, seconds=0)
    rng = random.Random(5)
    for second in range(1500):
        row = (rng.randrange(500), rng.randrange(9), rng.randrange(4), rng.randrange(2), rng.random() * 40,
               [rng.randrange(900) for _ in range(NB)])
        store.put(*row)
        rows.append(row)
        if second % 7 == 0:
            store.fold()
        for length in (300, 60, 1):  # the demo's window, a shorter one, and a fold-sized one
            got = store.sum(store.end - length, store.end)
            assert got == by_hand(store, rows, store.end - length, store.end), (second, length)
    for start, end in ((0, 10**9), (store.end - 399, store.end), (store.end - 500, store.end - 100)):
        assert store.sum(start, end) == by_hand(store, rows, start, end)  # clipped to what is held


def test_a_window_reads_two_rows_of_running_counts_whatever_its_length(monkeypatch):
    """A window is the running counts at its end minus those before its start, as Prometheus's increase()
    reads a counter: two rows for a second or for five minutes (the demo reads twelve 5-minute windows every
    second; summing their seconds was much of its idle CPU), and exactly what adding the seconds up gives."""
    store, rows = filled(retention=400, seconds=900)  # wrapped: the oldest held second is 500
    read: list[int] = []
    original = TrackStore._row

    def spying(self, second):
        read.append(second)
        return original(self, second)

    monkeypatch.setattr(TrackStore, "_row", spying)
    for start, end in ((store.end - 300, store.end), (store.end - 1, store.end), (store.end - 400, store.end),
                       (store.end - 250, store.end - 30)):
        read.clear()
        got = store.counts(start, end)
        totals = by_hand(store, rows, start, end)
        assert got == [totals.ok, totals.e500, totals.e503, totals.present, *totals.buckets]
        assert len(read) <= 2, read  # the oldest held second's window reads the one row kept before it


def test_the_running_totals_are_every_second_once_and_the_latency_as_far_as_folded():
    """What the exporter serves: the counts of every second written (wrapped out of the buffer or not), and
    the latency sum folded chunk by chunk (the world folds after every chunk it writes)."""
    store, rows = filled(retention=400, seconds=0)
    rng = random.Random(11)
    for length in (9, 10, 11, 12, 13, 390, 380):  # more than the buffer holds, in all
        for _ in range(length):
            row = (rng.randrange(500), rng.randrange(9), rng.randrange(4), 1, rng.random() * 40,
                   [rng.randrange(900) for _ in range(NB)])
            store.put(*row)
            rows.append(row)
        store.fold()
    total = store.total
    assert total.ok == sum(r[0] for r in rows) and total.e503 == sum(r[2] for r in rows)
    assert total.buckets == [float(sum(r[5][j] for r in rows)) for j in range(NB)]
    assert total.present == float(len(rows))
    assert total.latency_sum == pytest.approx(sum(r[4] for r in rows), rel=1e-12)  # added fold by fold


def test_running_counts_past_32_bits_still_give_exact_windows_and_totals():
    """The running counts are held in 32 bits, modulo 2**32: past it (a busy service over months) a window is
    still exact, and the totals keep counting (the world folds every chunk it writes, at most half the
    retention: a fold, like a window, holds fewer than 2**32 of a count)."""
    store = TrackStore(100, origin=0)
    big = 1_000_000_000  # five such seconds pass 2**32; a 3-second window holds fewer
    for second in range(150):
        store.put(big if second % 2 else 7, 1, 0, 1, 0.5, [big] * NB)
        if second % 3 == 0:
            store.fold()
    store.fold()
    assert store.counts(140, 143) == [7 + big + 7, 3, 0, 3, *([3 * big] * NB)]
    assert store.total.ok == float(75 * big + 75 * 7) and store.total.buckets[0] == float(150 * big)


def test_counts_are_the_windows_totals_without_the_latency_sum():
    store, rows = filled(retention=400, seconds=700)
    for start, end in ((store.end - 300, store.end), (store.end - 1, store.end), (0, 10**9), (5, 4)):
        totals = by_hand(store, rows, start, end)
        assert store.counts(start, end) == [totals.ok, totals.e500, totals.e503, totals.present, *totals.buckets]
