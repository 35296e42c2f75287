"""The one-way event stream: controllers publish, subscribers (screens, headless printer, the SinkHub) listen.

Subscribers are plain callables run in order on the publishing task; they must not block. A subscriber
that raises is reported once to stderr-free storage (``errors``) and never breaks the publisher.
"""

from __future__ import annotations

from collections.abc import Callable

from console.engine.model import Event

Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.errors: list[str] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception as exc:  # a broken screen must never stop a rollback
                self.errors.append(f"{getattr(subscriber, '__name__', subscriber)!s}: {exc!r}")
                del self.errors[:-50]
