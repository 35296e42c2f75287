"""Test room: snapshot tests (pytest-textual-snapshot) of the dashboard and the service detail screen at
80x24, 120x40 and 200x50, the full-screen logs at 80x24, and the dashboard in the 16-colour palette (what a
bastion's TERM=xterm shows). Deterministic: the seeded simulated world on a virtual clock stepped to a fixed time
before the picture, the app's own run loop off, no header clock, toasts cleared, logs flushed by hand.
Update with `pytest tests/test_tui_snapshots.py --snapshot-update` after a deliberate change."""

from __future__ import annotations

import pytest

from console.app import CanaryApp
from tests.test_tui_support import run_for, settle, sim_session, start_all
from widgets.log_view import LogView

SIZES = [(80, 24), (120, 40), (200, 50)]
WORLD_SECONDS = 150  # long enough for canaries to be ready, verdicts and a rollback or two


def stepped_app(theme: str | None = None) -> tuple[CanaryApp, object]:
    session, clock = sim_session("mixed", seed=7)
    app = CanaryApp(session, autorun=False, theme=theme)

    async def prepare(pilot) -> None:
        await start_all(session)
        await run_for(session, clock, WORLD_SECONDS)
        await settle(app, pilot)
        app.clear_notifications()
        await pilot.pause()

    return app, prepare


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_snapshot(snap_compare, size):
    app, prepare = stepped_app()
    assert snap_compare(app, terminal_size=size, run_before=prepare)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail_snapshot(snap_compare, size):
    app, prepare = stepped_app()

    async def open_detail(pilot) -> None:
        await prepare(pilot)
        await pilot.press("j", "enter")
        await pilot.pause()
        await pilot.pause()
        app.screen.query_one(LogView).flush()
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_detail)


def test_dashboard_snapshot_16_colours(snap_compare):
    app, prepare = stepped_app(theme="16")
    assert snap_compare(app, terminal_size=(80, 24), run_before=prepare)


def test_full_screen_logs_snapshot(snap_compare):
    app, prepare = stepped_app()

    async def logs_full(pilot) -> None:
        await prepare(pilot)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        app.screen.query_one(LogView).flush()
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=logs_full)
