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
from widgets.hint_line import HintLine
from widgets.service_panel import ServicePanel

SIZE = (80, 24)


@asynccontextmanager
async def observed(size: tuple[int, int] = SIZE, seconds: float = 60, notifications: bool = False):
    session, clock, cluster = fake_session()
    await start_all(session)
    await run_for(session, clock, seconds)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=size, notifications=notifications) as pilot:
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
    from widgets.service_panel import ServicePanel, _head

    async with observed() as (app, pilot, session, clock, cluster):
        status = session.controllers["perception"].status
        waiting = type(status)(**{**{f: getattr(status, f) for f in status.__dataclass_fields__},
                                  "state": State.AWAITING_APPROVAL})
        drawn: Content = _head(False, "perception", ServicePanel._state_words(waiting))  # every panel's first words
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


@asynccontextmanager
async def full_screen_logs():
    """perception's detail over the seeded world at 80x24, its logs flowing on the virtual clock for 5
    minutes, then full screen (`l`): yields (app, pilot, clock, logs)."""
    from tests.test_tui_support import sim_session
    from widgets.log_view import LogView

    session, clock = sim_session("healthy")
    await start_all(session, ["perception"])
    await run_for(session, clock, 60)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await clock.advance(300)
        await pilot.pause(0.3)
        await pilot.press("l")
        await pilot.pause()
        yield app, pilot, clock, app.screen.query_one(LogView)


async def test_full_screen_logs_keep_the_status_line_show_the_filter_and_keep_following():
    async with full_screen_logs() as (app, pilot, clock, logs):
        assert "logs: both tracks · following" in screen_text(app)
        await pilot.press("z")
        assert "PAUSED" in screen_text(app)
        await pilot.press("z", "slash", *"WARN")
        await pilot.pause()
        text = screen_text(app)
        assert "filter “WARN”" in text.splitlines()[0]  # the status line says it, first line of the screen
        assert any(line.strip("▊▎ ").startswith("WARN") for line in text.splitlines()[1:4])  # the box shows it
        assert logs.lines and all("warn" in line.lower() for line in logs.lines)
        await pilot.press("enter", "t")
        await pilot.pause()
        assert logs.auto_scroll and logs.is_vertical_scroll_end  # still following after the change
        await clock.advance(300)
        await pilot.pause(0.3)
        assert logs.is_vertical_scroll_end and "following" in screen_text(app)


async def test_the_full_screen_logs_line_says_how_to_leave_at_80_columns():
    async with full_screen_logs() as (app, pilot, clock, logs):
        bar = screen_text(app).splitlines()[0]
        assert bar.rstrip().endswith("(f follow · / filter · l back)"), bar  # cut at "t" before
        await pilot.press("l")  # back to the detail: the same line offers full screen
        await pilot.pause()
        app.screen.query_one("#log-bar", HintLine).scroll_visible(animate=False)  # below the fold at 80x24
        await pilot.pause()
        assert any(line.rstrip().endswith("· l full screen)") for line in screen_text(app).splitlines()), \
            screen_text(app)


async def test_logs_wrap_on_w_and_scroll_sideways_with_the_arrows():
    async with full_screen_logs() as (app, pilot, clock, logs):
        assert max(len(line) for line in logs.lines) > 80
        await pilot.press("right", "right")
        await pilot.pause()
        assert logs.scroll_x == 16
        await pilot.press("left", "left", "w")
        await pilot.pause()
        assert logs.wrap and max(len(line) for line in logs.lines) <= 80
        assert "wrapped" in screen_text(app)


# ---------------------------------------------------------------------- 4. one vocabulary, and labels that agree
RAW = ("awaiting_approval", "insufficient_data", "manual_review", "rolled_back", "rolling_back", "no_data",
       "manual review: manual review", "needs review: manual review", " 0% → 0%")


async def mixed_world():
    """The seeded mixed world with a canary on every service, and an app over it (not yet running)."""
    from tests.test_tui_support import sim_session

    session, clock = sim_session("mixed", seed=7)
    await start_all(session)
    app = CanaryApp(session, autorun=False)
    return session, clock, app


@asynccontextmanager
async def mixed_detail(size):
    """perception's detail after 150 s of the mixed world: yields (app, pilot, session)."""
    session, clock, app = await mixed_world()
    async with app.run_test(size=size) as pilot:
        await run_for(session, clock, 150)
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        yield app, pilot, session


async def test_no_raw_identifier_reaches_a_person_on_the_dashboard_detail_or_timeline():
    session, clock, app = await mixed_world()
    async with app.run_test(size=(200, 50)) as pilot:
        await run_for(session, clock, 150)
        await settle(app, pilot)
        screens = [screen_text(app)]
        for service in ("nexus", "plato", "odyssey"):
            app.screen.jump_to(service)
            await pilot.press("enter")
            await pilot.pause()
            await settle(app, pilot)
            screens.append(screen_text(app))
            await pilot.press("escape")
            await pilot.pause()
        text = "\n".join(screens)
        assert "awaiting approval" in text and "needs review" in text
        for raw in RAW:
            assert raw not in text, raw


async def test_a_clock_held_for_want_of_data_says_so():
    async with observed(seconds=20) as (app, pilot, session, clock, cluster):
        status = session.controllers["perception"].status
        assert status.verdict is None or not status.verdict.usable
        row = screen_text(app).splitlines()[1]
        assert "⏸ held" in row and "next 25% in" not in row


async def test_a_rollback_a_person_made_is_not_failing_nor_pass():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("r", "y")
        await settle(app, pilot)
        text = screen_text(app)
        third = text.splitlines()[3]
        assert "rolled back" in text.splitlines()[1]
        assert "↩" in third and "pass" not in third and "✘" not in third
        assert "0 failing" in text


async def test_after_promote_no_same_version_arrow_and_no_canary_numbers():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("P", "y")
        await settle(app, pilot)
        await run_for(session, clock, 30)
        await settle(app, pilot)
        lines = screen_text(app).splitlines()[1:4]
        assert "promoted" in lines[0]
        assert "1.2.4 → 1.2.4" not in "\n".join(lines) and "err C —" in lines[1]


async def test_phase_marks_stay_put_whatever_the_countdown_says():
    async with observed() as (app, pilot, session, clock, cluster):
        bars = {line[line.index("▕"):line.index("▏") + 1] for line in screen_text(app).splitlines() if "▕" in line}
        await run_for(session, clock, 120)
        await pilot.press("j", "p")  # capsule paused: a different text beside its bar
        await settle(app, pilot)
        after = [line for line in screen_text(app).splitlines() if "▕" in line]
        assert {line.index("▏") for line in after} == {after[0].index("▏")}
        assert bars


async def test_help_has_a_legend_for_every_symbol_on_screen():
    from screens.help import LEGEND

    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("question_mark")
        await pilot.pause()
        legend = app.screen.query_one("#legend").render()
        text = str(legend)
        for symbol in ("▶", "↻", "✔", "✘", "↩", "?", "…", "⏸", "⚠", "┃", "↓"):
            assert symbol in text, symbol
        assert len(LEGEND) >= 12


# ---------------------------------------------------------------------- 5. layout: rows used, off-screen cue, toasts
async def test_at_120x40_the_dashboard_uses_the_rows_it_has():
    async with observed(size=(120, 40)) as (app, pilot, session, clock, cluster):
        panels = list(app.screen.query(ServicePanel))
        used = sum(p.outer_size.height for p in panels)
        assert used >= 30, used
        assert "P99 C" in screen_text(app)


async def test_at_60x15_a_cue_counts_the_services_below_that_need_a_person():
    session, clock, app = await mixed_world()
    async with app.run_test(size=(60, 15)) as pilot:
        await run_for(session, clock, 150)
        await settle(app, pilot)
        await pilot.pause()
        status_line = screen_text(app).splitlines()[-2]
        assert status_line.lstrip().startswith("↓ 2 below, 2 need a person"), status_line
        await pilot.press("G")
        await settle(app, pilot)
        assert screen_text(app).splitlines()[-2].lstrip().startswith("↑ 2 above")


async def test_the_status_line_keeps_its_help_key_at_80_columns_and_says_every_hint_when_wide():
    async with observed() as (app, pilot, session, clock, cluster):
        status_line = screen_text(app).splitlines()[-2]
        assert status_line.rstrip().endswith("need a person · Enter detail · ? help"), status_line
        assert "order:" not in status_line  # the least needed hint made room (it cut "? help" off before)
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        await pilot.pause()
        assert screen_text(app).splitlines()[-2].rstrip().endswith(
            "need a person · order: config (o) · Enter detail · ? help")


async def test_toasts_are_short_dismissible_and_never_cover_the_selected_service():
    from textual.widgets._toast import Toast

    async with observed(notifications=True) as (app, pilot, session, clock, cluster):
        await pilot.press("G")  # the bottom service
        await pilot.pause()
        app.notify("x" * 400, severity="error", timeout=30)
        await pilot.pause()
        await pilot.pause()
        toast = app.screen.query_one(Toast)
        panel = app.screen.query_one("#panel-synapse", ServicePanel)
        assert not toast.region.overlaps(panel.region)
        assert len(str(toast.render())) <= 200
        await pilot.press("g")
        app.notify("hello", timeout=30)
        await pilot.pause()
        await pilot.pause()
        top = app.screen.query_one("#panel-perception", ServicePanel)
        assert all(not t.region.overlaps(top.region) for t in app.screen.query(Toast))
        await pilot.press("x")
        await pilot.pause()
        assert not app._notifications


# ---------------------------------------------------------------------- 8. k9s habits: `:` and `/` on the list
async def test_colon_jumps_to_a_service_and_slash_filters_the_list():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("colon", *"pla", "enter")
        await pilot.pause()
        assert app.current_service == "plato"
        await pilot.press("slash", *"ne")
        await pilot.pause()
        shown = [p.service for p in app.screen.query(ServicePanel) if p.display]
        assert shown == ["nexus"] and app.current_service == "nexus"
        await pilot.press("enter", "k", "j")  # moves stay inside the filtered list
        assert app.current_service == "nexus"
        await pilot.press("escape")
        await pilot.pause()
        assert all(p.display for p in app.screen.query(ServicePanel))


async def test_the_palette_offers_every_services_actions():
    async with observed() as (app, pilot, session, clock, cluster):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for service in session.config.service_names:
            assert f"Rollback {service}" in titles and f"Pause {service}" in titles


# ---------------------------------------------------------------------- 5. the detail screen, all of it by keyboard
async def test_detail_scrolls_by_keyboard_and_tab_brings_the_p99_chart_into_view():
    from widgets.track_chart import TrackChart

    async with mixed_detail((80, 24)) as (app, pilot, session):
        body = app.screen.query_one("#detail-body")
        assert body.scroll_y == 0
        await pilot.press("pagedown")
        assert body.scroll_y > 0
        await pilot.press("end")
        assert body.scroll_y == body.max_scroll_y
        await pilot.press("home", "down")
        assert body.scroll_y == 1
        p99 = app.screen.query_one("#chart-p99", TrackChart)
        for _ in range(8):
            await pilot.press("tab")
            await pilot.pause()
            if app.focused is p99:
                break
        assert app.focused is p99
        await pilot.pause()
        assert "P99 latency (ms)" in screen_text(app)


async def test_every_check_reason_reads_in_full_at_80_columns():
    async with mixed_detail((80, 24)) as (app, pilot, session):
        reasons = str(app.screen.query_one("#check-reasons").render())
        verdict = session.controllers["perception"].status.verdict
        for check in verdict.checks:
            tail = check.reason.split()[-1]
            assert tail in reasons, (check.name, tail)


async def test_at_200x50_check_text_stays_clear_of_the_chart_axis():
    from widgets.check_table import CheckTable
    from widgets.track_chart import TrackChart

    async with mixed_detail((200, 50)) as (app, pilot, session):
        table = app.screen.query_one(CheckTable).region
        chart = app.screen.query_one("#chart-p95", TrackChart).region
        assert table.right < chart.x, (table, chart)
        assert "P99 latency (ms)" in screen_text(app)


# ---------------------------------------------------------------------- 9. idle CPU: numbers-only statuses wait
@asynccontextmanager
async def holding_app():
    """The fake world after 60 s under an app that holds numbers-only statuses 3 s (the CLI's): yields it."""
    session, clock, cluster = fake_session()
    await start_all(session)
    await run_for(session, clock, 60)
    app = CanaryApp(session, autorun=False, hold_numbers=3.0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        yield app


async def test_a_numbers_only_status_waits_but_a_change_of_state_is_drawn_at_once():
    from dataclasses import replace
    from time import monotonic

    from console.engine.model import State

    async with holding_app() as app:
        panel = app.screen.query_one("#panel-perception", ServicePanel)
        first = panel.status
        drawn = panel._drawn_at
        panel.show(replace(first, phase_elapsed=first.phase_elapsed + 10, at=first.at + 10))
        assert panel.held and panel._drawn_at == drawn  # only the numbers moved: held back
        assert panel.redraw_held(monotonic() + 3.5) and not panel.held  # drawn once its time came
        panel.show(replace(first, state=State.PAUSED))
        assert not panel.held and panel._drawn_key[0] is State.PAUSED  # a new state: drawn at once


async def test_a_panel_asks_whether_its_app_holds_numbers_once_not_at_every_status(monkeypatch):
    """Six statuses a second reach the panels in the demo; asking a runtime protocol walks the app's whole
    class each time. The answer is kept per app, and the app's hold is still read as it is now."""
    from dataclasses import replace
    from typing import _ProtocolMeta  # type: ignore[attr-defined]

    from widgets.service_panel import HoldsNumbers

    async with holding_app() as app:
        panel = app.screen.query_one("#panel-perception", ServicePanel)
        asked: list[object] = []
        original = _ProtocolMeta.__instancecheck__

        def counting(cls, instance):
            if cls is HoldsNumbers:
                asked.append(instance)
            return original(cls, instance)

        monkeypatch.setattr(_ProtocolMeta, "__instancecheck__", counting)
        first = panel.status
        for step in range(1, 31):
            panel.show(replace(first, phase_elapsed=first.phase_elapsed + step, at=first.at + step))
        assert len(asked) <= 1, len(asked)
        assert panel.hold_seconds == 3.0
        app.hold_numbers = 0.5
        assert panel.hold_seconds == 0.5  # the value is the app's, read every time


async def test_held_panels_are_drawn_together_once_one_is_due():
    """Six panels each drawn on its own 3 s clock cost six screen updates; once one is due, every held panel
    is drawn with it (one update), and none is drawn before any is due."""
    from dataclasses import replace
    from time import monotonic

    async with holding_app() as app:
        screen = app.screen
        first, second = (screen.query_one(f"#panel-{s}", ServicePanel) for s in ("perception", "capsule"))
        for panel in (first, second):
            panel._drawn_at = monotonic()
            panel.show(replace(panel.status, phase_elapsed=panel.status.phase_elapsed + 1))
        assert first.held and second.held
        screen.redraw_held()
        assert first.held and second.held  # neither is due: nothing drawn
        first._drawn_at -= 4.0  # the first one's 3 s are over; the second's are not
        screen.redraw_held()
        assert not first.held and not second.held  # both drawn, in the same screen update


async def test_a_panel_drawn_for_a_change_of_state_leaves_the_held_numbers_of_the_others_to_their_time():
    """In the demo some panel's verdict or weight changes every few seconds; drawing the five held panels
    with it redrew all six every ~2 s instead of every 3 s (issue 17, idle CPU). The changed panel is drawn
    at once, alone; the others wait until one of them is due, and then go together."""
    from dataclasses import replace
    from time import monotonic

    from console.engine.model import State

    async with holding_app() as app:
        screen = app.screen
        changed, *others = (screen.query_one(f"#panel-{s}", ServicePanel) for s in ("perception", "capsule", "plato"))
        for panel in others:
            panel._drawn_at = monotonic()
            panel.show(replace(panel.status, phase_elapsed=panel.status.phase_elapsed + 1))
        assert all(panel.held for panel in others)
        status = replace(changed.status, state=State.PAUSED)
        app.latest[status.service] = status
        screen.show_statuses([status])
        assert changed._drawn_key[0] is State.PAUSED and not changed.held  # drawn at once
        assert all(panel.held for panel in others)  # their numbers keep their 3 s
        others[0]._drawn_at -= 4.0
        screen.show_statuses([])
        assert not any(panel.held for panel in others)  # one due: all held drawn together


async def test_toasts_on_the_detail_never_cover_the_check_table_at_80x24():
    """Toasts on the detail go to the half of the screen the check table is not on, whatever the scroll,
    and speak the people's words (an alert quotes engine reasons: `p95_latency`)."""
    from textual.widgets._toast import Toast

    from widgets.check_table import CheckTable

    session, clock, app = await mixed_world()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await run_for(session, clock, 150)
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        body = app.screen.query_one("#detail-body")
        seen = 0
        for _ in range(12):
            app.clear_notifications()  # toasts last 5 s of wall time: raised anew at each scroll position
            app.notify("perception: rolled back from 25%: p95_latency: a message long enough to wrap at 80 "
                       "columns, which a toast does not do on the detail", severity="warning")
            app.notify("capsule: needs approval\nnexus: paused", severity="information")
            await pilot.pause()
            await pilot.pause()
            checks = app.screen.query_one(CheckTable).region.intersection(body.region)
            toasts = [toast.region for toast in app.screen.query(Toast)]
            assert len(toasts) >= 2 and all(t.width >= 70 for t in toasts)  # a line a message, full width
            assert not [t for t in toasts if t.overlaps(checks)], (checks, toasts, screen_text(app))
            seen += bool(checks.height)
            await pilot.press("down", "down")
        assert seen >= 4  # the table was on screen, at several heights, while the toasts were up
        assert "p95_latency" not in screen_text(app) and "P95 latency" in screen_text(app)
