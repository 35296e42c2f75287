"""Issue 12 in the dashboard (Pilot): `q` while this console drives rollouts says which stop progressing and
asks; a manual advance on missing data asks with the reason; an orphaned rollout is offered to drive here
with T; the read-only dashboard sends no write to the API double whatever keys are pressed."""

from __future__ import annotations

from console.app import CanaryApp
from console.engine.config import Config
from console.engine.model import RolloutRecord, State
from console.wiring import Options, open_world
from screens.confirm import ConfirmScreen
from tests.kubedouble.harness import console_on, seeded_double
from tests.test_tui_support import fake_session, run_for, screen_text, settle, start_all


async def _asked(app: CanaryApp, pilot, key: str) -> str:
    """Press ``key`` on the settled app; the question the confirmation screen asks."""
    await settle(app, pilot)
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    return app.screen.question


async def _driven(services: list[str]):
    """Canaries started (so driven) on ``services`` over the fakes, a minute of checks done."""
    session, clock, cluster = fake_session()
    await start_all(session, services)
    await run_for(session, clock, 60)
    return session, clock, cluster


async def test_q_while_driving_names_the_rollouts_that_stop_and_asks():
    session, _clock, _cluster = await _driven(["perception", "capsule"])
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        question = await _asked(app, pilot, "q")
        assert "perception (observing at 10%)" in question and "capsule (observing at 10%)" in question
        assert "stop progressing" in question and "plato" not in question
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running
        await pilot.press("q", "y")
        await pilot.pause()
    assert not app.is_running


async def test_q_with_nothing_driven_quits_at_once():
    session, _clock, _cluster = fake_session()
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
    assert not app.is_running


async def test_advance_while_prometheus_is_unreachable_asks_with_the_reason():
    session, clock, cluster = await _driven(["perception"])
    session.metrics.fail_polls = 1000  # every poll from now: connection refused
    await run_for(session, clock, 20)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        question = await _asked(app, pilot, "a")
        assert "without usable data" in question and "Prometheus unreachable" in question
        await pilot.press("n")
        await settle(app, pilot)
        assert cluster.services["perception"].weight == 10
        await pilot.press("a", "y")
        await settle(app, pilot)
        assert cluster.services["perception"].weight == 25


async def test_an_orphaned_rollout_is_offered_to_drive_here_with_t():
    session, clock, cluster = fake_session()
    svc = cluster.services["capsule"]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at, svc.weight = "2.0.0", 1, clock.now() - 600, 10
    svc.record = RolloutRecord(State.OBSERVING, 0, 10, clock.now() - 600, 300.0, "2.0.0", last_driver="bob on b-1",
                               updated_at=clock.now() - 60)
    await run_for(session, clock, 20)
    assert cluster.writes == []
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("j")  # capsule
        assert app.current_service == "capsule"
        await pilot.press("T")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "no driver since" in app.screen.question and "bob on b-1" in app.screen.question
        await pilot.press("y")
        await settle(app, pilot)
        assert session.controllers["capsule"].status.driving


async def test_the_read_only_dashboard_sends_no_write_whatever_keys_are_pressed(tmp_path):
    async with seeded_double() as double:
        async with console_on(double, tmp_path, name="gone") as gone:
            await gone.start_canary("perception", "1.2.4", 0)
            await gone.save_record("perception", RolloutRecord(State.DEPLOYING, 0, 0, 1_700_000_000.0, 0.0, "1.2.4"))
        config = Config()
        config.kube.allow_token_over_http = True
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        before = len(double.writes())
        shown = await every_key_on_the_read_only_dashboard(config, Options(read_only=True, kubeconfig=kubeconfig))
        writes = double.writes()[before:]
    assert writes == []
    assert "perception" in shown


async def every_key_on_the_read_only_dashboard(config: Config, options: Options) -> str:
    """Open the read-only dashboard on ``options``' cluster, press every write key (and yes to every question)
    over three checks; the screen's text at the end."""
    world = await open_world(config, options)
    app = CanaryApp(world.session, read_only=True, autorun=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(3):
                await world.session.step()
                await settle(app, pilot)
                await pilot.press("a", "p", "r", "y", "P", "y", "v", "T", "y", "D", "y", "m", "s", "escape")
                await settle(app, pilot)
            return screen_text(app)
    finally:
        await world.aclose()


async def test_a_weight_set_outside_the_console_is_shown_on_the_panel_and_the_detail():
    """Issue 12: a person's `kubectl annotate … canary-weight=0` while this console drives: the panel and the
    detail say what changed outside the console and that the service is paused; nothing is written over it."""
    session, clock, cluster = await _driven(["perception"])
    assert cluster.services["perception"].weight == 10
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        writes = len(cluster.writes)
        cluster.services["perception"].weight = 0  # the person, not the console
        await run_for(session, clock, 20)
        await settle(app, pilot)
        said = "weight set to 0 outside the console (was 10%)"
        panel = screen_text(app)
        assert said in panel and "paused" in panel, panel
        await pilot.press("enter")
        await settle(app, pilot)
        detail = screen_text(app)
        assert said in detail and "overridden at 10%" in detail, detail
    assert [w for w in cluster.writes[writes:] if w[1] == "set_weight"] == []  # never written over
    assert cluster.services["perception"].weight == 0
