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


async def test_the_dashboard_says_how_long_kubernetes_and_prometheus_have_been_unreadable() -> None:
    """Issue 13: the dashboard showed the problem but not how long it had lasted. The outage line counts on
    the engine's (virtual) clock from the first check that could not read, and goes when both answer."""
    from console.app import CanaryApp
    from tests.test_tui_support import fake_session, run_for, screen_text, settle, start_all

    session, clock, cluster = fake_session()
    await start_all(session, ["perception", "capsule"])
    await run_for(session, clock, 60)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "unreadable for" not in screen_text(app)
        # checks every 10 s: 9 then 3 checks that cannot read the cluster, the status of the last one at 110 s
        cluster.fail_next("snapshot_all", times=12, error=ClusterError("connection refused", status=None))
        await run_for(session, clock, 90)
        session.metrics.fail_polls = 1000  # Prometheus goes too, 30 s later
        await run_for(session, clock, 30)
        await settle(app, pilot)
        line = app.screen.outage_line.text
        assert line.startswith("⚠ Kubernetes unreadable for 110s (cluster unreachable: connection refused)"), line
        assert "Prometheus unreadable for 20s (Prometheus unreachable" in line
        assert "⚠ Kubernetes unreadable for 110s" in screen_text(app)  # on the screen (cut to its width)
        session.metrics.fail_polls = 0  # both answer again (the cluster's 12 failures are used up)
        await run_for(session, clock, 10)
        await settle(app, pilot)
        assert app.screen.outage_line.text == "" and "unreadable for" not in screen_text(app)
