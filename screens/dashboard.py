"""Screens room: the dashboard, one ServicePanel per service (a 3-line row at 80x24, a grid of bordered
panels with charts from 140x40), selection with ↑/↓ or j/k, Enter for the detail, `o` to sort by what
needs a person. It draws what the app gives it and does no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Footer, Header, Static

from console.engine.model import RolloutStatus
from screens.status_screen import StatusScreen
from widgets.guard import guarded
from widgets.service_panel import ServicePanel, attention


class DashboardScreen(StatusScreen):
    BINDINGS = [
        Binding("down,j", "move(1)", "select the next service", show=False),
        Binding("up,k", "move(-1)", "select the previous service", show=False),
        Binding("enter", "open", "open the service's detail", show=False),
        Binding("o", "sort", "sort by what needs a person (again: config order)", show=False),
    ]

    class Painted(Message):
        """The dashboard's first frame is on the terminal (the app opens the world only then)."""

    selected: reactive[int] = reactive(0)
    by_attention: reactive[bool] = reactive(False)

    def __init__(self, services: Sequence[str], weights: Sequence[int], *, waiting: str | None = None) -> None:
        super().__init__()
        self.services = list(services)
        self.weights = list(weights)
        self.waiting = waiting  # what the panels say before their first status ("connecting…")
        self._panels: list[ServicePanel] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with VerticalScroll(id="panels", can_focus=False):
            for service in self.services:
                panel = ServicePanel(service, self.weights)
                if self.waiting:
                    panel.waiting = self.waiting
                yield panel
        yield Static("", id="dash-status", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    @property
    def panels(self) -> list[ServicePanel]:
        """The panels in display order; cached (a DOM query per status was a good part of the idle CPU)."""
        if self._panels is None or len(self._panels) != len(self.services):
            self._panels = list(self.query(ServicePanel))
        return list(self._panels)

    def panel(self, service: str) -> ServicePanel:
        return next(p for p in self.panels if p.service == service)

    @property
    def current_service(self) -> str | None:
        panels = self.panels
        return panels[self.selected].service if panels else None

    def on_mount(self) -> None:
        self.watch_selected(0)
        self.redraw_all()
        self.mark_ready()
        self.call_after_refresh(self.post_message, self.Painted())

    def on_screen_resume(self) -> None:
        self.redraw_all()

    def redraw_all(self) -> None:
        app = self.app
        self.show_statuses([app.latest[s] for s in self.services if s in getattr(app, "latest", {})])

    @guarded("showing the connection")
    def show_waiting(self, text: str) -> None:
        for panel in self.panels:
            panel.show_waiting(text)

    @guarded("updating the dashboard")
    def show_statuses(self, statuses: Sequence[RolloutStatus]) -> None:
        app = self.app
        for status in statuses:
            panel = self.panel(status.service)
            panel.error = app.errors.get(status.service)
            panel.show(status, app.histories.get(status.service))
        if self.by_attention and statuses:
            self._reorder()
        self._summarise()

    def _summarise(self) -> None:
        statuses = [p.status for p in self.panels if p.status is not None]
        danger = sum(1 for s in statuses if attention(s) == 0)
        person = sum(1 for s in statuses if attention(s) == 1)
        order = "attention" if self.by_attention else "config"
        self.query_one("#dash-status", Static).update(
            f"{len(self.services)} services · {danger} failing · {person} need a person · order: {order} (o) · "
            f"Enter detail")

    # ------------------------------------------------------------------ selection and order
    def watch_selected(self, selected: int) -> None:
        for index, panel in enumerate(self.panels):
            panel.selected = index == selected
            if index == selected:
                panel.scroll_visible(animate=False)
        self.app.refresh_bindings()

    def action_move(self, step: int) -> None:
        count = len(self.services)
        if count:
            self.selected = (self.selected + step) % count

    def action_open(self) -> None:
        from screens.detail import ServiceDetailScreen

        service = self.current_service
        if service is None:
            return
        if getattr(self.app, "session", True) is None:  # the detail needs the validated config and the world
            self.notify("still connecting: the detail opens once connected", markup=False)
            return
        self.app.push_screen(ServiceDetailScreen(service, self.weights))

    def action_sort(self) -> None:
        self.by_attention = not self.by_attention
        self._reorder()
        self._summarise()

    def _reorder(self) -> None:
        current = self.current_service
        rank = {s: i for i, s in enumerate(self.services)}
        panels = self.panels
        wanted = sorted(panels, key=lambda p: ((attention(p.status) if self.by_attention else 0), rank[p.service]))
        if wanted != panels:
            container = self.query_one("#panels")
            for panel in wanted:
                container.move_child(panel, after=len(container.children) - 1)
            self._panels = None
        order = [p.service for p in self.panels]
        if current in order:
            self.selected = order.index(current)
        self.watch_selected(self.selected)
