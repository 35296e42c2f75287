"""`replay` and `record` through the command line: the contract's JSON, exit codes as `run`, a malformed
timeline named by line and field, standard input, and record → replay against a real Prometheus."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from console.cli import main
from tests.scenarios import scenario
from tests.test_record import DURATION, FAST, HEALTHY, REGRESSED, STEP, backfilled  # noqa: F401 (fixture)


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / f"{name}.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_json_follows_the_contract_and_exits_as_run(tmp_path: Path, capsys) -> None:
    for name, code, outcome in (("healthy-high", 0, "promoted"), ("errors+5pp-at-start", 1, "rolled_back"),
                                ("p99-only-x3-at-start", 3, "awaiting_approval")):
        path = _write(tmp_path, name, scenario(name).lines())
        assert main(["replay", str(path), "--json"]) == code
        data = json.loads(capsys.readouterr().out)
        assert data["service"] == "perception" and data["outcome"] == outcome
        assert data["decisions"] and all({"t", "action", "weight", "reason"} <= set(d) for d in data["decisions"])
        assert {d["action"] for d in data["decisions"]} <= {"advance", "hold", "await_approval", "rollback",
                                                             "promote"}


def test_replay_table_for_people(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, "gaps", scenario("healthy-gaps").lines())
    main(["replay", str(path)])
    out = capsys.readouterr().out
    assert "advance" in out and "perception" in out


def test_replay_bad_line_exits_2_naming_line_and_field(tmp_path: Path, capsys) -> None:
    lines = scenario("healthy-high").lines()[:4] + ['{"t": 150, "service": "perception", "track": "stable", '
                                                    '"requests": "many", "errors": 1, "p95": 0.1, "p99": 0.2}']
    path = _write(tmp_path, "bad", lines)
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 5" in err and "requests" in err and "Traceback" not in err


def test_replay_reads_standard_input(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(scenario("errors+20pp-at-start").lines())))
    assert main(["replay", "-", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["outcome"] == "rolled_back"


def test_record_then_replay_through_the_command_line(backfilled, tmp_path: Path, capsys) -> None:  # noqa: F811
    server, base = backfilled
    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST.model_dump(mode="json")))
    since = f"{int(DURATION + 20 * STEP)}s"
    assert main(["record", REGRESSED.service, "--since", since, "--step", f"{int(STEP)}s",
                 "--prometheus", server.url, "--config", str(config)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["service"] == REGRESSED.service for line in lines)
    path = _write(tmp_path, "recorded", lines)
    assert main(["replay", str(path), "--config", str(config), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["outcome"] == "rolled_back"
