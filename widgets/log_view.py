"""Widgets room: LogView, live pod logs of both tracks with follow, pause, a filter, a track toggle, a wrap
toggle and horizontal scrolling.

Lines arrive one by one from the app's log worker (`feed`), wait in a bounded pending queue and are
written a few times a second in one batch. Every line is kept (up to ``max_lines``) in a ring so the
filter, the track toggle and the wrap toggle redraw from memory; after such a change the view follows the
newest line again. Each line is made readable at 80 columns (`log_line`): the time as HH:MM:SS, the track as
a coloured word, the pod by its own suffix (the ReplicaSet hash elided), the level only when it is not INFO,
then the message; the Spring thread and logger go last. Lines are untrusted: they pass through `inert`,
and the Log widget never parses markup, so `[/bad]`, `[@click=…]` and escape sequences are shown, never
obeyed.
"""

from __future__ import annotations

import re
import textwrap
from collections import deque
from datetime import UTC, datetime

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual.widgets import Log

from console.engine.model import Track
from widgets.guard import guarded
from widgets.text import inert

TRACKS: tuple[Track | None, ...] = (None, Track.CANARY, Track.STABLE)
SPRING = re.compile(r"^(?:\d{4}-\d\d-\d\d[T ])?(?P<time>\d\d:\d\d:\d\d)(?:[.,]\d+)?Z?\s+(?P<level>[A-Z]+)\s+"
                    r"(?:\d+\s+---\s+)?(?:\[\s*(?P<thread>[^\]]*)\]\s+)?(?:(?P<logger>\S+)\s+:\s)?(?P<message>.*)$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\d[T ](?P<time>\d\d:\d\d:\d\d)(?:[.,]\d+)?Z?\s+(?P<rest>.*)$")
TAG_WIDTH = len("canary")
INDENT = " " * (len("00:00:00 ") + TAG_WIDTH + 1)  # continuation lines of a wrapped line start here


def short_pod(name: str) -> str:
    """The pod's own suffix: `perception-canary-kvkt7svc86-62g88` → `62g88` (the track is its own tag)."""
    parts = str(name).rsplit("-", 2)
    return parts[-1] if len(parts) == 3 else str(name)


def log_line(pod: str, track: Track, text: str, at: float = 0.0) -> str:
    """One display line: `21:16:26 canary 62g88 WARN message  ‹thread logger›`."""
    match = SPRING.match(text)
    if match is not None:
        level = match["level"]
        head = f"{match['time']} {track.value:<{TAG_WIDTH}} {short_pod(pod)} "
        body = match["message"].strip() or text
        if level != "INFO":
            body = f"{level} {body}"
        where = " ".join(p.strip() for p in (match["thread"], match["logger"]) if p and p.strip())
        return inert(f"{head}{body}" + (f"  ‹{where}›" if where else ""))
    iso = ISO_TIME.match(text)
    when = iso["time"] if iso else (datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S") if at else "--:--:--")
    rest = iso["rest"] if iso else text
    return inert(f"{when} {track.value:<{TAG_WIDTH}} {short_pod(pod)} {rest}")


class TrackHighlighter(Highlighter):
    """Colours the track word (canary / stable) and a WARN / ERROR level with the theme's colours."""

    def __init__(self) -> None:
        self.styles: dict[str, Style] = {}

    def highlight(self, text: Text) -> None:
        plain = text.plain
        tag = plain[9:9 + TAG_WIDTH]
        if tag in self.styles:
            text.stylize(self.styles[tag], 9, 9 + TAG_WIDTH)
        for level in ("ERROR", "WARN"):
            at = plain.find(f" {level} ", 0, 40)
            if at >= 0 and level in self.styles:
                text.stylize(self.styles[level], at + 1, at + 1 + len(level))
                break


class LogView(Log):
    def __init__(self, max_lines: int = 1000, flush_seconds: float = 0.05, **kwargs) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=True, highlight=True, **kwargs)
        self.highlighter: TrackHighlighter = TrackHighlighter()
        self.kept: deque[tuple[Track, str]] = deque(maxlen=max_lines)
        self.pending: deque[tuple[Track, str]] = deque(maxlen=max_lines)
        self.flush_seconds = flush_seconds
        self.paused = False
        self.pattern = ""
        self.track: Track | None = None
        self.wrap = False
        self.received = 0
        self._styled_for: str | None = None
        self._wrapped_width = 0

    def on_mount(self) -> None:
        self.set_interval(self.flush_seconds, self.flush, name="log-flush")

    def on_resize(self) -> None:
        if self.wrap and self._wrap_width() != self._wrapped_width:
            self.redraw()

    @guarded("showing a log line")
    def feed(self, line) -> None:
        """One ports.LogLine (or anything with .pod, .track, .text)."""
        track = Track(getattr(line, "track", Track.STABLE))
        text = log_line(getattr(line, "pod", "?"), track, str(getattr(line, "text", line)),
                        float(getattr(line, "at", 0.0) or 0.0))
        self.received += 1
        self.pending.append((track, text))

    def _wanted(self, track: Track, text: str) -> bool:
        if self.track is not None and track is not self.track:
            return False
        return not self.pattern or self.pattern.lower() in text.lower()

    def _wrap_width(self) -> int:
        return max(20, self.scrollable_content_region.width - 1)

    def _display(self, lines: list[str]) -> list[str]:
        """The lines as written to the Log: as they are, or wrapped to the width with an indent."""
        if not self.wrap:
            return lines
        width = self._wrapped_width = self._wrap_width()
        shown: list[str] = []
        for line in lines:
            shown.extend(textwrap.wrap(line, width, subsequent_indent=INDENT, break_long_words=True,
                                       drop_whitespace=False) or [""])
        return shown

    def _theme_styles(self) -> None:
        theme = self.app.theme
        if self._styled_for == theme:
            return
        variables = self.app.get_css_variables()
        self.highlighter.styles = {
            "canary": Style.parse(f"bold {variables.get('canary', 'cyan')}"),
            "stable": Style.parse(f"bold {variables.get('stable', 'magenta')}"),
            "ERROR": Style.parse(f"bold {variables.get('danger', 'red')}"),
            "WARN": Style.parse(f"bold {variables.get('attention', 'yellow')}"),
        }
        self._styled_for = theme
        self._render_line_cache.clear()

    @guarded("writing logs")
    def flush(self) -> None:
        if self.paused or not self.pending:
            return
        self._theme_styles()
        batch = list(self.pending)
        self.pending.clear()
        self.kept.extend(batch)
        lines = [text for track, text in batch if self._wanted(track, text)]
        if lines:
            self.write_lines(self._display(lines))

    def redraw(self) -> None:
        """Draw again from memory, then follow the newest line (a change of view is not a reason to stop)."""
        self._theme_styles()
        self.clear()
        lines = [text for track, text in self.kept if self._wanted(track, text)]
        self.auto_scroll = True
        if lines:
            self.write_lines(self._display(lines), scroll_end=False)
        self.scroll_to(x=0, animate=False, immediate=True)
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    # ------------------------------------------------------------------ controls
    def set_filter(self, pattern: str) -> None:
        self.pattern = pattern.strip()
        self.redraw()

    def next_track(self) -> Track | None:
        self.track = TRACKS[(TRACKS.index(self.track) + 1) % len(TRACKS)]
        self.redraw()
        return self.track

    def toggle_wrap(self) -> bool:
        self.wrap = not self.wrap
        self.redraw()
        return self.wrap

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        if not self.paused:
            self.flush()
        return self.paused

    def toggle_follow(self) -> bool:
        self.auto_scroll = not self.auto_scroll
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        return self.auto_scroll

    def scroll_columns(self, columns: int) -> None:
        """Horizontal scroll (Left / Right): long lines are readable without wrapping."""
        self.scroll_to(x=max(0, self.scroll_x + columns), animate=False, immediate=True)

    @property
    def following(self) -> bool:
        return self.auto_scroll and not self.paused

    def describe(self) -> str:
        track = f"{self.track.value} only" if self.track else "both tracks"
        state = "PAUSED (z resumes)" if self.paused else ("following" if self.auto_scroll else "not following (f)")
        filt = f" · filter “{self.pattern}”" if self.pattern else ""
        wrap = " · wrapped" if self.wrap else (f" · ← col {self.scroll_x}" if self.scroll_x else "")
        return f"logs: {track} · {state}{filt}{wrap} · {len(self.kept)} kept"
