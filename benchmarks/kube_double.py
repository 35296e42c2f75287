"""Benchmarks room: the Kubernetes API double (tests/kubedouble) as a standalone process, seeded with the
six services, for benchmarks that launch the installed console against it. Writes a kubeconfig, prints
"ready" and serves until it is terminated. Usage:
    python -m benchmarks.kube_double KUBECONFIG_PATH
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.kubedouble.harness import seeded_double  # noqa: E402


async def serve(kubeconfig: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with seeded_double() as double:
        double.write_kubeconfig(kubeconfig)
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
