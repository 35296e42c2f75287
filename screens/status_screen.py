"""Screens room: the base of every screen that shows live statuses (the dashboard, a service's detail).

The app pushes statuses and engine events only to a screen that says it is ready: its widgets are
mounted and it has caught up with what the app already knows. A status that arrives between
`push_screen` and the screen's mount stays pending in the app and is drawn by the screen's own catch-up,
so an early flush can never query a widget that does not exist yet (issue 19)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, cast

from textual.screen import Screen

from console.engine.model import Event, RolloutStatus, Track
from console.engine.model import LogLine
from widgets.history import MetricHistory


class StatusHost(Protocol):
    """What a status screen reads from the app that feeds it (console/app.py's CanaryApp)."""

    latest: dict[str, RolloutStatus]  # each service's last status
    errors: dict[str, str | None]  # each service's last error line (None: none since)
    histories: dict[str, MetricHistory]
    timelines: Mapping[str, Sequence[Event]]

    @property
    def connected(self) -> bool:
        """A session is attached (the detail needs the validated config and the world)."""
        ...

    def limit(self, service: str, check: str) -> float:
        """The limit the service's canary is held to now on ``check``."""
        ...

    def follow_logs(self, service: str, sink: Callable[[LogLine], None], track: Track | None = None) -> None: ...

    def stop_logs(self) -> None: ...

    def refresh_bindings(self) -> None: ...


class StatusScreen(Screen):
    """A screen the app feeds with statuses and events once :attr:`ready`."""

    ready: bool = False

    @property
    def host(self) -> StatusHost:
        """The app, as what this screen reads from it."""
        return cast(StatusHost, self.app)

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

    def show_waiting(self, text: str) -> None:
        """Say what the screen waits for before its first status ("connecting…")."""

    def redraw_held(self) -> None:
        """Draw the numbers held back from statuses that only moved numbers (widgets/service_panel.py)."""
