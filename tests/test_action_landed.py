"""One-shot actions report what landed (issue 13): exit 0 only when the cluster shows the result; a rollback
whose PATCH is refused (403) or fails (500) exits non-zero at once, with the API's reason and the part that
failed (weight or scale), instead of waiting out the progress deadline and printing "done"."""

from __future__ import annotations

import json
import time
from pathlib import Path

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
