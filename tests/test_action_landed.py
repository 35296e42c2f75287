"""One-shot actions report what landed (issue 13): exit 0 only when the cluster shows the result; a rollback
whose PATCH is refused (403) or fails (500) exits non-zero at once, with the API's reason and the part that
failed (weight or scale), instead of waiting out the progress deadline and printing "done"."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from console.adapters.kube_objects import WEIGHT
from tests.kubedouble.harness import seeded_double
from tests.test_cli_kube import _canary_at, _cli

INGRESS = r"/ingresses/perception-canary$"
SCALE = r"/deployments/perception-canary/scale$"


async def test_a_rollback_whose_weight_patch_is_forbidden_fails_at_once_naming_the_weight(tmp_path: Path) -> None:
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)
        double.fail(INGRESS, 403, times=1000, method="PATCH")
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        began = time.monotonic()
        code, out, err = await _cli("rollback", "perception", "--yes", "--json", "--kubeconfig", str(kubeconfig))
        took = time.monotonic() - began
        weight = double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT]
    assert code != 0, out + err
    answer = json.loads(out)
    assert answer["ok"] is False and answer["weight"] == 25, answer
    assert "weight 0 on Ingress perception-canary" in err and "forbidden" in err, err
    assert "done" not in out
    assert weight == "25"
    assert took < 60, took


async def test_a_rollback_whose_scale_fails_with_500_names_the_scale_and_exits_4(tmp_path: Path) -> None:
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 50)
        double.fail(SCALE, 500, times=1000, method="PATCH")
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        code, out, err = await _cli("rollback", "perception", "--yes", "--kubeconfig", str(kubeconfig))
        scale_patches = [r for r in double.requests if r.method == "PATCH" and r.path.endswith("/scale")]
    assert code == 4, out + err
    assert "scale" in err and "500" in err, err
    assert "rollback done" not in out
    assert len(scale_patches) <= 4  # the API layer's bounded retries, then the answer


@pytest.mark.parametrize("action", ["advance", "resume", "promote"])
async def test_an_action_whose_write_is_forbidden_exits_2_at_once_naming_the_verb_and_resource(
        tmp_path: Path, action: str) -> None:
    """The watcher Role's case on the double (the real authorizer's is tests/test_real_rbac.py): no Lease can
    be created, so no write lands; each action says what was refused, never "done", and a promote does not
    ask again (a 403 is not retried: before, it was until the progress deadline)."""
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)  # no rollout record: paused at 25 %
        double.deny("create", "leases")
        double.deny("update", "leases")  # the seeder's Lease is there, released
        kubeconfig = double.write_kubeconfig(tmp_path / "kubeconfig")
        mark = len(double.requests)
        forced = () if action == "resume" else ("--force",)  # no Prometheus here: no data to advance on
        code, out, err = await _cli(action, "perception", "--yes", *forced, "--kubeconfig", str(kubeconfig))
        asked = [r for r in double.requests[mark:] if r.method in ("POST", "PUT") and "/leases" in r.path]
        weight = double.obj("ingresses", "perception-canary")["metadata"]["annotations"][WEIGHT]
    assert code == 2, (code, out, err)
    assert f"{action} perception failed: " in err and "forbidden: cannot update leases" in err, err
    assert "done" not in out, out
    assert weight == "25"
    assert len(asked) <= 8, len(asked)  # each write tried once or twice (claim, record, weight, final save), no loop
