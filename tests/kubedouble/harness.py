"""Test helpers around the API double: a seeded namespace and a KubeCluster connected to it through a
real kubeconfig file, on a StepClock (or any clock the test gives)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from console.adapters.kube import KubeCluster, connect
from console.engine.config import Config
from tests.kubedouble.seed import seed_service
from tests.kubedouble.server import KubeDouble
from tests.kubedouble.stepclock import StepClock

SERVICES = ("perception", "capsule", "odyssey", "plato", "nexus", "synapse")


@asynccontextmanager
async def seeded_double(**kwargs: Any) -> AsyncIterator[KubeDouble]:
    async with KubeDouble(**kwargs) as double:
        for service in SERVICES:
            seed_service(double, service)
        yield double


@asynccontextmanager
async def console_on(double: KubeDouble, tmp: Path, *, read_only: bool = False, clock: Any = None,
                     name: str = "console-a", config: Config | None = None,
                     renew: bool = False) -> AsyncIterator[KubeCluster]:
    """A console on ``double``. Without ``renew`` no renewal loop runs (a StepClock would spin it), so the
    lease is made to last a day; lease tests pass ``renew=True`` and a VirtualClock."""
    kubeconfig = double.write_kubeconfig(tmp / f"kubeconfig-{name}")
    if config is None:
        config = Config()
        if not renew:
            config.kube.lease_seconds = 86400.0
    config.kube.allow_token_over_http = True  # the double serves plain http on loopback
    cluster = await connect(config, read_only=read_only, kubeconfig=str(kubeconfig),
                            clock=clock or StepClock(), console_id=name, renew_leases=renew)
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.aclose()
