"""Screens room: the base of every screen that shows live statuses (the dashboard, a service's detail).

The app pushes statuses and engine events only to a screen that says it is ready: its widgets are
mounted and it has caught up with what the app already knows. A status that arrives between
`push_screen` and the screen's mount stays pending in the app and is drawn by the screen's own catch-up,
so an early flush can never query a widget that does not exist yet (issue 19)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.screen import Screen

from console.engine.model import Event, RolloutStatus


class StatusScreen(Screen):
    """A screen the app feeds with statuses and events once :attr:`ready`."""

    ready: bool = False

    @property
    def current_service(self) -> str | None:
        """The service a key press acts on from this screen (None: none selected)."""
        return None

    def mark_ready(self) -> None:
        """Called at the end of the screen's own mount, after it drew the app's latest statuses."""
        self.ready = True

    def on_unmount(self) -> None:
        self.ready = False

    def show_statuses(self, statuses: Sequence[RolloutStatus]) -> None:
        """Draw these (changed) statuses."""

    def add_event(self, event: Event) -> None:
        """Add one engine event to whatever timeline the screen shows."""
