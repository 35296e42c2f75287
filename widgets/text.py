"""Widgets room: turning values into short display strings, and untrusted text into inert text.

`inert` is the one gate every untrusted string (log lines, pod names, event messages, reasons) passes
through before display: control characters, including the ESC that starts terminal escape sequences, are
shown as visible Unicode control pictures, so nothing reaches the terminal that could act. Markup is never
parsed on these strings (widgets build Content from plain text), so `[/bad]` stays `[/bad]`.
"""

from __future__ import annotations

_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)}
_CONTROL_PICTURES[0x09] = " "
_CONTROL_PICTURES[0x7F] = "\u2421"
_CONTROL_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0)})


def inert(text: object, limit: int = 2000) -> str:
    """Untrusted text made harmless to show: control characters become visible pictures (ESC → ␛)."""
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value.translate(_CONTROL_PICTURES)


def percent(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage: 0.0041 → "0.41%"; None → "—"."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def millis(value: float | None) -> str:
    """Seconds as milliseconds: 0.152 → "152ms"; None → "—"."""
    if value is None:
        return "—"
    return f"{value * 1000:.0f}ms" if value < 10 else f"{value:.1f}s"


def clock(seconds: float) -> str:
    """A countdown: 750 → "12:30", 4000 → "1:06:40"."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def age(seconds: float | None) -> str:
    """A pod's age, kubectl style: 45s, 12m, 3h, 2d."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def lasted(seconds: float) -> str:
    """How long something has lasted: 110 → "110s", 750 → "12m30s", 7300 → "2h01m"."""
    seconds = max(0, int(round(seconds)))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
