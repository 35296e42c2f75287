"""Screens room: ConfirmScreen, the yes / no modal in front of what cannot be undone (rollback, promote,
a forced advance). `y` and `n` answer, Enter takes the default, Escape says no."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel", show=False),
        Binding("enter", "default", "Default", show=False, priority=True),
    ]

    def __init__(self, question: str, *, default: bool = False) -> None:
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="-danger" if self.default else ""):
            yield Static(self.question, markup=False, id="confirm-question")
            hint = f"y yes · n no · Enter = {'yes' if self.default else 'no'}"
            yield Static(hint, markup=False, id="confirm-hint")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", id="yes", variant="error" if self.default else "default")
                yield Button("No (n)", id="no", variant="default" if self.default else "primary")

    def on_mount(self) -> None:
        self.query_one("#yes" if self.default else "#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_default(self) -> None:
        self.dismiss(self.default)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")
