"""Screens room: HelpScreen, every key of the console and what it does (`?` opens it, Escape closes)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA_KEYS = (
    ("Enter", "dashboard: open the selected service's detail (pods, logs, charts, checks, events)"),
    ("Escape", "detail: back to the dashboard"),
    ("/ f z t l", "detail: filter, follow, pause logs, toggle the log track, logs full screen"),
    ("ctrl+p", "command palette: every action by name"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        rows = [f"  {key:<8} {text}" for key, text in dict.fromkeys([*self.keys, *EXTRA_KEYS])]
        with Vertical(id="help"):
            yield Static("Keys", classes="section-title")
            with VerticalScroll(id="help-body"):
                yield Static("\n".join(rows), markup=False)
            yield Static("Escape closes", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
