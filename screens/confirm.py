"""Screens room: ConfirmScreen, the yes / no modal in front of what cannot be undone (rollback, promote,
a forced advance). `y` and `n` answer, Enter takes the default, Escape says no. The service the answer
acts on is named in bold on the first line, so a yes is never given to the wrong one. It is a modal over a
live screen: the app keeps pushing statuses to the screen behind it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel", show=False),
        Binding("enter", "default", "Default", show=False, priority=True),
    ]

    def __init__(self, question: str, *, default: bool = False, service: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.default = default
        self.service = service

    def question_content(self) -> Content:
        """The question as plain text (never markup) with every mention of the service in bold."""
        content = Content(self.question)
        if self.service:
            start = self.question.find(self.service)
            while start >= 0:
                content = content.stylize("bold reverse", start, start + len(self.service))
                start = self.question.find(self.service, start + len(self.service))
        return content

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="-danger" if self.default else ""):
            if self.service:
                yield Static(Content.assemble(("service: ", "bold"), (self.service, "bold reverse")),
                             id="confirm-service")
            yield Static(self.question_content(), id="confirm-question")
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
