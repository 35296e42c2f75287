"""Screens room: ServiceDetailScreen (Enter on a service; Escape back): the service's panel, its pods per
track updated in place, the check table, the event timeline, canary-vs-stable charts of error rate, P95 and
P99 with their thresholds, and live logs with follow, pause, `/` filter and a track toggle. Stacked and
scrollable in a small terminal, two columns from 140x40. It asks the app to follow logs; it does no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Static

from console.engine.judge import effective_thresholds
from console.engine.model import Event, RolloutStatus
from screens.status_screen import StatusScreen
from widgets.check_table import CheckTable
from widgets.guard import guarded
from widgets.log_view import LogView
from widgets.pod_table import PodTable
from widgets.service_panel import ServicePanel
from widgets.timeline import EventTimeline
from widgets.track_chart import TrackChart


class ServiceDetailScreen(StatusScreen):
    AUTO_FOCUS = None  # no table steals the keys; Tab reaches them
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("f", "follow", "Follow", show=False),
        Binding("z", "pause_logs", "Pause logs", show=False),
        Binding("t", "track", "Track", show=False),
        Binding("l", "logs_full", "Logs full screen"),
    ]

    def __init__(self, service: str, weights: Sequence[int]) -> None:
        super().__init__()
        self.service = service
        self.weights = list(weights)

    @property
    def current_service(self) -> str:
        return self.service

    def limit(self, check: str) -> float:
        """The limit the canary is held to now: the base criteria, tightened by the current phase's triggers."""
        config = self.app.config
        status = self.app.latest.get(self.service)
        if status is not None and 0 <= status.phase < len(config.phases):
            return effective_thresholds(config, config.phases[status.phase])[check]
        base = config.criteria
        return {"error_rate": base.error_rate_increase, "p95_latency": base.p95_increase,
                "p99_latency": base.p99_increase}[check]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield ServicePanel(self.service, self.weights, id="detail-head")
        with VerticalScroll(id="detail-body", can_focus=False):
            with Vertical(id="detail-left"):
                yield Static("Pods", classes="section-title")
                yield PodTable(id="pods")
                yield Static("Checks", classes="section-title")
                yield CheckTable(id="checks")
                yield Static("Events", classes="section-title")
                yield EventTimeline(id="timeline")
            with Vertical(id="detail-right"):
                with Vertical(id="charts"):
                    yield TrackChart("error_rate", lambda s: s + self.limit("error_rate"), id="chart-error")
                    yield TrackChart("p95", lambda s: s * (1 + self.limit("p95_latency")), id="chart-p95")
                    yield TrackChart("p99", lambda s: s * (1 + self.limit("p99_latency")), id="chart-p99")
                with Vertical(id="logs-box"):
                    yield Static("", id="log-bar", markup=False)
                    yield Input(placeholder="filter logs (Enter applies, Escape closes)", id="log-filter")
                    yield LogView(id="logs")
        yield Footer(compact=True, show_command_palette=False)

    @guarded("opening the detail")
    def on_mount(self) -> None:
        app = self.app
        self.query_one(EventTimeline).add(app.timelines.get(self.service, ()))
        status = app.latest.get(self.service)
        if status is not None:  # catch up with what arrived before the widgets existed
            self._show(status, force=True)
        self._log_bar()
        app.follow_logs(self.service, self.query_one(LogView).feed)
        self.mark_ready()

    def on_unmount(self) -> None:
        self.ready = False
        self.app.stop_logs()

    # ------------------------------------------------------------------ updates from the app
    @guarded("updating the detail")
    def show_statuses(self, statuses: Sequence[RolloutStatus]) -> None:
        for status in statuses:
            if status.service == self.service:
                self._show(status)
        self._log_bar()

    def _show(self, status: RolloutStatus, force: bool = False) -> None:
        app = self.app
        history = app.histories[self.service]
        head = self.query_one(ServicePanel)
        head.error = app.errors.get(self.service)
        head.show(status, history)
        if status.snapshot is not None:
            self.query_one(PodTable).show(status.snapshot.pods, status.at)
        self.query_one(CheckTable).show(status.verdict)
        for chart in self.query(TrackChart):
            chart.show(history, force=force)

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
        box.add_class("-shown")
        box.focus()

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
        if self.maximized is None:
            self.maximize(self.query_one(LogView), container=False)
        else:
            self.minimize()

    def _log_bar(self) -> None:
        self.query_one("#log-bar", Static).update(self.query_one(LogView).describe())
