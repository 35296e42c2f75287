"""The headless console end to end on the simulated world, through the installed entry point's code
(console.cli.main), with the exit codes and JSON shapes of the contracts."""

import json
from pathlib import Path

import pytest

from console.cli import main


def _json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(("scenario", "code", "outcome"), [
    ("healthy", 0, "promoted"),
    ("error-regression", 1, "rolled_back"),
    ("p99-regression", 3, "awaiting_approval"),
])
def test_run_headless_outcomes(capsys, scenario: str, code: int, outcome: str) -> None:
    rc = main(["run", "perception", "--version", "1.2.4", "--headless", "--demo", "--scenario", scenario,
               "--speed", "1000", "--json"])
    out = capsys.readouterr().out
    final = _json_lines(out)[-1]
    assert rc == code, out[-2000:]
    assert final["service"] == "perception" and final["outcome"] == outcome
    actions = [d["action"] for d in final["decisions"]]
    if outcome == "promoted":
        steps = [d.get("values", {}).get("to_weight", d["weight"]) for d in final["decisions"]
                 if d["action"] == "advance"]
        assert steps == [10, 25, 50, 75, 100]
        assert actions[-1] == "promote"
    if outcome == "rolled_back":
        assert actions[-1] == "rollback"
        assert any(d["weight"] >= 25 for d in final["decisions"] if d["action"] == "rollback")
    if outcome == "awaiting_approval":
        assert actions[-1] == "await_approval"
        assert "p99" in final["decisions"][-1]["reason"].lower()
    events = _json_lines(out)[:-1]
    assert events and all({"kind", "service", "at", "message"} <= set(e) for e in events)


def test_run_headless_prints_lines_and_progress(capsys) -> None:
    rc = main(["run", "perception", "--version", "1.2.4", "--headless", "--demo", "--scenario", "healthy",
               "--speed", "1000"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "left in phase" in out
    assert "perception: promoted" in out


def test_analyze_demo_json_has_the_four_checks(capsys) -> None:
    rc = main(["analyze", "perception", "--demo", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc in (0, 3)
    assert {"service", "weight", "verdict", "checks"} <= set(data)
    names = [c["name"] for c in data["checks"]]
    assert names[:4] == ["error_rate", "p95_latency", "p99_latency", "success_rate"]
    for check in data["checks"]:
        assert {"name", "canary", "stable", "threshold", "result", "reason"} <= set(check)


def test_status_demo_json_shape(capsys) -> None:
    rc = main(["status", "--demo", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1  # the mixed demo has rollbacks: status says so in its exit code (0 when all is well)
    assert [s["name"] for s in data["services"]] == ["perception", "capsule", "odyssey", "plato", "nexus",
                                                     "synapse"]
    for service in data["services"]:
        assert {"state", "weight", "verdict", "stable", "canary"} <= set(service)
        assert service["stable"]["version"] == "1.2.3"
        assert len(service["stable"]["pods"]) == 3


def test_broken_config_exits_2_naming_the_field(tmp_path: Path, capsys) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("check_interval: often\n")
    rc = main(["status", "--demo", "--config", str(path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "check_interval" in err and str(path) in err
    assert "Traceback" not in err


def test_unknown_service_exits_2(capsys) -> None:
    assert main(["analyze", "nosuch", "--demo"]) == 2
    assert "unknown service 'nosuch'" in capsys.readouterr().err


def test_rollback_without_yes_and_no_terminal_is_refused(capsys) -> None:
    assert main(["rollback", "perception", "--demo"]) == 2
    assert "--yes" in capsys.readouterr().err


def test_rollback_with_yes_on_the_demo(capsys) -> None:
    rc = main(["rollback", "perception", "--demo", "--yes", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert data["ok"] and data["state"] == "rolled_back" and data["weight"] == 0


def test_read_only_refuses_actions(capsys) -> None:
    rc = main(["pause", "perception", "--demo", "--read-only"])
    assert rc == 2
    assert "read-only" in capsys.readouterr().err


def test_help_is_man_page_quality(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    out = capsys.readouterr().out
    assert caught.value.code == 0
    for word in ("exit codes", "run", "status", "analyze", "rollback", "replay", "record", "--demo",
                 "--read-only", "CANARY_CONSOLE_CONFIG"):
        assert word in out


def test_run_headless_text_shows_verdicts_when_they_change_and_stops_on_a_closed_pipe() -> None:
    """For people, a verdict line only when the outcome changes (the progress line covers the rest); a
    reader that goes away (| head) ends the run instead of leaving it running."""
    import subprocess
    import sys

    code = ("import sys; from console.cli import main; "
            "sys.exit(main(['run', 'perception', '--version', '1.2.4', '--headless', '--demo', "
            "'--scenario', 'healthy', '--speed', '1000']))")
    full = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    # the outcome of each verdict line ("…  perception  verdict   pass: reason"); how often it changes
    # depends on how the wall-scaled clock slices the windows, so the rule is checked, not a count
    outcomes = [line.split(" verdict ", 1)[1].split(":", 1)[0].strip() for line in full.stdout.splitlines()
                if "perception  verdict " in line]
    assert full.returncode == 0 and outcomes and outcomes[-1] == "pass", full.stdout[-1500:]
    assert all(a != b for a, b in zip(outcomes, outcomes[1:])), outcomes
    head = subprocess.run(f"{sys.executable} -c \"{code}\" | head -2", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert len(head.stdout.splitlines()) == 2
    assert "Traceback" not in head.stderr
