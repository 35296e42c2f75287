"""The traffic routers on the real control plane with the Gateway API standard CRDs installed, driven by
the real controller and session in-process (the adapter over the driver Role's kubeconfig, with the
gateway variant Role bound as deploy/rbac.yaml says), every weight read back with the real kubectl:
a rollout 10→25→50→75→100→promote with router: gateway, an automatic rollback that leaves canary weight 0,
a hand edit of the HTTPRoute that pauses the rollout as an override naming the tool and is never written
over, a fleet mixing three nginx and three gateway services in one session, and a rollout started by the
previous release (record on the canary Ingress) that resumes. Time is virtual; only pods and rollouts of the real controllers are waited for (bounded)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml

from console.adapters import kube_objects as ko
from console.adapters.kube import KubeCluster, connect
from console.engine.config import Config
from console.engine.model import RolloutRecord, RolloutStatus, State
from console.engine.session import Session
from tests.kubedouble.gateway import gateway_config, stable_httproute
from tests.kubedouble.stepclock import StepClock
from tests.test_kube_gateway_rollout import WeightedMetrics

launcher = pytest.importorskip("tests.controlplane.launcher", reason="the real control plane is not in this tree")
ControlPlane = launcher.ControlPlane
NAMESPACE = launcher.NAMESPACE
pytestmark = pytest.mark.controlplane

DRIVER = "canary-console-driver"
GATEWAY_SERVICES = ["nexus", "plato", "synapse"]
NGINX_SERVICES = ["perception", "capsule", "odyssey"]
REAL_BOUND = 300.0  # seconds: a bound against hanging, not a wait for time to pass


class PacedClock(StepClock):
    """Virtual time, but every sleep also yields to the event loop for a moment of real time, so the
    adapter's polling loops (promote waiting on the real Deployment controller) poll rather than spin."""

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def gateway_plane(controlplane: ControlPlane) -> Iterator[ControlPlane]:
    """The session's control plane with the Gateway API standard CRDs, an HTTPRoute per gateway service,
    and the driver's ServiceAccount also bound to the gateway variant Role."""
    plane = controlplane
    plane.kubectl("apply", "--server-side", "-f", str(plane.binary.parent / "gateway-api-crds"))
    plane.kubectl("wait", "--for=condition=Established", "crd/httproutes.gateway.networking.k8s.io",
                  "--timeout=120s")
    plane.apply([{**stable_httproute(s), "metadata": {"name": s, "namespace": NAMESPACE}} for s in GATEWAY_SERVICES])
    plane.apply([{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": "driver-gateway-test-account", "namespace": NAMESPACE},
                  "subjects": [{"kind": "ServiceAccount", "name": DRIVER, "namespace": NAMESPACE}],
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                              "name": "canary-console-driver-gateway"}}])
    _clean(plane)
    yield plane
    _clean(plane)
    plane.seed()  # the stable Deployments back at the seeded version for the modules after this one


def _clean(plane: ControlPlane) -> None:
    """No canary, record or Lease of any service left by this module (or an earlier one)."""
    canaries = [f"{s}-canary" for s in GATEWAY_SERVICES + NGINX_SERVICES]
    for kind, names in (("deployment", canaries), ("service", canaries), ("ingress", canaries),
                        ("configmap", [f"{s}-canary-rollout" for s in GATEWAY_SERVICES + NGINX_SERVICES]),
                        ("lease", [f"canary-console-{s}" for s in GATEWAY_SERVICES + NGINX_SERVICES])):
        plane.kubectl("delete", kind, "-n", NAMESPACE, "--ignore-not-found", "--wait=false", *names)
    for service in GATEWAY_SERVICES:  # the HTTPRoute as the platform team wrote it
        route = {**stable_httproute(service), "metadata": {"name": service, "namespace": NAMESPACE}}
        plane.kubectl("replace", "-f", "-", input=json.dumps(_with_rv(plane, route)))


def _with_rv(plane: ControlPlane, route: dict) -> dict:
    live = json.loads(plane.kubectl("get", "httproute", route["metadata"]["name"], "-n", NAMESPACE, "-o", "json").stdout)
    route["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    return route


def kubectl_backends(plane: ControlPlane, service: str) -> dict[str, int]:
    """{backend: weight} of the HTTPRoute's first rule from `kubectl get httproute SERVICE -o yaml`."""
    out = plane.kubectl("get", "httproute", service, "-n", NAMESPACE, "-o", "yaml").stdout
    refs = yaml.safe_load(out)["spec"]["rules"][0]["backendRefs"]
    return {r["name"]: r.get("weight", 1) for r in refs}


@asynccontextmanager
async def driver(plane: ControlPlane, tmp_path: Path, config: Config, clock: StepClock,
                 name: str = "real-driver") -> AsyncIterator[KubeCluster]:
    config.kube.lease_seconds = 86400.0
    config.kube.promote_deadline = 86400.0
    cluster = await connect(config, read_only=False, kubeconfig=str(plane.kubeconfigs[DRIVER]), namespace=NAMESPACE,
                            clock=clock, console_id=name, renew_leases=False)
    try:
        yield cluster
    finally:
        await cluster.aclose()


_WAITING_ON_CONTROLLERS = (State.DEPLOYING, State.PROMOTING, State.ROLLING_BACK)


async def drive(session: Session, clock: StepClock, metrics: WeightedMetrics, services: list[str],
                until: Callable[[dict[str, RolloutStatus]], bool], each: Callable[[], None] = lambda: None) -> None:
    """Check after check; virtual time moves only while no service waits on the real controllers."""
    deadline = time.monotonic() + REAL_BOUND
    while time.monotonic() < deadline:
        snaps = await session.cluster.snapshot_all(services)
        metrics.weights.update({s: snap.weight for s, snap in snaps.items()})
        await session.step()
        each()
        statuses = {s: session.controllers[s].status for s in services}
        if until(statuses):
            return
        if any(s.state in _WAITING_ON_CONTROLLERS for s in statuses.values()):
            await asyncio.sleep(0.05)
        else:
            clock.advance(session.config.check_interval)
    raise AssertionError(f"not there within {REAL_BOUND:.0f}s: "
                         f"{ {s: session.controllers[s].status.state.value for s in services} }")


def _granted(*roles: str) -> set[tuple[str, str, str]]:
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(launcher.RBAC.read_text()) if d}
    return {(verb, group, resource) for name in roles for rule in docs[name]["rules"]
            for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"]}


async def test_a_gateway_rollout_10_to_100_then_promote_seen_with_kubectl(gateway_plane, tmp_path):
    from tests.controlplane.console_run import by_user, service_account, verb_resource

    mark = gateway_plane.audit_mark()
    clock = PacedClock()
    async with driver(gateway_plane, tmp_path, gateway_config(["nexus"]), clock) as cluster:
        metrics = WeightedMetrics()
        session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
        assert (await session.intent("nexus", "start", version="1.2.4")).ok
        seen: list[dict[str, int]] = []

        def look() -> None:
            weight = session.controllers["nexus"].status.weight
            if (not seen or seen[-1].get("nexus-canary") != weight) and session.controllers["nexus"].status.state \
                    is State.OBSERVING:
                seen.append(kubectl_backends(gateway_plane, "nexus"))

        await drive(session, clock, metrics, ["nexus"], lambda s: s["nexus"].state is State.PROMOTED, look)
        assert [w["nexus-canary"] for w in seen] == [10, 25, 50, 75, 100]
        assert all(w["nexus"] + w["nexus-canary"] == 100 for w in seen)
        assert kubectl_backends(gateway_plane, "nexus") == {"nexus": 100}  # promote leaves one backendRef
        gone = gateway_plane.kubectl("get", "configmap", "nexus-canary-rollout", "-n", NAMESPACE, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr
    used = {verb_resource(e) for e in by_user(gateway_plane.audit_events(mark), service_account(DRIVER))}
    assert ("patch", "gateway.networking.k8s.io", "httproutes") in used  # through the real authorizer
    assert used <= _granted(DRIVER, "canary-console-driver-gateway"), used - _granted(DRIVER, "canary-console-driver-gateway")
    assert not any(r == "httproutes" and v in ("create", "delete", "update") for v, _, r in used)


async def test_an_automatic_rollback_with_router_gateway_leaves_canary_weight_zero(gateway_plane, tmp_path):
    clock = PacedClock()
    async with driver(gateway_plane, tmp_path, gateway_config(["plato"]), clock) as cluster:
        metrics = WeightedMetrics({"plato": 0.08})
        session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
        assert (await session.intent("plato", "start", version="1.2.4")).ok
        await drive(session, clock, metrics, ["plato"], lambda s: s["plato"].state is State.ROLLED_BACK)
        assert kubectl_backends(gateway_plane, "plato") == {"plato": 100, "plato-canary": 0}
        record = json.loads(gateway_plane.kubectl("get", "configmap", "plato-canary-rollout", "-n", NAMESPACE,
                                                  "-o", "json").stdout)["data"]
        assert record["state"] == "rolled_back" and record["weight"] == "0" and "pending-weight" not in record
        await cluster.delete_canary("plato")
        assert kubectl_backends(gateway_plane, "plato") == {"plato": 100}


async def test_a_hand_edit_of_the_httproute_weights_pauses_the_rollout_as_an_override_never_written_over(
        gateway_plane, tmp_path):
    from tests.controlplane.console_run import by_user, service_account, writes

    clock = PacedClock()
    async with driver(gateway_plane, tmp_path, gateway_config(["synapse"]), clock) as cluster:
        metrics = WeightedMetrics()
        session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
        assert (await session.intent("synapse", "start", version="1.2.4")).ok
        await drive(session, clock, metrics, ["synapse"], lambda s: s["synapse"].weight == 25)
        patch = [{"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 100},
                 {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 0}]
        gateway_plane.kubectl("patch", "httproute", "synapse", "-n", NAMESPACE, "--type=json", "-p", json.dumps(patch))
        mark = gateway_plane.audit_mark()
        snap = (await cluster.snapshot_all(["synapse"]))["synapse"]
        assert snap.weight == 0 and snap.record is not None and snap.record.weight == 25
        assert snap.override == ("weight 0% on HTTPRoute synapse (Gateway butterfly-gateway) set outside the console "
                                 "by kubectl-patch (the console last set 25%)")  # managedFields name the tool
        assert snap.router == "gateway: HTTPRoute synapse (Gateway butterfly-gateway)"
        await drive(session, clock, metrics, ["synapse"], lambda s: s["synapse"].state is State.PAUSED)
        status = session.controllers["synapse"].status
        assert "weight set to 0 outside the console" in status.reason and "kubectl-patch" in status.reason, status.reason
        for _ in range(5):  # more checks, past a phase's worth of virtual time: nothing moves it back
            await session.step()
            clock.advance(session.config.phases[1].duration)
        await session.drain()
        assert kubectl_backends(gateway_plane, "synapse") == {"synapse": 100, "synapse-canary": 0}
        assert session.controllers["synapse"].status.state is State.PAUSED
        record = json.loads(gateway_plane.kubectl("get", "configmap", "synapse-canary-rollout", "-n", NAMESPACE,
                                                  "-o", "json").stdout)["data"]
        assert record["state"] == "paused" and record["weight"] == "0", record
        driver_writes = writes(by_user(gateway_plane.audit_events(mark), service_account(DRIVER)))
        assert not [w for w in driver_writes if w["objectRef"]["resource"] == "httproutes"], driver_writes
        events = json.loads(gateway_plane.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                                                  "involvedObject.name=synapse-canary", "-o", "json").stdout)["items"]
        overridden = [e for e in events if e["reason"] == "CanaryOverridden"]
        assert len(overridden) == 1 and overridden[0]["type"] == "Warning", [e["reason"] for e in events]
        assert "kubectl-patch" in overridden[0]["message"] and "25%" in overridden[0]["message"], overridden
        await cluster.rollback("synapse")
        await cluster.delete_canary("synapse")


async def test_a_fleet_of_three_nginx_and_three_gateway_services_in_one_session(gateway_plane, tmp_path):
    clock = PacedClock()
    fleet = GATEWAY_SERVICES + NGINX_SERVICES
    async with driver(gateway_plane, tmp_path, gateway_config(GATEWAY_SERVICES, NGINX_SERVICES), clock) as cluster:
        metrics = WeightedMetrics()
        session = Session(cluster.config, cluster, metrics, clock, actor=cluster.identity)
        for service in fleet:
            assert (await session.intent(service, "start", version="1.2.5")).ok, service
        at_fifty: dict[str, int] = {}

        def look() -> None:
            if not at_fifty and all(session.controllers[s].status.weight == 50 for s in fleet):
                at_fifty.update({s: kubectl_backends(gateway_plane, s)[f"{s}-canary"] for s in GATEWAY_SERVICES})
                for service in NGINX_SERVICES:
                    ingress = json.loads(gateway_plane.kubectl("get", "ingress", f"{service}-canary", "-n", NAMESPACE,
                                                               "-o", "json").stdout)
                    at_fifty[service] = int(ingress["metadata"]["annotations"][ko.WEIGHT])

        await drive(session, clock, metrics, fleet, lambda s: all(x.state is State.PROMOTED for x in s.values()), look)
        assert at_fifty == {s: 50 for s in fleet}
        for service in GATEWAY_SERVICES:
            assert kubectl_backends(gateway_plane, service) == {service: 100}
        for service in NGINX_SERVICES:
            gone = gateway_plane.kubectl("get", "ingress", f"{service}-canary", "-n", NAMESPACE, check=False)
            assert gone.returncode != 0


async def test_a_rollout_started_by_the_previous_release_resumes(gateway_plane, tmp_path):
    clock = PacedClock()
    config = Config()
    async with driver(gateway_plane, tmp_path, config, clock, name="previous-release") as old:
        await old.start_canary("capsule", "1.2.6", 25)  # weight and record on the canary Ingress, as before
    record = RolloutRecord(State.OBSERVING, 1, 25, clock.now() - 300, 300.0, version="1.2.6", verdict="pass",
                           driver="previous-release")
    notes = [f"{k}={v}" for k, v in ko.record_annotations(record).items()]
    gateway_plane.kubectl("annotate", "ingress", "capsule-canary", "-n", NAMESPACE, "--overwrite", *notes)
    gateway_plane.kubectl("delete", "lease", "canary-console-capsule", "-n", NAMESPACE, "--ignore-not-found")
    async with driver(gateway_plane, tmp_path, Config(), clock, name="upgraded") as new:
        metrics = WeightedMetrics()
        session = Session(new.config, new, metrics, clock, actor=new.identity, drive=["capsule"])
        await session.step()  # the first check resumes from the record it finds
        status = session.controllers["capsule"].status
        assert status.state is State.OBSERVING and status.weight == 25 and status.phase == 1
        await drive(session, clock, metrics, ["capsule"], lambda s: s["capsule"].weight == 50)
        cm = json.loads(gateway_plane.kubectl("get", "configmap", "capsule-canary-rollout", "-n", NAMESPACE,
                                              "-o", "json").stdout)["data"]
        assert cm["weight"] == "50" and cm["state"] == "observing" and cm["router"] == "nginx"
        ingress = json.loads(gateway_plane.kubectl("get", "ingress", "capsule-canary", "-n", NAMESPACE,
                                                   "-o", "json").stdout)
        notes_now = ingress["metadata"]["annotations"]
        assert notes_now[ko.WEIGHT] == "50" and not [k for k in notes_now if k.startswith(ko.PREFIX)]
        await new.rollback("capsule")
        await new.delete_canary("capsule")
