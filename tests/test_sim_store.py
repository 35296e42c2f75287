"""Tests of the simulated world's storage room (console/sim/store.py): a window's totals are exactly what
summing its seconds one by one gives, whether it was summed afresh or slid from the last window of its
length, across the ring buffer's wrap; and a window one second later reads only the seconds that changed."""

from __future__ import annotations

import random
from dataclasses import replace

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


def test_a_window_one_second_later_reads_only_the_second_that_came_and_the_one_that_left(monkeypatch):
    store, rows = filled(retention=7200, seconds=900)
    store.sum(store.end - 300, store.end)
    store.put(*rows[-1][:5], rows[-1][5])
    rows.append(rows[-1])
    read: list[tuple[int, int]] = []
    original = TrackStore._span_counts

    def spying(self, start, end):
        read.append((start, end))
        return original(self, start, end)

    monkeypatch.setattr(TrackStore, "_span_counts", spying)
    got = store.sum(store.end - 300, store.end)
    assert read == [(store.end - 1, store.end), (store.end - 301, store.end - 300)]
    assert got == by_hand(store, rows, store.end - 300, store.end)


def test_folds_of_changing_lengths_leave_the_polls_window_sliding(monkeypatch):
    """A fold sums the seconds since the last one; its length changes from fold to fold (a poll advances the
    world by about ten seconds at --speed 10). Those lengths must not push the 5-minute window out of the
    store's memory: the next poll still reads only the seconds that came and left, and the totals agree."""
    store, rows = filled(retention=7200, seconds=900)
    store.fold()
    store.sum(store.end - 300, store.end)
    rng = random.Random(11)
    for length in (9, 10, 11, 12, 13):  # more lengths than the store remembers
        for _ in range(length):
            row = (rng.randrange(500), rng.randrange(9), rng.randrange(4), 1, rng.random() * 40,
                   [rng.randrange(900) for _ in range(NB)])
            store.put(*row)
            rows.append(row)
        store.fold()
    read: list[tuple[int, int]] = []
    original = TrackStore._span_counts

    def spying(self, start, end):
        read.append((start, end))
        return original(self, start, end)

    monkeypatch.setattr(TrackStore, "_span_counts", spying)
    got = store.sum(store.end - 300, store.end)
    came = sum((9, 10, 11, 12, 13))
    assert read == [(store.end - came, store.end), (store.end - 300 - came, store.end - 300)]
    assert got == by_hand(store, rows, store.end - 300, store.end)
    monkeypatch.undo()
    whole = by_hand(store, rows, store.origin, store.end)  # every second folded in once (the latency sum
    assert replace(store.total, latency_sum=0.0) == replace(whole, latency_sum=0.0)  # added fold by fold)
    assert store.total.latency_sum == pytest.approx(whole.latency_sum, rel=1e-12)


def test_counts_are_the_windows_totals_without_the_latency_sum():
    store, rows = filled(retention=400, seconds=700)
    for start, end in ((store.end - 300, store.end), (store.end - 1, store.end), (0, 10**9), (5, 4)):
        totals = by_hand(store, rows, start, end)
        assert store.counts(start, end) == [totals.ok, totals.e500, totals.e503, totals.present, *totals.buckets]
