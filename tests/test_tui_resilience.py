"""Test room: the dashboard must never die under the person using it (issue 19).

A status flush, an engine event or a log line that reaches a screen before its widgets are mounted must
wait for the screen's catch-up, not crash the app; an exception in a UI update is caught at the boundary,
journalled with its traceback and shown once, and the engine keeps running. The stress test pushes and pops
every screen in a seeded random order while statuses, events and logs stream in, and calls the flush at the
worst moments (right after a push, before the screen could mount), which is what a loaded machine does."""

from __future__ import annotations

import json
import random

from console.app import CanaryApp, EngineEvent
from console.engine.audit import Journal
from screens.confirm import ConfirmScreen
from screens.detail import ServiceDetailScreen
from screens.help import HelpScreen
from tests.test_tui_support import fake_session, run_for, screen_text, settle, sim_session, start_all
from widgets.pod_table import PodTable


async def test_a_flush_before_the_detail_is_mounted_waits_for_its_catch_up():
    session, clock, _cluster = fake_session()
    await start_all(session)
    await run_for(session, clock, 30)
    app = CanaryApp(session, autorun=False, flush_seconds=3600)  # only the test flushes: on a loaded machine
    async with app.run_test(size=(160, 48)) as pilot:            # the 0.5 s timer emptied app.dirty first
        await settle(app, pilot)
        await run_for(session, clock, 10)  # new statuses pending for every service
        assert app.dirty
        app.push_screen(ServiceDetailScreen("perception", app.weights))
        app.flush()  # before the screen could compose: what a busy loop lets happen
        app.on_engine_event(EngineEvent(next(iter(app.timelines["perception"]))))
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ServiceDetailScreen) and app.screen.ready
        app.flush()
        await pilot.pause()
        assert app.return_code is None and app.is_running
        assert app.ui_errors == 0
        assert "perception-canary" in screen_text(app) or "C " in screen_text(app)
        assert app.screen.query_one(PodTable).row_count > 0


async def test_an_exception_in_a_ui_update_is_journalled_shown_once_and_the_engine_keeps_running(
        tmp_path, monkeypatch):
    session, clock, _cluster = fake_session()
    journal = Journal(tmp_path / "journal.jsonl")
    journal.bind(session.bus)
    session.journal = journal
    await start_all(session)
    await run_for(session, clock, 30)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ServiceDetailScreen)

        def broken(self, *args, **kwargs):
            raise RuntimeError("widget bug")

        monkeypatch.setattr(PodTable, "show", broken)
        for _ in range(3):
            await run_for(session, clock, 10)
            await settle(app, pilot)
        assert app.is_running and app.return_code is None
        assert app.ui_errors == 3
        toasts = [n for n in app._notifications if "widget bug" in n.message]
        assert len(toasts) == 1 and "keeps running" in toasts[0].message
        lines = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
        errors = [line for line in lines if line.get("what") == "ui_error"]
        assert len(errors) == 3 and "RuntimeError: widget bug" in errors[0]["traceback"]
        before = clock.now()
        await run_for(session, clock, 30)  # the engine still steps and the app still takes its statuses
        await settle(app, pilot)
        assert clock.now() > before and app.is_running
        await pilot.press("escape")
        await settle(app, pilot)
        assert "perception" in screen_text(app)


async def test_stress_pushing_and_popping_every_screen_while_everything_streams_never_ends_the_app():
    rng = random.Random(19)
    session, clock = sim_session(seed=19)
    await start_all(session)
    await run_for(session, clock, 30)
    app = CanaryApp(session, autorun=False, flush_seconds=0.01)
    moves = ["open", "help", "confirm", "logs_full", "back", "back", "flush_now", "keys"]
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        for round_ in range(120):
            move = rng.choice(moves)
            if move == "open" and not isinstance(app.screen, ServiceDetailScreen):
                app.push_screen(ServiceDetailScreen(rng.choice(app.services), app.weights))
                app.flush()  # at the worst moment
            elif move == "help":
                app.push_screen(HelpScreen([]))
                app.flush()
            elif move == "confirm":
                app.push_screen(ConfirmScreen("Roll back perception?"))
                app.flush()
            elif move == "logs_full" and isinstance(app.screen, ServiceDetailScreen):
                await pilot.press("l")
            elif move == "back" and len(app.screen_stack) > 1:
                app.pop_screen()
                app.flush()
            elif move == "keys":
                await pilot.press(rng.choice(["j", "k", "t", "z", "f"]))
            await session.step()
            await clock.advance(session.config.check_interval)
            app.flush()
            if round_ % 3 == 0:
                await pilot.pause()
            assert app.is_running, f"the app ended at round {round_} ({move})"
        await pilot.pause()
        assert app.return_code is None
        assert app.ui_errors == 0, [n.message for n in app._notifications]
