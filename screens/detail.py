"""Screens room: ServiceDetailScreen (Enter on a service; Escape back): the service's panel, its pods per
track updated in place, the check table, the event timeline, canary-vs-stable charts of error rate, P95 and
P99 with their thresholds, and live logs with follow, pause, `/` filter, a track toggle, wrap and horizontal
scroll. Stacked and scrollable in a small terminal, two columns from 140x40. Every section is reachable by
keyboard: ↑/↓, PgUp/PgDn, Home/End scroll the screen (or the logs when they are full screen), Tab moves
between sections (pods, checks, events, each chart, logs) and brings the focused one into view. The step
line says where the rollout is (`Step 2/5 · SetWeight 25`). It asks the app to follow logs; it does no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Input, Static

from console.engine.model import Event, RolloutStatus, State
from screens.status_screen import StatusScreen
from widgets.check_table import CheckTable, check_reasons
from widgets.guard import guarded
from widgets.hint_line import HintLine
from widgets.log_view import LogView
from widgets.pod_table import PodTable
from widgets.service_panel import ServicePanel
from widgets.timeline import EventTimeline
from widgets.track_chart import TrackChart

#: the log status line's keys with how much each is needed (widgets/hint_line.py), then `l`, which always
#: stays (80 columns lost `l back`): on a narrow line the sideways arrows go first, the filter key last
LOG_HINTS = (("f follow", 4), ("z pause", 3), ("/ filter", 5), ("t track", 2), ("w wrap", 1), ("←→", 0))


class ServiceDetailScreen(StatusScreen):
    AUTO_FOCUS = ""  # no table steals the keys (None would mean the app's "*"); Tab reaches them
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("f", "follow", "Follow", show=False),
        Binding("z", "pause_logs", "Pause logs", show=False),
        Binding("t", "track", "Track", show=False),
        Binding("w", "wrap", "Wrap logs", show=False),
        Binding("l", "logs_full", "Logs full screen"),
        Binding("up", "scroll(-1)", "scroll up", show=False),
        Binding("down", "scroll(1)", "scroll down", show=False),
        Binding("pageup", "page(-1)", "scroll a page up", show=False, key_display="PgUp"),
        Binding("pagedown", "page(1)", "scroll a page down", show=False, key_display="PgDn"),
        Binding("home", "edge(0)", "to the top", show=False, key_display="Home"),
        Binding("end", "edge(1)", "to the bottom (logs: follow again)", show=False, key_display="End"),
        Binding("left", "columns(-8)", "logs: scroll left", show=False, key_display="←"),
        Binding("right", "columns(8)", "logs: scroll right", show=False, key_display="→"),
    ]
    SECTIONS = "pods, checks, events, error-rate / P95 / P99 charts, logs"

    def __init__(self, service: str, weights: Sequence[int]) -> None:
        super().__init__()
        self.service = service
        self.weights = list(weights)
        self._shown_text: dict[str, str] = {}  # what each Static says now (see _update)

    @property
    def current_service(self) -> str:
        return self.service

    def limit(self, check: str) -> float:
        """The limit the canary is held to now: the base criteria, tightened by the current phase's triggers."""
        return self.host.limit(self.service, check)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield ServicePanel(self.service, self.weights, id="detail-head")
        yield Static("", id="steps")
        with VerticalScroll(id="detail-body", can_focus=False):
            with Vertical(id="detail-left"):
                yield Static("Pods", classes="section-title", id="pods-title", markup=False)
                yield PodTable(id="pods")
                yield Static("Checks", classes="section-title")
                yield CheckTable(id="checks")
                yield Static("", id="check-reasons", markup=False)
                yield Static("Events", classes="section-title")
                yield EventTimeline(id="timeline")
            with Vertical(id="detail-right"):
                with Vertical(id="charts"):
                    yield TrackChart("error_rate", lambda s: s + self.limit("error_rate"), id="chart-error")
                    yield TrackChart("p95", lambda s: s * (1 + self.limit("p95_latency")), id="chart-p95")
                    yield TrackChart("p99", lambda s: s * (1 + self.limit("p99_latency")), id="chart-p99")
                with LogBox(id="logs-box"):
                    yield HintLine(bracket=True, id="log-bar")
                    yield Input(placeholder="filter logs: type, Enter applies (empty clears), Escape closes",
                                id="log-filter")
                    yield LogView(id="logs")
        yield Footer(compact=True, show_command_palette=False)

    @guarded("opening the detail")
    def on_mount(self) -> None:
        host = self.host
        self.query_one(EventTimeline).add(host.timelines.get(self.service, ()))
        status = host.latest.get(self.service)
        if status is not None:  # catch up with what arrived before the widgets existed
            self._show(status, force=True)
        self._log_bar()
        host.follow_logs(self.service, self.query_one(LogView).feed)
        body = self.query_one("#detail-body")
        body.watch(body, "scroll_y", lambda _old, _new: self._place_toasts_later(), init=False)
        self.call_after_refresh(self.place_toasts)
        self.mark_ready()

    def on_resize(self) -> None:
        self._place_toasts_later()

    def _place_toasts_later(self) -> None:
        self.call_after_refresh(self.place_toasts)

    def place_toasts(self) -> None:
        """Toasts (a line each, full width) stack up from the footer, or down from the header when the
        check table is on the lower half of the screen: the half it is not on, so they do not cover it."""
        if not self.is_mounted:
            return
        checks = self.query_one(CheckTable).region
        lower = checks.height and checks.y + checks.height / 2 > self.size.height / 2
        self.set_class(bool(lower), "-toasts-top")

    def on_unmount(self) -> None:
        self.ready = False
        self.host.stop_logs()

    # ------------------------------------------------------------------ updates from the app
    @guarded("updating the detail")
    def show_statuses(self, statuses: Sequence[RolloutStatus]) -> None:
        for status in statuses:
            if status.service == self.service:
                self._show(status)
        self._log_bar()

    def _show(self, status: RolloutStatus, force: bool = False) -> None:
        host = self.host
        history = host.histories[self.service]
        head = self.query_one(ServicePanel)
        head.error = host.errors.get(self.service)
        head.show(status, history)
        if status.snapshot is not None:
            self.query_one(PodTable).show(status.snapshot.pods, status.at)
            route = status.snapshot.router  # which router and object carry the weight
            self.query_one("#pods-title", Static).update(f"Pods · traffic: {route}" if route else "Pods")
        self.query_one(CheckTable).show(status.verdict)
        self._update("#check-reasons", check_reasons(status.verdict), layout=True)
        self._update("#steps", step_line(status, self.weights))
        for chart in self.query(TrackChart):
            chart.show(history, force=force)

    def redraw_held(self) -> None:
        self.query_one(ServicePanel).redraw_held()

    @guarded("adding an event to the detail")
    def add_event(self, event: Event) -> None:
        if event.service == self.service:
            self.query_one(EventTimeline).add([event])

    # ------------------------------------------------------------------ keys
    def action_back(self) -> None:
        box = self.query_one("#log-filter", Input)
        if box.has_class("-shown"):
            box.remove_class("-shown")
            self.set_focus(None)
            return
        self.app.pop_screen()

    def action_filter(self) -> None:
        box = self.query_one("#log-filter", Input)
        box.value = self.query_one(LogView).pattern
        box.add_class("-shown")
        box.focus()
        self.call_after_refresh(box.scroll_visible, animate=False)

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as you type: the lines shown follow each edit, and the status line says the filter."""
        event.stop()
        self.query_one(LogView).set_filter(event.value)
        self._log_bar()

    # ------------------------------------------------------------------ scrolling (screen or full-screen logs)
    def _scroller(self):
        return self.query_one(LogView) if self.maximized is not None else self.query_one("#detail-body")

    def action_scroll(self, rows: int) -> None:
        self._scroller().scroll_relative(y=rows, animate=False, immediate=True)
        self._log_bar()

    def action_page(self, direction: int) -> None:
        target = self._scroller()
        rows = max(1, target.scrollable_content_region.height - 1)
        target.scroll_relative(y=direction * rows, animate=False, immediate=True)
        self._log_bar()

    def action_edge(self, end: int) -> None:
        target = self._scroller()
        if end:
            target.scroll_end(animate=False, immediate=True)
            if isinstance(target, LogView):
                target.auto_scroll = True
        else:
            target.scroll_home(animate=False, immediate=True)
        self._log_bar()

    def action_columns(self, columns: int) -> None:
        self.query_one(LogView).scroll_columns(columns)
        self._log_bar()

    def action_wrap(self) -> None:
        self.query_one(LogView).toggle_wrap()
        self._log_bar()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(LogView).set_filter(event.value)
        event.input.remove_class("-shown")
        self.set_focus(None)
        self._log_bar()

    def action_follow(self) -> None:
        self.query_one(LogView).toggle_follow()
        self._log_bar()

    def action_pause_logs(self) -> None:
        self.query_one(LogView).toggle_pause()
        self._log_bar()

    def action_track(self) -> None:
        self.query_one(LogView).next_track()
        self._log_bar()

    def action_logs_full(self) -> None:
        """Logs full screen keep their status line and filter box (the whole box is maximised)."""
        if self.maximized is None:
            self.maximize(self.query_one(LogBox), container=False)
        else:
            self.minimize()
        self._log_bar()

    def _log_bar(self) -> None:
        logs = self.query_one(LogView)
        keys = "l back" if self.maximized is not None else "l full screen"
        self.query_one("#log-bar", HintLine).show(logs.describe(), (*LOG_HINTS, (keys, None)))

    def _update(self, selector: str, content, layout: bool = False) -> None:
        """Update a Static only when what it says changed, and without a layout when its size cannot change
        (a layout per status was most of the idle CPU)."""
        shown = self._shown_text
        key = str(content) if not hasattr(content, "plain") else content.plain
        if shown.get(selector) == key:
            return
        shown[selector] = key
        self.query_one(selector, Static).update(content, layout=layout)


class LogBox(Vertical):
    """The log section: status line, filter box and the log, maximised together by `l`."""

    ALLOW_MAXIMIZE = True


def step_line(status: RolloutStatus, weights: Sequence[int]) -> Content:
    """`Step 2/5 · SetWeight 25 · next SetWeight 50` and the phases as marks: `10 ✔ 25 ◀ 50 · 75 · 100 ·`."""
    if not weights or status.phase < 0 or status.state is State.IDLE:
        return Content.styled("no rollout: s starts one", "$muted")
    index = min(status.phase, len(weights) - 1)
    done = status.state is State.PROMOTED
    head = f"Step {index + 1}/{len(weights)} · SetWeight {weights[index]}"
    if status.state in (State.ROLLED_BACK, State.FAILED, State.ROLLING_BACK):
        head += f" · stopped: {status.state.label}"
    elif done:
        head = f"Step {len(weights)}/{len(weights)} · promoted"
    elif index + 1 < len(weights):
        head += f" · next SetWeight {weights[index + 1]}"
    marks = []
    for i, weight in enumerate(weights):
        sign = "✔" if i < index or done else ("◀" if i == index else "·")
        marks.append(f"{weight} {sign}")
    return Content.assemble((head, "bold"), ("   " + "  ".join(marks), "$muted"))
