"""Shadow verdicts: with `shadow: true` the judge's rollbacks become "would roll back" notifications, in the
dashboard and in `run`, so a team can watch the judge against real rollouts before letting it act."""

from __future__ import annotations

import json

from console.cli import main
from console.engine.config import Config
from console.engine.model import State
from tests.fakes import Traffic
from tests.test_tui_support import app_watching


async def test_dashboard_says_would_roll_back_and_rolls_nothing_back():
    errors = {"capsule": lambda _t, w: Traffic(error_rate=0.05)}
    async with app_watching(errors, ["capsule"], 120, config=Config(shadow=True)) as (app, _p, session, _c, cluster):
        assert session.controllers["capsule"].status.state is State.OBSERVING
        assert cluster.calls["rollback"] == 0
        assert app.bells >= 1
        assert any("would roll back" in n.message and "shadow" in n.message for n in app._notifications)


def test_run_headless_in_shadow_mode_stops_at_would_roll_back_for_a_person(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CANARY_CONSOLE_SHADOW", "true")
    code = main(["run", "capsule", "--version", "1.2.4", "--headless", "--demo", "--scenario",
                 "error-regression", "--speed", "1000", "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    would = [e for e in lines if e.get("kind") == "action" and e.get("shadow")]
    assert would and "would roll back" in would[0]["message"]
    assert not any(e.get("kind") == "action" and e.get("what") == "rollback" and not e.get("shadow")
                   for e in lines)
    assert lines[-1]["outcome"] == "awaiting_approval" and code == 3
    assert "would roll back" in lines[-1]["decisions"][-1]["reason"]
