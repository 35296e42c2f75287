"""Widgets room: HintLine, a one-row status line that says what matters and then the keys, leaving out the
least needed keys until it fits the terminal's width (issue 17: at 80 columns the dashboard's line lost its
`? help` and the full-screen logs' line lost how to leave full screen, both cut off at the right edge).

The head (what the screen says: counts, the log's state) is always shown first, clipped only when it alone
is wider than the line. Each hint comes with how much it is needed, beside its text at the screen that
gives it: hints keep their order on the line, and when it is too narrow the least needed go first (a need
of None: never left out).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.content import Content
from textual.widget import Widget

from widgets.text import clip


#: a key hint and how much it is needed: the least needed are left out first, None never
Hint = tuple[str, int | None]


def fit_hints(head: str, hints: Sequence[Hint], width: int, *, bracket: bool = False) -> str:
    """``head · hint · hint`` (``bracket``: ``head  (hint · hint)``), leaving out the least needed hints until
    the line is at most ``width`` cells; clipped with "…" if still wider."""
    kept = list(range(len(hints)))
    droppable = [i for _need, i in sorted((need, i) for i, (_text, need) in enumerate(hints) if need is not None)]

    def line() -> str:
        if not kept:
            return head
        joined = " · ".join(hints[i][0] for i in kept)
        return f"{head}  ({joined})" if bracket else f"{head} · {joined}"

    for index in droppable:
        if cell_len(line()) <= width:
            break
        kept.remove(index)
    return clip(line(), width)


class HintLine(Widget):
    """``show(head, hints)``; redrawn only when what it says changes, never with a layout (it is one row)."""

    DEFAULT_CSS = "HintLine { height: 1; }"

    def __init__(self, *, bracket: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.bracket = bracket
        self.said: tuple[str, tuple[Hint, ...]] = ("", ())

    def show(self, head: str, hints: Sequence[Hint]) -> None:
        said = (head, tuple(hints))
        if said != self.said:
            self.said = said
            self.refresh()

    @property
    def text(self) -> str:
        """The line as drawn at the widget's width now."""
        head, hints = self.said
        width = self.content_region.width or self.size.width
        return fit_hints(head, hints, width, bracket=self.bracket) if width else head

    def render(self) -> Content:
        return Content(self.text)  # plain text: a log filter's pattern is never read as markup
