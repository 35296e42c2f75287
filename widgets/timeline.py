"""Widgets room: EventTimeline, the rollout's events (state changes, verdicts, actions, refusals, errors)
one line each, oldest first, in a bounded line-API Log; messages are untrusted and shown literally, in the
console's words (no raw identifiers such as awaiting_approval)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Log

from console.engine.model import Event, EventKind
from widgets.text import inert
from widgets.words import humane


class EventTimeline(Log):
    def __init__(self, max_lines: int = 500, **kwargs) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=True, **kwargs)
        self.origin: float | None = None

    def add(self, events: Iterable[Event]) -> None:
        lines = []
        for event in events:
            if event.kind is EventKind.STATUS:
                continue
            if self.origin is None:
                self.origin = event.at
            lines.append(humane(inert(event.to_line(self.origin), 400)))
        if lines:
            self.write_lines(lines)
