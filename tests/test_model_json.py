"""Test room: the engine model's JSON forms (console/engine/model.py) say exactly what dataclasses.asdict
said, with the enums as their values; Check.to_json reads its fields directly since issue 17 (idle CPU)."""

from __future__ import annotations

from dataclasses import asdict, fields

from console.engine.model import Action, Check, CheckResult, Outcome, Verdict


def test_a_check_and_a_verdict_in_json_are_what_asdict_says():
    check = Check("error_rate", CheckResult.FAIL, 0.012, None, 0.01, "canary 1.2 %", Action.WARN, 0.002, "q{}")
    expected = {**asdict(check), "result": "fail", "action": Action.WARN.value}
    assert check.to_json() == expected and list(check.to_json()) == [f.name for f in fields(Check)]
    verdict = Verdict(Outcome.FAIL, (check, Check("p95", CheckResult.PASS, 1.0, 2.0, 0.2, "ok")), "why", weight=25)
    assert verdict.to_json()["checks"] == [expected, {**asdict(verdict.checks[1]), "result": "pass",
                                                      "action": Action.ROLLBACK.value}]
