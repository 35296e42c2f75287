"""Test room: issue 17's bad input at the command line: every option checked with one line and exit 2,
short per-subcommand help, --version, a fast clear "unreachable", `record` saying it once, a "no" at the
prompt that is not a usage error, a `status` exit code a script can use (docs/contracts.md codes), and
`status` / `analyze` text in the people's words."""

from __future__ import annotations

import json
import time

import pytest

from console.cli import main


@pytest.mark.parametrize("argv", [
    ["run", "perception", "--version", "1.2.4", "--headless", "--demo", "--speed", "-1"],
    ["run", "perception", "--version", "1.2.4", "--headless", "--demo", "--speed", "0"],
    ["--speed", "0", "status", "--demo"],
    ["run", "perception", "--version", "bad tag!", "--demo"],
    ["analyze", "perception", "--demo", "--weight", "250"],
    ["record", "perception", "--since", "yesterday", "--prometheus", "http://127.0.0.1:9"],
    ["status", "--prometheus", "127.0.0.1:9090"],
    ["sandbox", "--port", "99999"],
    ["status", "--demo", "--namespace", "Not_A_Namespace"],
])
def test_every_bad_option_is_one_line_and_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    err = capsys.readouterr().err
    assert caught.value.code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("canary-console") and "Traceback" not in err, err


def test_subcommand_help_is_short_and_does_not_repeat_the_dashboards(capsys):
    with pytest.raises(SystemExit):
        main(["status", "--help"])
    out = capsys.readouterr().out
    assert len(out.splitlines()) <= 20, out
    assert "--kubeconfig PATH" not in out and "CANARY_CONSOLE_CONFIG" not in out
    assert "canary-console --help" in out


def test_version_prints_the_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("canary-console ")


def test_an_unreachable_prometheus_is_said_fast_and_once(capsys):
    started = time.monotonic()
    rc = main(["status", "--demo", "--prometheus", "http://127.0.0.1:9"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert rc == 4 and elapsed < 10, (rc, elapsed)  # was 29 s and a normal table
    assert err.count("unreachable") == 1 and len(err.strip().splitlines()) == 1
    assert main(["record", "perception", "--prometheus", "http://127.0.0.1:9"]) == 4
    assert capsys.readouterr().err.lower().count("prometheus unreachable") == 1


def test_answering_no_at_the_prompt_is_not_a_usage_error(capsys, monkeypatch):
    import console.output as output
    monkeypatch.setattr(output, "confirm", lambda question: False)
    import console.commands as commands
    monkeypatch.setattr(commands, "confirm", lambda question: False)
    rc = main(["rollback", "perception", "--demo"])
    err = capsys.readouterr().err
    assert rc == 3 and "nothing done" in err and "--yes" not in err


def test_status_exit_code_tells_a_script_something_is_wrong(capsys):
    assert main(["status", "--demo", "--scenario", "healthy"]) == 0
    assert main(["status", "--demo", "--scenario", "crashloop"]) == 1
    assert main(["status", "--demo", "--scenario", "p99-regression"]) == 3


def test_an_unknown_config_field_is_said_in_our_words(tmp_path, capsys):
    path = tmp_path / "typo.yaml"
    path.write_text("chek_interval: 10\n")
    assert main(["status", "--demo", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "chek_interval" in err and "unknown setting" in err and "Extra inputs" not in err


RAW_IDENTIFIERS = ("awaiting_approval", "manual_review", "insufficient_data", "no_data", "p99_latency",
                   "p95_latency", "error_rate", "success_rate", "rolled_back", "rolling_back")


@pytest.mark.parametrize("scenario", ["p99-regression", "crashloop"])
def test_status_text_speaks_the_peoples_words(capsys, scenario):
    """`status` (text) says what the dashboard says: no state, outcome or check identifier a person must decode
    (issue 17); `--json` keeps them, it is the contract."""
    main(["status", "--demo", "--scenario", scenario])
    out = capsys.readouterr().out
    assert not [word for word in RAW_IDENTIFIERS if word in out], out
    if scenario == "p99-regression":
        assert "awaiting approval" in out and "needs review: P99 latency: canary P99" in out
    else:
        assert "fail: rolled back from 10%: error rate: canary" in out
    main(["status", "--demo", "--scenario", scenario, "--json"])
    assert "_" in "".join(s["state"] for s in json.loads(capsys.readouterr().out)["services"])


def test_analyze_text_speaks_the_peoples_words(capsys):
    main(["analyze", "perception", "--demo", "--scenario", "p99-regression"])
    out = capsys.readouterr().out
    assert not [word for word in RAW_IDENTIFIERS if word in out], out
    assert "P99 latency" in out and "error rate" in out


def test_a_headless_run_speaks_the_peoples_words(capsys):
    """The event lines, the progress line and the last line of `run --headless` (text; --json keeps them)."""
    main(["run", "perception", "--version", "1.2.4", "--headless", "--demo", "--scenario", "p99-regression",
          "--speed", "1000"])
    out = capsys.readouterr().out
    assert not [word for word in RAW_IDENTIFIERS + ("await_approval",) if word in out], out
    assert "→ awaiting approval" in out and "needs review: P99 latency" in out
