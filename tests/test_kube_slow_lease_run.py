"""Issue 13's slow-Lease case end to end: a `run --headless --json` process against the API double, driving a
canary at 10 %, when Lease requests start hanging 40 s (four times their 10 s bound) and the canary's errors
breach while a renewal hangs. The rollback goes out while a Lease renewal still waits on the slow server, at the check
that judged the breach (the issue saw it 45 s late), and the output stays a handful of lines (the issue saw
135 error lines). Counted in checks and requests, never in seconds."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from console.adapters.kube_objects import PREFIX, WEIGHT
from tests.kubedouble.harness import seeded_double
from tests.prom_double import PrometheusDouble, healthy, vector
from tests.test_kube_who_drives import EXE, FAST, _notes, _until

SERVICE = "perception"


async def test_a_run_rolls_back_at_once_while_lease_renewals_hang(tmp_path: Path) -> None:
    breached = {"now": False}
    script = healthy(SERVICE)
    script["errors"] = lambda r: vector([(SERVICE, "stable", "50"),
                                         (SERVICE, "canary", "400" if breached["now"] else "4")])
    prometheus = await PrometheusDouble(script).start()
    try:
        async with seeded_double() as double:
            kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
            command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
            run = await asyncio.create_subprocess_exec(
                *command, "run", SERVICE, "--version", "1.2.4", "--headless", "--json", "--kubeconfig", kubeconfig,
                "--prometheus", prometheus.url, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, **FAST})  # a 30 s Lease: renewed every 10 s, each Lease request bounded to 10 s
            await _until(lambda: _notes(double, SERVICE).get(PREFIX + "state") == "observing", "observing at 10 %",
                         run)
            double.slow[r"/leases/"] = 40.0  # every Lease request now hangs 40 s on the server (4 × its bound)
            await _until(lambda: double.stalled >= 1, "a Lease renewal hanging on the server", run)
            mark = len(double.requests)
            breached["now"] = True  # the canary breaches while the renewal hangs
            out, err = await asyncio.wait_for(run.communicate(), timeout=120)
            after = double.requests[mark:]
            notes = _notes(double, SERVICE)
            canary = double.obj("deployments", f"{SERVICE}-canary")
    finally:
        await prometheus.stop()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    kinds = [line.get("kind") for line in lines]
    assert run.returncode == 1 and lines[-1]["outcome"] == "rolled_back", (out, err)
    assert notes[WEIGHT] == "0" and canary["spec"]["replicas"] == 0
    rollback = next(r for r in after if r.write and "/ingresses/" in r.path)
    assert rollback.while_slow >= 1  # sent while the renewal still waited on the server: it did not wait for it
    fail_at = next(i for i, line in enumerate(lines) if line.get("kind") == "verdict"
                   and (line.get("verdict") or {}).get("verdict") == "fail")
    acted_at = next(i for i, line in enumerate(lines) if line.get("kind") == "action"
                    and line.get("what") == "rollback")
    assert kinds[fail_at:acted_at].count("verdict") == 1, lines[fail_at:acted_at]  # at the check that judged it
    errors = [line for line in lines if line.get("kind") == "error"]
    assert len(errors) <= 3 and len(err.decode().splitlines()) <= 3, (errors, err)
