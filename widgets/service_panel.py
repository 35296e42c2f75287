"""Widgets room: ServicePanel, one service's rollout at a glance (a 3-line row at 80x24, a bordered panel
with taller comparison sparklines in a roomy terminal). It only draws the RolloutStatus it is given; it
never asks anything of the engine. Untrusted strings pass through `inert` and are never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from time import monotonic
from typing import Protocol, cast, runtime_checkable

from textual.content import Content
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget, _RenderCache

from console.engine.model import Outcome, RolloutStatus, State, Track
from widgets.history import MetricHistory
from widgets.spark import shared_range, spark_rows
from widgets.text import clip, clock, inert, millis, percent
from widgets.weight_bar import weight_bar_content
from widgets.words import humane, outcome_word

DANGER_STATES = (State.ROLLING_BACK, State.ROLLED_BACK, State.FAILED)
ATTENTION_STATES = (State.AWAITING_APPROVAL, State.PAUSED)
#: a state's colour, never its only sign: the word is always there, and what needs a person is also bold
#: (awaiting approval in reverse video, which every terminal shows, 8 colours or none)
STATE_STYLE = {State.OBSERVING: "$ok", State.PROMOTED: "$ok", State.PROMOTING: "$ok",
               State.DEPLOYING: "$text", State.IDLE: "$muted",
               State.AWAITING_APPROVAL: "$attention bold reverse"}
VERDICT_ICON = {Outcome.PASS: ("✔", "$ok"), Outcome.FAIL: ("✘", "$danger"),
                Outcome.MANUAL_REVIEW: ("?", "$attention"), Outcome.INCONCLUSIVE: ("…", "$muted")}


@runtime_checkable
class HoldsNumbers(Protocol):
    """An app that holds back numbers-only statuses (console/app.py's CanaryApp): how many seconds."""

    hold_numbers: float


RIGHT_WIDTH = 24  # the countdown column: fixed, so the weight bar's phase marks never move as its text changes


def rolled_back_by_person(status: RolloutStatus) -> bool:
    """A rollback a person asked for (the engine's reason names who: "rollback by root@host")."""
    return status.state is State.ROLLED_BACK and "rollback by " in (status.reason or "")


def attention(status: RolloutStatus | None) -> int:
    """0 = danger (failing, rolling back, rolled back by the engine), 1 = needs a person (a rollback a person
    made only waits for its cleanup), 2 = fine; sorts the dashboard."""
    if status is None:
        return 2
    failing = status.verdict is not None and status.verdict.outcome is Outcome.FAIL
    if rolled_back_by_person(status) and not failing:
        return 1
    if status.state in DANGER_STATES or failing:
        return 0
    if status.state in ATTENTION_STATES or status.needs_person:
        return 1
    return 2


def countdown(status: RolloutStatus, weights: Sequence[int]) -> str:
    """"next 25% in 12:30" while observing; a held clock says it is held and why; in manual mode the end of
    the phase waits for a person; what the rollout waits for otherwise."""
    if status.state is State.OBSERVING:
        later = [w for w in weights if w > status.weight]
        left = clock(status.time_left)
        if status.verdict is None or not status.verdict.usable:
            why = "no verdict yet" if status.verdict is None else "no usable data"
            return f"⏸ held {left}: {why}"
        if status.mode != "auto":
            return f"{left}, then you decide"
        step = f"next {later[0]}%" if later else "promote"
        return f"{step} in {left}"
    return {State.PAUSED: "⏸ paused (p resumes)", State.AWAITING_APPROVAL: "needs approval (v)",
            State.DEPLOYING: "deploying", State.ROLLING_BACK: "rolling back"}.get(status.state, "")


@lru_cache(maxsize=256)
def _head(selected: bool, service: str, state: tuple[str, str]) -> Content:
    """A panel's first words: the selection mark, the service and its state as (words, style), the same at
    almost every redraw, so remembered (keyed by strings: a Content equals any other of its text)."""
    return Content.assemble(("▶ " if selected else "  ", "$accent bold"), (f"{service:<11}", "bold"), " ", state, " ")


@lru_cache(maxsize=256)
def _muted_between(before: str, text: str, after: str) -> Content:
    return Content.assemble(before, (text, "$muted"), after)


class ServicePanel(Widget):
    """One service. ``show(status, history)`` redraws it; ``selected`` highlights it."""


    selected: reactive[bool] = reactive(False)
    #: a panel has no links; with Textual's default every redraw looked for one in each segment's meta
    #: (a fifth of turning the lines into strips), and the strips are the same without it
    auto_links: reactive[bool] = reactive(False)

    def __init__(self, service: str, weights: Sequence[int], *, id: str | None = None, **kwargs) -> None:
        super().__init__(id=id or f"panel-{service}", **kwargs)
        self.service = service
        self.weights = tuple(weights)
        self.status: RolloutStatus | None = None
        self.history = MetricHistory()
        self.error: str | None = None
        self.waiting = "waiting for the first status…"
        self._drawn_key: tuple | None = None
        self._drawn_at = float("-inf")
        self.held = False  # a status that only moved the numbers waits for redraw_held()
        self._strips: dict[tuple, Strip] = {}  # the drawn lines, by what they say (see _render_content)
        self._strips_context: tuple | None = None
        self._pending: list[Content] | None = None  # the lines a redraw found, until they are drawn
        self._holds_for: object = None  # the app whose HoldsNumbers answer is remembered (hold_seconds)
        self._holds = False

    def show_waiting(self, text: str) -> None:
        """What the panel says before its first status ("connecting…", why the connection failed)."""
        self.waiting = text
        if self.status is None:
            self.refresh()

    def show(self, status: RolloutStatus, history: MetricHistory | None = None) -> None:
        """Draw ``status``: at once when what it says changed (state, verdict, weight, mode, a problem);
        a status that only moves the numbers and the countdown is drawn at most every ``hold_seconds`` (the
        CLI: 3 s; k9s refreshes every 2 s): redrawing six panels on every status was most of the idle CPU."""
        self.status = status
        if history is not None:
            self.history = history
        level = attention(status)
        self.set_class(level == 0, "-danger")
        self.set_class(level == 1, "-attention")
        key = self._meaning(status)
        now = monotonic()
        if key != self._drawn_key or self.due(now):
            self._redraw(key, now)
        else:
            self.held = True  # drawn by redraw_held(), which the screen calls on every flush

    def due(self, now: float) -> bool:
        """The hold is over: numbers-only changes may be drawn."""
        return now - self._drawn_at >= self.hold_seconds

    def redraw_held(self, now: float | None = None, *, early: bool = False) -> bool:
        """Draw a held-back status once its time has come (``early``: now, with the other panels drawn in
        the same screen update); True when it drew."""
        now = monotonic() if now is None else now
        if not self.held or self.status is None or not (early or self.due(now)):
            return False
        self._redraw(self._meaning(self.status), now)
        return True

    @property
    def hold_seconds(self) -> float:
        """How long a numbers-only status may wait: the app's ``hold_numbers`` (the CLI's 3 s; 0 in tests
        that step a virtual clock, so every status is drawn)."""
        try:
            app = self.app
        except Exception:  # not mounted in an app (a unit test of render)
            return 0.0
        if self._holds_for is not app:  # asked once per app: a protocol check walks the app's whole class
            self._holds_for, self._holds = app, isinstance(app, HoldsNumbers)  # (six times a second, per panel)
        return cast(HoldsNumbers, app).hold_numbers if self._holds else 0.0  # a plain test app draws every status

    def _meaning(self, status: RolloutStatus) -> tuple:
        verdict = status.verdict
        return (status.state, status.weight, status.mode, status.read_only, status.driver, self.error,
                verdict.outcome if verdict else None, status.snapshot.problem if status.snapshot else None,
                status.metrics.problem if status.metrics else None)

    def _redraw(self, key: tuple, now: float) -> None:
        self._drawn_key, self._drawn_at, self.held = key, now, False
        self._repaint_changed_lines()

    def _repaint_changed_lines(self) -> None:
        """Repaint only the rows whose line changed since it was drawn: Textual then restyles and sends only
        those rows to the terminal. Anything else (nothing drawn yet, another size, background or number of
        lines) repaints the whole panel."""
        width, height = self.size
        if not self.is_mounted or not self._strips or self._drawing_context() != self._strips_context:
            self.refresh()
            return
        lines = self._lines()[:height]
        drawn = list(self._strips)  # by row
        keys = self._keys(lines)
        if len(keys) != len(drawn):
            self.refresh()
            return
        changed = [y for y, (key, old) in enumerate(zip(keys, drawn)) if key != old]
        if changed:
            self._pending = lines  # drawn as found now, so the rows repainted are the rows that changed
            self.refresh(*(Region(0, y, width, 1) for y in changed))

    def refresh(self, *regions: Region, **kwargs) -> ServicePanel:
        if not regions:  # the whole panel (Textual's own refreshes too): drawn from what it holds now
            self._pending = None
        return super().refresh(*regions, **kwargs)

    def watch_selected(self, selected: bool) -> None:
        self.set_class(selected, "-selected")
        self.refresh()

    def show_error(self, message: str | None) -> None:
        self.error = message
        self.refresh()

    # ---------------------------------------------------------------- drawing
    def render(self) -> Content:
        return Content("\n").join(self._lines())

    def _lines(self) -> list[Content]:
        """The panel's lines, at most as many as it has rows."""
        # every edge (padding or a coloured border) takes the same two columns (themes/console.tcss), so the
        # weight bar of every panel is as wide as the others and its phase marks line up
        width = max(20, self.content_region.width or self.size.width)
        height = max(1, self.content_region.height or self.size.height)
        if self.status is None:
            return [Content.assemble((self.service, "bold"), (f"  {self.waiting}", "$muted"))]
        if height >= 8:
            lines = self._roomy(width, height)
        else:
            lines = self._compact(width, height)
        return lines[:height]

    def _render_content(self) -> None:
        """Textual's whole-widget render, but a line that says what it said last time (the same text in
        the same styles, on the same row) keeps its drawn strip: turning styled text into strips is most of
        a redraw, and the versions / verdict and why lines seldom change (issue 17, idle CPU). Changed lines
        go through Textual's own path, in place, so they come out exactly as a full render draws them."""
        width, height = self.size
        context = self._drawing_context()
        if context != self._strips_context:  # another size, background, theme or selection: all new
            self._strips, self._strips_context = {}, context
        lines, self._pending = (self._pending or self._lines())[:height], None
        keys = self._keys(lines)
        drawn = self._strips
        missing = {y for y, key in enumerate(keys) if key not in drawn}
        if missing:
            changed = Content("\n").join(line if y in missing else Content("") for y, line in enumerate(lines))
            strips = Visual.to_strips(self, changed, width, height, self.visual_style)
            for y in missing:
                drawn[keys[y]] = strips[y] if y < len(strips) else Strip.blank(width)
        self._strips = {key: drawn[key] for key in keys}  # only the lines on screen stay
        self._render_cache = _RenderCache(self.size, [drawn[key] for key in keys])
        self._dirty_regions.clear()

    def _drawing_context(self) -> tuple:
        """What every drawn line depends on besides its own text and styles."""
        return self.size, self.visual_style, self.app.theme, self.text_selection

    @staticmethod
    def _keys(lines: list[Content]) -> list[tuple]:
        """Each line by what it says: its row, its text and its styles."""
        return [(y, line.plain, tuple(line.spans)) for y, line in enumerate(lines)]

    @staticmethod
    def _versions(status: RolloutStatus) -> str:
        versions = inert(status.stable_version or "?", 40)
        if status.canary_version and status.canary_version != status.stable_version \
                and status.state is not State.PROMOTED:
            versions += f" → {inert(status.canary_version, 40)}"
        mode = "" if status.mode == "auto" else " · manual"
        return versions + mode + (" · read-only" if status.read_only else "")

    @staticmethod
    def _state_words(status: RolloutStatus) -> tuple[str, str]:
        if rolled_back_by_person(status):
            style = "$attention bold"
        else:
            style = "$danger bold" if status.state in DANGER_STATES else STATE_STYLE.get(status.state, "$attention bold")
        return f"{status.state.label:<17}", style

    def _title(self, status: RolloutStatus) -> Content:
        return Content.assemble(_head(self.selected, self.service, self._state_words(status)),
                                (self._versions(status), "$muted"))

    def _bar(self, status: RolloutStatus, width: int) -> Content:
        right = clip(countdown(status, self.weights), RIGHT_WIDTH)
        bar_width = max(8, width - RIGHT_WIDTH - 7)
        return Content.assemble(weight_bar_content(status.weight, self.weights, bar_width),
                                f" {status.weight:>3}% ", (right, "$muted"))

    @staticmethod
    def _canary_gone(status: RolloutStatus) -> bool:
        """No canary to measure (promoted, no canary, or no canary pod at all): its numbers would be 0/0."""
        if status.state in (State.PROMOTED, State.IDLE):
            return True
        snap = status.snapshot
        return snap is not None and snap.ready_count(Track.CANARY)[1] == 0 and status.weight == 0

    def _pods(self, status: RolloutStatus) -> str:
        snap = status.snapshot
        if snap is None:
            return "pods ?"
        s_ready, s_total = snap.ready_count(Track.STABLE)
        c_ready, c_total = snap.ready_count(Track.CANARY)
        restarts = snap.restarts(Track.STABLE) + snap.restarts(Track.CANARY)
        return f"S {s_ready}/{s_total} C {c_ready}/{c_total} ↻{restarts}"

    def _pair(self, label: str, metric: str, fmt, spark_width: int) -> Content:
        """``err C 0.41%▂▃▅ S 0.38%▂▂▃`` with both sparklines on one shared scale."""
        canary = self.history.series(metric, "canary", last=spark_width)
        stable = self.history.series(metric, "stable", last=spark_width)
        low, high = shared_range(canary, stable)
        parts: list[tuple[str, str] | str] = [f"{label} "]
        gone = self.status is not None and self._canary_gone(self.status)
        for name, series, style in (("C", canary, "$canary"), ("S", stable, "$stable")):
            if name == "C" and gone:
                parts.append(("C —", "$muted"))
                parts.append(" ")
                continue
            value = self.history.latest(metric, "canary" if name == "C" else "stable")
            parts.append((f"{name} {fmt(value)}", style))
            if spark_width >= 3:
                parts.append((" " + spark_rows(series, low, high, spark_width)[0], style))
            parts.append(" ")
        return Content.assemble(*parts)

    def _verdict(self, status: RolloutStatus, width: int) -> Content:
        named = status.verdict.problems if status.verdict is not None else ()  # incident, traffic share
        problems = [p for p in (*named, (status.snapshot.problem if status.snapshot else None),
                                (status.metrics.problem if status.metrics else None), self.error) if p]
        if problems:
            return Content.assemble(("⚠ ", "$danger"), (clip(inert(problems[-1]), width - 2), "$danger"))
        verdict = status.verdict
        outcome = self._outcome(status)
        if outcome is not None:
            icon, style, text = outcome
            return Content.assemble((icon + " ", style), (clip(text, width - 2), style))
        if verdict is None:
            return Content.assemble(("· ", "$muted"), (clip(humane(inert(status.reason or "no verdict yet")),
                                                            width - 2), "$muted"))
        icon, style = VERDICT_ICON[verdict.outcome]
        reason = verdict.reason if status.state is State.OBSERVING or not status.reason else status.reason
        text = humane(f"{outcome_word(verdict.outcome)}: {inert(reason)}")
        return Content.assemble((icon + " ", style), (clip(text, width - 2), style))

    @staticmethod
    def _outcome(status: RolloutStatus) -> tuple[str, str, str] | None:
        """How a finished rollout ended, in words (not the last check's verdict: a healthy canary rolled back
        by a person is neither "pass" nor failing)."""
        reason = humane(inert(status.reason or ""))
        if status.state is State.PROMOTED:
            return "✔", "$ok", f"promoted: {inert(status.stable_version or '?', 40)} is stable"
        if rolled_back_by_person(status):
            return "↩", "$attention", reason or "rolled back by a person"
        if status.state in (State.ROLLED_BACK, State.FAILED):
            return "✘", "$danger", reason or status.state.label
        return None

    def _compact(self, width: int, height: int = 3) -> list[Content]:
        """Three lines: name, state, weight bar, countdown / pods and both metric pairs / versions, verdict;
        with more rows: P99 and the mode / driver, then the state's reason."""
        status = self.status
        assert status is not None
        head = _head(self.selected, self.service, self._state_words(status))
        right_width = 17 if width < 100 else RIGHT_WIDTH
        right = f"{clip(countdown(status, self.weights), right_width):<{right_width}}"
        bar_width = max(6, width - head.cell_length - right_width - 6)
        first = Content.assemble(head, weight_bar_content(status.weight, self.weights, bar_width),
                                 f" {status.weight:>3}% ", (right, "$muted"))
        pods = self._pods(status)
        spark = max(0, (width - len(pods) - 4 - 2 * 20) // 4 - 1)
        second = Content.assemble("  ", (pods, "$muted"), "  ", self._pair("err", "error_rate", percent, spark),
                                  self._pair("P95", "p95", millis, spark))
        versions = _muted_between("  ", self._versions(status), " ")
        third = Content.assemble(versions, self._verdict(status, width - versions.cell_length))
        lines = [first.truncate(width), second.truncate(width), third.truncate(width)]
        if height >= 4:
            who = f" · driven by {inert(status.driver, 40)}" if status.driver and status.read_only else ""
            lines.append(Content.assemble("  ", self._pair("P99", "p99", millis, spark),
                                          (f"mode {status.mode}{who}", "$muted")).truncate(width))
        if height >= 5 and status.reason:
            lines.append(Content.assemble(("  why: ", "$muted"),
                                          (clip(humane(inert(status.reason)), width - 7), "$muted")))
        return lines

    def _roomy(self, width: int, height: int) -> list[Content]:
        status = self.status
        assert status is not None
        rows = 2 if height >= 14 else 1
        lines = [self._title(status).truncate(width), self._bar(status, width),
                 Content.assemble(("pods ", "$muted"), self._pods(status), ("   mode ", "$muted"), status.mode)]
        for title, metric, fmt in (("error rate", "error_rate", percent), ("P95 latency", "p95", millis)):
            lines.extend(self._chart(title, metric, fmt, width, rows))
        lines.append(self._verdict(status, width))
        if status.reason and status.verdict is not None:
            lines.append(Content.assemble(("why: ", "$muted"), (clip(humane(inert(status.reason)), width - 5), "$muted")))
        return lines

    def _chart(self, title: str, metric: str, fmt, width: int, rows: int) -> list[Content]:
        """Title line, then canary and stable sparklines ``rows`` tall on one shared scale."""
        spark_width = max(4, width - 14)
        canary = self.history.series(metric, "canary", last=spark_width)
        stable = self.history.series(metric, "stable", last=spark_width)
        low, high = shared_range(canary, stable)
        lines = [Content.assemble((title, "bold"), (f"  scale 0–{fmt(high)}", "$muted"))]
        for (name, series, style), track in zip((("C", canary, "$canary"), ("S", stable, "$stable")),
                                                ("canary", "stable")):
            value = self.history.latest(metric, track)
            drawn = spark_rows(series, low, high, spark_width, rows)
            for index, row in enumerate(drawn):
                label = f"{name} {fmt(value):>8} " if index == len(drawn) - 1 else " " * 11
                lines.append(Content.assemble((label, style), (row, style)))
        return lines
