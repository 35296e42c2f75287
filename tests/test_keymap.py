"""Test room: the intent table (console/engine/intent_table.py) as the one rule and the one list of actions
(engine, dashboard, command line), and the keymap setting built on it: validated with a one-line error
naming the field, applied to the bindings, the footer and the help screen."""

from __future__ import annotations

import pytest

from console.app import CanaryApp
from console.cli import build_parser
from console.engine.config import Config, load_config
from console.engine.config_layers import ConfigError, first_frame
from console.engine.intent_table import (BY_NAME, CLI, KEYED, RESERVED_KEYS, TABLE, keymap_problem, keys_for,
                                         offered)
from console.engine.model import RolloutStatus, ServiceSnapshot, State
from screens.dashboard import DashboardScreen
from screens.detail import ServiceDetailScreen
from screens.help import HelpScreen
from tests.test_tui_support import fake_session, run_for, screen_text, settle, start_all

SIZE = (100, 30)


def _status(state: State, *, canary: bool = True, driving: bool = True) -> RolloutStatus:
    return RolloutStatus(service="perception", state=state, weight=10, phase=0, phase_weight=10,
                         phase_elapsed=0.0, phase_duration=60.0, mode="auto", verdict=None, reason="", stable_version="1.2.3",
                         canary_version="1.2.4", metrics=None,
                         snapshot=ServiceSnapshot("perception", canary_exists=canary), driving=driving)


# ---------------------------------------------------------------- one rule


@pytest.mark.parametrize("intent", TABLE, ids=lambda i: i.name)
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_the_dashboard_offers_an_intent_only_where_the_engine_allows_it(intent, state):
    status = _status(state)
    allowed = intent.refusal(state) is None
    assert offered(intent, status) <= allowed  # never a key the engine would refuse by its state
    if intent.name not in ("delete_canary", "take_over"):  # the two that also read the status
        assert offered(intent, status) == allowed
    if not allowed:
        assert intent.refusal(state) == f"cannot {intent.refusal_verb} while {state.label}"


def test_pause_is_offered_while_a_canary_deploys_as_the_engine_allows():
    """The dashboard used to hide `p` while deploying although the engine (and `canary-console pause`)
    allowed it: one rule now, the engine's."""
    assert offered(BY_NAME["pause"], _status(State.DEPLOYING))
    assert not offered(BY_NAME["delete_canary"], _status(State.ROLLED_BACK, canary=False))
    assert offered(BY_NAME["delete_canary"], _status(State.ROLLED_BACK))
    assert not offered(BY_NAME["take_over"], _status(State.OBSERVING))  # this console drives it already
    assert offered(BY_NAME["take_over"], _status(State.OBSERVING, driving=False))


async def test_every_intent_of_the_table_is_dispatched_to_its_controller_method():
    session, clock, cluster = fake_session()
    controller = session.controllers["perception"]
    for intent in TABLE:  # every handler refuses an argument it does not take, as a call would
        with pytest.raises(TypeError, match=f"{intent.name}\\(\\) got an unexpected keyword argument 'bogus'"):
            await controller.act(intent, bogus=True)
    unknown = await session.intent("perception", "toggle_mode")
    assert not unknown.ok and "unknown intent 'toggle_mode'" in unknown.message
    assert ", ".join(BY_NAME) in unknown.message


def test_the_intent_methods_are_the_rows_of_the_table_and_nothing_else():
    """``Intents.act`` finds a row's method by the row's name (console/engine/intents.py ``HANDLERS``, built
    once): a method with no row would be unreachable, and a row with no method fails at import."""
    import inspect

    from console.engine.intents import HANDLERS, Intents

    methods = {name for name, member in vars(Intents).items()
               if inspect.iscoroutinefunction(member) and not name.startswith("_")}
    assert methods == set(BY_NAME) == set(HANDLERS)
    assert all(HANDLERS[name] is vars(Intents)[name] for name in BY_NAME)


def test_the_command_line_derives_its_actions_and_confirmations_from_the_table():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for intent in CLI:
        assert intent.command in commands
    assert "set-mode" not in commands and "drive" not in commands  # (start is its own request command)
    assert {i.command for i in CLI} == {"advance", "pause", "resume", "approve", "rollback", "promote",
                                         "delete-canary", "take-over"}
    confirmed = {i.command for i in CLI if i.needs_confirmation()}
    assert confirmed == {"rollback", "promote", "delete-canary", "take-over"}
    assert BY_NAME["advance"].needs_confirmation(force=True)
    forced = commands["promote"].parse_args(["perception", "--force"])
    assert forced.force is True
    with pytest.raises(SystemExit):
        commands["pause"].parse_args(["perception", "--force"])


# ---------------------------------------------------------------- keymap validation


def test_a_keymap_moves_a_key_and_pause_and_resume_move_together():
    assert keymap_problem({"advance": "n"}) is None
    keys = keys_for({"advance": "n", "pause": "space"})
    assert keys["advance"] == "n" and keys["pause"] == keys["resume"] == "space" and keys["rollback"] == "r"
    assert keys_for() == {i.name: i.key for i in KEYED}


@pytest.mark.parametrize("keymap, field, words", [
    ({"advnce": "n"}, "keymap.advnce", "not an intent with a key (one of advance, pause"),
    ({"drive": "n"}, "keymap.drive", "not an intent with a key"),
    ({"advance": "r"}, "keymap.advance", "key 'r' is already rollback's"),
    ({"advance": "n", "promote": "n"}, "keymap.advance", "key 'n' is already promote's"),
    ({"approve": "q"}, "keymap.approve", "the console's own (quit)"),
    ({"approve": "j"}, "keymap.approve", "the console's own (select the next service)"),
    ({"approve": ""}, "keymap.approve", "must be one key"),
    ({"approve": "a,b"}, "keymap.approve", "must be one key"),
])
def test_a_bad_keymap_is_one_line_naming_the_field(tmp_path, keymap, field, words):
    path = tmp_path / "canary.yaml"
    path.write_text("keymap:\n" + "".join(f"  {name}: {key!r}\n" for name, key in keymap.items()))
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert "\n" not in message and f"field '{field}'" in message and words in message, message


def test_the_first_frame_takes_a_usable_keymap_only():
    assert first_frame({"keymap": {"advance": "n"}}).keymap == {"advance": "n"}
    assert first_frame({"keymap": {"advance": "r"}}).keymap == {}
    assert first_frame({"keymap": "n"}).keymap == {}


def test_the_reserved_keys_are_the_app_and_screens_own_bindings():
    """RESERVED_KEYS is held equal to the keys the app and its screens bind for themselves, so a keymap can
    never take one of them."""
    bound = set()
    for binding in [*CanaryApp.BINDINGS, *DashboardScreen.BINDINGS, *ServiceDetailScreen.BINDINGS,
                    *HelpScreen.BINDINGS]:
        if binding.id in BY_NAME:
            continue
        bound.update(key.strip() for key in binding.key.split(","))
    assert bound <= set(RESERVED_KEYS), bound - set(RESERVED_KEYS)
    assert not set(keys_for().values()) & set(RESERVED_KEYS)


# ---------------------------------------------------------------- keymap applied


async def test_a_keymap_moves_the_key_in_the_bindings_the_footer_and_the_help():
    session, clock, cluster = fake_session(config=Config(keymap={"advance": "n"}))
    await start_all(session, ["perception"])
    await run_for(session, clock, 60)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "n Advance" in footer and "a Advance" not in footer, footer
        weight = session.controllers["perception"].weight
        await pilot.press("a")  # the old key does nothing now
        await settle(app, pilot)
        assert session.controllers["perception"].weight == weight
        await pilot.press("n")
        await settle(app, pilot)
        assert session.controllers["perception"].weight > weight  # advanced by the new key
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.keys
        assert ("n", f"Advance: {BY_NAME['advance'].help}") in rows, rows
        assert not any(key == "a" for key, _ in rows)
