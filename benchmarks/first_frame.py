"""Benchmarks room: time to first useful frame of `canary-console --demo` in a real terminal (tmux,
120x40 by default) against a bare Textual app that shows one label, measured in the same run, alternating.

"First frame" = from launching the command to capture-pane showing all six service names (the bare app:
its label). Prints each run, the medians and the ratio. Usage:
    python benchmarks/first_frame.py [--runs 5] [--size 120x40]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

SERVICES = ("perception", "capsule", "odyssey", "plato", "nexus", "synapse")
BARE_APP = '''
from textual.app import App
from textual.widgets import Label
class Bare(App):
    def compose(self):
        yield Label("bare textual ready")
Bare().run()
'''


class Pane:
    """A command in a detached tmux session on a private server; closed on exit."""

    def __init__(self, command: str, size: tuple[int, int]) -> None:
        self.socket = f"cc-bench-{uuid.uuid4().hex[:8]}"
        self.command, self.size = command, size

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    def __enter__(self) -> Pane:
        width, height = self.size
        self.started = time.perf_counter()
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", str(width), "-y", str(height),
                  f"exec env -u COLUMNS -u LINES TERM=xterm-256color {self.command}")
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)

    @property
    def pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "b", "#{pane_pid}").strip())

    def seconds_until(self, words: tuple[str, ...], limit: float = 30.0) -> float:
        while time.perf_counter() - self.started < limit:
            screen = self.tmux("capture-pane", "-p", "-t", "b")
            if all(word in screen for word in words):
                return time.perf_counter() - self.started
            time.sleep(0.01)
        raise RuntimeError(f"{self.command!r}: {words} not on screen after {limit} s")


def demo_command() -> str:
    entry = shutil.which("canary-console")
    if not entry:
        sys.exit("canary-console is not installed (pip install -e .)")
    return f"{entry} --demo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="120x40")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    bare_file = Path(tempfile.mkdtemp()) / "bare_app.py"
    bare_file.write_text(BARE_APP)
    bare = f"{sys.executable} {bare_file}"
    demo = demo_command()
    times: dict[str, list[float]] = {"bare": [], "demo": []}
    for run in range(args.runs):
        for name, command, words in (("bare", bare, ("bare textual ready",)), ("demo", demo, SERVICES)):
            with Pane(command, size) as pane:
                seconds = pane.seconds_until(words)
            times[name].append(seconds)
            print(f"run {run + 1}: {name:<4} {seconds * 1000:7.0f} ms")
    bare_ms, demo_ms = (statistics.median(times[k]) * 1000 for k in ("bare", "demo"))
    print(f"median first frame at {args.size}: bare Textual {bare_ms:.0f} ms, canary-console --demo "
          f"{demo_ms:.0f} ms, ratio {demo_ms / bare_ms:.2f}")


if __name__ == "__main__":
    main()
