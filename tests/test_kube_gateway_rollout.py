"""The real controller and session driving rollouts through the traffic routers on the API double: a whole
rollout with router: gateway (every weight seen on the HTTPRoute's backendRefs), an automatic rollback that
leaves canary weight 0, a fleet mixing three nginx and three gateway services in one session, and a rollout
started by the previous release (record on the canary Ingress) that resumes and moves into its ConfigMap."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from console.adapters import kube_objects as ko
from console.engine.config import Config
from console.engine.model import RolloutRecord, RolloutStatus, ServiceMetrics, State, TrackWindow
from console.engine.session import Session
from tests.kubedouble.gateway import backend_weights, gateway_config, seed_httproute
from tests.kubedouble.harness import console_on, seeded_double
from tests.kubedouble.stepclock import StepClock


class WeightedMetrics:
    """Both tracks at 200 requests/s split by each service's live weight; ``canary_errors`` per service."""

    def __init__(self, canary_errors: dict[str, float] | None = None) -> None:
        self.weights: dict[str, int] = {}
        self.canary_errors = canary_errors or {}

    async def poll(self, services: Sequence[str], window_s: float, extras=None) -> dict[str, ServiceMetrics]:
        out = {}
        for name in services:
            canary = 200 * window_s * self.weights.get(name, 0) / 100
            stable = 200 * window_s - canary
            errors = self.canary_errors.get(name, 0.002)
            out[name] = ServiceMetrics(name, stable=TrackWindow(stable, stable * 0.002, 0.15, 0.2, window_s),
                                       canary=TrackWindow(canary, canary * errors, 0.15, 0.2, window_s))
        return out

    async def history(self, services, window_s, since_s, step_s):
        return {name: [] for name in services}


async def _drive(session: Session, clock: StepClock, metrics: WeightedMetrics, services: list[str],
                 until: Callable[[dict[str, RolloutStatus]], bool], each: Callable[[], None] = lambda: None) -> None:
    for _ in range(3000):
        snaps = await session.cluster.snapshot_all(services)
        metrics.weights.update({s: snap.weight for s, snap in snaps.items()})
        await session.step()
        each()
        if until({s: session.controllers[s].status for s in services}):
            return
        clock.advance(session.config.check_interval)
    raise AssertionError("the rollouts did not get there")


async def test_a_whole_rollout_with_router_gateway_shows_every_weight_on_the_httproute(tmp_path):
    clock = StepClock()
    async with seeded_double() as double:
        seed_httproute(double, "nexus")
        async with console_on(double, tmp_path, clock=clock, config=gateway_config(["nexus"])) as cluster:
            metrics = WeightedMetrics()
            session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
            assert (await session.intent("nexus", "start", version="2.0.0")).ok
            seen: list[dict[str, int]] = []

            def look() -> None:
                route = double.obj("httproutes", "nexus")
                if len(route["spec"]["rules"][0]["backendRefs"]) == 2:
                    weights = backend_weights(double, "nexus")
                    if not seen or seen[-1] != weights:
                        seen.append(weights)

            look()  # deployed at 0 %
            await _drive(session, clock, metrics, ["nexus"], lambda s: s["nexus"].state is State.PROMOTED, look)
            assert [w["nexus-canary"] for w in seen] == [0, 10, 25, 50, 75, 100]
            assert all(w["nexus"] + w["nexus-canary"] == 100 for w in seen)
            route = double.obj("httproutes", "nexus")
            assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "nexus", "port": 8080, "weight": 100}]
            image = double.obj("deployments", "nexus")["spec"]["template"]["spec"]["containers"][0]["image"]
            assert image.endswith(":2.0.0")
            assert not [r for r in double.writes() if "/ingresses" in r.path]  # nginx untouched


async def test_an_automatic_rollback_with_router_gateway_leaves_canary_weight_zero(tmp_path):
    clock = StepClock()
    async with seeded_double() as double:
        seed_httproute(double, "plato")
        async with console_on(double, tmp_path, clock=clock, config=gateway_config(["plato"])) as cluster:
            metrics = WeightedMetrics({"plato": 0.08})  # 8 % of canary requests fail
            session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
            assert (await session.intent("plato", "start", version="3.0.0")).ok
            await _drive(session, clock, metrics, ["plato"], lambda s: s["plato"].state is State.ROLLED_BACK)
            assert backend_weights(double, "plato") == {"plato": 100, "plato-canary": 0}
            assert double.obj("deployments", "plato-canary")["spec"]["replicas"] == 0
            record = double.obj("configmaps", "plato-canary-rollout")["data"]
            assert record["state"] == "rolled_back" and record["weight"] == "0" and "pending-weight" not in record
            snap = (await cluster.snapshot_all(["plato"]))["plato"]
            assert snap.weight == 0 and snap.override is None


async def test_a_mixed_fleet_of_three_nginx_and_three_gateway_services_in_one_session(tmp_path):
    clock = StepClock()
    gateway, nginx = ["nexus", "plato", "synapse"], ["perception", "capsule", "odyssey"]
    async with seeded_double() as double:
        for service in gateway:
            seed_httproute(double, service)
        config = gateway_config(gateway, nginx)
        async with console_on(double, tmp_path, clock=clock, config=config) as cluster:
            metrics = WeightedMetrics()
            session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
            for service in gateway + nginx:
                assert (await session.intent(service, "start", version="9.0.0")).ok
            half: dict[str, int] = {}

            def at_fifty() -> None:
                if not half and all(session.controllers[s].status.weight == 50 for s in gateway + nginx):
                    half.update({s: backend_weights(double, s)[f"{s}-canary"] for s in gateway})
                    half.update({s: int(double.obj("ingresses", f"{s}-canary")["metadata"]["annotations"][ko.WEIGHT])
                                 for s in nginx})

            await _drive(session, clock, metrics, gateway + nginx,
                         lambda s: all(st.state is State.PROMOTED for st in s.values()), at_fifty)
            assert half == {s: 50 for s in gateway + nginx}
            snaps = await cluster.snapshot_all(gateway + nginx)
            assert {s: snaps[s].router.split(":")[0] for s in snaps} == {
                **{s: "gateway" for s in gateway}, **{s: "nginx" for s in nginx}}
            for service in gateway:
                assert len(double.obj("httproutes", service)["spec"]["rules"][0]["backendRefs"]) == 1
            for service in nginx:
                assert double.obj("ingresses", f"{service}-canary") is None
                assert double.obj("ingresses", service) is not None  # the stable Ingress stays


async def test_a_rollout_started_by_the_previous_release_resumes_and_moves_its_record(tmp_path):
    clock = StepClock()
    async with seeded_double() as double:
        config = Config()
        config.kube.lease_seconds = 86400.0
        async with console_on(double, tmp_path, clock=clock, name="old", config=config) as old:
            await old.start_canary("capsule", "5.0.0", 25)  # what the previous release left behind:
        ingress = double.obj("ingresses", "capsule-canary")  # weight and record on the canary Ingress
        record = RolloutRecord(State.OBSERVING, 1, 25, clock.now() - 300, 300.0, version="5.0.0",
                               verdict="pass", driver="old")
        ingress["metadata"]["annotations"].update(ko.record_annotations(record))
        double.store.put("ingresses", "butterfly", ingress, created=False)
        double.store.delete("leases", "butterfly", "canary-console-capsule")
        assert double.obj("configmaps", "capsule-canary-rollout") is None

        async with console_on(double, tmp_path, clock=clock, name="new", config=config) as new:
            metrics = WeightedMetrics()
            session = Session(new.config, new, metrics, clock, actor=new.identity, drive=["capsule"])
            await session.step()
            status = session.controllers["capsule"].status
            assert status.state is State.OBSERVING and status.weight == 25 and status.phase == 1
            assert status.phase_elapsed >= 300
            await _drive(session, clock, metrics, ["capsule"], lambda s: s["capsule"].weight == 50)
            cm = double.obj("configmaps", "capsule-canary-rollout")["data"]
            assert cm["weight"] == "50" and cm["state"] == "observing" and cm["router"] == "nginx"
            notes = double.obj("ingresses", "capsule-canary")["metadata"]["annotations"]
            assert not [k for k in notes if k.startswith(ko.PREFIX)]  # written no more, stale ones removed
            assert notes[ko.WEIGHT] == "50"
