"""`canary-console migrate-router SERVICE --to gateway` as a person runs it against the API double: prints
the HTTPRoute equivalent of the stable Ingress without a write, creates it with --apply, refuses while a
rollout is under way; and the translation's refusals on their own."""

from __future__ import annotations

import copy

import pytest
import yaml

from console.adapters.router_migrate import httproute_from_ingress
from tests.kubedouble.gateway import httproute_problem
from tests.kubedouble.harness import console_on, seeded_double
from tests.kubedouble.seed import stable_ingress
from tests.test_cli_kube import _cli


def test_the_httproute_says_what_the_ingress_says():
    ingress = stable_ingress("nexus")
    ingress["spec"]["rules"][0]["http"]["paths"].append(
        {"path": "/v2", "pathType": "Exact", "backend": {"service": {"name": "nexus", "port": {"number": 9090}}}})
    route = httproute_from_ingress(ingress, "nexus", name="nexus", gateway="edge", namespace="butterfly")
    assert route["spec"] == {"parentRefs": [{"name": "edge"}], "hostnames": ["nexus.butterfly.io"], "rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": "nexus", "port": 8080}]},
        {"matches": [{"path": {"type": "Exact", "value": "/v2"}}], "backendRefs": [{"name": "nexus", "port": 9090}]}]}
    assert httproute_problem(route) is None

    other_host = copy.deepcopy(ingress["spec"]["rules"][0])
    other_host["host"], other_host["http"]["paths"] = "api.butterfly.io", other_host["http"]["paths"][:1]
    ingress["spec"]["rules"].append(other_host)
    with pytest.raises(ValueError, match="different paths on different hosts"):
        httproute_from_ingress(ingress, "nexus", name="nexus", gateway="edge", namespace="butterfly")
    named_port = stable_ingress("nexus")
    named_port["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"name": "http"}
    with pytest.raises(ValueError, match="needs the port number"):
        httproute_from_ingress(named_port, "nexus", name="nexus", gateway="edge", namespace="butterfly")


async def test_migrate_router_prints_then_applies_and_refuses_mid_rollout(tmp_path):
    async with seeded_double() as double:
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        code, out, err = await _cli("migrate-router", "nexus", "--to", "gateway", "--gateway", "edge",
                                    "--kubeconfig", kubeconfig)
        assert code == 0, err
        printed = yaml.safe_load(out)
        assert printed["kind"] == "HTTPRoute" and printed["spec"]["parentRefs"] == [{"name": "edge"}]
        assert not double.writes() and double.obj("httproutes", "nexus") is None  # printing writes nothing

        code, out, err = await _cli("migrate-router", "nexus", "--to", "gateway", "--gateway", "edge", "--apply",
                                    "--kubeconfig", kubeconfig)
        assert code == 0, err
        assert double.obj("httproutes", "nexus")["spec"] == printed["spec"]
        assert double.obj("ingresses", "nexus") is not None  # the Ingress is the person's to remove
        code, _, err = await _cli("migrate-router", "nexus", "--to", "gateway", "--gateway", "edge",
                                  "--kubeconfig", kubeconfig)
        assert code == 2 and "HTTPRoute nexus exists already" in err

        async with console_on(double, tmp_path) as cluster:
            await cluster.start_canary("plato", "2.0.0", 10)
        writes = len(double.writes())
        code, _, err = await _cli("migrate-router", "plato", "--to", "gateway", "--gateway", "edge", "--apply",
                                  "--kubeconfig", kubeconfig)
        assert code == 2 and "plato has a rollout under way" in err and "Deployment plato-canary" in err
        assert len(double.writes()) == writes and double.obj("httproutes", "plato") is None
        code, _, err = await _cli("migrate-router", "plato", "--to", "gateway", "--kubeconfig", kubeconfig)
        assert code == 2 and "--gateway NAME" in err
