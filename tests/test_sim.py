"""Tests of the simulated world room: determinism, the traffic split, every scenario's fault, agreement
with the configured truth, cumulative counters, the SimCluster writes and failure injection, logs and
bounded memory. Virtual clock only; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from console.engine.clock import VirtualClock
from console.engine.config import Config
from console.engine.model import Track
from console.engine.ports import Cluster, ClusterError, Metrics
from console.sim import SimCluster, SimMetrics, SimWorld, UnknownScenario, build_demo
from console.sim.metrics import GAP_PROBLEM

T0 = 1_700_000_000.0
MIN = 60.0


def world_of(scenario, services=("perception",), seed=7, **kw) -> SimWorld:
    return SimWorld(seed=seed, scenario=scenario, start=T0, services=list(services), **kw)


def canary_at(world: SimWorld, weight: int, service="perception", t=T0) -> None:
    world.start_canary(service, "1.2.4", weight, t)


# ------------------------------------------------------------------ determinism and the split
def test_same_seed_same_windows_whatever_the_query_order():
    queries = [("perception", Track.CANARY, T0 + 600, 300), ("nexus", Track.STABLE, T0 + 300, 120),
               ("perception", Track.STABLE, T0 + 900, 300), ("synapse", Track.CANARY, T0 + 450, 60)]
    answers = []
    for order in (queries, list(reversed(queries))):
        world = world_of("mixed", ("perception", "nexus", "synapse"))
        for service in world.services:
            canary_at(world, 10, service)
        answers.append({q: world.window(*q) for q in order})
    assert answers[0] == answers[1]
    other = world_of("mixed", ("perception", "nexus", "synapse"), seed=8)
    for service in other.services:
        canary_at(other, 10, service)
    assert other.window(*queries[0]) != answers[0][queries[0]]


def test_many_small_advances_equal_one_big_one():
    stepwise, at_once = world_of("healthy"), world_of("healthy")
    canary_at(stepwise, 25)
    canary_at(at_once, 25)
    for i in range(1, 61):
        stepwise.advance_to(T0 + i * 10.5)
    assert stepwise.window("perception", "canary", T0 + 630, 600) == \
        at_once.window("perception", "canary", T0 + 630, 600)


@pytest.mark.parametrize("weight", [10, 25, 50, 75])
def test_canary_share_of_requests_follows_the_weight(weight):
    world = world_of("healthy")
    canary_at(world, weight)
    end = T0 + 15 * MIN  # the canary pod is Ready within 30 s; judge the traffic after that
    stable = world.window("perception", "stable", end, 10 * MIN)
    canary = world.window("perception", "canary", end, 10 * MIN)
    share = canary.requests / (canary.requests + stable.requests)
    assert share == pytest.approx(weight / 100, abs=0.015)
    assert canary.error_rate < 0.02  # a healthy canary behind a ready pod


def test_weight_100_leaves_stable_without_traffic_but_present():
    world = world_of("healthy")
    canary_at(world, 100)
    stable = world.window("perception", "stable", T0 + 10 * MIN, 5 * MIN)
    assert stable is not None and stable.requests == 0 and stable.p95 is None


def test_no_ready_canary_pod_means_its_share_gets_503s():
    world = world_of("healthy")
    canary_at(world, 50)
    pod = world.pods("perception", T0 + 1)[-1]
    assert pod.phase == "Pending" and not pod.ready
    early = world.window("perception", "canary", T0 + 10, 10)  # Ready only after 10–30 s
    assert early.requests > 100 and early.errors == early.requests
    assert world.counters("perception", "canary").requests["503"] == early.requests


def test_traffic_sent_once_the_canary_is_ready_gets_no_503_in_that_second():
    """The controller sends traffic the moment a snapshot shows the pod Ready, often within the same whole
    second the pod turned Ready: that second must not be charged as 503s (it once rolled back a canary)."""
    world = world_of("healthy")
    canary_at(world, 0)
    ready = next(T0 + i / 100 for i in range(1000, 3100) if world.pods("perception", T0 + i / 100)[-1].ready)
    assert ready % 1 > 0  # Ready mid-second: the case that went wrong
    world.set_weight("perception", 10, ready)
    served = world.window("perception", "canary", ready + 30, 30)
    assert served.requests > 100
    assert world.counters("perception", "canary").requests["503"] == 0


def test_a_never_started_canary_has_no_window():
    world = world_of("healthy")
    assert world.window("perception", "canary", T0 + 600, 300) is None
    assert not world.counters("perception", "canary").present


# ------------------------------------------------------------------ scenarios
def test_error_regression_appears_only_once_the_weight_reaches_25():
    world = world_of("error-regression")
    canary_at(world, 10)
    at_10 = world.window("perception", "canary", T0 + 20 * MIN, 15 * MIN)
    assert at_10.error_rate < 0.01
    world.set_weight("perception", 25, T0 + 20 * MIN)
    at_25 = world.window("perception", "canary", T0 + 35 * MIN, 15 * MIN)
    stable = world.window("perception", "stable", T0 + 35 * MIN, 15 * MIN)
    assert at_25.error_rate == pytest.approx(0.04, abs=0.006)
    assert stable.error_rate == pytest.approx(0.005, abs=0.0015)
    assert world.truth("perception", "canary")["error_rate"] == 0.04


def test_latency_regression_raises_canary_p95_by_60_percent():
    world = world_of("latency-regression", ("odyssey",))
    canary_at(world, 50, "odyssey")
    stable = world.window("odyssey", "stable", T0 + 20 * MIN, 15 * MIN)
    canary = world.window("odyssey", "canary", T0 + 20 * MIN, 15 * MIN)
    assert canary.p95 / stable.p95 == pytest.approx(1.6, abs=0.12)
    assert canary.error_rate < 0.01


def test_p99_regression_moves_p99_but_not_p95():
    world = world_of("p99-regression", ("nexus",))
    canary_at(world, 50, "nexus")
    stable = world.window("nexus", "stable", T0 + 20 * MIN, 15 * MIN)
    canary = world.window("nexus", "canary", T0 + 20 * MIN, 15 * MIN)
    assert canary.p99 / stable.p99 > 1.6
    assert canary.p95 / stable.p95 < 1.10


async def test_crashloop_canary_is_ready_then_restarts_with_backoff_and_its_share_fails():
    clock = VirtualClock(T0)
    world = world_of("crashloop", ("synapse",))
    cluster = SimCluster(world, clock)
    await cluster.start_canary("synapse", "1.2.4", 10)
    await clock.advance(45)
    canary = (await cluster.snapshot_all(["synapse"]))["synapse"].pods_of(Track.CANARY)[0]
    assert canary.ready and canary.restarts == 0
    await clock.advance(10 * MIN)
    snap = (await cluster.snapshot_all(["synapse"]))["synapse"]
    canary = snap.pods_of(Track.CANARY)[0]
    assert not canary.ready and canary.restarts >= 3 and snap.restarts(Track.CANARY) == canary.restarts
    restarts_seen = {world.pods("synapse", clock.now() + s)[-1].reason for s in range(0, 300, 5)}
    assert "CrashLoopBackOff" in restarts_seen
    late = world.window("synapse", "canary", clock.now(), 5 * MIN)
    assert late.errors == late.requests > 0
    assert world.counters("synapse", "canary").requests["503"] >= late.errors


def test_low_traffic_is_about_one_and_a_half_requests_per_second():
    world = world_of("low-traffic", ("plato",))
    canary_at(world, 25, "plato")
    stable = world.window("plato", "stable", T0 + 40 * MIN, 30 * MIN)
    canary = world.window("plato", "canary", T0 + 40 * MIN, 30 * MIN)
    assert (stable.requests + canary.requests) / (30 * MIN) == pytest.approx(1.5, rel=0.12)
    assert canary.requests < 50 * 30  # far too few to judge a P99 on


async def test_metrics_gap_from_4_to_12_minutes_after_the_canary_starts():
    clock = VirtualClock(T0)
    world = world_of("metrics-gap")
    cluster, metrics = SimCluster(world, clock), SimMetrics(world, clock)
    await clock.advance(MIN)
    await cluster.start_canary("perception", "1.2.4", 10)
    seen = {}
    for minute in (3, 5, 11, 13):
        await clock.run_until(T0 + MIN + minute * MIN)
        seen[minute] = (await metrics.poll(["perception"], 300))["perception"]
    for minute in (5, 11):
        assert seen[minute].problem == GAP_PROBLEM and seen[minute].stable is seen[minute].canary is None
    for minute in (3, 13):
        assert seen[minute].problem is None and seen[minute].stable.requests > 0
    assert world.metrics_gap("perception", T0 + MIN + 4 * MIN)
    assert not world.metrics_gap("perception", T0 + MIN + 12 * MIN)


def test_mixed_puts_healthy_on_perception_and_every_fault_somewhere():
    world = SimWorld(seed=7, scenario="mixed", start=T0)
    assert world.scenario_of("perception") == "healthy"
    named = "+".join(world.scenario_of(s) for s in world.services)
    for fault in ("error-regression", "latency-regression", "p99-regression", "crashloop", "low-traffic",
                  "metrics-gap"):
        assert fault in named
    assert SimWorld(scenario={"nexus": "crashloop"}, start=T0).scenario_of("nexus") == "crashloop"


def test_unknown_scenario_is_refused_with_the_choices():
    with pytest.raises(UnknownScenario, match="healthy"):
        SimWorld(scenario="slow-death", start=T0)


# ------------------------------------------------------------------ truth and counters
@pytest.mark.parametrize("service", ["perception", "capsule", "odyssey", "plato", "nexus", "synapse"])
def test_windows_agree_with_the_truth(service):
    """Tolerance: error rate within 0.1 pp over an hour; P95 and P99 within 6 % (bucket interpolation)."""
    world = world_of("healthy", (service,))
    hour = world.window(service, "stable", T0 + 3600, 3600)
    truth = world.truth(service, "stable")
    assert hour.error_rate == pytest.approx(truth["error_rate"], abs=0.001)
    assert hour.p95 == pytest.approx(truth["p95"], rel=0.06)
    assert hour.p99 == pytest.approx(truth["p99"], rel=0.06)
    assert 10 <= hour.rps <= 250


def test_perception_stable_errors_average_half_a_percent():
    world = world_of("healthy")
    two_hours = world.window("perception", "stable", T0 + 7200, 7200)
    assert two_hours.error_rate == pytest.approx(0.005, abs=0.0004)


def test_counters_are_cumulative_and_monotonic():
    world = world_of("healthy")
    canary_at(world, 25)
    previous = None
    for minute in range(1, 31, 3):
        world.advance_to(T0 + minute * MIN)
        counters = world.counters("perception", "canary")
        les = [le for le, _ in counters.buckets]
        assert les == sorted(les) and math.isinf(les[-1])
        assert counters.buckets[-1][1] == counters.count
        assert [c for _, c in counters.buckets] == sorted(c for _, c in counters.buckets)
        if previous:
            assert all(counters.requests[k] >= previous.requests[k] for k in counters.requests)
            assert all(a[1] >= b[1] for a, b in zip(counters.buckets, previous.buckets))
            assert counters.sum >= previous.sum and counters.count > previous.count
        previous = counters


# ------------------------------------------------------------------ SimCluster
async def test_cluster_and_metrics_implement_the_ports():
    clock = VirtualClock(T0)
    world, cluster, metrics = build_demo(Config(), 7, "mixed", clock)
    assert isinstance(cluster, Cluster) and isinstance(metrics, Metrics)
    assert world.services == Config().service_names


async def test_rollback_zeroes_canary_traffic_and_pods():
    clock = VirtualClock(T0)
    world = world_of("healthy")
    cluster = SimCluster(world, clock)
    await cluster.start_canary("perception", "1.2.4", 25)
    await clock.advance(5 * MIN)
    await cluster.rollback("perception")
    await clock.advance(2 * MIN)
    after = world.window("perception", "canary", clock.now(), 2 * MIN)
    assert after is None or after.requests == 0
    snap = (await cluster.snapshot_all(["perception"]))["perception"]
    assert snap.weight == 0 and snap.pods_of(Track.CANARY) == () and snap.canary_exists
    assert world.window("perception", "stable", clock.now(), MIN).rps > 100
    await cluster.delete_canary("perception")
    snap = (await cluster.snapshot_all(["perception"]))["perception"]
    assert not snap.canary_exists and snap.canary_version is None


async def test_promote_swaps_versions_and_replaces_pods():
    clock = VirtualClock(T0)
    world = world_of("healthy")
    cluster = SimCluster(world, clock)
    before = {p.name for p in (await cluster.snapshot_all(["perception"]))["perception"].pods}
    await cluster.start_canary("perception", "1.2.4", 100)
    await clock.advance(MIN)
    await cluster.promote("perception", "1.2.4")
    snap = (await cluster.snapshot_all(["perception"]))["perception"]
    assert (snap.stable_version, snap.canary_version, snap.canary_exists) == ("1.2.4", None, False)
    assert snap.ready_count(Track.STABLE) == (3, 3) and not before & {p.name for p in snap.pods}
    await clock.advance(MIN)
    assert world.window("perception", "stable", clock.now(), MIN).rps > 100


async def test_fail_next_raises_then_recovers_and_calls_are_counted():
    clock = VirtualClock(T0)
    cluster = SimCluster(world_of("healthy"), clock)
    await cluster.start_canary("perception", "1.2.4", 10)
    cluster.fail_next("rollback", times=2, error=ClusterError("API server unreachable"))
    for _ in range(2):
        with pytest.raises(ClusterError, match="unreachable"):
            await cluster.rollback("perception")
    assert (await cluster.snapshot_all(["perception"]))["perception"].weight == 10
    await cluster.rollback("perception")
    assert cluster.calls["rollback"] == 3 and cluster.calls["start_canary"] == 1
    assert (await cluster.snapshot_all(["perception"]))["perception"].weight == 0


async def test_writes_on_a_missing_canary_or_service_are_cluster_errors():
    cluster = SimCluster(world_of("healthy"), VirtualClock(T0))
    with pytest.raises(ClusterError) as missing:
        await cluster.set_weight("perception", 25)
    assert missing.value.status == 404 and not missing.value.retryable
    await cluster.start_canary("perception", "1.2.4", 10)
    with pytest.raises(ClusterError):
        await cluster.set_weight("perception", 130)
    with pytest.raises(ClusterError):
        await cluster.rollback("nosuch")


async def test_records_and_events_are_kept():
    from console.engine.model import RolloutRecord, State

    clock = VirtualClock(T0)
    cluster = SimCluster(world_of("healthy"), clock)
    record = RolloutRecord(State.OBSERVING, 1, 25, T0, 12.0, "1.2.4")
    await cluster.save_record("perception", record)
    await cluster.record_event("perception", "CanaryRollback", "error rate 4.1% > 1%")
    assert (await cluster.snapshot_all(["perception"]))["perception"].record == record
    assert cluster.events[0].reason == "CanaryRollback" and cluster.events[0].at == T0


async def test_logs_follow_on_the_clock_with_hostile_lines_and_stop_when_cancelled():
    clock = VirtualClock(T0)
    world = world_of("crashloop", ("synapse",))
    cluster = SimCluster(world, clock)
    await cluster.start_canary("synapse", "1.2.4", 10)
    lines = []

    async def follow():
        async for line in cluster.follow_logs("synapse"):
            lines.append(line)

    task = asyncio.create_task(follow())
    await clock.advance(5 * MIN)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(lines)
    await clock.advance(MIN)
    assert len(lines) == count  # nothing after cancellation
    text = "\n".join(line.text for line in lines)
    for hostile in ("[/bad]", "[@click=app.quit]", "\x1b[31m", "\x1b]0;pwned\x07"):
        assert hostile in text
    assert {line.track for line in lines} == {Track.STABLE, Track.CANARY}
    assert "Application run failed" in text  # the crash-looping canary says why
    assert all(" --- [" in line.text for line in lines)
    assert [line.at for line in lines] == sorted(line.at for line in lines)


# ------------------------------------------------------------------ SimMetrics
async def test_poll_counts_queries_like_prometheus_and_fills_extras():
    clock = VirtualClock(T0)
    world, cluster, metrics = build_demo(Config(), 7, "healthy", clock)
    for service in world.services:
        await cluster.start_canary(service, "1.2.4", 25)
    await clock.advance(10 * MIN)
    extras = {"perception": {"kafka_consumer_lag": "q"}, "nexus": {"gateway_overhead_p95": "q"},
              "synapse": {"tool_success_rate": "q", "made_up_check": "q"}}
    polled = await metrics.poll(world.services, 300, extras)
    assert metrics.queries == 4 + 4
    assert set(polled) == set(world.services)
    assert all(m.stable.requests > 0 and m.canary.requests > 0 for m in polled.values())
    assert 50 <= polled["perception"].extras["kafka_consumer_lag"] <= 200
    assert 0.01 < polled["nexus"].extras["gateway_overhead_p95"] < 0.05
    assert 0.99 < polled["synapse"].extras["tool_success_rate"] <= 1.0
    assert polled["synapse"].extras["made_up_check"] is None
    await metrics.poll(world.services, 300)
    assert metrics.queries == 8 + 4


async def test_a_poll_says_its_queries_as_explain_does_and_works_them_out_once(monkeypatch):
    """The queries a poll reports are explain()'s, every poll; the same service, window and checks are
    worked out once (the demo polls six services every second), and a caller's change to the dict it got
    changes nothing the next poll says."""
    clock = VirtualClock(T0)
    world, cluster, metrics = build_demo(Config(), 7, "healthy", clock)
    await cluster.start_canary("perception", "1.2.4", 25)
    await clock.advance(2 * MIN)
    extras = {"perception": {"kafka_consumer_lag": "sum(lag)"}}
    asked: list[str] = []
    original = SimMetrics.explain

    def counting(self, service, window_s, extras=None):
        asked.append(service)
        return original(self, service, window_s, extras)

    monkeypatch.setattr(SimMetrics, "explain", counting)
    first = await metrics.poll(world.services, 300, extras)
    first["perception"].queries["error_rate"] = "changed by a caller"
    await clock.advance(10)
    second = await metrics.poll(world.services, 300, extras)
    third = await metrics.poll(world.services, 60, extras)
    assert sorted(asked) == sorted(world.services * 2)  # the 300 s and the 60 s windows, each once
    for polled, window in ((second, 300), (third, 60)):
        for service in world.services:
            assert polled[service].queries == original(metrics, service, window, extras.get(service))
    assert "kafka_consumer_lag" in second["perception"].queries


async def test_history_gives_a_window_every_step():
    clock = VirtualClock(T0)
    world, cluster, metrics = build_demo(Config(), 7, "healthy", clock)
    await cluster.start_canary("perception", "1.2.4", 10)
    await clock.advance(30 * MIN)
    history = await metrics.history(["perception", "nexus"], 300, 20 * MIN, 60)
    assert [m.at for m in history["perception"]] == [clock.now() - 60 * i for i in range(20, -1, -1)]
    assert history["perception"][-1] == (await metrics.poll(["perception"], 300))["perception"]
    assert metrics.queries == 8


async def test_unreachable_prometheus_is_a_problem_not_an_exception():
    clock = VirtualClock(T0)
    world, _, metrics = build_demo(Config(), 7, "healthy", clock)
    metrics.unreachable = "connection refused"
    polled = await metrics.poll(world.services, 300)
    assert all(m.problem.startswith("Prometheus unreachable") and m.stable is None for m in polled.values())


# ------------------------------------------------------------------ memory
def test_memory_stays_bounded_after_a_long_run():
    world = world_of("healthy", ("perception", "nexus"), retention=900)
    canary_at(world, 10, "perception")
    world.advance_to(T0 + 3 * 3600)
    assert world.stored_buckets() == 2 * 2 * 900  # services × tracks × retained seconds
    recent = world.window("perception", "stable", T0 + 3 * 3600, 300)
    assert recent.rps > 80
    old = world.window("perception", "stable", T0 + 3600, 300)  # long gone: nothing held for it
    assert old is None or old.requests == 0
    assert world.counters("perception", "stable").count > 3 * 3600 * 80  # totals keep counting
