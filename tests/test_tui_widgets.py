"""Test room: the TUI's pieces on their own: the untrusted-text gate, the weight bar, shared-scale
sparklines, countdowns and attention ranking, the metric history, the bounded log view, and themes
(unknown name, NO_COLOR)."""

from __future__ import annotations

import pytest
from textual.app import App

from console.app import CanaryApp
from console.engine.model import (Check, CheckResult, Outcome, RolloutStatus, ServiceMetrics, State, Track,
                                  TrackWindow, Verdict)
from console.engine.ports import LogLine
from tests.test_tui_support import fake_session
from themes import MONO_THEME, UnknownTheme, resolve_theme
from widgets.history import MetricHistory
from widgets.log_view import LogView
from widgets.service_panel import attention, countdown
from widgets.spark import shared_range, spark_rows
from widgets.text import clock, inert, millis, percent
from widgets.weight_bar import weight_bar

WEIGHTS = (10, 25, 50, 75, 100)


def status(state: State = State.OBSERVING, outcome: Outcome | None = Outcome.PASS, weight: int = 25,
           elapsed: float = 150.0) -> RolloutStatus:
    verdict = None if outcome is None else Verdict(outcome, (), "reason")
    return RolloutStatus("perception", state, weight, 1, weight, elapsed, 900.0, "auto", verdict, "why",
                         "1.2.3", "1.2.4", None, None)


def test_inert_shows_escape_sequences_as_visible_pictures_and_leaves_markup_alone():
    hostile = "\x1b[31mred\x1b[0m \x1b]0;pwned\x07 [/bad] [@click=app.quit]\r\n"
    shown = inert(hostile)
    assert shown == "␛[31mred␛[0m ␛]0;pwned␇ [/bad] [@click=app.quit]␍␊"
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in shown)
    assert inert("x" * 50, limit=10) == "x" * 9 + "…"


def test_formatting():
    assert percent(0.0041) == "0.41%" and percent(None) == "—"
    assert millis(0.152) == "152ms" and millis(None) == "—"
    assert clock(750) == "12:30" and clock(4000) == "1:06:40"


def test_weight_bar_fills_to_the_weight_and_marks_every_phase():
    bar = weight_bar(25, WEIGHTS, 42)
    inner = bar[1:-1]
    assert len(inner) == 40 and bar.startswith("▕") and bar.endswith("▏")
    assert inner.count("┃") + inner.count("│") == 4  # 10, 25, 50, 75 (100 is the end)
    assert inner.count("┃") == 2  # 10 and 25 are passed
    assert inner.index("░") == 10  # 25 % of 40 cells
    assert "░" not in weight_bar(100, WEIGHTS, 22)[1:-1] and "█" not in weight_bar(0, WEIGHTS, 22)


def test_sparklines_of_a_pair_share_one_scale():
    canary, stable = [0.04, 0.04], [0.005, 0.005]
    low, high = shared_range(canary, stable)
    assert (low, high) == (0.0, 0.04)
    assert spark_rows(canary, low, high, 2) == ["██"]
    assert spark_rows(stable, low, high, 2) == ["▁▁"]  # a tenth of the canary's height, not full height
    tall = spark_rows([0.02], 0.0, 0.04, 1, height=2)
    assert tall == [" ", "█"]  # half of two rows: the bottom one full
    assert spark_rows([None, 0.0], 0.0, 1.0, 3) == ["··" + " "]


def _one_row_as_drawn_before(values, low, high, width):
    """The sparkline row as spark_rows drew every height before it had a short way for one row."""
    values = ([None] * width + list(values))[-width:] if width > 0 else []
    chars = []
    for value in values:
        if value is None:
            chars.append("·")
            continue
        fraction = (value - low) / (high - low) if high > low else 0.0
        level = max(1, min(8, round(fraction * 8))) if value > low else 0
        chars.append(" ▁▂▃▄▅▆▇█"[max(0, min(8, level))])
    return "".join(chars)


def test_a_one_row_sparkline_is_drawn_as_the_general_way_draws_it():
    """The panels' one-row sparklines take a short way (six a redraw); it draws what the general way drew:
    gaps, values at or below the floor, NaN, a flat scale, negative ranges, values above the top."""
    import random

    rng = random.Random(17)
    pools = [None, float("nan"), 0.0, -1.0, 1e-9, 0.5, 1.0, 2.0]
    for case in range(3000):
        width = rng.randrange(0, 14)
        values = [rng.choice(pools) if rng.random() < 0.3 else rng.uniform(-1, 2) for _ in range(rng.randrange(0, 20))]
        low, high = rng.choice([(0.0, 1.0), (-1.0, 2.0), (0.5, 0.5), (1.0, 0.0), shared_range(values)])
        assert spark_rows(values, low, high, width) == [_one_row_as_drawn_before(values, low, high, width)], \
            (case, values, low, high, width)


def test_countdown_and_attention():
    assert countdown(status(elapsed=150), WEIGHTS) == "next 50% in 12:30"
    assert countdown(status(weight=100), WEIGHTS) == "promote in 12:30"
    assert countdown(status(State.AWAITING_APPROVAL), WEIGHTS) == "needs approval (v)"
    assert countdown(status(outcome=Outcome.INCONCLUSIVE), WEIGHTS) == "⏸ held 12:30: no usable data"
    assert countdown(status(outcome=None), WEIGHTS) == "⏸ held 12:30: no verdict yet"
    assert attention(status(State.ROLLED_BACK)) == 0
    assert attention(status(outcome=Outcome.FAIL)) == 0
    assert attention(status(State.AWAITING_APPROVAL)) == 1
    assert attention(status()) == 2


def test_history_keeps_each_poll_once_and_stays_bounded():
    history = MetricHistory(size=3)
    window = TrackWindow(1000, 5, 0.15, 0.2)
    for at in (10, 10, 20, 30, 40):
        history.add(ServiceMetrics("perception", stable=window, canary=None, at=at))
    assert history.times() == [20, 30, 40]
    assert history.series("error_rate", "stable") == [0.005] * 3
    assert history.series("p95", "canary") == [None] * 3
    assert history.last_stable("p99") == 0.2


def test_history_reads_only_the_newest_points_a_sparkline_shows():
    history = MetricHistory()
    for at in range(1, 8):
        canary = TrackWindow(100, at, 0.1, 0.2) if at < 6 else None  # the last two polls: no canary data
        history.add(ServiceMetrics("perception", stable=TrackWindow(100, 1, 0.1, 0.2), canary=canary, at=at))
    assert history.series("error_rate", "canary", last=3) == [0.05, None, None]
    assert history.series("error_rate", "canary", last=3) == history.series("error_rate", "canary")[-3:]
    assert history.series("error_rate", "canary", last=0) == []
    assert history.latest("error_rate", "canary") == 0.05  # the newest that is not a gap
    assert history.latest("p95", "stable") == 0.1 and MetricHistory().latest("p95", "stable") is None


class LogApp(App):
    def compose(self):
        yield LogView(max_lines=50, flush_seconds=0.05)


async def test_log_view_is_bounded_and_renders_hostile_lines_literally():
    app = LogApp()
    async with app.run_test(size=(100, 20)) as pilot:
        view = app.query_one(LogView)
        for i in range(200):
            view.feed(LogLine(f"pod-{i}", Track.CANARY, f"line {i} [/bad] \x1b[31m[@click=app.quit]"))
        view.flush()
        await pilot.pause()
        assert len(view.kept) == 50 and view.line_count <= 50
        assert view.lines[-1] == "--:--:-- canary pod-199 line 199 [/bad] ␛[31m[@click=app.quit]"
        assert app.is_running


def test_unknown_theme_is_a_clear_error_before_the_app_starts():
    with pytest.raises(UnknownTheme) as caught:
        resolve_theme("neon")
    assert isinstance(caught.value, ValueError)
    assert "neon" in str(caught.value) and "canary-dark" in str(caught.value)
    session, _clock, _cluster = fake_session()
    with pytest.raises(UnknownTheme):
        CanaryApp(session, theme="neon")


def test_no_color_picks_the_monochrome_theme():
    assert resolve_theme(None, {"NO_COLOR": "1"}) == MONO_THEME
    assert resolve_theme("light", {"NO_COLOR": ""}) == MONO_THEME
    assert resolve_theme("light", {}) == "canary-light"


@pytest.mark.parametrize("name", ["dark", "light", "mono"])
async def test_every_theme_defines_the_track_colours(name):
    session, _clock, _cluster = fake_session()
    app = CanaryApp(session, theme=name, autorun=False)
    async with app.run_test(size=(80, 24)):
        variables = app.theme_variables
        assert {"canary", "stable", "danger"} <= set(variables)
        assert app.theme == resolve_theme(name, {})


async def test_check_table_shows_every_check_with_threshold_and_reason():
    from widgets.check_table import CheckTable

    class TableApp(App):
        def compose(self):
            yield CheckTable()

    checks = (Check("error_rate", CheckResult.FAIL, 0.04, 0.005, 0.01, "canary 4.00 % vs [/bad]", value=0.035),
              Check("p95_latency", CheckResult.PASS, 0.16, 0.15, 0.2, "ok", value=0.0667),
              Check("kafka_consumer_lag", CheckResult.MANUAL_REVIEW, 1500.0, 200.0, 1000.0, "lag"))
    app = TableApp()
    async with app.run_test(size=(120, 10)) as pilot:
        table = app.query_one(CheckTable)
        table.show(Verdict(Outcome.FAIL, checks, "error_rate"))
        await pilot.pause()
        rows = [[str(cell) for cell in table.get_row(key)] for key in ("error_rate", "p95_latency",
                                                                          "kafka_consumer_lag")]
        assert rows[0] == ["error rate", "4.00%", "0.50%", "3.50%", "1.00%", "fail", "canary 4.00 % vs [/bad]"]
        assert rows[1][3:6] == ["+6.7%", "< +20%", "pass"]
        assert rows[2][1:6] == ["1500", "200", "—", "1000", "needs review"]
        table.show(Verdict(Outcome.PASS, checks[1:], "ok"))
        assert table.row_count == 2 and table.cell_updates == 0


def test_check_cells_read_units_from_the_catalog_not_from_the_name():
    """A service's own check whose name looks like a latency or a rate is a plain number, and the built-in
    traffic share (a name with no unit word in it) is a percentage: units come from the catalog."""
    from widgets.check_table import compared, number, threshold

    lag = Check("p99_queue_depth", CheckResult.PASS, 1500.0, 200.0, 1000.0, "ok", value=1500.0)
    assert (number(lag.name, lag.canary), compared(lag), threshold(lag)) == ("1500", "1500", "1000")
    assert number("error_budget_burn", 0.5) == "0.5"
    share = Check("traffic_share", CheckResult.PASS, 0.01, 0.25, 0.125, "short", value=0.01)
    assert (number(share.name, share.canary), number(share.name, share.stable)) == ("1.00%", "25.00%")
    assert (compared(share), threshold(share)) == ("1.00%", "12.50%")
    restarts = Check("canary_restarts", CheckResult.FAIL, 2.0, None, 0.0, "restarted", value=2.0)
    assert (number(restarts.name, restarts.canary), threshold(restarts)) == ("2", "≤ 0")
    p99 = Check("p99_latency", CheckResult.PASS, 0.3, 0.25, 0.3, "ok", value=0.2)
    assert (number(p99.name, p99.canary), compared(p99), threshold(p99)) == ("300ms", "+20.0%", "< +30%")


def test_check_results_take_their_colours_from_the_theme():
    from console.engine.model import CheckResult
    from widgets.check_table import result_style

    dark = {"ok": "#50c878", "danger": "#e5484d", "attention": "#e5c07b"}
    assert result_style(CheckResult.FAIL, dark) == "bold #e5484d"
    assert result_style(CheckResult.PASS, dark) == "#50c878"
    assert result_style(CheckResult.MANUAL_REVIEW, {"attention": "#ffffff"}) == "bold #ffffff"
    assert result_style(CheckResult.NO_DATA, {}) == "dim"
