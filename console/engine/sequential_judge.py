"""The sequential-verdict room: a fixed-sample verdict re-decided by the phase's sequential tests.

With ``analysis.method: sequential`` the controller feeds each check's increment to a SequentialMonitor
(console/engine/sequential.py) and hands the judge's verdict here. For error_rate, success_rate, p95_latency
and p99_latency a breach the sequential test shows (anytime-valid, budget per rollout) fails (or asks for a
person, by the check's action; latency after ``latency_persistence`` checks in a row) even where the window
does not yet show it; the fixed window's own breach still stands (thin streams at low traffic are slower than
one window — measured, docs/judging.md), except the absolute success_rate rule: its window breach holds
the phase until the stream confirms it (one window's p < alpha_fail at every check is no budget over a
rollout: the closed-loop null set rolled back 2 healthy canaries of 1,000 on it). Passes stay the fixed
test's (a pass only lets the phase clock run). A check whose stream has nothing to test yet (no increments
from the source, no stable traffic at weight 100) keeps the fixed verdict. The shared-incident
rule applies to the streams too.
"""

from __future__ import annotations

from dataclasses import replace

from console.engine.config import Config, Phase
from console.engine.judge import effective_thresholds, incident_on_both_tracks, verdict_of
from console.engine.model import Action, Check, CheckResult, TrackWindow, Verdict
from console.engine.sequential import Finding, SequentialMonitor

JUDGED = ("error_rate", "p95_latency", "p99_latency", "success_rate")
UNCONFIRMED = "one window's breach, held until the sequential test confirms it"


class SequentialJudge:
    """The monitor plus the latency streaks of sequential breaches, for one rollout."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.monitor = SequentialMonitor(config)
        self.streaks: dict[str, int] = {}
        self._incident: str | None = None

    def reset(self) -> None:
        self.monitor.reset()
        self.streaks = {}

    def offer(self, now: float, phase: Phase, recent_canary, recent_stable, shape) -> bool:
        return self.monitor.offer(now, recent_canary, recent_stable, effective_thresholds(self.config, phase), shape)

    def apply(self, verdict: Verdict, phase: Phase, stable: TrackWindow | None, canary: TrackWindow | None, *,
              stable_live: bool) -> Verdict:
        """Re-decide ``verdict``'s breaches by the streams; ``stable`` and ``canary`` are the windows the judge
        compared (the shared-incident rule is the judge's, on the current windows)."""
        allowed = 1.0 - effective_thresholds(self.config, phase)["success_rate"]
        self._incident = incident_on_both_tracks(self.config, stable, canary, not stable_live, allowed)
        thresholds = effective_thresholds(self.config, phase)
        problems = list(verdict.problems)
        judged: list[tuple[Check, bool | None]] = []
        failing_relative = False
        for check in verdict.checks:
            if check.name not in JUDGED or check.result is CheckResult.NO_DATA:
                judged.append((check, _breached(check, verdict)))
                continue
            finding = self._finding(check.name, thresholds)
            if not finding.looked:
                judged.append((check, _breached(check, verdict)))
                continue
            if check.name == "error_rate":
                failing_relative = finding.breach
            judged.append(self._decide(check, finding, phase, problems, failing_relative, stable_live, thresholds))
        streaks = dict(verdict.streaks)
        for check, breached in judged:
            if check.name in ("p95_latency", "p99_latency") and breached is not None:
                self.streaks[check.name] = self.streaks.get(check.name, 0) + 1 if breached else 0
                streaks[check.name] = max(streaks.get(check.name, 0), self.streaks[check.name])
        return verdict_of(judged, streaks, weight=verdict.weight, at=verdict.at,
                          problems=tuple(dict.fromkeys(problems)))

    def _finding(self, name: str, thresholds: dict[str, float]) -> Finding:
        monitor = self.monitor
        if name == "error_rate":
            return monitor.error_rate(thresholds["error_rate"])
        if name == "success_rate":
            return monitor.success_rate(1.0 - thresholds["success_rate"])
        return monitor.latency(name.split("_")[0])

    def _decide(self, check: Check, finding: Finding, phase: Phase, problems: list[str], failing_relative: bool,
                stable_live: bool, thresholds: dict[str, float]) -> tuple[Check, bool | None]:
        values = check.reason.split("; ")[0]
        if finding.incident and check.result is not CheckResult.FAIL:
            problems.append(finding.reason.removeprefix("sequential: "))
            return replace(check, result=CheckResult.INSUFFICIENT_DATA, reason=f"{values}; {finding.reason}"), True
        if not finding.breach and check.name == "success_rate" and check.result is CheckResult.FAIL:
            # one window's p < alpha_fail, read at every check, is not a budget over a rollout: the absolute
            # rule rolls back only when the anytime-valid test confirms it; until then it holds the phase
            return replace(check, result=CheckResult.INSUFFICIENT_DATA,
                           reason=f"{check.reason}; {UNCONFIRMED}; {finding.reason}"), True
        if not finding.breach:  # the fixed window's own breach, if any, stands (docs/judging.md: why both)
            return replace(check, reason=f"{check.reason}; {finding.reason}"), False
        if check.name.endswith("latency"):
            streak = self.streaks.get(check.name, 0) + 1
            persistence = self.config.judging.latency_persistence
            if streak < persistence:
                return replace(check, result=CheckResult.INSUFFICIENT_DATA,
                               reason=f"{values}; {finding.reason}; breach {streak}/{persistence}, waiting for "
                                      "persistence"), True
            result = CheckResult.FAIL if check.action is Action.ROLLBACK else CheckResult.MANUAL_REVIEW
            return replace(check, result=result, reason=f"{values}; {finding.reason} ({streak} checks in a row)"), True
        if check.name == "success_rate" and stable_live and not failing_relative:
            if self._incident is not None:
                problem = self._incident
                problems.append(problem)
                return replace(check, result=CheckResult.INSUFFICIENT_DATA,
                               reason=f"{values}; {finding.reason}; {problem}"), True
        return replace(check, result=CheckResult.FAIL, reason=f"{values}; {finding.reason}"), True


def _breached(check: Check, verdict: Verdict) -> bool | None:
    """A check the sequential test does not decide keeps the fixed verdict; its streak says whether it
    breached (a warn-action breach still outranks a clean pass)."""
    return verdict.streaks.get(check.name, 0) > 0
