"""Widgets room: the dashboard's outage line, how long Kubernetes or Prometheus has been unreadable (issue 13).

It reads the statuses it is given: each carries since when (engine time) its cluster and its Prometheus could
not be read (console/engine/outage.py, OutageClock), and its ``at``. The line says the longest outage of
each kind with its reason, e.g. `⚠ Kubernetes unreadable for 2m05s (cluster unreachable: …) · phase clocks
held`, and is hidden while both answer. It does no I/O and keeps no clock of its own: the duration is the
engine's (a virtual clock in tests).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Static

from console.engine.model import RolloutStatus
from widgets.text import inert, lasted

# a status's down-since time is set only while that source cannot be read (console/engine/outage.py), so the
# problem beside it is the reason
KINDS = (("Kubernetes", "cluster_down_since", lambda s: s.snapshot.problem if s.snapshot else None),
         ("Prometheus", "metrics_down_since", lambda s: s.metrics.problem if s.metrics else None))


def outage_text(statuses: Iterable[RolloutStatus]) -> str:
    """The line for these statuses; "" when neither the cluster nor Prometheus is down for any of them."""
    statuses = list(statuses)
    parts = []
    for name, field, reason_of in KINDS:
        down = [(getattr(s, field), s) for s in statuses if getattr(s, field) is not None]
        if not down:
            continue
        since, status = min(down, key=lambda pair: pair[0])
        how_long = lasted(status.at - since)
        parts.append(f"{name} unreadable for {how_long} ({inert(reason_of(status) or 'no answer', 120)})")
    return f"⚠ {' · '.join(parts)} · phase clocks held" if parts else ""


class OutageLine(Static):
    """One row above the dashboard's status line, shown only during an outage."""

    DEFAULT_CSS = """
    OutageLine { height: 1; padding: 0 1; color: $warning; display: none; }
    OutageLine.-down { display: block; }
    """

    def __init__(self) -> None:
        super().__init__("", id="dash-outage", markup=False)
        self.text = ""

    def show(self, statuses: Iterable[RolloutStatus]) -> None:
        text = outage_text(statuses)
        if text == self.text:  # most statuses change nothing here: no redraw, no layout
            return
        self.text = text
        self.set_class(bool(text), "-down")
        self.update(text)
