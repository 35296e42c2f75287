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
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import Monochrome, NoColor
from textual.message import Message
from textual.screen import Screen

from console.engine.model import Event, EventKind, Outcome, RolloutStatus, State, Track
from console.engine.notable import NotableRule, Notice
from console.engine.requests import REQUESTABLE
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

ACTIVE = (State.OBSERVING, State.PAUSED, State.AWAITING_APPROVAL)
SERVICE_ACTIONS = ("advance", "pause", "resume", "rollback", "promote", "approve", "start", "toggle_mode",
                   "delete_canary", "take_over")
FLUSH_SECONDS = 0.5
HOLD_NUMBERS_SECONDS = 3.0  # the CLI's: a status that only moves numbers redraws its panel at most this often
TIMELINE_SIZE = 300
BACKFILL_SECONDS = 3600.0

# (action, title, help) for the command palette and the help screen
ACTION_HELP = (
    ("advance", "Advance", "go to the next phase weight now (forced after a failing verdict: asks first)"),
    ("pause", "Pause", "freeze the phase clock"),
    ("resume", "Resume", "let the phase clock run again"),
    ("rollback", "Rollback", "weight 0 and canary scaled to 0, at once (asks first)"),
    ("promote", "Promote", "make the canary the stable version (asks first)"),
    ("approve", "Approve", "leave manual review and continue the rollout"),
    ("start", "Start canary", "deploy a canary version at the first phase weight"),
    ("toggle_mode", "Toggle auto / manual", "auto advances on passing checks; manual waits for you"),
    ("delete_canary", "Delete canary", "after a rollback: delete the canary Deployment, Service and Ingress (asks first)"),
    ("take_over", "Take over", "drive a service another console drives: take its Lease (asks first)"),
)


class EngineEvent(Message):
    """One non-STATUS engine event, delivered on the app's message queue."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


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
        Binding("a", "advance", "Advance", id="advance"),
        Binding("p", "pause", "Pause", id="pause"),
        Binding("p", "resume", "Resume", id="resume"),
        Binding("r", "rollback", "Rollback", id="rollback"),
        Binding("P", "promote", "Promote", key_display="P", id="promote"),
        Binding("v", "approve", "Approve", id="approve"),
        Binding("s", "start", "Start", id="start"),
        Binding("m", "toggle_mode", "Auto/manual", id="toggle_mode", show=False),
        Binding("D", "delete_canary", "Delete canary", key_display="D", id="delete_canary"),
        Binding("T", "take_over", "Take over", key_display="T", id="take_over"),
        Binding("x", "dismiss_toasts", "dismiss the notifications", show=False, id="dismiss"),
    ]

    def __init__(self, session: Any = None, *, theme: str | None = None, read_only: bool = False,
                 on_ready: Callable[[], Awaitable[Any]] | None = None, autorun: bool = True,
                 flush_seconds: float = FLUSH_SECONDS, config: Any = None,
                 connect: Callable[[], Awaitable[Any]] | None = None, freeze_gc: bool = False,
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
        if session is None and (config is None or connect is None):
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
        for theme in THEMES.values():  # before the stylesheet is first parsed: set on mount, it parsed twice
            self.register_theme(theme)
        self.theme = self._theme_name
        self.session = session
        self.config = session.config if session is not None else config
        self.connect = connect
        self.read_only = read_only or bool(getattr(session, "read_only", False))
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
        self._offered: tuple[Any, ...] = ()
        self._stop = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self.notable = NotableRule()  # the one rule of what needs a person (the session's config once attached)
        self.ui_errors = 0
        self._ui_errors_shown: set[str] = set()

    # ------------------------------------------------------------------ lifecycle
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen(self.services, self.weights,
                                         waiting="connecting…" if self.session is None else None))
        self.set_interval(self.flush_seconds, self.flush, name="flush-status")
        if self.session is not None:
            self.attach(self.session)

    def on_dashboard_screen_painted(self, message: DashboardScreen.Painted) -> None:
        if self.session is None and self.connect is not None:
            connect, self.connect = self.connect, None  # once
            self.run_worker(self._connect(connect), name="connect", group="engine", exit_on_error=False)

    async def _connect(self, connect: Callable[[], Awaitable[Any]]) -> None:
        """Open the session after the first frame: the panels say "connecting…" until it is up."""
        self.waiting("connecting…")
        try:
            session = await connect()
        except Exception as exc:  # unreachable cluster, refused credentials: said on every panel, no traceback
            message = inert(f"not connected: {exc}", 300)
            self.waiting(message)
            self.notify(message, severity="error", markup=False, timeout=30)
            return
        self.read_only = self.read_only or bool(getattr(session, "read_only", False))
        self.attach(session)
        self.refresh_bindings()

    def waiting(self, text: str) -> None:
        show = getattr(self.screen, "show_waiting", None) if self.screen_stack else None
        if show is not None:
            show(text)

    def attach(self, session: Any) -> None:
        """Start watching ``session``: its statuses, its events, its engine and the on_ready hook."""
        self.session = session
        self.config = session.config
        self.notable = NotableRule.for_config(session.config)
        self._unsubscribe = session.bus.subscribe(self._on_bus)
        for status in session.status_all():
            self.take_status(status)
        self.waiting("waiting for the first status…")
        if self.autorun:
            self.run_worker(self._run_engine(), name="engine", group="engine", exit_on_error=False)
        if callable(getattr(session, "backfill", None)):
            self.run_worker(self._backfill(session), name="backfill", group="engine", exit_on_error=False)
        if self.on_ready is not None:
            self.run_worker(self._run_on_ready(self.on_ready), name="on-ready", group="engine", exit_on_error=False)
        if self.freeze_gc:
            self.call_after_refresh(gc.freeze)

    def on_unmount(self) -> None:
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()

    async def _run_engine(self) -> None:
        try:
            await self.session.run(self._stop)
        except Exception as exc:  # the engine should not raise; if it does, say so and keep the screen
            self.notify(inert(f"engine stopped: {exc}"), severity="error", markup=False, timeout=30)

    async def _backfill(self, session: Any, since_s: float = BACKFILL_SECONDS) -> None:
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
        self.post_message(EngineEvent(event))

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
            redraw = getattr(screen, "redraw_held", None)
            if redraw is not None:
                redraw()
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
        offered = (self.current_service, tuple(self.check_action(a, ()) for a in SERVICE_ACTIONS))
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
        if self._for_timeline(event):
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
        self.alert(inert(message.notice.summary, 300))

    def report_ui_error(self, where: str, error: BaseException) -> None:
        """The UI's error boundary: a failed update is journalled with its traceback and shown once per
        kind as a notification; the app and the engine under it keep running."""
        self.ui_errors += 1
        text = inert(f"{where} failed: {type(error).__name__}: {error}", 300)
        journal = getattr(self.session, "journal", None)
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
    def current_service(self) -> str | None:
        for screen in reversed(self.screen_stack):
            service = getattr(screen, "current_service", None)
            if service is not None:
                return service
        return None

    def current_status(self) -> RolloutStatus | None:
        service = self.current_service
        return self.latest.get(service) if service else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in SERVICE_ACTIONS:
            return True
        if self.read_only or self.session is None:
            return False
        status = self.current_status()
        if status is None:
            return action == "start" if self.current_service else False
        if status.read_only and action != "take_over" and self.session.requests is None:
            return False  # driven elsewhere and this console cannot write requests: watching only
        return _allowed(action, status)

    # ------------------------------------------------------------------ actions (keys, palette)
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self._help_rows()))

    def _help_rows(self) -> list[tuple[str, str]]:
        """(key, what it does) for the app's keys and the current screen's."""
        explained = {action: f"{title}: {text}" for action, title, text in ACTION_HELP}
        rows = []
        for binding in [*self.BINDINGS, *getattr(self.screen, "BINDINGS", [])]:
            if isinstance(binding, Binding) and not (self.read_only and binding.action in SERVICE_ACTIONS):
                key = binding.key_display or binding.key.replace(",", "/").replace("down", "↓").replace("up", "↑")
                rows.append((key, explained.get(binding.action, binding.description or binding.action)))
        return rows

    def action_advance(self) -> None:
        service, status = self.current_service, self.current_status()
        if service is None:
            return
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
        if not driven or getattr(self.session, "ephemeral", False):  # the demo's world ends with the app
            self.exit()
            return
        names = ", ".join(f"{s.service} ({s.state.label} at {s.weight}%)" for s in driven)
        self.confirm(f"Quit? This console drives {names}: they stop progressing until a console drives them "
                     "again (canary-console run SERVICE, or T in a dashboard). Their records are saved.",
                     self.exit, default=False, service="")  # about every service: none named in bold

    def action_pause(self) -> None:
        if self.current_service:
            self.request_intent(self.current_service, "pause")

    def action_resume(self) -> None:
        if self.current_service:
            self.request_intent(self.current_service, "resume")

    def action_approve(self) -> None:
        if self.current_service:
            self.request_intent(self.current_service, "approve")

    def action_toggle_mode(self) -> None:
        service, status = self.current_service, self.current_status()
        if service:
            auto = status is None or status.mode != "auto"
            self.request_intent(service, "set_mode", auto=auto)

    def action_rollback(self) -> None:
        service = self.current_service
        if service:
            self.confirm(f"Roll back {service}? Canary weight goes to 0 and the canary is scaled to 0.",
                         lambda: self.request_intent(service, "rollback"), default=True)

    def action_promote(self) -> None:
        service, status = self.current_service, self.current_status()
        if service is None:
            return
        failing = status is not None and status.verdict is not None and status.verdict.outcome is Outcome.FAIL
        version = inert(status.canary_version) if status and status.canary_version else "the canary"
        warning = " Its checks are FAILING." if failing else ""
        self.confirm(f"Promote {service} to {version} as the stable version?{warning}",
                     lambda: self.request_intent(service, "promote", force=failing), default=False)

    def action_delete_canary(self) -> None:
        service = self.current_service
        if service is None:
            return
        self.confirm(f"Delete {service}'s canary Deployment, Service and Ingress? (the runbook's manual "
                     "rollback cleanup; the canary already gets no traffic)",
                     lambda: self.request_intent(service, "delete_canary"), default=False)

    def action_take_over(self) -> None:
        service, status = self.current_service, self.current_status()
        if service is None or status is None:
            return
        if status.driver is None:  # an orphaned rollout: nobody to take it from
            self.confirm(f"Drive {service} from this console? {inert(status.reason)}",
                         lambda: self.request_intent(service, "take_over"), default=True)
            return
        self.confirm(f"Take over {service} from {inert(status.driver or 'the other console')}? It stops acting "
                     "at its next lease renewal.", lambda: self.request_intent(service, "take_over"), default=False)

    def action_start(self) -> None:
        service = self.current_service
        if service is None:
            return

        def started(version: str | None) -> None:
            if version:
                announce = getattr(self.session, "announce", None)
                if announce is not None:  # the runbook's "Team notified" (when notifications are configured)
                    announce(service, version)
                self.request_intent(service, "start", version=version)

        self.push_screen(StartCanaryScreen(service), started)

    def confirm(self, question: str, then: Callable[[], None], *, default: bool, service: str | None = None) -> None:
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
            for action, title, help_text in ACTION_HELP:
                if self._offers(action, service):
                    yield SystemCommand(f"{title} {service}", help_text, self._on_service(service, action))

    def _offers(self, action: str, service: str) -> bool:
        if self.read_only or self.session is None:
            return False
        status = self.latest.get(service)
        return action == "start" if status is None else _allowed(action, status)

    def _on_service(self, service: str, action: str) -> Callable[[], None]:
        def run() -> None:
            if isinstance(self.screen, DashboardScreen) and self.screen.current_service != service:
                self.screen.jump_to(service)
            if self.current_service == service:
                getattr(self, f"action_{action}")()
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
            result = await self.session.intent(service, name, **kwargs)
        except Exception as exc:
            self.notify(inert(f"{service} {name} failed: {exc}"), severity="error", markup=False)
            return
        finally:
            self.busy.discard(service)
        ok = bool(getattr(result, "ok", False))
        message = inert(getattr(result, "message", "") or name)
        if not message.startswith(service):
            message = f"{service}: {message}"
        self.notify(message, severity="information" if ok else "warning", markup=False)
        self.refresh_bindings()

    # ------------------------------------------------------------------ logs
    def follow_logs(self, service: str, sink: Callable[[Any], None], track: Track | None = None) -> None:
        """Follow ``service``'s pod logs in a named worker, handing each LogLine to ``sink``."""
        if self.session is None:
            return
        self.run_worker(self._follow(service, sink, track), name=f"logs:{service}", group="logs",
                        exclusive=True, exit_on_error=False)

    def stop_logs(self) -> None:
        self.workers.cancel_group(self, "logs")

    async def _follow(self, service: str, sink: Callable[[Any], None], track: Track | None) -> None:
        try:
            lines: AsyncIterator[Any] = self.session.follow_logs(service, track)
            async for line in lines:
                sink(line)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.notify(inert(f"{service} logs stopped: {exc}"), severity="warning", markup=False)


def _phase_weights(config: Any) -> list[int]:
    weights = getattr(config, "weights", None)
    return list(weights) if weights is not None else [phase.weight for phase in config.phases]


def _allowed(action: str, status: RolloutStatus) -> bool:
    state = status.state
    if status.read_only:  # driven elsewhere: take it over, or ask its driver (a request, engine/requests.py)
        if status.driver is None:
            return False
        if action == "take_over":
            return True
        if action not in REQUESTABLE or action == "start":
            return False
    if action in ("advance", "promote"):
        return state in ACTIVE
    if action == "pause":
        return state in (State.OBSERVING, State.AWAITING_APPROVAL)
    if action == "resume":
        return state is State.PAUSED
    if action == "approve":
        return state is State.AWAITING_APPROVAL
    if action == "rollback":
        return not state.terminal and state is not State.ROLLING_BACK
    if action == "start":
        return state.terminal
    if action == "take_over":  # a rollout no console drives: drive it here
        return not status.driving and not state.terminal
    if action == "delete_canary":  # the separate, confirmed step after a rollback
        snapshot = status.snapshot
        return state in (State.ROLLED_BACK, State.FAILED) and (snapshot is None or snapshot.canary_exists)
    return True  # toggle_mode


async def run_app_async(session: Any = None, *, theme: str | None = None, read_only: bool = False,
                        on_ready: Callable[[], Awaitable[Any]] | None = None, config: Any = None,
                        connect: Callable[[], Awaitable[Any]] | None = None) -> int:
    app = CanaryApp(session, theme=theme, read_only=read_only, on_ready=on_ready, config=config, connect=connect,
                    freeze_gc=True, detect_colours=True,
                    hold_numbers=HOLD_NUMBERS_SECONDS)
    await app.run_async()
    return app.return_code or 0


def run_app(session: Any, *, theme: str | None = None, read_only: bool = False,
            on_ready: Callable[[], Awaitable[Any]] | None = None) -> int:
    """Run the dashboard until the user quits; the exit code (0, or 1 when the app failed)."""
    app = CanaryApp(session, theme=theme, read_only=read_only, on_ready=on_ready, freeze_gc=True,
                    detect_colours=True, hold_numbers=HOLD_NUMBERS_SECONDS)
    app.run()
    return app.return_code or 0
