"""Widgets room: TrackChart, one plotext chart of canary vs stable for one metric (error rate, P95 or P99)
over the rollout, on one shared axis, with the threshold the canary is held to drawn as a line.
Redrawn at most once a second."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.color import Color
from textual_plotext import PlotextPlot

from widgets.history import MetricHistory

TITLES = {"error_rate": "error rate (%)", "p95": "P95 latency (ms)", "p99": "P99 latency (ms)"}
SCALE = {"error_rate": 100.0, "p95": 1000.0, "p99": 1000.0}


class TrackChart(PlotextPlot):
    """``threshold(stable_value)`` gives the canary's limit for a stable value (e.g. stable × 1.2).
    Focusable, so Tab brings each chart (P99 too) into view on a small terminal."""

    can_focus = True

    def __init__(self, metric: str, threshold: Callable[[float], float], min_interval: float = 1.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric = metric
        self.threshold = threshold
        self.min_interval = min_interval
        self._drawn_at = float("-inf")
        self._drawn_len = -1
        self.draws = 0

    def show(self, history: MetricHistory, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and (len(history) == self._drawn_len or now - self._drawn_at < self.min_interval):
            return False
        self._drawn_at, self._drawn_len = now, len(history)
        self.draws += 1
        self._draw(history)
        self.refresh()
        return True

    def _colour(self, variable: str) -> tuple[int, int, int]:
        """A theme variable ($canary, $stable, $danger) as plotext's RGB, so charts keep the theme's meaning
        (and its 16- or 8-colour palette) instead of plotext's own orange and blue."""
        try:
            theme = self.app.theme
            if getattr(self, "_colours_for", None) != theme:  # looked up again only when the theme changes
                self._colours_for, self._colours = theme, self.app.get_css_variables()
            colour = Color.parse(self._colours[variable])
        except Exception:  # no app yet (a unit test) or no such variable: plotext's white
            return (255, 255, 255)
        return (colour.r, colour.g, colour.b)

    def _draw(self, history: MetricHistory) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(TITLES[self.metric])
        times = history.times()
        scale = SCALE[self.metric]
        if not times:
            return
        origin = times[0]
        x = [(t - origin) / 60 for t in times]
        plt.xlabel("minutes")
        for track, marker in (("stable", "braille"), ("canary", "braille")):
            points = [(xi, v * scale) for xi, v in zip(x, history.series(self.metric, track)) if v is not None]
            if points:
                plt.plot([p[0] for p in points], [p[1] for p in points], label=track, marker=marker,
                         color=self._colour(track))
        limit = [(xi, self.threshold(v) * scale) for xi, v in zip(x, history.series(self.metric, "stable"))
                 if v is not None]
        if limit:
            plt.plot([p[0] for p in limit], [p[1] for p in limit], label="threshold", marker="dot",
                     color=self._colour("danger"))
