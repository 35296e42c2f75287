"""The real controller and session driving the Kubernetes adapter against the API double: a rollout from
10 % to promoted, and a console dropped at 50 % whose successor resumes at 50 % with the elapsed time."""

from __future__ import annotations

from collections.abc import Sequence

from console.engine.model import ServiceMetrics, State, TrackWindow
from console.engine.session import Session
from tests.kubedouble.harness import console_on, seeded_double
from tests.kubedouble.stepclock import StepClock


class SteadyMetrics:
    """Both tracks healthy at 200 requests/s split by the canary weight read from the cluster."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.weights = weights

    async def poll(self, services: Sequence[str], window_s: float, extras=None) -> dict[str, ServiceMetrics]:
        out = {}
        for name in services:
            canary = 200 * window_s * self.weights.get(name, 0) / 100
            stable = 200 * window_s - canary
            out[name] = ServiceMetrics(name, stable=TrackWindow(stable, stable * 0.002, 0.15, 0.2, window_s),
                                       canary=TrackWindow(canary, canary * 0.002, 0.15, 0.2, window_s))
        return out

    async def history(self, services, window_s, since_s, step_s):
        return {name: [] for name in services}


async def _run(session: Session, clock: StepClock, metrics: SteadyMetrics, until) -> None:
    for _ in range(2000):
        snaps = await session.cluster.snapshot_all(["perception"])
        metrics.weights["perception"] = snaps["perception"].weight
        await session.step()
        if until(session.controllers["perception"].status):
            return
        clock.advance(session.config.check_interval)
    raise AssertionError("the rollout did not get there")


async def test_controller_rolls_out_to_promoted_through_the_adapter(tmp_path):
    clock = StepClock()
    async with seeded_double() as double, console_on(double, tmp_path, clock=clock) as cluster:
        metrics = SteadyMetrics({})
        session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
        result = await session.intent("perception", "start", version="1.2.4")
        assert result.ok, result.message
        start = clock.now()
        await _run(session, clock, metrics, lambda s: s.state is State.PROMOTED)
        assert 65 * 60 <= clock.now() - start <= 70 * 60  # 4 × 15 min + 5 min, one interval of slack each
        assert double.obj("deployments", "perception")["spec"]["template"]["spec"]["containers"][0][
            "image"].endswith(":1.2.4")
        assert double.obj("ingresses", "perception-canary") is None
        weights = [r for r in double.writes() if r.method == "PATCH" and r.path.endswith("/ingresses/perception-canary")]
        assert weights  # weight changes and record saves went to the canary Ingress


async def test_a_console_dropped_at_fifty_percent_resumes_there(tmp_path):
    clock = StepClock()
    async with seeded_double() as double:
        metrics = SteadyMetrics({})
        async with console_on(double, tmp_path, clock=clock, name="first") as first:
            session = Session(first.config, first, metrics, clock, actor=first.identity)
            assert (await session.intent("perception", "start", version="1.2.4")).ok
            await _run(session, clock, metrics, lambda s: s.weight == 50 and s.phase_elapsed >= 300)
            before = session.controllers["perception"].status
        clock.advance(30)  # the console is gone for half a minute
        async with console_on(double, tmp_path, clock=clock, name="second") as second:
            resumed = Session(second.config, second, metrics, clock, actor=second.identity)
            await resumed.step()
            status = resumed.controllers["perception"].status
            assert status.state is State.OBSERVING and status.weight == 50 and status.phase == before.phase
            assert before.phase_elapsed - 60 <= status.phase_elapsed <= before.phase_elapsed
            assert status.phase_elapsed >= 240
