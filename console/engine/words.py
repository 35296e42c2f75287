"""Words room: the console's one vocabulary for people. States, verdict outcomes, check results and check
names as words (never `awaiting_approval`, `insufficient_data`, `manual_review`), and `humane`, which puts
engine messages (event lines, reasons, toasts) into the same words before they are shown. Pure functions,
used by the dashboard and by the CLI's text output alike (the JSON output keeps the identifiers: a contract).
"""

from __future__ import annotations

import re
from functools import lru_cache

from console.engine.model import CheckResult, Outcome, State

STATE_WORDS = {state: state.label for state in State}
OUTCOME_WORDS = {Outcome.PASS: "pass", Outcome.FAIL: "fail", Outcome.MANUAL_REVIEW: "needs review",
                 Outcome.INCONCLUSIVE: "inconclusive"}
RESULT_WORDS = {CheckResult.PASS: "pass", CheckResult.FAIL: "fail", CheckResult.MANUAL_REVIEW: "needs review",
                CheckResult.NO_DATA: "no data", CheckResult.INSUFFICIENT_DATA: "too little data"}
CHECK_WORDS = {"error_rate": "error rate", "p95_latency": "P95 latency", "p99_latency": "P99 latency",
               "success_rate": "success rate", "canary_restarts": "canary restarts"}

_RAW = {**{state.value: state.label for state in State if "_" in state.value},
        "manual_review": "needs review", "manual review": "needs review", "insufficient_data": "too little data", "no_data": "no data",
        "await_approval": "wait for approval", **CHECK_WORDS}
_RAW_WORD = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _RAW), key=len, reverse=True)) + r")\b")
_DOUBLED = re.compile(r"\b(needs review|manual review): (needs review|manual review):? ?", re.IGNORECASE)
_SAME_WEIGHT = re.compile(r" (\d+)% → \1%")


def state_word(state: State) -> str:
    return STATE_WORDS[state]


def outcome_word(outcome: Outcome) -> str:
    return OUTCOME_WORDS[outcome]


def result_word(result: CheckResult) -> str:
    return RESULT_WORDS.get(result, str(result).replace("_", " "))


def check_word(name: str) -> str:
    return CHECK_WORDS.get(name, name.replace("_", " "))


@lru_cache(maxsize=1024)
def humane(text: str) -> str:
    """An engine message in the people's words: `observing → awaiting_approval: manual review: p99…` becomes
    `observing → awaiting approval: needs review: p99…`; `start canary 0% → 0%` becomes `start canary at 0%`.
    Remembered: a panel puts the same reason into words at every redraw (three regular expressions each)."""
    text = _RAW_WORD.sub(lambda m: _RAW[m.group(1)], text)
    text = _DOUBLED.sub("needs review: ", text)
    return _SAME_WEIGHT.sub(r" at \1%", text)
