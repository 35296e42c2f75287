"""Test room: snapshot tests (pytest-textual-snapshot) of the dashboard and the service detail screen at
80x24 and 160x48. Deterministic: the seeded simulated world on a virtual clock stepped to a fixed time
before the picture, the app's own run loop off, no header clock, toasts cleared, logs flushed by hand.
Update with `pytest tests/test_tui_snapshots.py --snapshot-update` after a deliberate change."""

from __future__ import annotations

import pytest

from console.app import CanaryApp
from tests.test_tui_support import run_for, settle, sim_session, start_all
from widgets.log_view import LogView

SIZES = [(80, 24), (160, 48)]
WORLD_SECONDS = 150  # long enough for canaries to be ready, verdicts and a rollback or two


def stepped_app() -> tuple[CanaryApp, object]:
    session, clock = sim_session("mixed", seed=7)
    app = CanaryApp(session, autorun=False)

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
