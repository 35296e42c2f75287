"""The intent table room: every intent a person or a script may ask of a rollout, defined once.

One row per intent says its name (the only spelling: the session's dispatch, a request's action, the
dashboard's action, and, with ``-`` for ``_``, the CLI subcommand), the states in which the engine allows it
(the one rule: the controller refuses outside them with :func:`refusal`, the dashboard offers the key only
inside them), whether a person confirms it first, its default key, its title and help text. The dashboard
derives its key bindings, footer, help screen, command palette and ``check_action`` from this table; the
command line derives its action subcommands and confirmations from it; the session dispatches through it.

Pure vocabulary: it imports only the model, so widgets and screens may read it too.

To add an intent: a row here; its method of the same name on the controller (console/engine/intents.py),
gated by ``self._gate(name)`` (``Intents.act`` finds it by the row's name); and, only when its key must ask
something first (a confirmation, a version), an ``_ask_<name>`` in console/app.py's ``_askers``
(docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from console.engine.model import RolloutStatus, State

ACTIVE = frozenset((State.OBSERVING, State.PAUSED, State.AWAITING_APPROVAL))
TERMINAL = frozenset(s for s in State if s.terminal)
EVERY_STATE = frozenset(State)


class Confirm(StrEnum):
    """When a person is asked before the intent is sent (the dashboard's dialog, the CLI's ``[y/N]``)."""

    NEVER = "never"
    FORCED = "forced"  # only when forced past a failing verdict or unusable data
    ALWAYS = "always"


@dataclass(frozen=True, slots=True)
class Intent:
    """One intent: what it is called, when the engine allows it, how a person asks for it."""

    name: str
    states: frozenset[State]  # where the engine allows it; elsewhere refused "cannot <verb> while <state>"
    title: str
    help: str
    key: str | None = None  # the default key (a keymap setting may change it); None: no key
    verb: str = ""  # the refusal's words ("cannot change mode while …"); the name when empty
    confirm: Confirm = Confirm.NEVER
    cli: bool = True  # a one-shot subcommand of the command line
    cli_help: str = ""  # the subcommand's help; "<name> one rollout" when empty
    requestable: bool = False  # may be asked of another console or controller that drives the service
    forceable: bool = False  # takes ``force`` (past a failing verdict or unusable data)
    footer: bool = True  # shown in the dashboard's footer (else only in help and the palette)
    label: str = ""  # the footer's word for it; the title when empty

    @property
    def footer_label(self) -> str:
        return self.label or self.title

    @property
    def command(self) -> str:
        """The command line's spelling of the name: ``delete-canary``."""
        return self.name.replace("_", "-")

    @property
    def refusal_verb(self) -> str:
        return self.verb or self.name

    def refusal(self, state: State) -> str | None:
        """Why the engine refuses this intent in ``state`` (the one rule), or None when it allows it."""
        if state in self.states:
            return None
        return f"cannot {self.refusal_verb} while {state.label}"

    def needs_confirmation(self, force: bool = False) -> bool:
        return self.confirm is Confirm.ALWAYS or (self.confirm is Confirm.FORCED and force)


TABLE: tuple[Intent, ...] = (
    Intent("advance", ACTIVE, "Advance", "go to the next phase weight now (forced after a failing verdict: "
           "asks first)", key="a", confirm=Confirm.FORCED, requestable=True, forceable=True),
    Intent("pause", frozenset((State.OBSERVING, State.AWAITING_APPROVAL, State.DEPLOYING)), "Pause",
           "freeze the phase clock", key="p", requestable=True),
    Intent("resume", frozenset((State.PAUSED,)), "Resume", "let the phase clock run again", key="p",
           requestable=True),
    Intent("rollback", ACTIVE | {State.DEPLOYING, State.PROMOTING, State.ROLLING_BACK}, "Rollback",
           "weight 0 and canary scaled to 0, at once (asks first)", key="r", confirm=Confirm.ALWAYS,
           requestable=True),
    Intent("promote", ACTIVE, "Promote", "make the canary the stable version (asks first)", key="P",
           confirm=Confirm.ALWAYS, requestable=True, forceable=True),
    Intent("approve", frozenset((State.AWAITING_APPROVAL,)), "Approve",
           "leave manual review and continue the rollout", key="v", requestable=True),
    Intent("start", TERMINAL, "Start canary", "deploy a canary version at the first phase weight", key="s",
           cli=False, requestable=True, label="Start"),
    Intent("set_mode", EVERY_STATE, "Toggle auto / manual",
           "auto advances on passing checks; manual waits for you", key="m", verb="change mode", cli=False,
           footer=False, label="Auto/manual"),
    Intent("delete_canary", frozenset((State.ROLLED_BACK, State.FAILED, State.IDLE)), "Delete canary",
           "after a rollback: delete the canary Deployment, Service and Ingress (asks first)", key="D",
           verb="delete the canary", confirm=Confirm.ALWAYS,
           cli_help="after a rollback, delete the canary Deployment, Service and Ingress"),
    Intent("take_over", EVERY_STATE, "Take over",
           "drive a service another console drives: take its Lease (asks first)", key="T",
           confirm=Confirm.ALWAYS, cli_help="drive a service another console drives (takes its Lease)"),
    Intent("drive", EVERY_STATE, "Drive", "drive the service from this console (run SERVICE)", cli=False),
)

BY_NAME: Mapping[str, Intent] = {intent.name: intent for intent in TABLE}
NAMES: tuple[str, ...] = tuple(BY_NAME)
KEYED: tuple[Intent, ...] = tuple(intent for intent in TABLE if intent.key)  # the dashboard's service keys
CLI: tuple[Intent, ...] = tuple(intent for intent in TABLE if intent.cli)  # the CLI's action subcommands
REQUESTABLE: tuple[str, ...] = tuple(intent.name for intent in TABLE if intent.requestable)


def intent_named(name: str) -> Intent | None:
    """The intent called ``name`` (the CLI's ``delete-canary`` spelling too), or None."""
    return BY_NAME.get(name.replace("-", "_"))


def offered(intent: Intent, status: RolloutStatus) -> bool:
    """Whether the dashboard offers ``intent`` on a service in ``status``: the engine's rule (its states),
    and for two intents what the status says beyond its state: a canary to delete must exist, and a
    rollout is taken over only when this console does not drive it and it is under way (or driven
    elsewhere, which the caller decides)."""
    if intent.refusal(status.state) is not None:
        return False
    if intent.name == "delete_canary":
        return status.snapshot is None or status.snapshot.canary_exists
    if intent.name == "take_over":
        return not status.driving and not status.state.terminal
    return True


def keymap_problem(keymap: Mapping[str, str]) -> str | None:
    """Why a ``keymap`` setting ({intent: key}) cannot be used, in one line naming the field, or None.

    Unknown intents, intents without a key, empty keys and a key given to two intents are refused; pause
    and resume share one key by design (only one of them is ever allowed), so they may share a new one."""
    for name, key in keymap.items():
        intent = BY_NAME.get(name)
        if intent is None or intent.key is None:
            known = ", ".join(i.name for i in KEYED)
            return f"keymap.{name}: not an intent with a key (one of {known})"
        if not isinstance(key, str) or not key.strip() or "," in key or " " in key.strip():
            return f"keymap.{name}: must be one key, such as \"n\" or \"ctrl+n\", got {key!r}"
        if key in RESERVED_KEYS:
            return f"keymap.{name}: key {key!r} is already the console's own ({RESERVED_KEYS[key]})"
    keys = keys_for(keymap)
    holders: dict[str, list[str]] = {}
    for name, key in keys.items():
        holders.setdefault(key, []).append(name)
    for name in keymap:
        clash = [other for other in holders[keys[name]] if other != name and not _shared(name, other)]
        if clash:
            return f"keymap.{name}: key {keys[name]!r} is already {clash[0]}'s"
    return None


#: the keys the app and its screens keep for themselves (tests/test_keymap.py holds this equal to their
#: bindings): a keymap may not give one of them to an intent
RESERVED_KEYS: Mapping[str, str] = {
    "q": "quit", "question_mark": "help", "?": "help", "x": "dismiss the notifications",
    "ctrl+p": "command palette", "ctrl+c": "copy", "ctrl+q": "quit", "tab": "next section",
    "shift+tab": "previous section", "escape": "back / clear", "enter": "open the detail",
    "up": "select / scroll", "down": "select / scroll", "j": "select the next service",
    "k": "select the previous service", "home": "first", "end": "last", "g": "first service",
    "G": "last service", "pageup": "a page up", "pagedown": "a page down", "o": "sort",
    "colon": "jump to a service", ":": "jump to a service", "slash": "filter", "/": "filter",
    "left": "logs: scroll left", "right": "logs: scroll right", "f": "logs: follow", "z": "logs: pause",
    "t": "logs: track", "w": "logs: wrap", "l": "logs full screen",
}

SHARED_KEYS = frozenset({frozenset({"pause", "resume"})})  # one key toggles between them


def _shared(a: str, b: str) -> bool:
    return frozenset({a, b}) in SHARED_KEYS


def keys_for(keymap: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each keyed intent's key: the table's default unless the keymap names another. When the keymap moves
    one of pause / resume, the other follows (they share one key)."""
    keymap = dict(keymap or {})
    for pair in SHARED_KEYS:
        moved = [name for name in pair if name in keymap]
        if len(moved) == 1:
            for name in pair:
                keymap.setdefault(name, keymap[moved[0]])
    return {intent.name: keymap.get(intent.name, intent.key or "") for intent in KEYED}
