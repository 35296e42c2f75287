"""While the cluster or Prometheus cannot be read, the phase clock holds; headless mode prints one line when
the outage starts and one when it ends, with its duration (issue 13: 401 for 15 s or connection refused for
25 s printed nothing, and the rollout advanced on schedule)."""

from __future__ import annotations

from console.commands import _Printer
from console.engine.model import State
from console.engine.ports import ClusterError
from tests.fakes import Rig
from tests.test_controller import make


async def test_the_phase_clock_holds_while_the_cluster_is_unauthorized_and_runs_again_after() -> None:
    session, cluster, _metrics, clock, _events = make()
    rig = Rig(session, clock)
    assert (await session.intent("perception", "start", version="1.2.4")).ok
    await rig.until(400)
    controller = session.controllers["perception"]
    assert controller.state is State.OBSERVING and controller.phase_elapsed > 0
    before = controller.phase_elapsed
    cluster.fail_next("snapshot_all", times=30,
                      error=ClusterError("unauthorized: the API server did not accept the credentials", status=401))
    await rig.until(700)  # 300 s of checks that cannot read the cluster
    held = controller.phase_elapsed
    await rig.until(800)
    after = controller.phase_elapsed
    await rig.close()
    assert held - before <= 10.0, (before, held)  # at most the check that was under way
    assert after > held  # the outage over: the clock runs again
    assert any(d.action == "hold" and "unauthorized" in d.reason for d in controller.decisions)


async def test_headless_prints_one_line_when_an_outage_starts_and_one_when_it_ends(capsys) -> None:
    session, cluster, _metrics, clock, _events = make()
    printer = _Printer("perception", clock.now(), as_json=False)
    session.bus.subscribe(printer)
    rig = Rig(session, clock)
    assert (await session.intent("perception", "start", version="1.2.4")).ok
    await rig.until(100)
    cluster.fail_next("snapshot_all", times=3, error=ClusterError("API server unreachable at https://k: refused"))
    await rig.until(400)
    await rig.close()
    lines = [line for line in capsys.readouterr().out.splitlines() if "outage" in line]
    assert len(lines) == 2, lines
    assert "started" in lines[0] and "unreachable" in lines[0] and "phase clock holds" in lines[0]
    assert "ended after 30s" in lines[1], lines
