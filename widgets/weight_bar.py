"""Widgets room: the canary weight as a bar with the phase marks (10/25/50/75/100) drawn on it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from textual.content import Content


def weight_bar(weight: int, marks: Sequence[int], width: int) -> str:
    """``▕███░│░░│░░│░░▏``-like: filled up to ``weight`` percent, ``│`` (or ``┃`` when filled) at each mark."""
    inner = max(4, width - 2)
    filled = round(inner * max(0, min(100, weight)) / 100)
    mark_cols = {min(inner - 1, max(0, round(inner * m / 100) - 1)) for m in marks if 0 < m < 100}
    cells = []
    for col in range(inner):
        on = col < filled
        if col in mark_cols:
            cells.append("┃" if on else "│")
        else:
            cells.append("█" if on else "░")
    return "▕" + "".join(cells) + "▏"


@lru_cache(maxsize=256)
def weight_bar_content(weight: int, marks: tuple[int, ...], width: int, style: str = "$canary") -> Content:
    """The bar in its colours; remembered, as a panel redraws the same weight every few seconds."""
    bar = weight_bar(weight, marks, width)
    inner = bar[1:-1]
    filled = round(len(inner) * max(0, min(100, weight)) / 100)
    return Content.assemble(("▕", "$muted"), (inner[:filled], style), (inner[filled:], "$muted"), ("▏", "$muted"))
