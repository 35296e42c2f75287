"""Widgets room: sparklines drawn for comparison. Two series (canary and stable) are always scaled to ONE
shared range, so equal heights mean equal values; a Textual Sparkline scales each series to itself and
would make any two series look alike.
"""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = " ▁▂▃▄▅▆▇█"


def shared_range(*series: Sequence[float | None]) -> tuple[float, float]:
    """The common (low, high) of every value in every series; low is 0 unless values go negative."""
    values = [v for s in series for v in s if v is not None]
    if not values:
        return 0.0, 1.0
    low = min(0.0, min(values))
    high = max(values)
    if high <= low:
        high = low + (abs(low) or 1.0)
    return low, high


def _resample(values: Sequence[float | None], width: int) -> list[float | None]:
    """The last ``width`` values (right-aligned, oldest dropped; padded with gaps on the left)."""
    tail = list(values)[-width:] if width > 0 else []
    return [None] * (width - len(tail)) + tail


def spark_rows(values: Sequence[float | None], low: float, high: float, width: int,
               height: int = 1) -> list[str]:
    """``height`` rows of block characters, top row first, of ``values`` on the given shared scale."""
    width, height = max(0, width), max(1, height)
    if height == 1:  # the dashboard's panels: six a redraw, so the one row is drawn the short way
        return [_one_row(_resample(values, width), low, high)]
    levels = height * 8
    columns: list[int | None] = []
    for value in _resample(values, width):
        if value is None:
            columns.append(None)
            continue
        fraction = (value - low) / (high - low) if high > low else 0.0
        columns.append(max(1, min(levels, round(fraction * levels))) if value > low else 0)
    rows = []
    for row in range(height - 1, -1, -1):
        base = row * 8
        chars = []
        for level in columns:
            if level is None:
                chars.append(" " if row else "·")
            else:
                chars.append(BLOCKS[max(0, min(8, level - base))])
        rows.append("".join(chars))
    return rows


def _one_row(values: list[float | None], low: float, high: float) -> str:
    """What the loop above gives for one row: a gap is "·", a value at or below ``low`` a blank, any other
    value at least one eighth."""
    span = high - low
    chars = []
    for value in values:
        if value is None:
            chars.append("·")
        elif not value > low:  # NaN too, as above
            chars.append(" ")
        else:
            level = round((value - low) / span * 8) if span > 0 else 0
            chars.append(BLOCKS[8 if level > 8 else (level if level > 1 else 1)])
    return "".join(chars)
