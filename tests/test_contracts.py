"""docs/contracts.md kept true: every block marked `console contract` is run (through console.cli.main, on
the simulated world or the page's own timeline) and its exit code and JSON compared by shape with what the
page shows; every `ndjson timeline` block must parse as a timeline. The shape rules are the page's own: the
keys shown must be there, "a|b" is one of the words, other text any text, null any value, a number any number, a
list's first item the shape of every item."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from console.cli import main
from console.engine.timeline import parse_timeline

PAGE = Path(__file__).resolve().parents[1] / "docs" / "contracts.md"
BLOCK = re.compile(r"^```([a-z]+ [a-z]+)\n(.*?)^```", re.S | re.M)


def blocks(kind: str) -> list[str]:
    return [body for info, body in BLOCK.findall(PAGE.read_text(encoding="utf-8")) if info == kind]


def contract(body: str) -> tuple[list[str], Any, int]:
    """(argv, the JSON shown, the exit code shown) of one `console contract` block."""
    lines = body.strip().splitlines()
    assert lines[0].startswith("$ canary-console "), lines[0]
    assert (last := lines[-1]).startswith("# exit "), last
    return shlex.split(lines[0][len("$ canary-console "):]), json.loads("\n".join(lines[1:-1])), int(last[7:])


def mismatches(shown: Any, got: Any, where: str = "$") -> list[str]:
    """Where ``got`` does not have the shape ``shown``; empty when it does."""
    if shown is None:
        return []
    if isinstance(shown, bool) or isinstance(got, bool):
        return [] if isinstance(got, bool) and isinstance(shown, bool) else [f"{where}: {got!r} is not a {shown!r}"]
    if isinstance(shown, (int, float)):
        return [] if isinstance(got, (int, float)) else [f"{where}: {got!r} is not a number"]
    if isinstance(shown, str):
        if not isinstance(got, str):
            return [f"{where}: {got!r} is not text"]
        if "|" not in shown:  # "…" or an example: any text
            return []
        words = shown.split("|")
        return [] if got in words else [f"{where}: {got!r} is not one of {words}"]
    if isinstance(shown, list):
        if not isinstance(got, list):
            return [f"{where}: {got!r} is not a list"]
        return [m for i, item in enumerate(got) for m in mismatches(shown[0], item, f"{where}[{i}]")] if shown else []
    if isinstance(shown, dict):
        if not isinstance(got, dict):
            return [f"{where}: {got!r} is not an object"]
        missing = [f"{where}.{key}: missing" for key in shown if key not in got]
        return missing + [m for key in shown if key in got for m in mismatches(shown[key], got[key], f"{where}.{key}")]
    return [f"{where}: cannot compare with {shown!r}"]


@pytest.fixture
def timeline_dir(tmp_path, monkeypatch):
    for body in blocks("ndjson timeline"):
        (tmp_path / "timeline.ndjson").write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_page_has_its_examples():
    assert len(blocks("console contract")) >= 4 and len(blocks("ndjson timeline")) == 1


def test_the_timeline_shown_is_a_timeline():
    timeline = parse_timeline(blocks("ndjson timeline")[0].splitlines())
    assert timeline.services == ["perception"] and timeline.step("perception") == 30


@pytest.mark.parametrize("body", blocks("console contract"), ids=lambda body: body.split("\n")[0][2:60])
def test_each_example_runs_as_shown(body, timeline_dir, capsys):
    argv, shown, code = contract(body)
    got = main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    assert got == code, (argv, got, out)
    assert out, "no output"
    printed = json.loads(out[-1])
    assert mismatches(shown, printed) == []


def test_a_shape_that_differs_is_told():
    shown = {"verdict": "pass|fail", "checks": [{"name": "…", "value": 0.1}], "driver": None}
    assert mismatches(shown, {"verdict": "pass", "checks": [{"name": "x", "value": 2}], "driver": "a", "more": 1}) == []
    assert mismatches(shown, {"verdict": "maybe", "checks": [{"name": 1}]}) == [
        "$.driver: missing", "$.verdict: 'maybe' is not one of ['pass', 'fail']", "$.checks[0].value: missing",
        "$.checks[0].name: 1 is not text"]
