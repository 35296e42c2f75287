"""Test room: Pilot tests of the dashboard, the detail screen and every key, asserting on what changed in
the engine (controller state, cluster writes) and on what the screen shows. The engine runs for real
(Session, controllers, judge) over the in-memory fakes or the seeded simulated world, on a virtual clock
the tests advance; the app's own run loop is off (autorun=False) so nothing waits on wall time."""

from __future__ import annotations

from contextlib import asynccontextmanager

from console.app import CanaryApp
from console.engine.model import State
from screens.confirm import ConfirmScreen
from screens.detail import ServiceDetailScreen
from screens.help import HelpScreen
from screens.start_canary import StartCanaryScreen
from tests.fakes import Traffic
from tests.test_tui_support import (app_watching, fake_session, run_for, screen_text, settle, sim_session,
                                    start_all)
from widgets.log_view import LogView
from widgets.pod_table import PodTable
from widgets.service_panel import ServicePanel

SIZE = (80, 24)


def state(session, service: str) -> State:
    return session.controllers[service].status.state


@asynccontextmanager
async def observed(size: tuple[int, int] = SIZE):
    """All six services observing at 10 % on the fakes, the app running and its first statuses drawn."""
    session, clock, cluster = fake_session()
    await start_all(session)
    await run_for(session, clock, 60)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        yield app, pilot, session, clock, cluster


async def test_dashboard_shows_all_six_services_with_state_weight_and_numbers():
    async with observed() as (app, pilot, session, clock, cluster):
        text = screen_text(app)
        for service in session.config.service_names:
            assert service in text
        assert text.count("observing") == 6
        assert "10%" in text and ("next 25% in" in text or "⏸ held" in text)  # held: no usable data yet
        assert "S 3/3 C 1/1" in text
        assert "err C 0.50%" in text and "P95 C 150ms" in text
        assert "1.2.3 → 1.2.4" in text


async def test_selection_moves_with_arrows_and_jk_and_stops_at_the_ends():
    async with observed() as (app, pilot, session, clock, cluster):
        assert app.current_service == "perception"
        await pilot.press("j", "down")
        assert app.current_service == "odyssey"
        await pilot.press("k")
        assert app.current_service == "capsule"
        await pilot.press("up", "up")
        assert app.current_service == "perception"
        assert "▶ perception" in screen_text(app)


async def test_advance_key_moves_the_selected_service_to_the_next_phase():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("a")
        await settle(app, pilot)
        assert session.controllers["perception"].status.weight == 25
        assert cluster.services["perception"].weight == 25
        assert session.controllers["capsule"].status.weight == 10
        assert "25%" in screen_text(app).splitlines()[1]


async def test_p_pauses_then_resumes_and_the_footer_follows_the_state():
    async with observed() as (app, pilot, session, clock, cluster):
        assert "Pause" in screen_text(app).splitlines()[-1]
        await pilot.press("p")
        await settle(app, pilot)
        assert state(session, "perception") is State.PAUSED
        assert "paused" in screen_text(app).splitlines()[1]
        assert "Resume" in screen_text(app).splitlines()[-1]
        await pilot.press("p")
        await settle(app, pilot)
        assert state(session, "perception") is State.OBSERVING


async def test_rollback_asks_first_and_n_keeps_the_canary():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Roll back perception" in screen_text(app)
        await pilot.press("n")
        await settle(app, pilot)
        assert state(session, "perception") is State.OBSERVING
        assert cluster.calls["rollback"] == 0


async def test_rollback_confirmed_with_y_rolls_back_at_once_and_shows_it():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("j", "r", "y")
        await settle(app, pilot)  # no clock advance: the rollback does not wait for a tick
        assert state(session, "capsule") is State.ROLLED_BACK
        assert cluster.services["capsule"].weight == 0
        assert state(session, "perception") is State.OBSERVING
        capsule_row = next(line for line in screen_text(app).splitlines() if "capsule" in line)
        assert "rolled back" in capsule_row
        assert "Rollback" not in screen_text(app).splitlines()[-1]  # no longer offered


async def test_enter_on_the_rollback_modal_takes_its_default_yes():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("r", "enter")
        await settle(app, pilot)
        assert state(session, "perception") is State.ROLLED_BACK


async def test_promote_asks_and_enter_defaults_to_no_then_y_promotes():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("P")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        assert cluster.calls["promote"] == 0
        await pilot.press("P", "y")
        await settle(app, pilot)
        await run_for(session, clock, 30)
        await settle(app, pilot)
        assert cluster.calls["promote"] == 1
        assert state(session, "perception") in (State.PROMOTING, State.PROMOTED)


async def test_forced_advance_on_a_failing_canary_asks_first():
    fault = {"perception": lambda _t, _w: Traffic(error_rate=0.06)}
    session, clock, cluster = fake_session(canary=fault)
    session.config.auto_rollback = False  # keep the failing canary in place so a person must decide
    await start_all(session, ["perception"])
    await run_for(session, clock, 60)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "fail" in screen_text(app).splitlines()[3]
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Force perception" in screen_text(app)
        await pilot.press("y")
        await settle(app, pilot)
        assert cluster.services["perception"].weight == 25


async def test_p99_regression_awaits_approval_with_bell_and_v_approves():
    slow_tail = {"perception": lambda _t, _w: Traffic(p99=0.40)}
    async with app_watching(slow_tail, ["perception"], 120) as (app, pilot, session, _clock, _cluster):
        assert state(session, "perception") is State.AWAITING_APPROVAL
        assert app.bells >= 1
        assert "awaiting approval" in screen_text(app)
        assert "Approve" in screen_text(app).splitlines()[-1]
        await pilot.press("v")
        await settle(app, pilot)
        assert state(session, "perception") is State.OBSERVING


async def test_auto_rollback_rings_the_bell_and_notifies():
    errors = {"capsule": lambda _t, w: Traffic(error_rate=0.05)}
    async with app_watching(errors, ["capsule"], 120) as (app, pilot, session, _clock, _cluster):
        assert state(session, "capsule") is State.ROLLED_BACK
        assert app.bells == 1
        assert any("rolled back automatically" in n.message for n in app._notifications)
        assert "rolled back" in screen_text(app)


async def test_s_starts_a_canary_with_the_version_typed():
    session, clock, cluster = fake_session()
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await run_for(session, clock, 10)
        await settle(app, pilot)
        assert "Advance" not in screen_text(app).splitlines()[-1]  # nothing to advance yet
        await pilot.press("s")
        assert isinstance(app.screen, StartCanaryScreen)
        await pilot.press(*"2.0.0-rc1", "enter")
        await settle(app, pilot)
        assert cluster.services["perception"].canary_version == "2.0.0-rc1"
        assert state(session, "perception") in (State.DEPLOYING, State.OBSERVING)


async def test_escape_cancels_start_and_bad_versions_are_refused():
    session, clock, cluster = fake_session()
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("s", *"[bad]", "enter")
        assert isinstance(app.screen, StartCanaryScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert cluster.calls["start_canary"] == 0


async def test_m_toggles_manual_mode_and_back():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("m")
        await settle(app, pilot)
        assert session.controllers["perception"].status.mode == "manual"
        assert "manual" in screen_text(app).splitlines()[3]
        await pilot.press("m")
        await settle(app, pilot)
        assert session.controllers["perception"].status.mode == "auto"


async def test_help_names_advance_pause_and_rollback_keys():
    async with observed() as (app, pilot, _session, _clock, _cluster):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "a        Advance" in text and "p        Pause" in text and "r        Rollback" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_o_sorts_what_needs_a_person_first():
    errors = {"synapse": lambda _t, w: Traffic(error_rate=0.05)}
    session, clock, _cluster = fake_session(canary=errors)
    await start_all(session)
    await run_for(session, clock, 120)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        order = [p.service for p in app.screen.query(ServicePanel)]
        assert order[0] == "perception"
        await pilot.press("o")
        await settle(app, pilot)
        order = [p.service for p in app.screen.query(ServicePanel)]
        assert order[0] == "synapse"
        assert screen_text(app).splitlines()[1].lstrip("█ ▶").startswith("synapse")
        assert app.current_service == "perception"  # the selection follows the service, not the row


async def test_read_only_offers_no_write_keys_and_sends_nothing():
    session, clock, cluster = fake_session(read_only=True)
    await run_for(session, clock, 20)
    app = CanaryApp(session, autorun=False, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "Start" not in footer and "Rollback" not in footer
        await pilot.press("s", "r", "a", "p")
        await settle(app, pilot)
        assert not isinstance(app.screen, (StartCanaryScreen, ConfirmScreen))
        assert sum(cluster.calls[op] for op in ("start_canary", "rollback", "set_weight")) == 0


async def test_command_palette_lists_the_service_actions():
    async with observed() as (app, pilot, _session, _clock, _cluster):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for wanted in ("Advance perception", "Pause perception", "Rollback perception", "Promote perception",
                       "Toggle auto / manual perception"):
            assert wanted in titles
        assert "Approve perception" not in titles and "Resume perception" not in titles


async def test_engine_errors_become_notifications_and_panel_lines_not_tracebacks():
    async with observed() as (app, pilot, session, clock, cluster):
        session.metrics.fail_polls = 1
        await run_for(session, clock, 10)
        await settle(app, pilot)
        assert any("Prometheus unreachable" in n.message for n in app._notifications)
        assert sum("Prometheus unreachable" in n.message for n in app._notifications) == 1  # once, not ×6
        assert "⚠" in screen_text(app)
        assert app.return_code is None  # still running


async def test_detail_screen_shows_pods_checks_events_charts_and_escape_returns():
    async with observed(size=(160, 48)) as (app, pilot, session, clock, cluster):
        await pilot.press("enter")
        assert isinstance(app.screen, ServiceDetailScreen)
        await run_for(session, clock, 30)
        await pilot.press("a")
        await settle(app, pilot)
        text = screen_text(app)
        for wanted in ("Pods", "Checks", "Events", "error rate (%)", "P95 latency (ms)", "P99 latency (ms)",
                       "perception-canary", "error rate", "success rate", "threshold", "advance"):
            assert wanted in text, wanted
        pods = app.screen.query_one(PodTable)
        assert pods.row_count == 4
        await pilot.press("escape")
        assert not isinstance(app.screen, ServiceDetailScreen)


async def test_pod_table_updates_in_place():
    async with observed(size=(160, 48)) as (app, pilot, session, clock, cluster):
        await pilot.press("enter")
        await settle(app, pilot)
        table = app.screen.query_one(PodTable)
        rows_before = list(table.rows)
        cluster.services["perception"].canary_restarts = 2
        await run_for(session, clock, 10)
        await settle(app, pilot)
        assert list(table.rows) == rows_before  # same row keys: nothing rebuilt
        assert 1 <= table.cell_updates <= 4


async def test_logs_follow_filter_track_and_pause_with_hostile_lines_shown_literally():
    session, clock = sim_session("healthy")
    await start_all(session, ["perception"])
    await run_for(session, clock, 60)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await clock.advance(300)  # the log worker follows the simulated pods on the virtual clock
        await pilot.pause(0.3)
        logs = app.screen.query_one(LogView)
        assert logs.received > 50
        shown = "\n".join(logs.lines)
        assert "[/bad]" in shown and "[@click=app.quit]" in shown
        assert "\x1b" not in shown and "␛[31m" in shown and "␛]0;pwned␇" in shown
        assert app.is_running  # the [@click=app.quit] line did not quit
        await pilot.press("slash", *"WARN", "enter")
        assert logs.lines and all("warn" in line.lower() for line in logs.lines)
        assert len(logs.lines) < len(logs.kept)
        await pilot.press("t")
        assert logs.track is not None and all(line[9:15] == logs.track.value for line in logs.lines)
        await pilot.press("t", "t")
        assert logs.track is None
        await pilot.press("z")
        count = len(logs.kept)
        await clock.advance(120)
        await pilot.pause(0.3)
        assert len(logs.kept) == count and logs.pending  # paused: lines wait, bounded
        await pilot.press("z")
        assert len(logs.kept) > count
        await pilot.press("escape")
        assert not isinstance(app.screen, ServiceDetailScreen)
        assert not [w for w in app.workers if w.group == "logs" and w.is_running]


async def test_dashboard_reflows_from_rows_to_a_grid_of_panels_on_resize():
    async with observed() as (app, pilot, _session, _clock, _cluster):
        panel = app.screen.query_one("#panel-perception", ServicePanel)
        assert panel.size.height == 3 and "╭" not in screen_text(app)
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert app.screen.has_class("-wide") and app.screen.has_class("-tall")
        assert panel.size.height >= 12 and panel.size.width < 80  # two columns of tall panels
        text = screen_text(app)
        assert "error rate  scale 0–" in text and "P95 latency  scale 0–" in text
        assert text.count("╭") + text.count("┏") == 6
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert panel.size.height == 3


async def test_timeline_keeps_transitions_but_a_verdict_only_when_it_changes():
    async with observed() as (app, pilot, session, clock, cluster):
        before, steps = len(app.timelines["perception"]), session.steps
        await run_for(session, clock, 120)  # twelve checks, each publishing a verdict
        await settle(app, pilot)
        added = list(app.timelines["perception"])[before:]
        assert session.steps - steps == 12
        assert sum(1 for e in added if e.kind.value == "verdict") <= 2  # only where the outcome changed
        await pilot.press("p")
        await settle(app, pilot)
        assert any(e.kind.value == "state" and "paused" in e.message for e in app.timelines["perception"]), [(e.kind.value, e.message[:60]) for e in list(app.timelines["perception"])[-5:]]


async def test_a_verdict_with_the_last_outcome_posts_no_message_and_a_changed_one_reaches_the_timeline(
        monkeypatch):
    """Each check publishes a verdict (six a second in the demo); one whose outcome is the last one's goes
    on no timeline and nothing else on screen reads it, so it is not put on the app's message queue at all."""
    from console.app import EngineEvent
    from console.engine.model import Event, EventKind

    async with observed() as (app, pilot, session, clock, cluster):
        await settle(app, pilot)
        posted: list[Event] = []
        original = app.post_message

        def counting(message):
            if isinstance(message, EngineEvent):
                posted.append(message.event)
            return original(message)

        monkeypatch.setattr(app, "post_message", counting)
        await run_for(session, clock, 120)  # twelve checks for each of six services, each with a verdict
        await settle(app, pilot)
        verdicts = [e for e in posted if e.kind is EventKind.VERDICT]
        assert session.steps >= 12 and len(verdicts) <= 2 * len(app.services), len(verdicts)
        before = len(app.timelines["perception"])
        last = next(e for e in reversed(app.timelines["perception"]) if e.kind is EventKind.VERDICT)
        flipped = "fail" if last.data["verdict"]["verdict"] != "fail" else "pass"
        app._on_bus(Event(EventKind.VERDICT, last.service, last.at + 1, "a changed outcome",
                          data={"verdict": {"verdict": flipped}}))
        app._on_bus(Event(EventKind.VERDICT, last.service, last.at + 2, "the same again",
                          data={"verdict": {"verdict": flipped}}))
        await pilot.pause()
        added = list(app.timelines["perception"])[before:]
        assert [e.message for e in added] == ["a changed outcome"]
        assert [e.message for e in posted[-1:]] == ["a changed outcome"]


async def test_delete_canary_is_offered_only_after_a_rollback_and_asks_first():
    async with observed() as (app, pilot, session, clock, cluster):
        assert "Delete canary" not in screen_text(app).splitlines()[-1]
        await pilot.press("D")  # not offered while observing: nothing happens
        await settle(app, pilot)
        assert cluster.calls["delete_canary"] == 0
        await pilot.press("r", "y")
        await settle(app, pilot)
        await run_for(session, clock, 10)
        await settle(app, pilot)
        assert "Delete canary" in screen_text(app).splitlines()[-1]
        await pilot.press("D", "n")
        await settle(app, pilot)
        assert cluster.calls["delete_canary"] == 0
        await pilot.press("D", "y")
        await settle(app, pilot)
        assert cluster.calls["delete_canary"] == 1
        assert state(session, "perception") is State.IDLE


async def test_another_consoles_service_is_watched_and_T_takes_it_over_after_asking():
    session, clock, cluster = fake_session()
    cluster.identity = "me@bastion"
    await start_all(session, ["perception"])
    await run_for(session, clock, 30)
    cluster.services["perception"].driver = "alice@other-bastion"
    await run_for(session, clock, 10)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "Take over" in footer and "Rollback" not in footer  # watching: no write keys but this one
        await pilot.press("a")
        await settle(app, pilot)
        assert cluster.calls["set_weight"] == 1  # only the first phase's weight; 'a' did nothing
        await pilot.press("T", "n")
        await settle(app, pilot)
        assert cluster.calls["take_over"] == 0
        await pilot.press("T", "y")
        await settle(app, pilot)
        assert cluster.calls["take_over"] == 1
        assert cluster.services["perception"].driver == "me@bastion"
        assert "Rollback" in screen_text(app).splitlines()[-1]


async def test_detail_charts_draw_the_limit_of_the_current_phase():
    async with observed() as (app, pilot, session, clock, cluster):
        await pilot.press("enter")
        await settle(app, pilot)
        detail = app.screen
        assert isinstance(detail, ServiceDetailScreen)
        assert (detail.limit("error_rate"), detail.limit("p99_latency")) == (0.01, 0.50)  # initial phase
        for _ in range(2):  # to 25 %, then 50 %
            await session.intent("perception", "advance")
            await run_for(session, clock, 10)
            await settle(app, pilot)
        assert session.controllers["perception"].status.weight == 50
        assert detail.limit("p99_latency") == 0.20  # mid: latency > 20 % (P99 tightened)
        await session.intent("perception", "advance")
        await run_for(session, clock, 10)
        await settle(app, pilot)
        assert detail.limit("error_rate") == 0.005  # late: the early phase's 0.5 pp too
