"""Replay within bounds (issue 13): numbers validated finite and sane, a cap on the timeline's span, on a
gap, on the number of samples and on a line's length, each a clear TimelineError (exit 2 on the command
line), read line by line so memory is bounded by the caps, not by the file."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from console.engine import timeline as tl
from console.engine.timeline import TimelineError, parse_timeline


def _line(t, track="stable", requests=100, errors=1, p95=0.1, p99=0.2, **extra) -> str:
    return json.dumps({"t": t, "service": "perception", "track": track, "requests": requests, "errors": errors,
                       "p95": p95, "p99": p99, **extra})


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "t.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


def _replay(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.cli", "replay", str(path)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("jump", "says"), [(1e12, "field 't'"), (1e9, "spans")])
def test_a_t_that_jumps_far_is_refused_at_once_not_a_memory_error(tmp_path: Path, jump: float, says: str) -> None:
    lines = [_line(t, track) for t in (30, 60, 90) for track in ("stable", "canary")]
    lines += [_line(jump, "stable"), _line(jump, "canary")]
    path = _file(tmp_path, lines)
    assert len(path.read_bytes()) < 1000
    done = _replay(path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and says in done.stderr, done.stderr


@pytest.mark.parametrize(("text", "field"), [
    ('{"t": 30, "service": "perception", "track": "stable", "requests": 1' + "0" * 400 + ', "errors": 0}',
     "requests"),
    (_line(30, requests=1e300, errors=0), "requests"),
    (_line(30, p95=1e300), "p95"),
    (_line(1e300), "t"),
    (_line(-5), "t"),
])
def test_numbers_out_of_all_reason_are_exit_2_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    done = _replay(_file(tmp_path, [_line(0, "canary"), text]))
    assert done.returncode == 2, done.stderr
    assert f"'{field}'" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_gap_longer_than_the_cap_is_refused() -> None:
    lines = [_line(30, track) for track in ("stable", "canary")]
    lines += [_line(30 + tl.MAX_GAP + 60, track) for track in ("stable", "canary")]
    with pytest.raises(TimelineError, match="gap"):
        parse_timeline(lines)


def test_a_line_too_long_is_refused() -> None:
    with pytest.raises(TimelineError, match="line 1"):
        parse_timeline([_line(30, note="x" * (tl.MAX_LINE + 1))])


def test_more_samples_than_the_cap_stop_early_with_bounded_memory(monkeypatch) -> None:
    monkeypatch.setattr(tl, "MAX_SAMPLES", 20_000)
    lines = (_line(10 * (i // 2), ("stable", "canary")[i % 2]) for i in range(10**9))  # endless, lazily
    tracemalloc.start()
    try:
        with pytest.raises(TimelineError, match="20,000"):
            parse_timeline(lines)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 60 * 2**20, peak


def test_a_file_is_read_line_by_line(tmp_path: Path) -> None:
    path = _file(tmp_path, [_line(t, track) for t in (30, 60) for track in ("stable", "canary")])
    lines = tl.read_lines(path)
    assert not isinstance(lines, list)  # an iterator over the open file, not the whole text in memory
    assert len(list(lines)) == 4
