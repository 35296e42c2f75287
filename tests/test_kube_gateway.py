"""The Gateway API router and the ConfigMap record against the API double: the HTTPRoute's two
backendRefs at every weight, rollback to 0, promote to one backendRef, a concurrent edit never clobbered,
a hand edit reported as an override, router: auto detection, and the weight arithmetic itself."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.adapters import kube_record as kr
from console.adapters.router_gateway import canary_share, with_weight, without_canary
from console.engine.config import Config, ConfigError, Service, load_config
from console.engine.model import RolloutRecord, State
from console.engine.ports import ClusterError
from tests.kubedouble.gateway import backend_weights, gateway_config, seed_httproute, stable_httproute
from tests.kubedouble.harness import console_on, seeded_double


def _rules(stable_weight: int | None = None) -> list[dict]:
    ref = {"name": "nexus", "port": 8080, **({"weight": stable_weight} if stable_weight is not None else {})}
    return [{"backendRefs": [ref]}, {"backendRefs": [{"name": "other", "port": 80}]}]


@pytest.mark.parametrize("stable_weight, total", [(None, 100), (1, 100), (100, 100), (1000, 1000)])
def test_weights_sum_to_the_rules_total_at_every_phase(stable_weight, total):
    rules = _rules(stable_weight)
    for weight in (0, 10, 25, 50, 75, 100, 0):
        rules = with_weight(rules, "nexus", "nexus-canary", weight)
        refs = {r["name"]: r["weight"] for r in rules[0]["backendRefs"]}
        assert refs["nexus"] + refs["nexus-canary"] == total
        assert canary_share({"spec": {"rules": rules}}, "nexus", "nexus-canary").weight == weight
        assert rules[1] == {"backendRefs": [{"name": "other", "port": 80}]}  # another service's rule untouched
    assert rules[0]["backendRefs"][1] == {"name": "nexus-canary", "port": 8080, "weight": 0}
    back = without_canary(rules, "nexus", "nexus-canary")
    assert back[0]["backendRefs"] == [{"name": "nexus", "port": 8080, "weight": total}]
    assert canary_share({"spec": {"rules": back}}, "nexus", "nexus-canary").exists is False


@given(st.one_of(st.none(), st.integers(0, 1_000_000)), st.lists(st.integers(0, 100), min_size=1, max_size=8))
def test_any_weight_reads_back_exactly_and_the_total_is_kept(stable_weight, weights):
    rules = _rules(stable_weight)
    total = max(1 if stable_weight is None else stable_weight, 100)
    for weight in weights:
        rules = with_weight(rules, "nexus", "nexus-canary", weight)
        assert canary_share({"spec": {"rules": rules}}, "nexus", "nexus-canary").weight == weight
        assert sum(r["weight"] for r in rules[0]["backendRefs"]) == total
    assert without_canary(rules, "nexus", "nexus-canary")[0]["backendRefs"][0]["weight"] == total


def test_router_config_is_validated_with_the_field_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("services:\n  - name: nexus\n    router: istio\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"field 'services.0.router'"):
        load_config(path)
    path.write_text("services:\n  - {name: nexus, router: gateway, route: nexus-public, gateway: edge}\n",
                    encoding="utf-8")
    service = load_config(path).service("nexus")
    assert (service.router, service.route, service.gateway) == ("gateway", "nexus-public", "edge")
    assert Config().service("perception").router == "nginx"  # unchanged for users who set nothing


async def test_gateway_rollout_moves_the_two_backendrefs_and_keeps_the_record_in_a_configmap(tmp_path):
    async with seeded_double() as double:
        seed_httproute(double, "nexus")
        async with console_on(double, tmp_path, config=gateway_config(["nexus"])) as cluster:
            await cluster.start_canary("nexus", "2.0.0", 0)
            assert double.obj("ingresses", "nexus-canary") is None  # no nginx object for a gateway service
            assert backend_weights(double, "nexus") == {"nexus": 100, "nexus-canary": 0}
            await cluster.save_record("nexus", RolloutRecord(State.DEPLOYING, 0, 0, 1.0, 0.0, version="2.0.0"))
            for weight in (10, 25, 50, 75, 100):
                await cluster.set_weight("nexus", weight)
                assert backend_weights(double, "nexus") == {"nexus": 100 - weight, "nexus-canary": weight}
                snap = (await cluster.snapshot_all(["nexus"]))["nexus"]
                assert snap.weight == weight and snap.override is None and snap.canary_exists
                data = double.obj("configmaps", "nexus-canary-rollout")["data"]
                assert data["weight"] == str(weight) and kr.PENDING not in data and data["router"] == "gateway"
            assert snap.router == "gateway: HTTPRoute nexus (Gateway butterfly-gateway)"
            assert snap.record is not None and snap.record.state is State.DEPLOYING and snap.record.weight == 100
            patches = [r for r in double.writes() if r.method == "PATCH" and "/httproutes/" in r.path]
            assert patches and all(r.content_type.startswith("application/merge-patch+json") for r in patches)

            await cluster.rollback("nexus")
            assert backend_weights(double, "nexus") == {"nexus": 100, "nexus-canary": 0}
            assert double.obj("deployments", "nexus-canary")["spec"]["replicas"] == 0
            assert double.obj("configmaps", "nexus-canary-rollout")["data"]["state"] == "rolling_back"

            await cluster.promote("nexus", "2.0.0")
            route = double.obj("httproutes", "nexus")
            assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "nexus", "port": 8080, "weight": 100}]
            assert route["spec"]["parentRefs"] == [{"name": "butterfly-gateway"}]  # the rest untouched
            for resource, name in (("deployments", "nexus-canary"), ("services", "nexus-canary"),
                                   ("configmaps", "nexus-canary-rollout")):
                assert double.obj(resource, name) is None
            await cluster.save_record("nexus", RolloutRecord(State.PROMOTED, 4, 100, 1.0, 0.0))
            assert double.obj("configmaps", "nexus-canary-rollout") is None  # nothing kept after cleanup


async def test_a_hand_edit_of_the_httproute_weights_is_an_override(tmp_path):
    async with seeded_double() as double:
        seed_httproute(double, "plato")
        async with console_on(double, tmp_path, config=gateway_config(["plato"])) as cluster:
            await cluster.start_canary("plato", "3.0.0", 0)
            await cluster.save_record("plato", RolloutRecord(State.OBSERVING, 1, 25, 1.0, 0.0, version="3.0.0"))
            await cluster.set_weight("plato", 25)
            route = double.obj("httproutes", "plato")
            route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 100  # kubectl edit: all traffic to stable
            route["spec"]["rules"][0]["backendRefs"][1]["weight"] = 0
            double.store.put("httproutes", "butterfly", route, created=False)
            writes = len(double.writes())
            snap = (await cluster.snapshot_all(["plato"]))["plato"]
            assert snap.weight == 0 and snap.record.weight == 25
            assert snap.override == "weight 0% on HTTPRoute plato (Gateway butterfly-gateway) set outside the " \
                                    "console (the console last set 25%)"
            assert len(double.writes()) == writes  # reported, never written over


async def test_a_concurrent_edit_is_never_clobbered(tmp_path):
    async with seeded_double() as double:
        seed_httproute(double, "odyssey")
        async with console_on(double, tmp_path, config=gateway_config(["odyssey"])) as cluster:
            await cluster.start_canary("odyssey", "1.0.0", 10)
            real_get = cluster._get

            async def get_then_person_edits(resource, name):
                found = await real_get(resource, name)
                if resource == "httproutes" and not edited:
                    edited.append(True)
                    route = double.obj("httproutes", "odyssey")
                    route["spec"]["rules"][0]["backendRefs"][1]["weight"] = 40  # between our read and write
                    route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 60
                    double.store.put("httproutes", "butterfly", route, created=False)
                return found

            edited: list[bool] = []
            cluster._get = get_then_person_edits
            with pytest.raises(ClusterError, match="canary weight changed to 40% while the console was writing"):
                await cluster.routers["odyssey"].set_weight(25)
            assert backend_weights(double, "odyssey") == {"odyssey": 60, "odyssey-canary": 40}
            conflicts = [r for r in double.writes() if r.method == "PATCH" and "/httproutes/" in r.path]
            assert conflicts  # the guarded write went out and was refused with 409, then not retried blindly

            cluster._get = real_get
            await cluster.routers["odyssey"].set_weight(25)  # no weight moved meanwhile: applied
            assert backend_weights(double, "odyssey") == {"odyssey": 75, "odyssey-canary": 25}


async def test_auto_detects_the_router_and_refuses_when_both_or_neither_fit(tmp_path):
    async with seeded_double() as double:
        seed_httproute(double, "nexus")  # gateway only
        seed_httproute(double, "plato", keep_ingress=True)  # both
        double.store.delete("ingresses", "butterfly", "capsule")  # neither
        config = Config(services=[Service(name=s, router="auto") for s in ("nexus", "plato", "capsule", "odyssey")])
        config.kube.lease_seconds = 86400.0
        async with console_on(double, tmp_path, config=config) as cluster:
            snaps = await cluster.snapshot_all(["nexus", "plato", "capsule", "odyssey"])
            assert snaps["nexus"].router == "gateway: HTTPRoute nexus (detected by router: auto)"
            assert snaps["odyssey"].router == "nginx: Ingress odyssey-canary (detected by router: auto)"
            assert snaps["plato"].problem == ("router auto: both Ingress plato and HTTPRoute plato route to plato; "
                                              "set router: nginx or router: gateway for plato")
            assert snaps["capsule"].problem.startswith("router auto: neither an Ingress nor HTTPRoute capsule")
            with pytest.raises(ClusterError, match="router auto: both Ingress plato") as caught:
                await cluster.start_canary("plato", "1.0.0", 0)
            assert caught.value.retryable is False
            assert double.obj("deployments", "plato-canary") is None  # refused before anything was made


async def test_auto_without_gateway_api_installed_or_readable_still_finds_nginx(tmp_path):
    async with seeded_double() as double:
        double.deny("list", "httproutes")
        config = Config(services=[Service(name="synapse", router="auto")])
        async with console_on(double, tmp_path, config=config) as cluster:
            snap = (await cluster.snapshot_all(["synapse"]))["synapse"]
            assert snap.problem is None and snap.router.startswith("nginx: Ingress synapse-canary")


async def test_the_gateway_router_refuses_a_route_on_another_gateway(tmp_path):
    async with seeded_double() as double:
        double.store.put("httproutes", "butterfly", stable_httproute("nexus", gateway="internal"), created=True)
        async with console_on(double, tmp_path, config=gateway_config(["nexus"])) as cluster:
            with pytest.raises(ClusterError, match="HTTPRoute nexus is not attached to Gateway butterfly-gateway "
                                                   r"\(parentRefs: internal\)"):
                await cluster.start_canary("nexus", "2.0.0", 0)
            assert len(double.obj("httproutes", "nexus")["spec"]["rules"][0]["backendRefs"]) == 1


def test_who_last_wrote_the_rules_comes_from_managed_fields():
    from console.adapters.router_gateway import rules_manager

    route = stable_httproute("nexus")
    assert rules_manager(route) is None
    route["metadata"]["managedFields"] = [
        {"manager": "canary-console", "time": "2026-11-30T10:00:00Z", "fieldsV1": {"f:spec": {"f:rules": {}}}},
        {"manager": "kubectl-patch", "time": "2026-11-30T10:05:00Z", "fieldsV1": {"f:spec": {"f:rules": {}}}},
        {"manager": "argocd", "time": "2026-11-30T11:00:00Z", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]
    assert rules_manager(route) == "kubectl-patch"
    assert canary_share(route, "nexus", "nexus-canary").changed_by == "kubectl-patch"


async def test_without_gateway_api_only_the_gateway_services_have_a_problem(tmp_path):
    async with seeded_double() as double:
        double.fail(r"/httproutes$", 404, times=10, method="GET")  # no CRD: the API server knows no such path
        async with console_on(double, tmp_path, config=gateway_config(["nexus"], ["perception"])) as cluster:
            snaps = await cluster.snapshot_all(["nexus", "perception"])
            assert snaps["perception"].problem is None and snaps["perception"].router == "nginx: Ingress perception-canary"
            assert snaps["nexus"].problem == "the cluster serves no httproutes (are the Gateway API CRDs installed?)"
