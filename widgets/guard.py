"""Widgets room: the error boundary of the UI. An exception in a UI update, message handler or log sink
must not end the app while it drives rollouts: the guarded call is abandoned, the app reports the error
(journal with the traceback, one notification) and everything else keeps running."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def guarded(where: str) -> Callable[[F], F]:
    """Decorate a method of a widget, screen or the app: an exception is reported, not raised."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:  # the boundary: report and go on
                report = getattr(self.app, "report_ui_error", None)
                if report is None:
                    raise
                report(where, exc)
                return None

        return call  # type: ignore[return-value]

    return wrap
