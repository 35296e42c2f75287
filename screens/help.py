"""Screens room: HelpScreen, every key of the console and what it does, and a legend of every symbol the
screens use (`?` opens it, Escape closes). Write keys are listed only when the console may write."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA_KEYS = (
    ("Enter", "dashboard: open the selected service's detail (pods, logs, charts, checks, events)"),
    ("↑↓ j k", "dashboard: select (stops at the first and last: no wrap)"),
    ("Home End g G", "dashboard: first / last service; PgUp PgDn a screenful"),
    (": /", "dashboard: jump to a service by name / filter the list (Escape clears)"),
    ("x", "dismiss the notifications"),
    ("Escape", "detail: back to the dashboard"),
    ("↑↓ PgUp PgDn", "detail: scroll (the logs when they are full screen); Home / End top / bottom"),
    ("Tab", "detail: next section: pods, checks, events, error-rate / P95 / P99 charts, logs"),
    ("/ f z t", "detail logs: filter, follow, pause, track (both → canary → stable)"),
    ("w ← → l", "detail logs: wrap, scroll sideways, full screen (and back)"),
    ("ctrl+p", "command palette: every action of every service by name"),
)

LEGEND = (
    ("▶", "the selected service: every key acts on it"),
    ("▕█┃░│▏", "weight bar: filled = the canary's share of traffic; │ ┃ = the phase weights"),
    ("S 3/3 C 1/1", "pods ready / total of stable (S) and canary (C)"),
    ("↻N", "container restarts of both tracks"),
    ("C … S …", "canary and stable values; their sparklines ▁▂▃ share one scale"),
    ("✔", "pass, or promoted"),
    ("✘", "fail, or rolled back by the console (failing)"),
    ("↩", "rolled back by a person (not failing: D deletes the canary)"),
    ("?", "needs review: a person decides (v approves, r rolls back)"),
    ("…", "inconclusive: too little data to judge"),
    ("·", "no verdict yet"),
    ("⏸", "the phase clock is held (no usable data) or paused"),
    ("⚠", "a problem reaching the cluster or Prometheus"),
    ("▌ edge", "left edge / border: yellow needs a person, red failing (the state word says it too)"),
    ("↑ ↓ N", "services above / below the screen, and how many of them need a person"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        rows = [f"  {key:<8} {text}" for key, text in dict.fromkeys([*self.keys, *EXTRA_KEYS])]
        legend = [f"  {symbol:<12} {text}" for symbol, text in LEGEND]
        with Vertical(id="help"):
            yield Static("Keys", classes="section-title")
            with VerticalScroll(id="help-body"):
                yield Static("\n".join(rows), markup=False)
                yield Static("Symbols", classes="section-title")
                yield Static("\n".join(legend), markup=False, id="legend")
            yield Static("Escape closes", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
