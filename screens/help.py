"""Screens room: HelpScreen, every key of the console and what it does (`?` opens it, Escape closes)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA_KEYS = (
    ("↑/↓ j/k", "select a service"),
    ("Enter", "open the service's detail (pods, logs, charts, checks, events)"),
    ("o", "sort the dashboard by what needs attention"),
    ("m", "toggle auto / manual mode"),
    ("Escape", "back to the dashboard"),
    ("/ f z t", "logs: filter, follow, pause, track (detail screen)"),
    ("ctrl+p", "command palette: every action by name"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        seen: set[str] = set()
        rows = []
        for key, description in [*self.keys, *EXTRA_KEYS]:
            if (key, description) in seen:
                continue
            seen.add((key, description))
            rows.append(f"  {key:<10} {description}")
        with Vertical(id="help"):
            yield Static("Keys", classes="section-title")
            with VerticalScroll(id="help-body"):
                yield Static("\n".join(rows), markup=False)
            yield Static("Escape closes", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
