"""Stopping cleanly on signals: SIGTERM, SIGHUP (a dropped SSH session) and SIGINT call back into the command
instead of killing it, so a driver saves its final record and releases its Lease (console/commands.py for
`run --headless`, console/dashboard_command.py for the dashboard). Light on purpose: the dashboard installs
it before its first frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any


def handle_signals(callback: Callable[[Any], None], names: Sequence[str] = ("SIGTERM", "SIGHUP", "SIGINT")
                   ) -> Callable[[], None]:
    """Call ``callback(signal)`` on these signals (where the platform has them) instead of dying, so a
    driver saves its final record and releases its Lease; returns the function that restores them."""
    import signal

    loop = asyncio.get_running_loop()
    installed = []
    for name in names:
        sig = getattr(signal, name, None)
        if sig is None:  # no such signal here
            continue
        try:
            loop.add_signal_handler(sig, callback, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError, TypeError):  # no such signal, or not main thread
            pass

    def restore() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return restore
