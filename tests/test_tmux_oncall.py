"""Test room: issue 17 in a real terminal (tmux): what an on-call engineer sees over a bastion's 16-colour
terminal and in a small window. Uses the Terminal of tests/test_tmux.py (a private tmux server, bounded
polls of the screen, no sleeping for simulated time)."""

from __future__ import annotations

import re

import pytest

from tests.test_tmux import Terminal, connected, demo

pytestmark = pytest.mark.tmux

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
RED = {"31", "91", "38;5;1", "38;5;9", "38:5:1", "38:5:9"}
GREY = {"37", "90", "38;5;7", "38;5;8"}


def style_before(line: str, text: str) -> set[str]:
    """The SGR state where ``text`` starts on ``line`` (a captured line with escapes): the one foreground
    colour in force (a later colour replaces an earlier one) and the attributes (1 bold, 7 reverse …)."""
    at = line.find(text)
    assert at >= 0, f"{text!r} not on {line!r}"
    foreground: str | None = None
    attributes: set[str] = set()
    for match in SGR.finditer(line[:at]):
        parts = match.group(1).replace(":", ";").split(";") if match.group(1) else ["0"]
        index = 0
        while index < len(parts):
            part = parts[index]
            if part in ("38", "48") and index + 1 < len(parts):  # extended colours: 38;5;N, 38;2;R;G;B
                size = 3 if parts[index + 1] == "5" else 5
                if part == "38":
                    foreground = ";".join(parts[index:index + size])
                index += size
                continue
            number = int(part or 0)
            if number == 0:
                foreground, attributes = None, set()
            elif number == 39:
                foreground = None
            elif 30 <= number <= 37 or 90 <= number <= 97:
                foreground = part
            elif number < 30:
                attributes.add(part)
            index += 1
    return attributes | ({foreground} if foreground else set())


@pytest.mark.parametrize("term", ["xterm", "screen", "vt100"])
def test_on_16_and_8_colours_canary_is_not_danger_red_and_awaiting_approval_is_not_grey(term):
    with Terminal(demo("--seed", "1"), size=(80, 24), env={"TERM": term}) as term_:
        term_.wait_for(lambda t: connected(t) and "awaiting approval" in t, "a service awaiting approval")
        painted = term_.screen(escapes=True).splitlines()
    canary_lines = [line for line in painted if "C 0." in line or "C 1." in line]
    assert canary_lines
    for line in canary_lines:
        text = re.search(r"C \d+\.\d\d%", SGR.sub("", line)).group(0)  # escapes never split the number
        assert not (style_before(line, text) & RED), f"{term}: canary value drawn red: {line!r}"
    waiting = next(line for line in painted if "awaiting approval" in line)
    style = style_before(waiting, "awaiting approval")
    assert "7" in style or not (style & GREY), f"{term}: awaiting approval is grey: {style}"
    assert "1" in style, f"{term}: awaiting approval is not bold: {style}"


def test_demo_read_only_opens_on_the_demos_canaries_without_errors_and_help_offers_no_writes():
    with Terminal(demo("--read-only", "--seed", "1"), size=(100, 30)) as term:
        text = term.wait_for(lambda t: connected(t) and t.count("observing") >= 2, "canaries observing")
        assert "no canary" not in text
        assert "refused" not in text.lower() and "read-only console" not in text.lower()
        term.keys("?")
        text = term.wait_for(lambda t: "Keys" in t, "the help screen")
        for write in ("Advance", "Rollback", "Promote", "Start canary", "Approve"):
            assert write not in text, write
        term.keys("Escape")
        term.wait_for(lambda t: "Keys" not in t, "the help screen closed")
        term.keys("q")  # a watcher drives nothing: q quits at once
        term.wait_for(lambda t: "EXIT=0" in t, "a clean exit after q")
