"""Issue 13's Kubernetes behaviour on the real control plane (tests/controlplane): Leases written and read
by a real kube-apiserver (MicroTime renewTime, leaseDurationSeconds, optimistic concurrency) are judged by
locally observed time, so a console whose clock runs 30 s ahead cannot take a live lease."""

from __future__ import annotations

import time

import pytest

from console.adapters.kube import connect
from console.engine.config import Config
from console.engine.ports import ReadOnlyError
from tests.controlplane.launcher import NAMESPACE, ControlPlane
from tests.kubedouble.stepclock import StepClock

pytestmark = pytest.mark.controlplane


async def test_a_console_whose_clock_runs_30s_ahead_cannot_take_a_live_lease(controlplane: ControlPlane) -> None:
    config = Config()
    config.kube.lease_seconds = 15
    kubeconfig = str(controlplane.kubeconfigs["canary-console-driver"])
    a_clock, b_clock = StepClock(start=time.time()), StepClock(start=time.time() + 30)
    a = await connect(config, read_only=False, kubeconfig=kubeconfig, namespace=NAMESPACE, clock=a_clock,
                      console_id="skew-a", renew_leases=False)
    b = await connect(config, read_only=False, kubeconfig=kubeconfig, namespace=NAMESPACE, clock=b_clock,
                      console_id="skew-b", renew_leases=False)
    try:
        await a.leases.ensure("synapse")
        with pytest.raises(ReadOnlyError, match="skew-a drives synapse"):
            await b.leases.ensure("synapse")  # renewTime + 15 s is already past by b's clock: still refused
        assert (await b.snapshot_all(["synapse"]))["synapse"].driver == "skew-a"
        b_clock.advance(16)  # skew-a stopped renewing: unchanged for a whole lease by b's own clock
        await b.leases.ensure("synapse")
        holder = controlplane.kubectl("get", "lease", "canary-console-synapse", "-n", NAMESPACE, "-o",
                                      "jsonpath={.spec.holderIdentity}").stdout
        assert holder == "skew-b"
    finally:
        await b.aclose()  # releases the lease it holds: the rest of the session finds it free
        await a.aclose()
