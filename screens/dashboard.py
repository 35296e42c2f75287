"""Screens room: the dashboard, one ServicePanel per service (a 3-line row at 80x24, taller rows when the
terminal has the rows, a grid of bordered panels with charts from 140x40), selection with ↑/↓ or j/k
(stopping at the ends), Home/End/g/G, PgUp/PgDn, `:` to jump to a service by name and `/` to filter the
list, Enter for the detail, `o` to sort by what needs a person. The status line says how many services are
above / below the screen and how many of those need a person; above it, while Kubernetes or Prometheus
cannot be read, the outage line says for how long. Toasts are kept on the other half of the
screen from the selected service. It draws what the app gives it and does no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from time import monotonic

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Footer, Header, Input

from console.engine.model import RolloutStatus
from screens.status_screen import StatusScreen
from widgets.guard import guarded
from widgets.hint_line import HintLine
from widgets.outage_line import OutageLine
from widgets.service_panel import ServicePanel, attention


class DashboardScreen(StatusScreen):
    AUTO_FOCUS = ""  # nothing focused: keys go to the dashboard, never into the hidden `:` / `/` box
    BINDINGS = [
        Binding("down,j", "move(1)", "select the next service (stops at the last: no wrap)", show=False),
        Binding("up,k", "move(-1)", "select the previous service (stops at the first: no wrap)", show=False),
        Binding("home,g", "jump(0)", "select the first service", show=False, key_display="Home/g"),
        Binding("end,G", "jump(-1)", "select the last service", show=False, key_display="End/G"),
        Binding("pagedown", "page(1)", "select one screenful down", show=False, key_display="PgDn"),
        Binding("pageup", "page(-1)", "select one screenful up", show=False, key_display="PgUp"),
        Binding("enter", "open", "open the service's detail", show=False),
        Binding("o", "sort", "sort by what needs a person (again: config order)", show=False),
        Binding("colon", "ask('jump')", "jump to a service by name", show=False, key_display=":"),
        Binding("slash", "ask('filter')", "filter the services by name", show=False, key_display="/"),
        Binding("escape", "clear_filter", "clear the filter", show=False),
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
        self.pattern = ""  # the `/` filter on service names
        self.asking: str | None = None  # "jump" or "filter" while the input box is open
        self.outage_line = OutageLine()  # kept: a DOM query per status costs idle CPU
        self.open_asked = False  # Enter while connecting: the detail opens once connected

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with VerticalScroll(id="panels", can_focus=False):
            for service in self.services:
                panel = ServicePanel(service, self.weights)
                if self.waiting:
                    panel.waiting = self.waiting
                yield panel
        yield Input(id="dash-ask")
        yield self.outage_line
        yield HintLine(id="dash-status")
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
        self.query_one("#panels").watch(self.query_one("#panels"), "scroll_y", self._on_scrolled, init=False)
        self.watch_selected(0)
        self.redraw_all()
        self.mark_ready()
        self.call_after_refresh(self.post_message, self.Painted())

    def on_screen_resume(self) -> None:
        self.redraw_all()

    def redraw_all(self) -> None:
        latest = self.host.latest
        self.show_statuses([latest[s] for s in self.services if s in latest])

    @guarded("showing the connection")
    def show_waiting(self, text: str) -> None:
        for panel in self.panels:
            panel.show_waiting(text)

    def redraw_held(self) -> None:
        """Draw the panels whose numbers-only statuses were held back, all in one screen update, once any of
        them is due. Panels drawn one by one, each on its own 3 s, cost one screen update each; drawn
        together, the six cost about one. A panel drawn at once because what it says changed is drawn
        alone: the others' numbers wait for their time (drawing them with it made a redraw of all six every
        ~2 s instead of every 3 s in the demo, where some panel's verdict changes every few seconds)."""
        now = monotonic()
        held = [panel for panel in self.panels if panel.held]
        if any(panel.due(now) for panel in held):
            for panel in held:
                panel.redraw_held(now, early=True)

    @guarded("updating the dashboard")
    def show_statuses(self, statuses: Sequence[RolloutStatus]) -> None:
        host = self.host
        for status in statuses:
            panel = self.panel(status.service)
            panel.error = host.errors.get(status.service)
            panel.show(status, host.histories.get(status.service))
        self.redraw_held()
        if self.by_attention and statuses:
            self._reorder()
        self.outage_line.show(p.status for p in self.panels if p.status is not None)
        self._summarise()

    def _summarise(self) -> None:
        statuses = [p.status for p in self.panels if p.status is not None]
        danger = sum(1 for s in statuses if attention(s) == 0)
        person = sum(1 for s in statuses if attention(s) == 1)
        order = "attention" if self.by_attention else "config"
        shown = f"{sum(1 for p in self.panels if p.display)}/{len(self.services)} shown (/{self.pattern})" \
            if self.pattern else f"{len(self.services)} services"
        # on a narrow line the order goes first, then Enter, then ? (the footer offers it too); the off-screen
        # cue and the counts always stay
        self.query_one("#dash-status", HintLine).show(
            f"{self.off_screen_cue()}{shown} · {danger} failing · {person} need a person",
            ((f"order: {order} (o)", 0), ("Enter detail", 1), ("? help", 2)))

    def off_screen(self) -> tuple[list[ServicePanel], list[ServicePanel]]:
        """The panels scrolled out of view: (above, below)."""
        area = self.query_one("#panels")
        top, height = area.scroll_offset.y, area.scrollable_content_region.height
        above, below = [], []
        for panel in self.panels:
            if not panel.display:
                continue
            region = panel.virtual_region
            if region.bottom <= top:
                above.append(panel)
            elif region.y >= top + height:
                below.append(panel)
        return above, below

    def off_screen_cue(self) -> str:
        """`↑ 1 above · ↓ 2 below, 1 needs a person · ` (first on the line, so a narrow terminal keeps it)."""
        parts = []
        for arrow, where, panels in zip("↑↓", ("above", "below"), self.off_screen()):
            if panels:
                person = sum(1 for p in panels if attention(p.status) <= 1)
                parts.append(f"{arrow} {len(panels)} {where}" + (f", {person} need{'s' if person == 1 else ''} "
                                                                 f"a person" if person else ""))
        return " · ".join(parts) + " · " if parts else ""

    def _on_scrolled(self, _old: float, _new: float) -> None:
        self._summarise()

    def on_resize(self) -> None:
        self.call_after_refresh(self._summarise)
        self.call_after_refresh(self.place_toasts)

    def place_toasts(self) -> None:
        """Notifications go to the half of the screen the selected service is not on."""
        panels = self.panels
        if not panels or not self.is_mounted:
            return
        region = panels[self.selected].region
        lower = region.height and region.y + region.height / 2 > self.size.height / 2
        self.set_class(bool(lower), "-toasts-top")

    # ------------------------------------------------------------------ selection and order
    def watch_selected(self, selected: int) -> None:
        for index, panel in enumerate(self.panels):
            panel.selected = index == selected
            if index == selected:
                panel.scroll_visible(animate=False, immediate=True)
        self.app.refresh_bindings()
        if self.is_mounted:
            self.call_after_refresh(self._summarise)
            self.call_after_refresh(self.place_toasts)

    def _shown(self) -> list[int]:
        """Indexes of the panels the filter lets through, in display order."""
        return [i for i, panel in enumerate(self.panels) if panel.display]

    def action_move(self, step: int) -> None:
        """Up/down stop at the ends: a selection that wraps lets `k` pressed once too often land on the
        last service, and the next `r` `y` rolls back the wrong one."""
        shown = self._shown()
        if not shown:
            return
        at = shown.index(self.selected) if self.selected in shown else 0
        self.selected = shown[max(0, min(len(shown) - 1, at + step))]

    def action_jump(self, index: int) -> None:
        shown = self._shown()
        if shown:
            self.selected = shown[index]

    # ------------------------------------------------------------------ `:` jump and `/` filter
    def action_ask(self, what: str) -> None:
        box = self.query_one("#dash-ask", Input)
        self.asking = what
        box.placeholder = ("jump to service: type a name, Enter goes, Escape cancels" if what == "jump" else
                           "filter services: type, Enter keeps it, Escape clears")
        box.value = self.pattern if what == "filter" else ""
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.asking == "filter":
            self.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.asking == "jump":
            self.jump_to(event.value)
        self._close_ask()

    def _close_ask(self) -> None:
        self.asking = None
        self.query_one("#dash-ask", Input).remove_class("-shown")
        self.set_focus(None)

    def jump_to(self, text: str) -> bool:
        """Select the first service whose name starts with (else contains) ``text``."""
        text = text.strip().lower()
        names = [p.service for p in self.panels]
        match = next((n for n in names if n.lower().startswith(text)), None) or \
            next((n for n in names if text in n.lower()), None)
        if not text or match is None:
            self.notify(f"no service matches {text!r}", severity="warning", markup=False, timeout=3)
            return False
        if not self.panels[names.index(match)].display:
            self.set_filter("")
        self.selected = names.index(match)
        return True

    def set_filter(self, pattern: str) -> None:
        """Show only the services whose name contains ``pattern``; the selection stays on a shown one."""
        self.pattern = pattern.strip().lower()
        for panel in self.panels:
            panel.display = not self.pattern or self.pattern in panel.service.lower()
        shown = self._shown()
        if shown and self.selected not in shown:
            self.selected = shown[0]
        self._summarise()

    def action_clear_filter(self) -> None:
        self.open_asked = False
        if self.asking is not None:
            if self.asking == "filter":
                self.set_filter("")
            self._close_ask()
        elif self.pattern:
            self.set_filter("")

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.panels_per_screen()))

    def panels_per_screen(self) -> int:
        """How many panels the panel area shows at once (at least one)."""
        panels = self.panels
        area = self.query_one("#panels").scrollable_content_region.height
        tallest = max((p.outer_size.height for p in panels), default=1) or 1
        return max(1, area // tallest)

    def action_open(self) -> None:
        from screens.detail import ServiceDetailScreen

        service = self.current_service
        if service is None:
            return
        if not self.host.connected:  # the detail needs the validated config and the world
            self.open_asked = True
            self.notify("still connecting: the detail opens once connected (Escape: not then)", markup=False)
            return
        self.app.push_screen(ServiceDetailScreen(service, self.weights))

    def open_if_asked(self) -> None:
        """Now connected: open the detail a person asked for meanwhile (for the service selected now), unless
        another screen (help, the palette) is on top by then."""
        asked, self.open_asked = self.open_asked, False
        if asked and self.app.screen is self:
            self.action_open()

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
