"""Test room: the dashboard appears before its world is open. The app is given a config and a connect()
that the test releases by hand, so the first frame is checked while the connection is still pending
("connecting…" on every panel, no service keys), then after it comes up (statuses fill in) or fails (the
reason on every panel, no traceback); and the charts hold the back-filled hour before the first step.
Nothing sleeps: the pending connect is an asyncio.Event."""

from __future__ import annotations

import asyncio
import re

from console.app import CanaryApp
from console.engine.ports import ClusterError
from tests.test_tui_support import fake_session, run_for, screen_text, settle, start_all


async def _until(pilot, condition) -> None:
    for _ in range(200):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("the app never got there")


async def test_dashboard_is_drawn_while_connecting_and_fills_in_once_connected():
    session, clock, _cluster = fake_session()
    await start_all(session)
    await run_for(session, clock, 30)
    release = asyncio.Event()
    calls = []

    async def connect():
        calls.append("connect")
        await release.wait()
        return session

    app = CanaryApp(config=session.config, connect=connect, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: calls and "connecting…" in screen_text(app))
        text = screen_text(app)
        assert all(service in text for service in session.config.service_names)
        assert text.count("connecting…") == 6
        assert app.session is None and not app.check_action("rollback", ())
        release.set()
        await _until(pilot, lambda: app.session is session)
        await settle(app, pilot)
        text = screen_text(app)
        # each panel's state column (at 120x40 a panel's fifth line, `why: …`, may say observing again)
        states = [line for line in text.splitlines() if re.match(r"^\W*\w+ +observing ", line)]
        assert len(states) == 6 and "connecting…" not in text
        assert app.check_action("rollback", ())
    assert calls == ["connect"]


async def test_a_failed_connection_is_said_on_the_panels_not_raised():
    session, _clock, _cluster = fake_session()

    async def connect():
        raise ClusterError("connection refused by 127.0.0.1:1")

    app = CanaryApp(config=session.config, connect=connect, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: "not connected" in screen_text(app))
        assert "connection refused by 127.0.0.1:1" in screen_text(app)
        assert app.session is None and not app.check_action("advance", ())


async def test_the_charts_are_back_filled_before_any_step():
    session, clock, _cluster = fake_session()
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: any(w.name == "backfill" for w in app.workers) or len(app.histories["plato"]) > 1)
        for worker in [w for w in app.workers if w.name == "backfill"]:
            await worker.wait()
        await settle(app, pilot)
        assert session.steps == 0
        step = max(session.config.check_interval, 3600 / 360)
        for service in session.config.service_names:
            history = app.histories[service]
            times = history.times()
            assert len(history) == 361  # an hour of windows, one every 10 s, both ends included
            assert times == sorted(times) and times[0] == clock.now() - 3600 and times[1] - times[0] == step
            assert app.screen.panel(service).history is history


def _held_connection():
    """An app whose connect() waits until the test sets the returned event; and its session."""
    session, _clock, _cluster = fake_session()
    release = asyncio.Event()

    async def connect():
        await release.wait()
        return session

    return CanaryApp(config=session.config, connect=connect, autorun=False), session, release


async def test_enter_while_connecting_opens_the_detail_once_connected():
    """The notice says "the detail opens once connected": it must, for the service selected then (the
    tmux test of issue 19 pressed Enter twice while connecting and waited for a detail that never came)."""
    from screens.detail import ServiceDetailScreen

    app, session, release = _held_connection()
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: "connecting…" in screen_text(app))
        await pilot.press("j", "enter")
        await _until(pilot, lambda: any("still connecting" in n.message for n in app._notifications))
        assert not isinstance(app.screen, ServiceDetailScreen)
        release.set()
        await _until(pilot, lambda: isinstance(app.screen, ServiceDetailScreen))
        assert app.screen.service == session.config.service_names[1]


async def test_a_detail_asked_for_while_connecting_is_not_opened_over_another_screen():
    """Enter, then `?` while still connecting: once connected the help stays; the detail does not jump in."""
    from screens.detail import ServiceDetailScreen

    app, session, release = _held_connection()
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: "connecting…" in screen_text(app))
        await pilot.press("enter", "question_mark")
        await _until(pilot, lambda: len(app.screen_stack) > 2)
        helped = app.screen
        release.set()
        await _until(pilot, lambda: app.session is session)
        await settle(app, pilot)
        assert app.screen is helped and not any(isinstance(s, ServiceDetailScreen) for s in app.screen_stack)
