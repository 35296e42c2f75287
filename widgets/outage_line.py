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

from console.engine.config import format_duration
from console.engine.model import RolloutStatus
from console.engine.outage import cluster_outage, metrics_outage
from widgets.text import inert

KINDS = (("Kubernetes", "cluster_down_since", lambda s: cluster_outage(s.snapshot)),
         ("Prometheus", "metrics_down_since", lambda s: metrics_outage(s.metrics)))


def outage_text(statuses: Iterable[RolloutStatus]) -> str:
    """The line for these statuses; "" when neither the cluster nor Prometheus is down for any of them."""
    statuses = list(statuses)
    parts = []
    for name, field, reason_of in KINDS:
        down = [(getattr(s, field), s) for s in statuses if getattr(s, field) is not None]
        if not down:
            continue
        since, status = min(down, key=lambda pair: pair[0])
        lasted = format_duration(max(0.0, status.at - since))
        parts.append(f"{name} unreadable for {lasted} ({inert(reason_of(status) or 'no answer', 120)})")
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
