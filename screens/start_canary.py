"""Screens room: StartCanaryScreen, asks which version to deploy as the canary (Enter starts, Escape
cancels)."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class StartCanaryScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def compose(self) -> ComposeResult:
        with Vertical(id="start"):
            yield Static(f"Start a canary of {self.service}: which version (image tag)?", markup=False)
            yield Input(placeholder="e.g. 1.2.4", id="version")
            yield Static("Enter starts · Escape cancels", markup=False, id="start-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        version = event.value.strip()
        if not VERSION.match(version):
            self.query_one("#start-hint", Static).update("A version is letters, digits, '.', '_' or '-'.")
            return
        self.dismiss(version)

    def action_cancel(self) -> None:
        self.dismiss(None)
