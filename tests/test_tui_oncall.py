"""Test room: issue 17, the on-call's terminal at 3 a.m. (Pilot): keys that cannot reach the wrong service,
confirms that name it and do not freeze the screen behind them, readable logs, labels in one vocabulary,
a layout that uses the rows the terminal has. Each test is one "Why" of the issue; the engine runs for
real over the fakes or the seeded simulated world on a virtual clock (nothing waits on wall time)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from console.app import CanaryApp
from screens.confirm import ConfirmScreen
from screens.dashboard import DashboardScreen
from tests.test_tui_support import fake_session, run_for, screen_text, settle, start_all
from widgets.service_panel import ServicePanel

SIZE = (80, 24)


@asynccontextmanager
async def observed(size: tuple[int, int] = SIZE, seconds: float = 60):
    session, clock, cluster = fake_session()
    await start_all(session)
    await run_for(session, clock, seconds)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        yield app, pilot, session, clock, cluster


# ---------------------------------------------------------------------- 1. keys that cannot hit the wrong service
async def test_selection_stops_at_the_ends_instead_of_wrapping():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("k", "k", "k", "k", "k")
        assert app.current_service == "perception"
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen) and app.screen.service == "perception"
        await pilot.press("n")
        for _ in range(8):
            await pilot.press("j")
        assert app.current_service == "synapse"


async def test_home_end_g_G_and_pages_select_within_the_list():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("G")
        assert app.current_service == "synapse"
        await pilot.press("g")
        assert app.current_service == "perception"
        await pilot.press("end")
        assert app.current_service == "synapse"
        await pilot.press("home")
        assert app.current_service == "perception"
        await pilot.press("pagedown")
        moved = app.current_service
        assert moved != "perception"
        await pilot.press("pagedown", "pagedown", "pagedown")
        assert app.current_service == "synapse"
        await pilot.press("pageup", "pageup", "pageup", "pageup")
        assert app.current_service == "perception"


async def test_every_confirm_names_its_service_in_bold():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("j", "j")
        for key in ("r", "P"):
            await pilot.press(key)
            modal = app.screen
            assert isinstance(modal, ConfirmScreen) and modal.service == "odyssey"
            content = modal.question_content()
            spans = [span for span in content.spans if "bold" in str(span.style)]
            assert spans and content.plain[spans[0].start:spans[0].end] == "odyssey"
            assert "odyssey" in screen_text(app)
            await pilot.press("n")


async def test_the_screen_behind_a_confirm_keeps_receiving_statuses():
    async with observed() as (app, pilot, session, clock, cluster):
        panel = app.screen.query_one("#panel-perception", ServicePanel)
        before = panel.status.at
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        await run_for(session, clock, 30)
        app.flush()
        await pilot.pause()
        dashboard = next(s for s in app.screen_stack if isinstance(s, DashboardScreen))
        panel = dashboard.query_one("#panel-perception", ServicePanel)
        assert panel.status.at > before
        await pilot.press("n")
