"""Two behaviours only a real API server shows: a pod watch that falls behind an etcd compaction gets
410 Gone and the console lists again without losing a pod; two consoles racing for one service through
the real Lease API: exactly one drives."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from pathlib import Path

import httpx
import pytest

from console.adapters.kube import connect
from console.engine.config import Config
from console.engine.ports import ReadOnlyError
from tests.controlplane.console_run import by_user, console, service_account
from tests.controlplane.launcher import NAMESPACE, ControlPlane
from tests.controlplane.stallproxy import StallProxy

pytestmark = pytest.mark.controlplane


def _pod_names(plane: ControlPlane, service: str) -> set[str]:
    out = plane.kubectl("get", "pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/name={service}", "-o", "json").stdout
    return {p["metadata"]["name"] for p in json.loads(out)["items"]}


def _admin(plane: ControlPlane) -> tuple[str, ssl.SSLContext]:
    config = json.loads(plane.admin_kubeconfig.read_text())
    context = ssl.create_default_context(cafile=str(plane.dir / "ca.crt"))
    return config["users"][0]["user"]["token"], context


async def test_a_watch_behind_a_compaction_gets_410_and_the_console_relists_without_losing_a_pod(
        controlplane: ControlPlane, tmp_path: Path) -> None:
    service = "nexus"
    host, port = controlplane.server.removeprefix("https://").split(":")
    proxy = await StallProxy(host, int(port)).start()
    kubeconfig = json.loads(controlplane.kubeconfigs["canary-console-watcher"].read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    (tmp_path / "kubeconfig").write_text(json.dumps(kubeconfig))
    cluster = await connect(Config(), read_only=True, kubeconfig=str(tmp_path / "kubeconfig"), namespace=NAMESPACE)
    try:
        before = await cluster.snapshot_all([service])
        assert {p.name for p in before[service].pods} == _pod_names(controlplane, service)
        # kubectl's -o json wraps a list in a List without a resourceVersion: ask the API itself
        listed = json.loads(controlplane.kubectl("get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods").stdout)
        old_rv = listed["metadata"]["resourceVersion"]
        assert old_rv

        proxy.stall()  # the console's watch falls behind: pods come and go, etcd compacts
        mark = controlplane.audit_mark()
        controlplane.kubectl("scale", "deploy", service, "-n", NAMESPACE, "--replicas=4")
        controlplane.kubectl("rollout", "status", "deploy", service, "-n", NAMESPACE, "--timeout=120s")
        controlplane.compact()

        token, context = _admin(controlplane)
        async with httpx.AsyncClient(verify=context, headers={"Authorization": f"Bearer {token}"}) as http:
            answer = await http.get(f"{controlplane.server}/api/v1/namespaces/{NAMESPACE}/pods",
                                    params={"watch": "true", "resourceVersion": old_rv, "timeoutSeconds": "2"})
        assert answer.status_code == 410 or '"code":410' in answer.text.replace(" ", ""), answer.text[:500]

        proxy.cut()  # the stream breaks; the console comes back with its old resourceVersion
        expected = _pod_names(controlplane, service)
        assert len(expected) == 4
        deadline = time.monotonic() + 60  # a bound against hanging, not a wait for time to pass
        seen: set[str] = set()
        while time.monotonic() < deadline:
            seen = {p.name for p in (await cluster.snapshot_all([service]))[service].pods}
            if seen == expected:
                break
            await asyncio.sleep(0.2)
        assert seen == expected
        relists = [e for e in by_user(controlplane.audit_events(mark), service_account("canary-console-watcher"))
                   if e["verb"] == "list" and e["objectRef"].get("resource") == "pods"]
        assert relists, "the console never listed again after its watch fell behind"
    finally:
        await cluster.aclose()
        await proxy.aclose()
        controlplane.kubectl("scale", "deploy", service, "-n", NAMESPACE, "--replicas=2")


async def _race(plane: ControlPlane, service: str) -> tuple[list[str], list[BaseException]]:
    """Two consoles start a canary of `service` at the same moment; returns (winners, errors)."""
    driver = str(plane.kubeconfigs["canary-console-driver"])
    consoles = [await connect(Config(), read_only=False, kubeconfig=driver, namespace=NAMESPACE, console_id=name)
                for name in ("console-a", "console-b")]
    try:
        results = await asyncio.gather(*(c.start_canary(service, "1.2.4", 10) for c in consoles),
                                       return_exceptions=True)
        won = [c.console_id for c, r in zip(consoles, results) if r is None]
        lease = json.loads(plane.kubectl("get", "lease", f"canary-console-{service}", "-n", NAMESPACE,
                                         "-o", "json").stdout)
        assert len(won) == 1 and lease["spec"]["holderIdentity"] == won[0], (results, lease["spec"])
        # a third console, the installed command line, is refused while the winner holds the lease
        refused = console("rollback", service, "--yes", "--kubeconfig", driver, "--namespace", NAMESPACE)
        # the winner drives it: the CLI's rollback is a request to the winner (issue 14), which here serves none
        assert refused.returncode == 3 and f"{won[0]} did not answer" in refused.stderr, refused.stderr
        return won, [r for r in results if r is not None]
    finally:
        for c in consoles:
            await c.aclose()
        for kind in ("deploy", "svc", "ingress"):
            plane.kubectl("delete", kind, f"{service}-canary", "-n", NAMESPACE, "--ignore-not-found")


async def test_two_consoles_race_for_one_service_and_exactly_one_drives(controlplane: ControlPlane) -> None:
    won, errors = await _race(controlplane, "synapse")
    assert len(errors) == 1


async def test_the_console_that_loses_the_race_is_told_who_drives(controlplane: ControlPlane) -> None:
    won, errors = await _race(controlplane, "odyssey")
    assert isinstance(errors[0], ReadOnlyError) and f"{won[0]} drives" in str(errors[0]), errors
