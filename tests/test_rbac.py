"""deploy/rbac.yaml against what the adapter really sends (the API double's request log): the driver Role
covers an nginx rollout without any HTTPRoute right, the gateway variant adds exactly what a gateway
rollout needs, and the watcher Roles cover a read-only console's snapshot."""

from __future__ import annotations

from pathlib import Path

import yaml

from console.adapters.kube_api import describe
from console.engine.model import RolloutRecord, State
from tests.kubedouble.gateway import gateway_config, seed_httproute
from tests.kubedouble.harness import console_on, seeded_double

RBAC = Path(__file__).resolve().parent.parent / "deploy" / "rbac.yaml"


def _allowed(*roles: str) -> set[tuple[str, str]]:
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(RBAC.read_text(encoding="utf-8"))}
    return {(verb, resource) for name in roles for rule in docs[name]["rules"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def _sent(double, since: int = 0) -> set[tuple[str, str]]:
    return {describe(r.method, r.path, watch=r.query.get("watch") in ("true", "1"))[:2]
            for r in double.requests[since:]}


async def _rollout(cluster, service: str) -> None:
    await cluster.start_canary(service, "2.0.0", 0)
    await cluster.save_record(service, RolloutRecord(State.OBSERVING, 0, 10, 1.0, 0.0, version="2.0.0"))
    await cluster.set_weight(service, 10)
    await cluster.snapshot_all([service])
    await cluster.record_event(service, "rollback", "rolled back")
    await cluster.rollback(service)
    await cluster.delete_canary(service)
    await cluster.start_canary(service, "2.0.1", 0)
    await cluster.promote(service, "2.0.1")


async def test_the_driver_role_covers_an_nginx_rollout_without_httproutes(tmp_path):
    async with seeded_double() as double, console_on(double, tmp_path) as cluster:
        await _rollout(cluster, "perception")
        sent = _sent(double)
        assert sent <= _allowed("canary-console-driver"), sent - _allowed("canary-console-driver")
        assert not {r for _, r in sent if r == "httproutes"}


async def test_the_gateway_variant_adds_what_a_gateway_rollout_needs(tmp_path):
    async with seeded_double() as double:
        seed_httproute(double, "nexus")
        async with console_on(double, tmp_path, config=gateway_config(["nexus"])) as cluster:
            await _rollout(cluster, "nexus")
        sent = _sent(double)
        allowed = _allowed("canary-console-driver", "canary-console-driver-gateway")
        assert sent <= allowed, sent - allowed
        assert ("patch", "httproutes") in sent and not sent <= _allowed("canary-console-driver")


async def test_the_watcher_roles_cover_a_read_only_snapshot(tmp_path):
    async with seeded_double() as double:
        seed_httproute(double, "nexus")
        config = gateway_config(["nexus"], ["perception"])
        async with console_on(double, tmp_path, config=config, read_only=True) as cluster:
            await cluster.snapshot_all(["nexus", "perception"])
        sent = _sent(double)
        allowed = _allowed("canary-console-watcher", "canary-console-watcher-gateway")
        assert sent <= allowed, sent - allowed
