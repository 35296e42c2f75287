"""Widgets room: the error boundary of the UI. An exception in a UI update, message handler or log sink
must not end the app while it drives rollouts: the guarded call is abandoned, the app reports the error
(journal with the traceback, one notification) and everything else keeps running."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

F = TypeVar("F", bound=Callable[..., Any])


@runtime_checkable
class ReportsUIErrors(Protocol):
    """An app that reports a UI error instead of ending (console/app.py's CanaryApp). A plain Textual app of a
    widget's unit test has no such method: there the error is raised, so the test sees it."""

    def report_ui_error(self, where: str, error: BaseException) -> None: ...


def guarded(where: str) -> Callable[[F], F]:
    """Decorate a method of a widget, screen or the app: an exception is reported, not raised."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:  # the boundary: report and go on
                if not isinstance(self.app, ReportsUIErrors):
                    raise
                self.app.report_ui_error(where, exc)
                return None

        return call  # type: ignore[return-value]

    return wrap
