"""The inert-text room: text from outside the console (names, versions, annotations, Lease holders, logs,
server messages) made harmless before it reaches a terminal. Control characters (ESC, BEL, CR, …), C1
controls and the bidirectional overrides are shown as visible escapes (``\\x1b``, ``\\u202e``), so a hostile
value can neither move the cursor, retitle the terminal nor reorder what a person reads — and the reader
still sees that something odd was there. JSON output needs nothing from here: json.dumps escapes control
characters itself (and the bidi marks are made inert by ``inert`` where text is printed).
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(value: Any, limit: int | None = None) -> str:
    """``value`` as text with every control or bidi character shown as an escape; cut at ``limit``."""
    text = _UNSAFE.sub(_escape, str(value))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def inert_lines(text: str) -> str:
    """Like ``inert`` but keeps newlines (for multi-line output the console itself composes)."""
    return "\n".join(inert(line) for line in str(text).split("\n"))
