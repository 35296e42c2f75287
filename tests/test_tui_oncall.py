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


# ---------------------------------------------------------------------- 2. colours that keep their meaning
def test_a_16_or_8_colour_terminal_gets_a_palette_of_its_own_colours():
    from rich.color import STANDARD_PALETTE, Color

    from themes import THEMES, resolve_theme

    assert resolve_theme(None, {"TERM": "xterm"}, color_system="standard") == "canary-16"
    assert resolve_theme(None, {"TERM": "vt100"}, color_system="standard") == "canary-8"
    assert resolve_theme(None, {"TERM": "xterm-256color"}, color_system="256") == "canary-dark"
    exact = {STANDARD_PALETTE[i].hex for i in range(16)}
    for name, allowed in (("canary-16", exact), ("canary-8", {STANDARD_PALETTE[i].hex for i in range(8)})):
        variables = THEMES[name].variables
        assert {variables[v] for v in ("canary", "stable", "danger", "attention", "ok", "muted")} <= allowed
    for name in ("canary-dark", "canary-16", "canary-8"):
        v = THEMES[name].variables
        assert len({v["canary"], v["stable"], v["danger"], v["attention"]}) == 4, name
        red = Color.parse(v["danger"])
        for track in ("canary", "stable"):
            colour = Color.parse(v[track])
            assert colour.triplet != red.triplet and colour.triplet.red < 200 or colour.triplet.blue > 150


async def test_awaiting_approval_is_bold_and_reverse_not_only_coloured():
    from textual.content import Content

    from console.engine.model import State
    from widgets.service_panel import ServicePanel

    async with observed() as (app, pilot, session, clock, cluster):
        status = session.controllers["perception"].status
        waiting = type(status)(**{**{f: getattr(status, f) for f in status.__dataclass_fields__},
                                  "state": State.AWAITING_APPROVAL})
        drawn: Content = ServicePanel._state(waiting)
        styles = " ".join(str(span.style) for span in drawn.spans)
        assert "awaiting approval" in drawn.plain and "bold" in styles and "reverse" in styles


# ---------------------------------------------------------------------- 3. logs an on-call can read at 80 columns
def test_a_log_line_is_time_track_short_pod_then_the_message():
    from console.engine.model import Track
    from widgets.log_view import log_line

    raw = ("2026-11-30T19:42:33.048Z  INFO 1 --- [kafka-consumer-1] c.b.capsule.Ingest                       "
           ": Ingested 18374 signals")
    line = log_line("capsule-canary-hjtww55w7f-qgbvd", Track.CANARY, raw)
    assert line.startswith("19:42:33 canary qgbvd Ingested 18374 signals")
    assert "hjtww55w7f" not in line and "2026-11-30" not in line
    warn = log_line("capsule-7d9f8b6c5d-x2x9z", Track.STABLE, raw.replace(" INFO", " WARN"))
    assert warn.startswith("19:42:33 stable x2x9z WARN Ingested")


async def logs_open(size=(80, 24)):
    """The detail of perception over the seeded world, its logs flowing on the virtual clock."""
    from tests.test_tui_support import sim_session

    session, clock = sim_session("healthy")
    await start_all(session, ["perception"])
    await run_for(session, clock, 60)
    return session, clock


async def test_full_screen_logs_keep_the_status_line_show_the_filter_and_keep_following():
    from widgets.log_view import LogView

    session, clock = await logs_open()
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await clock.advance(300)
        await pilot.pause(0.3)
        await pilot.press("l")
        await pilot.pause()
        logs = app.screen.query_one(LogView)
        assert "logs: both tracks · following" in screen_text(app)
        await pilot.press("z")
        assert "PAUSED" in screen_text(app)
        await pilot.press("z", "slash", *"WARN")
        await pilot.pause()
        text = screen_text(app)
        assert "WARN" in text.splitlines()[1] or "filter “WARN”" in text  # the box and the status line show it
        assert "filter “WARN”" in text
        assert logs.lines and all("warn" in line.lower() for line in logs.lines)
        await pilot.press("enter", "t")
        await pilot.pause()
        assert logs.auto_scroll and logs.is_vertical_scroll_end  # still following after the change
        await clock.advance(300)
        await pilot.pause(0.3)
        assert logs.is_vertical_scroll_end and "following" in screen_text(app)


async def test_logs_wrap_on_w_and_scroll_sideways_with_the_arrows():
    from widgets.log_view import LogView

    session, clock = await logs_open()
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await clock.advance(300)
        await pilot.pause(0.3)
        await pilot.press("l")
        logs = app.screen.query_one(LogView)
        assert max(len(line) for line in logs.lines) > 80
        await pilot.press("right", "right")
        await pilot.pause()
        assert logs.scroll_x == 16
        await pilot.press("left", "left", "w")
        await pilot.pause()
        assert logs.wrap and max(len(line) for line in logs.lines) <= 80
        assert "wrapped" in screen_text(app)
