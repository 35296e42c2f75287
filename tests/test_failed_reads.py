"""A failed read is not an empty world (issue 13): an error listing any kind is a problem on every affected
service ("cannot list deployments: …503…"), `status` exits 4 instead of showing "no canary 0%", and an
emergency rollback still acts on what it can read. Faults injected on the API double."""

from __future__ import annotations

import json
from pathlib import Path

from console.adapters.kube_objects import WEIGHT
from tests.kubedouble.harness import console_on, seeded_double
from tests.test_cli_kube import _canary_at, _cli

DEPLOYMENT_LIST = r"/deployments$"


async def test_a_503_listing_deployments_is_a_problem_on_every_service_and_status_exits_4(tmp_path: Path) -> None:
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)
        double.fail(DEPLOYMENT_LIST, 503, times=10_000, method="GET")
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        code, out, err = await _cli("status", "--json", "--kubeconfig", str(kubeconfig))
    assert code == 4, out + err
    services = {s["name"]: s for s in json.loads(out)["services"]}
    for service in services.values():
        assert any("cannot list deployments" in p and "503" in p for p in service["problems"]), service
    assert services["perception"]["weight"] == 25  # what could be read (the Ingress) is still shown


async def test_the_adapter_names_each_kind_it_could_not_list(tmp_path: Path) -> None:
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await cluster.start_canary("perception", "1.2.4", 10)
        double.fail(r"/ingresses$", 500, times=10_000, method="GET")
        snap = (await cluster.snapshot_all(["perception", "capsule"]))["perception"]
    assert "cannot list ingresses" in snap.problem and "500" in snap.problem
    assert "ingresses" in snap.unread and "deployments" not in snap.unread
    assert snap.stable_version == "1.2.3" and snap.canary_version == "1.2.4"


async def test_an_emergency_rollback_acts_on_what_it_can_read_while_deployments_cannot_be_listed(
        tmp_path: Path) -> None:
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 50)
        double.fail(DEPLOYMENT_LIST, 503, times=10_000, method="GET")
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        code, out, err = await _cli("rollback", "perception", "--yes", "--kubeconfig", str(kubeconfig))
        weight = double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT]
        replicas = double.obj("deployments", "perception-canary")["spec"]["replicas"]
    assert code == 0, out + err
    assert (weight, replicas) == ("0", 0)
    assert "cannot list deployments" in err  # said, even though the rollback landed


async def test_a_slow_list_costs_one_check_interval_and_the_rollback_still_lands(tmp_path: Path) -> None:
    import time

    from console.engine.config import Config

    config = Config(check_interval=1)
    config.kube.lease_seconds = 86400.0
    async with seeded_double() as double, console_on(double, tmp_path, config=config) as cluster:
        await cluster.start_canary("perception", "1.2.4", 25)
        await cluster.snapshot_all(["perception"])
        double.slow[r"/deployments$"] = 20.0  # every Deployment list takes 20 s
        began = time.monotonic()
        snap = (await cluster.snapshot_all(["perception"]))["perception"]
        took = time.monotonic() - began
        await cluster.rollback("perception")
        weight = double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT]
    assert took < 5, took  # one request limit (the 1 s check interval), not 20 s nor retries of it
    assert "cannot list deployments" in snap.problem and "within 1s" in snap.problem, snap.problem
    assert snap.weight == 25 and snap.canary_exists
    assert weight == "0"
