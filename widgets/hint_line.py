"""Widgets room: HintLine, a one-row status line that says what matters and then the keys, leaving out the
least needed keys until it fits the terminal's width (issue 17: at 80 columns the dashboard's line lost its
`? help` and the full-screen logs' line lost how to leave full screen, both cut off at the right edge).

The head (what the screen says: counts, the log's state) is always shown first, clipped only when it alone
is wider than the line. The hints keep their order; they are dropped in the order the screen gives, least
needed first. The line is worked out at drawing time, so a resize re-fits it without the screen's help.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.content import Content
from textual.widget import Widget

from widgets.text import clip


def fit_hints(head: str, hints: Sequence[str], width: int, least_needed_first: Sequence[int] = (),
              *, bracket: bool = False) -> str:
    """``head · hint · hint`` (``bracket``: ``head  (hint · hint)``), leaving out hints by index in
    ``least_needed_first`` until the line is at most ``width`` cells; clipped with "…" if still wider."""
    kept = list(range(len(hints)))

    def line() -> str:
        if not kept:
            return head
        joined = " · ".join(hints[i] for i in kept)
        return f"{head}  ({joined})" if bracket else f"{head} · {joined}"

    for index in least_needed_first:
        if cell_len(line()) <= width:
            break
        kept.remove(index)
    return clip(line(), width)


class HintLine(Widget):
    """``show(head, hints)``; redrawn only when what it says changes, never with a layout (it is one row)."""

    DEFAULT_CSS = "HintLine { height: 1; }"

    def __init__(self, least_needed_first: Sequence[int] = (), *, bracket: bool = False,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.least_needed_first = tuple(least_needed_first)
        self.bracket = bracket
        self.said: tuple[str, tuple[str, ...]] = ("", ())

    def show(self, head: str, hints: Sequence[str]) -> None:
        said = (head, tuple(hints))
        if said != self.said:
            self.said = said
            self.refresh()

    @property
    def text(self) -> str:
        """The line as drawn at the widget's width now."""
        head, hints = self.said
        width = self.content_region.width or self.size.width
        return fit_hints(head, hints, width, self.least_needed_first, bracket=self.bracket) if width else head

    def render(self) -> Content:
        return Content(self.text)  # plain text: a log filter's pattern is never read as markup
