"""Widgets room: LogView, live pod logs of both tracks with follow, pause, a filter and a track toggle.

Lines arrive one by one from the app's log worker (`feed`), wait in a bounded pending queue and are
written a few times a second in one batch. Every line is kept (up to ``max_lines``) in a ring so the
filter and the track toggle redraw from memory. Lines are untrusted: they pass through `inert`, and the
Log widget never parses markup, so `[/bad]`, `[@click=…]` and escape sequences are shown, never obeyed.
"""

from __future__ import annotations

from collections import deque

from textual.widgets import Log

from console.engine.model import Track
from widgets.guard import guarded
from widgets.text import inert

TRACKS: tuple[Track | None, ...] = (None, Track.CANARY, Track.STABLE)


class LogView(Log):
    def __init__(self, max_lines: int = 1000, flush_seconds: float = 0.05, **kwargs) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=True, **kwargs)
        self.kept: deque[tuple[Track, str]] = deque(maxlen=max_lines)
        self.pending: deque[tuple[Track, str]] = deque(maxlen=max_lines)
        self.flush_seconds = flush_seconds
        self.paused = False
        self.pattern = ""
        self.track: Track | None = None
        self.received = 0

    def on_mount(self) -> None:
        self.set_interval(self.flush_seconds, self.flush, name="log-flush")

    @guarded("showing a log line")
    def feed(self, line) -> None:
        """One ports.LogLine (or anything with .pod, .track, .text)."""
        track = Track(getattr(line, "track", Track.STABLE))
        text = inert(f"{track.value[0].upper()} {getattr(line, 'pod', '?')} │ {getattr(line, 'text', line)}")
        self.received += 1
        self.pending.append((track, text))

    def _wanted(self, track: Track, text: str) -> bool:
        if self.track is not None and track is not self.track:
            return False
        return not self.pattern or self.pattern.lower() in text.lower()

    @guarded("writing logs")
    def flush(self) -> None:
        if self.paused or not self.pending:
            return
        batch = list(self.pending)
        self.pending.clear()
        self.kept.extend(batch)
        lines = [text for track, text in batch if self._wanted(track, text)]
        if lines:
            self.write_lines(lines)

    def redraw(self) -> None:
        self.clear()
        lines = [text for track, text in self.kept if self._wanted(track, text)]
        if lines:
            self.write_lines(lines)

    # ------------------------------------------------------------------ controls
    def set_filter(self, pattern: str) -> None:
        self.pattern = pattern.strip()
        self.redraw()

    def next_track(self) -> Track | None:
        self.track = TRACKS[(TRACKS.index(self.track) + 1) % len(TRACKS)]
        self.redraw()
        return self.track

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        if not self.paused:
            self.flush()
        return self.paused

    def toggle_follow(self) -> bool:
        self.auto_scroll = not self.auto_scroll
        if self.auto_scroll:
            self.scroll_end(animate=False)
        return self.auto_scroll

    def describe(self) -> str:
        track = self.track.value if self.track else "both tracks"
        state = "paused" if self.paused else ("following" if self.auto_scroll else "not following")
        filt = f" · filter “{self.pattern}”" if self.pattern else ""
        return f"logs: {track} · {state}{filt} · {len(self.kept)} kept  (f follow · z pause · / filter · t track)"
