"""The app room: the Textual App that wires one engine Session to the screens.

It is the only place where the engine and the UI meet: the session runs in a named worker, bus events are
turned into Textual messages (STATUS events are coalesced and pushed to the screen that shows them, through
a modal, at most twice a second), key presses become ``session.intent(...)`` calls in named workers, one at a time per
service (a rollback is never held back), and log lines are followed in a named worker that feeds the
detail screen's bounded log view. Errors from the engine become notifications and panel lines, never
tracebacks.
"""

from __future__ import annotations

import asyncio
import gc
import os
import traceback
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import Monochrome, NoColor
from textual.message import Message
from textual.screen import Screen

from console.engine.config_layers import FirstFrame
from console.engine.intent_table import BY_NAME, KEYED, Intent, keys_for, offered
from console.engine.model import Event, EventKind, LogLine, Outcome, RolloutStatus, State, Track
from console.engine.notable import NotableRule, Notice
from console.engine.protocols import SessionView
from screens.confirm import ConfirmScreen
from screens.dashboard import DashboardScreen
from screens.help import HelpScreen
from screens.start_canary import StartCanaryScreen
from screens.status_screen import StatusScreen
from themes import CSS_PATH, THEMES, VARIABLE_DEFAULTS, resolve_theme
from widgets.guard import guarded
from widgets.history import MetricHistory
from widgets.text import clip, inert
from widgets.words import humane

if TYPE_CHECKING:  # pydantic is imported only to validate: the dashboard's first frame draws without it
    from console.engine.config import Config

FLUSH_SECONDS = 0.5
HOLD_NUMBERS_SECONDS = 3.0  # the CLI's: a status that only moves numbers redraws its panel at most this often
TIMELINE_SIZE = 300
BACKFILL_SECONDS = 3600.0

class EngineEvent(Message):
    """One non-STATUS engine event, delivered on the app's message queue."""

    def __init__(self, event: Event, on_timeline: bool = True) -> None:
        super().__init__()
        self.event = event
        self.on_timeline = on_timeline  # decided by CanaryApp._for_timeline as it came off the bus


class Noticed(Message):
    """A notable engine event (console.engine.notable) that needs a person: bell and toast."""

    def __init__(self, notice: Notice) -> None:
        super().__init__()
        self.notice = notice


class CanaryApp(App[int]):
    """The dashboard over one engine Session."""

    TITLE = "canary-console"
    CSS_PATH = CSS_PATH
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        # every service key from the intent table (console/engine/intent_table.py); a keymap setting moves them
        *(Binding(i.key or "", f"intent('{i.name}')", i.footer_label, show=i.footer, id=i.name) for i in KEYED),
        Binding("x", "dismiss_toasts", "dismiss the notifications", show=False, id="dismiss"),
    ]

    def __init__(self, session: SessionView | None = None, *, theme: str | None = None, read_only: bool = False,
                 on_ready: Callable[[], Awaitable[Any]] | None = None, autorun: bool = True,
                 flush_seconds: float = FLUSH_SECONDS, config: Config | FirstFrame | None = None,
                 connect: Callable[[], Awaitable[SessionView]] | None = None, freeze_gc: bool = False,
                 detect_colours: bool = False, hold_numbers: float = 0.0) -> None:
        """Either a ready ``session``, or a ``config`` and ``connect`` (awaited in a worker once the first
        frame is up; it returns the Session, or raises and the panels say why). ``config`` only needs
        ``service_names`` and ``weights`` (config_layers.FirstFrame) or ``phases`` (a validated Config): the
        session's validated config replaces it once attached. ``freeze_gc`` (the CLI's
        choice, not the tests': it keeps every object alive at that moment) moves what start-up built out of
        the collector's reach once the session is attached, so a full collection stalls the loop for a few
        ms instead of 30–50 ms. ``detect_colours`` (the CLI's choice; tests name their theme) picks the
        16- or 8-colour palette when no theme is named and the terminal has no more colours than that.
        ``hold_numbers`` (the CLI's 3 s; 0, every status drawn, in tests on a virtual clock): how long a
        status that only moves a panel's numbers may wait to be drawn (widgets/service_panel.py)."""
        if session is not None:
            config = session.config
        if config is None or (session is None and connect is None):
            raise ValueError("CanaryApp needs a session, or a config and a connect() that opens one")
        self._theme_name = resolve_theme(theme)  # before App.__init__, which consumes NO_COLOR
        self.no_color_requested = "NO_COLOR" in os.environ
        super().__init__()
        if self.no_color_requested:  # NO_COLOR means no colour at all, not Textual's shades of grey
            self._filters = [f for f in self._filters if not isinstance(f, Monochrome)] + [NoColor()]
        if theme is None and detect_colours and not self.no_color_requested:
            # the palette for the terminal's colours (16 or 8 on a bastion's xterm, screen or vt100)
            self._theme_name = resolve_theme(None, {"TERM": os.environ.get("TERM", "")},
                                             color_system=self.console.color_system)
        for palette in THEMES.values():  # before the stylesheet is first parsed: set on mount, it parsed twice
            self.register_theme(palette)
        self.theme = self._theme_name
        self.session: SessionView | None = session
        self.config: Config | FirstFrame = config
        self.keymap = keys_for(config.keymap)  # each service key, the keymap setting's where it names one
        self.connect = connect
        self.read_only = read_only or bool(session is not None and session.read_only)
        self.on_ready = on_ready
        self.autorun = autorun
        self.flush_seconds = flush_seconds
        self.freeze_gc = freeze_gc
        self.hold_numbers = hold_numbers
        self.services: list[str] = list(self.config.service_names)
        self.weights: list[int] = _phase_weights(self.config)
        self.latest: dict[str, RolloutStatus] = {}
        self.histories: dict[str, MetricHistory] = {s: MetricHistory() for s in self.services}
        self.timelines: dict[str, deque[Event]] = {s: deque(maxlen=TIMELINE_SIZE) for s in self.services}
        self._timeline_outcome: dict[str, str | None] = {}  # the last verdict outcome put on each timeline
        self.errors: dict[str, str | None] = dict.fromkeys(self.services)
        self.dirty: set[str] = set()
        self.busy: set[str] = set()
        self.bells = 0
        self.pending_alerts: list[str] = []
        self._announced: set[str] = set()
        self._offered: tuple[object, ...] = ()
        self._stop = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self.notable = NotableRule()  # the one rule of what needs a person (the session's config once attached)
        self.ui_errors = 0
        self._ui_errors_shown: set[str] = set()

    # ------------------------------------------------------------------ lifecycle
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self._apply_keymap()
        self.push_screen(DashboardScreen(self.services, self.weights,
                                         waiting="connecting…" if self.session is None else None))
        self.set_interval(self.flush_seconds, self.flush, name="flush-status")
        if self.session is not None:
            self.attach(self.session)

    def on_dashboard_screen_painted(self, message: DashboardScreen.Painted) -> None:
        if self.session is None and self.connect is not None:
            connect, self.connect = self.connect, None  # once
            self.run_worker(self._connect(connect), name="connect", group="engine", exit_on_error=False)

    def _apply_keymap(self) -> None:
        """Give the bindings the keymap setting's keys (Textual's keymap, by binding id: the intent's name)."""
        if self.keymap != keys_for():
            self.set_keymap(dict(self.keymap))

    async def _connect(self, connect: Callable[[], Awaitable[SessionView]]) -> None:
        """Open the session after the first frame: the panels say "connecting…" until it is up."""
        self.waiting("connecting…")
        try:
            session = await connect()
        except Exception as exc:  # unreachable cluster, refused credentials: said on every panel, no traceback
            message = inert(f"not connected: {exc}", 300)
            self.waiting(message)
            self.notify(message, severity="error", markup=False, timeout=30)
            return
        self.read_only = self.read_only or session.read_only
        self.attach(session)
        self.refresh_bindings()
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                screen.open_if_asked()

    def waiting(self, text: str) -> None:
        screen = self.screen if self.screen_stack else None
        if isinstance(screen, StatusScreen):
            screen.show_waiting(text)

    def attach(self, session: SessionView) -> None:
        """Start watching ``session``: its statuses, its events, its engine and the on_ready hook."""
        self.session = session
        self.config = session.config
        if keys_for(session.config.keymap) != self.keymap:
            self.keymap = keys_for(session.config.keymap)
            self._apply_keymap()
        self.notable = NotableRule.for_config(session.config)
        self._unsubscribe = session.bus.subscribe(self._on_bus)
        for status in session.status_all():
            self.take_status(status)
        self.waiting("waiting for the first status…")
        if self.autorun:
            self.run_worker(self._run_engine(session), name="engine", group="engine", exit_on_error=False)
        self.run_worker(self._backfill(session), name="backfill", group="engine", exit_on_error=False)
        if self.on_ready is not None:
            self.run_worker(self._run_on_ready(self.on_ready), name="on-ready", group="engine", exit_on_error=False)
        if self.freeze_gc:
            self.call_after_refresh(gc.freeze)

    def on_unmount(self) -> None:
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()

    async def _run_engine(self, session: SessionView) -> None:
        try:
            await session.run(self._stop)
        except Exception as exc:  # the engine should not raise; if it does, say so and keep the screen
            self.notify(inert(f"engine stopped: {exc}"), severity="error", markup=False, timeout=30)

    async def _backfill(self, session: SessionView, since_s: float = BACKFILL_SECONDS) -> None:
        """Fill the charts with the last hour from Prometheus, so a restarted console is not blind."""
        try:
            history = await session.backfill(since_s=since_s)
        except Exception as exc:  # backfill says its own port problems; anything else is only a notice
            self.notify(inert(f"chart back-fill failed: {exc}"), severity="warning", markup=False)
            return
        for service, windows in history.items():
            if service in self.histories and self.histories[service].backfill(windows):
                self.dirty.add(service)

    async def _run_on_ready(self, on_ready: Callable[[], Awaitable[Any]]) -> None:
        try:
            await on_ready()
        except Exception as exc:
            self.notify(inert(f"start-up failed: {exc}"), severity="error", markup=False, timeout=30)

    # ------------------------------------------------------------------ engine → screen
    def _on_bus(self, event: Event) -> None:
        """Bus subscriber (runs on the publishing task, on this loop): never blocks, never raises."""
        notice = self.notable.see(event)
        if notice is not None and notice.needs_person:
            self.post_message(Noticed(notice))
        if event.kind is EventKind.STATUS:
            status = event.data.get("status")
            if isinstance(status, RolloutStatus):
                self.take_status(status)
            return
        on_timeline = self._for_timeline(event)
        if event.kind is EventKind.VERDICT and not on_timeline:
            return  # the last outcome again (six a second in the demo): nothing on screen takes it
        self.post_message(EngineEvent(event, on_timeline))

    def take_status(self, status: RolloutStatus) -> None:
        if status.service not in self.histories:
            return
        self.latest[status.service] = status
        self.histories[status.service].add(status.metrics)
        self.dirty.add(status.service)

    @guarded("drawing statuses")
    def flush(self) -> None:
        """Push the statuses that changed since the last flush to the screen that shows them — the visible
        one, or the one behind a modal (a confirm dialog must not freeze the countdown you are deciding on) —
        once it is ready (mounted and caught up); before that they stay pending."""
        self._ring()
        if not self.screen_stack:
            return
        screen = self._status_screen()
        if screen is None or not screen.ready:
            return
        if not self.dirty:  # held-back numbers (widgets/service_panel.py) are drawn once their time comes
            screen.redraw_held()
            return
        changed = [self.latest[s] for s in self.services if s in self.dirty and s in self.latest]
        self.dirty.clear()
        screen.show_statuses(changed)
        if any(status.service == self.current_service for status in changed):
            self.refresh_bindings_if_changed()

    def _status_screen(self) -> StatusScreen | None:
        """The top-most screen that shows statuses (through any modal on top of it)."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, StatusScreen):
                return screen
        return None

    def refresh_bindings_if_changed(self) -> None:
        """Redraw the footer only when the keys on offer changed: a footer refresh recomposes it, which
        at one status a second was most of the idle dashboard's CPU."""
        offered = (self.current_service, tuple(self.check_action(i.name, ()) for i in KEYED))
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    def _for_timeline(self, event: Event) -> bool:
        """The rollout's timeline keeps every transition, action and decision, but a verdict only when its
        outcome changes: a pass every 10 s would bury what happened."""
        if event.service not in self.timelines:
            return False
        if event.kind is not EventKind.VERDICT:
            return True
        outcome = event.data.get("verdict", {}).get("verdict")
        changed = outcome != self._timeline_outcome.get(event.service)
        self._timeline_outcome[event.service] = outcome
        return changed

    @guarded("taking an engine event")
    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if message.on_timeline:
            self.timelines[event.service].append(event)
            screen = self._status_screen()
            if screen is not None and screen.ready:  # not ready: its mount reads the timeline
                screen.add_event(event)
        text = humane(inert(event.message, 300))
        if event.kind is EventKind.ERROR:
            self.errors[event.service] = text
            self.dirty.add(event.service)
            if "port" not in event.data or text not in self._announced:  # a port problem: once, not per service
                self._announced.add(text)
                where = "" if event.service == "*" else f"{event.service}: "  # "*": no one service (a sink)
                self.notify(f"{where}{text}", severity="error", markup=False, timeout=8)
        elif event.kind is EventKind.INFO and "port" in event.data:
            self._announced.clear()
        elif event.kind is EventKind.INFO and event.data.get("request"):  # pending → done, from the driver
            self.notify(f"{event.service}: {text}", markup=False)
        elif event.kind is EventKind.REFUSED:
            self.notify(f"{event.service}: {text}", severity="warning", markup=False)
        elif event.kind is EventKind.STATE:
            if event.data.get("to") != State.ROLLING_BACK.value:
                self.errors[event.service] = None

    def on_noticed(self, message: Noticed) -> None:
        """What needs a person, by the one rule (console.engine.notable): bell and toast."""
        self.alert(humane(inert(message.notice.summary, 300)))

    def report_ui_error(self, where: str, error: BaseException) -> None:
        """The UI's error boundary: a failed update is journalled with its traceback and shown once per
        kind as a notification; the app and the engine under it keep running."""
        self.ui_errors += 1
        text = inert(f"{where} failed: {type(error).__name__}: {error}", 300)
        journal = self.session.journal if self.session is not None else None
        if journal is not None:
            trace = "".join(traceback.format_exception(error))
            journal.append({"what": "ui_error", "where": where, "message": text, "traceback": trace})
        key = f"{where}:{type(error).__name__}"
        if key not in self._ui_errors_shown:
            self._ui_errors_shown.add(key)
            self.notify(f"{text} (the console keeps running)", severity="error", markup=False, timeout=10)

    def alert(self, text: str) -> None:
        """Queue a notification + bell; alerts arriving together become one toast and one bell."""
        self.pending_alerts.append(text)

    def _ring(self) -> None:
        if not self.pending_alerts:
            return
        alerts, self.pending_alerts = self.pending_alerts, []
        self.bells += 1
        self.bell()
        shown = alerts[:4] + ([f"… and {len(alerts) - 4} more"] if len(alerts) > 4 else [])
        self.notify("\n".join(shown), severity="warning", markup=False, timeout=12)

    # ------------------------------------------------------------------ the selected service
    @property
    def connected(self) -> bool:
        """A session is attached: the detail may open (it needs the validated config and the world)."""
        return self.session is not None

    @property
    def current_service(self) -> str | None:
        for screen in reversed(self.screen_stack):
            service = screen.current_service if isinstance(screen, StatusScreen) else None
            if service is not None:
                return service
        return None

    def current_status(self) -> RolloutStatus | None:
        service = self.current_service
        return self.latest.get(service) if service else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A service key is offered only where the intent table's rule allows it (``intent('pause')`` is a
        key's action; the intent's name alone asks the same)."""
        intent = _intent_of(action, parameters)
        if intent is None:
            return True
        if self.read_only or self.session is None:
            return False
        status = self.current_status()
        if status is None:
            return intent.name == "start" if self.current_service else False
        if status.read_only and intent.name != "take_over" and self.session.requests is None:
            return False  # driven elsewhere and this console cannot write requests: watching only
        return _allowed(intent, status)

    def limit(self, service: str, check: str) -> float:
        """The limit ``service``'s canary is held to now on ``check`` (error_rate, p95_latency,
        p99_latency): the base criteria, tightened by the current phase's triggers (the detail's charts)."""
        from console.engine.judge import effective_thresholds  # pydantic: not before the first frame

        config = self.config
        if isinstance(config, FirstFrame):  # not validated yet: nothing to draw a limit from
            return 0.0
        status = self.latest.get(service)
        if status is not None and 0 <= status.phase < len(config.phases):
            return effective_thresholds(config, config.phases[status.phase])[check]
        base = config.criteria
        return {"error_rate": base.error_rate_increase, "p95_latency": base.p95_increase,
                "p99_latency": base.p99_increase}[check]

    # ------------------------------------------------------------------ actions (keys, palette)
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self._help_rows()))

    def _help_rows(self) -> list[tuple[str, str]]:
        """(key, what it does) for the app's keys and the current screen's."""
        rows = []
        for binding in [*self.BINDINGS, *self.screen.BINDINGS]:
            if not isinstance(binding, Binding):
                continue
            intent = BY_NAME.get(binding.id or "") if binding.action.startswith("intent(") else None
            if intent is not None:
                if not self.read_only:
                    rows.append((self.keymap[intent.name], f"{intent.title}: {intent.help}"))
                continue
            key = binding.key_display or binding.key.replace(",", "/").replace("down", "↓").replace("up", "↑")
            rows.append((key, binding.description or binding.action))
        return rows

    def action_intent(self, name: str) -> None:
        """A service key (or the palette): ask the person first where the intent needs it, then send it."""
        service = self.current_service
        if service is None or name not in BY_NAME:
            return
        ask = self._askers().get(name)
        if ask is not None:
            ask(service)
        else:
            self.request_intent(service, name)

    def _askers(self) -> dict[str, Callable[[str], None]]:
        """The intents whose key asks something first (a confirmation, a version, the mode to set)."""
        return {"advance": self._ask_advance, "set_mode": self._ask_set_mode, "rollback": self._ask_rollback,
                "promote": self._ask_promote, "delete_canary": self._ask_delete_canary,
                "take_over": self._ask_take_over, "start": self._ask_start}

    def _ask_advance(self, service: str) -> None:
        status = self.latest.get(service)
        if status is not None and status.verdict is not None and status.verdict.outcome is Outcome.FAIL:
            self.confirm(f"Force {service} to the next phase although its checks fail?",
                         lambda: self.request_intent(service, "advance", force=True), default=False)
        elif status is not None and status.unusable:  # nothing to judge by: the person decides, knowing why
            self.confirm(f"Advance {service} without usable data? {inert(status.unusable)}",
                         lambda: self.request_intent(service, "advance", force=True), default=False)
        else:
            self.request_intent(service, "advance")

    async def action_quit(self) -> None:
        """Quit; while this console drives rollouts, say which stop progressing and ask first."""
        driven = [s for s in self.latest.values() if s.driving and not s.state.terminal]
        if not driven or (self.session is not None and self.session.ephemeral):  # the demo's world ends with the app
            self.exit()
            return
        names = ", ".join(f"{s.service} ({s.state.label} at {s.weight}%)" for s in driven)
        self.confirm(f"Quit? This console drives {names}: they stop progressing until a console drives them "
                     "again (canary-console run SERVICE, or T in a dashboard). Their records are saved.",
                     self.exit, default=False, service="")  # about every service: none named in bold

    def _ask_set_mode(self, service: str) -> None:
        status = self.latest.get(service)
        self.request_intent(service, "set_mode", auto=status is None or status.mode != "auto")

    def _ask_rollback(self, service: str) -> None:
        self.confirm(f"Roll back {service}? Canary weight goes to 0 and the canary is scaled to 0.",
                     lambda: self.request_intent(service, "rollback"), default=True)

    def _ask_promote(self, service: str) -> None:
        status = self.latest.get(service)
        failing = status is not None and status.verdict is not None and status.verdict.outcome is Outcome.FAIL
        version = inert(status.canary_version) if status and status.canary_version else "the canary"
        warning = " Its checks are FAILING." if failing else ""
        self.confirm(f"Promote {service} to {version} as the stable version?{warning}",
                     lambda: self.request_intent(service, "promote", force=failing), default=False)

    def _ask_delete_canary(self, service: str) -> None:
        self.confirm(f"Delete {service}'s canary Deployment, Service and Ingress? (the runbook's manual "
                     "rollback cleanup; the canary already gets no traffic)",
                     lambda: self.request_intent(service, "delete_canary"), default=False)

    def _ask_take_over(self, service: str) -> None:
        status = self.latest.get(service)
        if status is None:
            return
        if status.driver is None:  # an orphaned rollout: nobody to take it from
            self.confirm(f"Drive {service} from this console? {inert(status.reason)}",
                         lambda: self.request_intent(service, "take_over"), default=True)
            return
        self.confirm(f"Take over {service} from {inert(status.driver or 'the other console')}? It stops acting "
                     "at its next lease renewal.", lambda: self.request_intent(service, "take_over"), default=False)

    def _ask_start(self, service: str) -> None:
        def started(version: str | None) -> None:
            if version:
                if self.session is not None:  # the runbook's "Team notified" (when notifications are configured)
                    self.session.announce(service, version)
                self.request_intent(service, "start", version=version)

        self.push_screen(StartCanaryScreen(service), started)

    def confirm(self, question: str, then: Callable[[], object], *, default: bool, service: str | None = None) -> None:
        """Ask ``question``; the service it acts on (the selected one unless named; "" for none) in bold."""
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        named = self.current_service if service is None else (service or None)
        self.push_screen(ConfirmScreen(question, default=default, service=named), answered)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands, then every action of every service on the dashboard (the selection moves
        to the service first, so its confirm names it), or of the detail's own service."""
        yield from super().get_system_commands(screen)
        dashboard = next((s for s in reversed(self.screen_stack) if isinstance(s, DashboardScreen)), None)
        detail = self.current_service
        services = self.services if dashboard is not None and self.screen is dashboard else [detail]
        for service in [s for s in services if s]:
            for intent in KEYED:
                if self._offers(intent, service):
                    yield SystemCommand(f"{intent.title} {service}", intent.help, self._on_service(service, intent))

    def _offers(self, intent: Intent, service: str) -> bool:
        if self.read_only or self.session is None:
            return False
        status = self.latest.get(service)
        return intent.name == "start" if status is None else _allowed(intent, status)

    def _on_service(self, service: str, intent: Intent) -> Callable[[], None]:
        def run() -> None:
            if isinstance(self.screen, DashboardScreen) and self.screen.current_service != service:
                self.screen.jump_to(service)
            if self.current_service == service:
                self.action_intent(intent.name)
        return run

    def action_dismiss_toasts(self) -> None:
        self.clear_notifications()

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Toasts are short (two lines at most) and brief; `x` dismisses them all."""
        lines = humane(str(message)).splitlines() or [""]  # the people's words (an alert quotes engine reasons)
        short = "\n".join(clip(line, 96) for line in lines[:2]) + (f"\n… {len(lines) - 2} more" if len(lines) > 2 else "")
        limit = 8.0 if severity == "error" else 5.0
        super().notify(short, title=title, severity=severity, timeout=min(timeout or limit, limit), markup=markup)

    # ------------------------------------------------------------------ intents
    def request_intent(self, service: str, name: str, **kwargs: Any) -> bool:
        """Send one intent in a named worker; one at a time per service, except that rollback always goes."""
        if service in self.busy and name != "rollback":
            self.notify(f"{service}: still busy with the previous action", severity="warning", markup=False)
            return False
        self.busy.add(service)
        self.run_worker(self._intent(service, name, kwargs), name=f"intent:{service}:{name}",
                        group=f"intent:{service}", exit_on_error=False)
        return True

    async def _intent(self, service: str, name: str, kwargs: dict[str, Any]) -> None:
        try:
            if self.session is None:
                return
            result = await self.session.intent(service, name, **kwargs)
        except Exception as exc:
            self.notify(inert(f"{service} {name} failed: {exc}"), severity="error", markup=False)
            return
        finally:
            self.busy.discard(service)
        ok = result.ok
        message = inert(result.message or name)
        if not message.startswith(service):
            message = f"{service}: {message}"
        self.notify(message, severity="information" if ok else "warning", markup=False)
        self.refresh_bindings()

    # ------------------------------------------------------------------ logs
    def follow_logs(self, service: str, sink: Callable[[LogLine], None], track: Track | None = None) -> None:
        """Follow ``service``'s pod logs in a named worker, handing each LogLine to ``sink``."""
        if self.session is None:
            return
        self.run_worker(self._follow(service, sink, track), name=f"logs:{service}", group="logs",
                        exclusive=True, exit_on_error=False)

    def stop_logs(self) -> None:
        self.workers.cancel_group(self, "logs")

    async def _follow(self, service: str, sink: Callable[[LogLine], None], track: Track | None) -> None:
        if self.session is None:
            return
        try:
            lines: AsyncIterator[LogLine] = self.session.follow_logs(service, track)
            async for line in lines:
                sink(line)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.notify(inert(f"{service} logs stopped: {exc}"), severity="warning", markup=False)


def _phase_weights(config: Config | FirstFrame) -> list[int]:
    if isinstance(config, FirstFrame):
        return list(config.weights)
    return [phase.weight for phase in config.phases]


def _intent_of(action: str, parameters: tuple[object, ...]) -> Intent | None:
    """The intent a binding's action names: ``intent('pause')``, or ``pause`` alone."""
    if action == "intent" and parameters:
        return BY_NAME.get(str(parameters[0]))
    return BY_NAME.get(action)


def _allowed(intent: Intent, status: RolloutStatus) -> bool:
    """Whether the dashboard offers ``intent`` on a service in ``status``: the intent table's rule
    (console/engine/intent_table.offered), once the driver question is settled."""
    if status.read_only:  # driven elsewhere: take it over, or ask its driver (a request, engine/requests.py)
        if status.driver is None:
            return False
        if intent.name == "take_over":
            return True
        if not intent.requestable or intent.name == "start":
            return False
    return offered(intent, status)


async def run_app_async(session: SessionView | None = None, *, theme: str | None = None, read_only: bool = False,
                        on_ready: Callable[[], Awaitable[Any]] | None = None,
                        config: Config | FirstFrame | None = None,
                        connect: Callable[[], Awaitable[SessionView]] | None = None) -> int:
    app = CanaryApp(session, theme=theme, read_only=read_only, on_ready=on_ready, config=config, connect=connect,
                    freeze_gc=True, detect_colours=True,
                    hold_numbers=HOLD_NUMBERS_SECONDS)
    await app.run_async()
    return app.return_code or 0


def run_app(session: SessionView, *, theme: str | None = None, read_only: bool = False,
            on_ready: Callable[[], Awaitable[Any]] | None = None) -> int:
    """Run the dashboard until the user quits; the exit code (0, or 1 when the app failed)."""
    app = CanaryApp(session, theme=theme, read_only=read_only, on_ready=on_ready, freeze_gc=True,
                    detect_colours=True, hold_numbers=HOLD_NUMBERS_SECONDS)
    app.run()
    return app.return_code or 0
