"""Widgets room: CheckTable, every check of the last verdict (runbook criteria, phase triggers and the
service's own checks): canary, stable, compared value, threshold, result and reason. Rows keyed by check
name and updated in place."""

from __future__ import annotations

from rich.text import Text

from console.engine.model import Check, CheckResult, Verdict
from widgets.keyed_table import KeyedTable
from widgets.text import inert, millis, percent

COLUMNS = ("check", "canary", "stable", "value", "threshold", "result", "reason")
RESULT_STYLE = {CheckResult.PASS: "green", CheckResult.FAIL: "bold red", CheckResult.MANUAL_REVIEW: "bold yellow"}


def number(name: str, value: float | None) -> str:
    """Error and success rates as percentages, latencies in ms, anything else as a short number."""
    if value is None:
        return "—"
    if "error" in name or "success" in name:
        return percent(value)
    if "latency" in name or name.startswith("p9"):
        return millis(value)
    return f"{value:.4g}"


def compared(check: Check) -> str:
    """The compared quantity: an increase for latency (+12%), points for error rate, else the value."""
    if check.value is None:
        return "—"
    if "latency" in check.name or check.name.startswith("p9"):
        return f"{check.value * 100:+.1f}%"
    return number(check.name, check.value)


def threshold(check: Check) -> str:
    if "latency" in check.name or check.name.startswith("p9"):
        return f"< +{check.threshold * 100:.0f}%"
    return number(check.name, check.threshold)


def check_cells(check: Check) -> tuple[Text, ...]:
    return (Text(inert(check.name, 40)), Text(number(check.name, check.canary)),
            Text(number(check.name, check.stable)), Text(compared(check)), Text(threshold(check)),
            Text(check.result.value, style=RESULT_STYLE.get(check.result, "dim")), Text(inert(check.reason, 200)))


class CheckTable(KeyedTable):
    COLUMNS = COLUMNS

    def show(self, verdict: Verdict | None) -> None:
        self.sync({c.name: check_cells(c) for c in (verdict.checks if verdict else ())})
