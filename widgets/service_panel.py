"""Widgets room: ServicePanel, one service's rollout at a glance (a 3-line row at 80x24, a bordered panel
with taller comparison sparklines in a roomy terminal). It only draws the RolloutStatus it is given; it
never asks anything of the engine. Untrusted strings pass through `inert` and are never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from console.engine.model import Outcome, RolloutStatus, State, Track
from widgets.history import MetricHistory
from widgets.spark import shared_range, spark_rows
from widgets.text import clip, clock, inert, millis, percent
from widgets.weight_bar import weight_bar_content

DANGER_STATES = (State.ROLLING_BACK, State.ROLLED_BACK, State.FAILED)
ATTENTION_STATES = (State.AWAITING_APPROVAL, State.PAUSED)
STATE_STYLE = {State.OBSERVING: "$ok", State.PROMOTED: "$ok", State.PROMOTING: "$ok",
               State.DEPLOYING: "$stable", State.IDLE: "$muted"}
VERDICT_ICON = {Outcome.PASS: ("✔", "$ok"), Outcome.FAIL: ("✘", "$danger"),
                Outcome.MANUAL_REVIEW: ("?", "$attention"), Outcome.INCONCLUSIVE: ("…", "$muted")}


def attention(status: RolloutStatus | None) -> int:
    """0 = danger (failing, rolling back, rolled back), 1 = needs a person, 2 = fine; sorts the dashboard."""
    if status is None:
        return 2
    failing = status.verdict is not None and status.verdict.outcome is Outcome.FAIL
    if status.state in DANGER_STATES or failing:
        return 0
    if status.state in ATTENTION_STATES or status.needs_person:
        return 1
    return 2


def countdown(status: RolloutStatus, weights: Sequence[int]) -> str:
    """"next 25% in 12:30" while observing; what the rollout waits for otherwise."""
    if status.state is State.OBSERVING:
        later = [w for w in weights if w > status.weight]
        step = f"next {later[0]}%" if later else "promote"
        return f"{step} in {clock(status.time_left)}"
    return {State.PAUSED: "paused", State.AWAITING_APPROVAL: "needs approval", State.DEPLOYING: "deploying",
            State.ROLLING_BACK: "rolling back"}.get(status.state, "")


class ServicePanel(Widget):
    """One service. ``show(status, history)`` redraws it; ``selected`` highlights it."""

    selected: reactive[bool] = reactive(False)

    def __init__(self, service: str, weights: Sequence[int], *, id: str | None = None, **kwargs) -> None:
        super().__init__(id=id or f"panel-{service}", **kwargs)
        self.service = service
        self.weights = tuple(weights)
        self.status: RolloutStatus | None = None
        self.history = MetricHistory()
        self.error: str | None = None
        self.waiting = "waiting for the first status…"

    def show_waiting(self, text: str) -> None:
        """What the panel says before its first status ("connecting…", why the connection failed)."""
        self.waiting = text
        if self.status is None:
            self.refresh()

    def show(self, status: RolloutStatus, history: MetricHistory | None = None) -> None:
        self.status = status
        if history is not None:
            self.history = history
        level = attention(status)
        self.set_class(level == 0, "-danger")
        self.set_class(level == 1, "-attention")
        self.refresh()

    def show_error(self, message: str | None) -> None:
        self.error = message
        self.refresh()

    def watch_selected(self, selected: bool) -> None:
        self.set_class(selected, "-selected")

    # ---------------------------------------------------------------- drawing
    def render(self) -> Content:
        width = max(20, self.content_region.width or self.size.width)
        height = max(1, self.content_region.height or self.size.height)
        if self.status is None:
            return Content.assemble((self.service, "bold"), (f"  {self.waiting}", "$muted"))
        lines = self._roomy(width, height) if height >= 8 else self._compact(width)
        return Content("\n").join(lines[:height])

    @staticmethod
    def _versions(status: RolloutStatus) -> str:
        versions = inert(status.stable_version or "?", 40)
        if status.canary_version:
            versions += f" → {inert(status.canary_version, 40)}"
        mode = "" if status.mode == "auto" else " · manual"
        return versions + mode + (" · read-only" if status.read_only else "")

    @staticmethod
    def _state(status: RolloutStatus) -> Content:
        style = "$danger bold" if status.state in DANGER_STATES else STATE_STYLE.get(status.state, "$attention bold")
        return Content.styled(f"{status.state.label:<17}", style)

    def _title(self, status: RolloutStatus) -> Content:
        return Content.assemble(("▶ " if self.selected else "  ", "$accent bold"), (f"{self.service:<11}", "bold"),
                                " ", self._state(status), " ", (self._versions(status), "$muted"))

    def _bar(self, status: RolloutStatus, width: int) -> Content:
        right = countdown(status, self.weights)
        bar_width = max(8, width - len(right) - 7)
        return Content.assemble(weight_bar_content(status.weight, self.weights, bar_width),
                                f" {status.weight:>3}% ", (right, "$muted"))

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
        canary, stable = self.history.series(metric, "canary"), self.history.series(metric, "stable")
        low, high = shared_range(canary[-spark_width:], stable[-spark_width:])
        parts: list[tuple[str, str] | str] = [f"{label} "]
        for name, series, style in (("C", canary, "$canary"), ("S", stable, "$stable")):
            value = next((v for v in reversed(series) if v is not None), None) if series else None
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
        if verdict is None:
            return Content.assemble(("· ", "$muted"), (clip(inert(status.reason or "no verdict yet"), width - 2),
                                                       "$muted"))
        icon, style = VERDICT_ICON[verdict.outcome]
        reason = verdict.reason if status.state is State.OBSERVING or not status.reason else status.reason
        text = f"{verdict.outcome.value}: {inert(reason)}"
        return Content.assemble((icon + " ", style), (clip(text, width - 2), style))

    def _compact(self, width: int) -> list[Content]:
        """Three lines: name, state, weight bar, countdown / pods and both metric pairs / versions, verdict."""
        status = self.status
        assert status is not None
        right = countdown(status, self.weights)
        head = Content.assemble(("▶ " if self.selected else "  ", "$accent bold"), (f"{self.service:<11}", "bold"),
                                " ", self._state(status), " ")
        right = f"{right:<17}"
        bar_width = max(6, width - head.cell_length - len(right) - 6)
        first = Content.assemble(head, weight_bar_content(status.weight, self.weights, bar_width),
                                 f" {status.weight:>3}% ", (right, "$muted"))
        pods = self._pods(status)
        spark = max(0, (width - len(pods) - 4 - 2 * 20) // 4 - 1)
        second = Content.assemble("  ", (pods, "$muted"), "  ", self._pair("err", "error_rate", percent, spark),
                                  self._pair("P95", "p95", millis, spark))
        versions = Content.assemble("  ", (self._versions(status), "$muted"), " ")
        third = Content.assemble(versions, self._verdict(status, width - versions.cell_length))
        return [first.truncate(width), second.truncate(width), third.truncate(width)]

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
            lines.append(Content.assemble(("why: ", "$muted"), (clip(inert(status.reason), width - 5), "$muted")))
        return lines

    def _chart(self, title: str, metric: str, fmt, width: int, rows: int) -> list[Content]:
        """Title line, then canary and stable sparklines ``rows`` tall on one shared scale."""
        canary, stable = self.history.series(metric, "canary"), self.history.series(metric, "stable")
        spark_width = max(4, width - 14)
        low, high = shared_range(canary[-spark_width:], stable[-spark_width:])
        lines = [Content.assemble((title, "bold"), (f"  scale 0–{fmt(high)}", "$muted"))]
        for name, series, style in (("C", canary, "$canary"), ("S", stable, "$stable")):
            value = next((v for v in reversed(series) if v is not None), None)
            drawn = spark_rows(series, low, high, spark_width, rows)
            for index, row in enumerate(drawn):
                label = f"{name} {fmt(value):>8} " if index == len(drawn) - 1 else " " * 11
                lines.append(Content.assemble((label, style), (row, style)))
        return lines
