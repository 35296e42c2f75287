"""The installed command line against the Kubernetes API double, over real HTTP, as a person would run it:
status, a confirmed rollback that leaves an Event naming the actor, and a read-only action that is refused
without a single write request."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from console.adapters.kube_objects import WEIGHT
from console.engine.clock import RealClock
from tests.kubedouble.harness import SERVICES, console_on, seeded_double

EXE = shutil.which("canary-console")


PLAIN_HTTP = {"CANARY_CONSOLE_KUBE__ALLOW_TOKEN_OVER_HTTP": "true"}  # the double serves plain http on loopback


async def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
    process = await asyncio.create_subprocess_exec(
        *command, *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **PLAIN_HTTP, **(env or {})})
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


async def _canary_at(double, tmp_path: Path, weight: int) -> None:
    async with console_on(double, tmp_path, name="seeder") as cluster:
        await cluster.start_canary("perception", "1.2.4", weight)


async def test_status_json_lists_pods_per_track_and_the_weight(tmp_path: Path) -> None:
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        code, out, err = await _cli("status", "--kubeconfig", str(kubeconfig), "--namespace", "butterfly",
                                    "--json")
    assert code == 3, err  # perception's canary has no rollout record: paused, waiting for a person (exit 3)
    data = json.loads(out)
    services = {s["name"]: s for s in data["services"]}
    assert list(services) == list(SERVICES)
    perception = services["perception"]
    assert perception["weight"] == 25
    assert perception["stable"]["version"] == "1.2.3" and perception["canary"]["version"] == "1.2.4"
    assert len(perception["stable"]["pods"]) == 2
    assert all({"name", "ready", "phase", "restarts"} <= set(p) for p in perception["stable"]["pods"])
    assert services["plato"]["state"] == "idle" and services["plato"]["weight"] == 0


async def test_rollback_yes_sets_weight_0_scales_to_0_and_records_the_actor(tmp_path: Path) -> None:
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 50)
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        code, out, err = await _cli("rollback", "perception", "--yes", "--kubeconfig", str(kubeconfig))
        ingress = double.obj("ingresses", "perception-canary")
        deploy = double.obj("deployments", "perception-canary")
        events = double.store.list("events", "butterfly")
    assert code == 0, out + err
    assert ingress["metadata"]["annotations"][WEIGHT] == "0"
    assert deploy["spec"]["replicas"] == 0
    messages = [e.get("message", "") for e in events if e.get("involvedObject", {}).get("name") == "perception-canary"]
    assert any("rollback" in m and double.user in m for m in messages), messages
    assert all(double.token not in m for m in messages)


async def test_read_only_pause_is_refused_and_sends_no_write(tmp_path: Path) -> None:
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)
        before = len(double.writes())
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        code, out, err = await _cli("pause", "perception", "--read-only", "--kubeconfig", str(kubeconfig))
        after = len(double.writes())
    assert code == 2
    assert "read-only" in err
    assert after == before


async def test_unreachable_api_server_exits_4_without_a_traceback(tmp_path: Path) -> None:
    async with seeded_double() as double:
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
    code, out, err = await _cli("status", "--kubeconfig", str(kubeconfig), "--json")
    assert code == 4, out + err
    assert "Traceback" not in err and "unreachable" in err.lower()


async def test_delete_canary_is_a_separate_confirmed_step_after_rollback(tmp_path: Path) -> None:
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        refused = await _cli("delete-canary", "perception", "--kubeconfig", kubeconfig)  # no --yes, no terminal
        assert double.obj("deployments", "perception-canary") is not None
        code, out, err = await _cli("rollback", "perception", "--yes", "--kubeconfig", kubeconfig)
        assert code == 0, err
        assert double.obj("ingresses", "perception-canary") is not None  # rollback alone deletes nothing
        code, out, err = await _cli("delete-canary", "perception", "--yes", "--kubeconfig", kubeconfig)
        gone = [double.obj(kind, "perception-canary") for kind in ("deployments", "services", "ingresses")]
    assert refused[0] == 2 and "--yes" in refused[2]
    assert code == 0, out + err
    assert gone == [None, None, None]


async def test_take_over_a_service_another_console_drives(tmp_path: Path) -> None:
    async with seeded_double() as double:
        # a real clock: the other console's Lease must be current as the CLI's wall clock sees it
        async with console_on(double, tmp_path, name="other-console", clock=RealClock()) as other:
            await other.start_canary("perception", "1.2.4", 25)
            kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
            refused = await _cli("rollback", "perception", "--yes", "--kubeconfig", kubeconfig)
            weight_while_refused = double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT]
            taken = await _cli("take-over", "perception", "--yes", "--kubeconfig", kubeconfig)
            lease = double.obj("leases", "canary-console-perception")["spec"]
    assert refused[0] == 2 and "other-console drives perception" in refused[2], refused
    assert weight_while_refused == "25"
    assert taken[0] == 0, taken
    assert lease.get("holderIdentity") != "other-console"  # taken (and released when that console exited)
    assert lease.get("leaseTransitions", 0) >= 1


async def test_actions_against_a_cluster_are_journalled_without_tokens(tmp_path: Path) -> None:
    journal = tmp_path / "state" / "journal.jsonl"
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        code, out, err = await _cli("rollback", "perception", "--yes", "--kubeconfig", str(kubeconfig),
                                    env={"CANARY_CONSOLE_JOURNAL": str(journal)})
        token = double.token
    assert code == 0, err
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    rollback = [e for e in entries if e.get("what") == "rollback"]
    assert rollback and rollback[0]["service"] == "perception"
    assert rollback[0]["from_weight"] == 25 and rollback[0]["to_weight"] == 0
    assert token not in journal.read_text()
