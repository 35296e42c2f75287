"""Test room: every way the dashboard ends saves the record of each service it drove (issue 19). The
dashboard command (`console.dashboard_command`) runs over the in-memory cluster with the app headless:
an engine that raises leaves the app up and the person's quit saves the records; an exception out of the
app itself still saves them before it reaches the CLI's crash reporter."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace

import pytest

from console import dashboard_command
from console.app import CanaryApp
from console.engine.config_layers import FirstFrame
from console.engine.model import State
from console.wiring import World
from tests.test_who_drives import make, started


@pytest.fixture(autouse=True)
def _unfreeze_gc():
    yield
    gc.unfreeze()  # the dashboard freezes the collector's generations once attached, as the CLI wants


DRIVEN = ("perception", "capsule")


async def driving_two():
    """A session that started two canaries and drove them to 10 % (observing), neither record saved since."""
    session, cluster, clock, _events = make()
    assert (await session.intent("capsule", "start", version="1.2.4")).ok
    rig = await started(session, clock, 300)
    await rig.close()
    for service in DRIVEN:  # the final save is still to come
        assert cluster.services[service].record.updated_at < clock.now(), service
    return session, cluster, clock


def assert_saved_final(cluster, clock) -> None:
    """Each driven service's record: where it stood, the driver cleared, saved at the exit."""
    for service in DRIVEN:
        record = cluster.services[service].record
        assert record.state is State.OBSERVING and record.weight == 10, service
        assert record.driver == "" and record.last_driver == "me@here" and record.updated_at == clock.now(), service


def dashboard_over(session, clock, monkeypatch, then):
    """Run the dashboard command on ``session``: the app headless, ``then(app, pilot)`` once it is attached."""
    async def open_world(_config, _options):
        return World(session=session, clock=clock)

    monkeypatch.setattr("console.wiring.open_world", open_world)

    async def headless(app: CanaryApp, **_kwargs) -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(1000):  # the connect worker attaches the session after the first frame
                if app.session is not None:
                    break
                await pilot.pause()
            else:
                pytest.fail("the dashboard never attached the session")
            await then(app, pilot)

    monkeypatch.setattr(CanaryApp, "run_async", headless)
    return dashboard_command._dashboard(FirstFrame.of(session.config), lambda: session.config,
                                        lambda _config: SimpleNamespace(demo=False), None, False, None)


async def test_an_engine_that_raised_leaves_the_dashboard_up_and_quitting_saves_every_driven_record(monkeypatch):
    session, cluster, clock = await driving_two()
    raised = asyncio.Event()

    async def broken_run(_stop) -> None:
        raised.set()
        raise RuntimeError("engine bug")

    monkeypatch.setattr(session, "run", broken_run)
    seen: dict[str, object] = {}

    async def then(app: CanaryApp, pilot) -> None:
        await raised.wait()
        await pilot.pause()
        seen["toasts"] = [n.message for n in app._notifications]
        seen["running"] = app.is_running
        await pilot.press("q")  # it drives two rollouts, so the console asks first
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        seen["quit"] = app.return_code  # None until the app is told to exit

    code = await dashboard_over(session, clock, monkeypatch, then)
    assert seen["running"] and any("engine stopped: engine bug" in t for t in seen["toasts"])  # type: ignore[union-attr]
    assert seen["quit"] == 0 and code == 0
    assert_saved_final(cluster, clock)


async def test_an_exception_out_of_the_app_still_saves_every_driven_record_first(monkeypatch):
    session, cluster, clock = await driving_two()

    async def then(_app: CanaryApp, _pilot) -> None:
        raise RuntimeError("app bug")

    with pytest.raises(RuntimeError, match="app bug"):  # the CLI's crash reporter says it in one line
        await dashboard_over(session, clock, monkeypatch, then)
    assert_saved_final(cluster, clock)
