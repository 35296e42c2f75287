"""Widgets room: CheckTable, every check of the last verdict (runbook criteria, phase triggers and the
service's own checks): canary, stable, compared value, threshold, result and reason. Rows keyed by check
name and updated in place. Names and results are in the console's words (widgets/words.py); the full reason of
every check also reads, wrapped, under the table (`check_reasons`), so a narrow terminal cuts nothing."""

from __future__ import annotations

from rich.text import Text

from console.engine.model import Check, CheckResult, Comparison, Unit, Verdict, check_spec, unit_of
from widgets.keyed_table import KeyedTable
from widgets.text import inert, millis, percent
from widgets.words import check_word, humane, result_word

COLUMNS = ("check", "canary", "stable", "value", "threshold", "result", "reason")
#: result → (theme variable, emphasis); colours come from the theme ($ok, $danger, $attention), so the
#: light and mono themes (NO_COLOR) colour results as they colour everything else
RESULT_STYLE = {CheckResult.PASS: ("ok", ""), CheckResult.FAIL: ("danger", "bold "),
                CheckResult.MANUAL_REVIEW: ("attention", "bold ")}


def number(name: str, value: float | None) -> str:
    """A check's value in its unit (console/engine/catalog.py): rates as percentages, latencies in ms,
    counts whole, a service's own check as a short number. Never guessed from the name."""
    if value is None:
        return "—"
    unit = unit_of(name)
    if unit is Unit.COUNT:
        return f"{value:.0f}"
    if unit is Unit.FRACTION:
        return percent(value)
    if unit is Unit.SECONDS:
        return millis(value)
    return f"{value:.4g}"


def _is_ratio(name: str) -> bool:
    spec = check_spec(name)
    return spec is not None and spec.comparison is Comparison.RATIO


def compared(check: Check) -> str:
    """The compared quantity: an increase for a ratio (+12%), points for a difference, else the value."""
    if check.value is None:
        return "—"
    if _is_ratio(check.name):
        return f"{check.value * 100:+.1f}%"
    return number(check.name, check.value)


def threshold(check: Check) -> str:
    if unit_of(check.name) is Unit.COUNT:
        return f"≤ {check.threshold:.0f}"
    if _is_ratio(check.name):
        return f"< +{check.threshold * 100:.0f}%"
    return number(check.name, check.threshold)


def result_style(result: CheckResult, variables: dict[str, str]) -> str:
    variable, emphasis = RESULT_STYLE.get(result, ("muted", ""))
    colour = variables.get(variable)
    return f"{emphasis}{colour}".strip() if colour else (emphasis.strip() or "dim")


def check_cells(check: Check, variables: dict[str, str] | None = None) -> tuple[Text, ...]:
    return (Text(inert(check_word(check.name), 40)), Text(number(check.name, check.canary)),
            Text(number(check.name, check.stable)), Text(compared(check)), Text(threshold(check)),
            Text(result_word(check.result), style=result_style(check.result, variables or {})),
            Text(humane(inert(check.reason, 200))))


def check_reasons(verdict: Verdict | None) -> str:
    """Every check's reason in full, one paragraph each (the table's last column is cut at 80 columns)."""
    if verdict is None:
        return "no verdict yet"
    return "\n".join(f"{check_word(c.name)} ({result_word(c.result)}): {humane(inert(c.reason, 400))}"
                     for c in verdict.checks)


class CheckTable(KeyedTable):
    COLUMNS = COLUMNS

    def show(self, verdict: Verdict | None) -> None:
        self.sync({c.name: check_cells(c, self._theme_colours()) for c in (verdict.checks if verdict else ())})

    def _theme_colours(self) -> dict[str, str]:
        """The theme's colours, looked up again only when the theme changes (not on every status)."""
        theme = self.app.theme
        if getattr(self, "_colours_for", None) != theme:
            self._colours_for, self._colours = theme, self.app.get_css_variables()
        return self._colours
