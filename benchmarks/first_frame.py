"""Benchmarks room: time to first useful frame of `canary-console --demo` in a real terminal (tmux,
120x40 by default) against a bare Textual app that shows one label, measured in the same run, alternating;
then the same against the Kubernetes API double (tests/kubedouble, its own process, over real HTTP).

"First frame" = from launching the command to capture-pane showing all six service names (the bare app:
its label). Against the double also "filled in" = every panel showing a status (no "connecting…" or
"waiting for the first status" left). Both commands are launched by their interpreter directly (no pyenv
shim in front of either). Prints each run, the medians and the ratio. Usage:
    python -m benchmarks.first_frame [--runs 5] [--size 120x40]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout these benchmarks belong to

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

    def __init__(self, command: str, size: tuple[int, int], cwd: Path | None = None) -> None:
        self.socket = f"cc-bench-{uuid.uuid4().hex[:8]}"
        self.command, self.size = command, size
        # where the command starts: `python -c` puts its working directory first on sys.path, ahead of
        # PYTHONPATH, so a console run from this checkout imports this checkout whatever PYTHONPATH says
        self.cwd = Path(cwd) if cwd is not None else ROOT

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    def __enter__(self) -> Pane:
        width, height = self.size
        self.started = time.perf_counter()
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", str(width), "-y", str(height),
                  "-c", str(self.cwd), f"exec env -u COLUMNS -u LINES TERM=xterm-256color {self.command}")
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)

    @property
    def pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "b", "#{pane_pid}").strip())

    def seconds_until(self, words: tuple[str, ...], limit: float = 30.0) -> float:
        return self.seconds_until_screen(lambda screen: all(word in screen for word in words), str(words), limit)

    def seconds_until_screen(self, ready: Callable[[str], bool], what: str, limit: float = 30.0) -> float:
        while time.perf_counter() - self.started < limit:
            screen = self.tmux("capture-pane", "-p", "-t", "b")
            if ready(screen):
                return time.perf_counter() - self.started
            time.sleep(0.005)
        raise RuntimeError(f"{self.command!r}: {what} not on screen after {limit} s")


def console_command(*args: str) -> str:
    """The installed console's entry point, run by this interpreter (as the bare app is)."""
    return " ".join([sys.executable, "-c", "'import sys; from console.cli import main; sys.exit(main())'", *args])


def demo_command() -> str:
    return console_command("--demo")


def filled_in(screen: str) -> bool:
    return all(s in screen for s in SERVICES) and "connecting…" not in screen and "waiting for the" not in screen


def against_double(runs: int, size: tuple[int, int]) -> tuple[float, float]:
    """Median (first frame, filled in) in seconds of the dashboard against the API double."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-kube-"))
    kubeconfig = workdir / "kubeconfig"
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.kube_double", str(kubeconfig)],
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        if server.stdout is None or server.stdout.readline().strip() != "ready":
            raise RuntimeError("the API double did not start")
        first, full = [], []
        command = console_command("--kubeconfig", str(kubeconfig), "--namespace", "butterfly", "--read-only")
        for run in range(runs):
            with Pane(command, size) as pane:
                first.append(pane.seconds_until(SERVICES))
                full.append(pane.seconds_until_screen(filled_in, "every panel filled in"))
            print(f"run {run + 1}: API double first frame {first[-1] * 1000:7.0f} ms, filled in "
                  f"{full[-1] * 1000:7.0f} ms")
        return statistics.median(first), statistics.median(full)
    finally:
        server.terminate()
        server.wait(timeout=10)


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
          f"{demo_ms:.0f} ms, ratio {demo_ms / bare_ms:.2f} (target <= 1.50)")
    first, full = against_double(args.runs, size)
    print(f"median against the Kubernetes API double at {args.size}: first frame {first * 1000:.0f} ms "
          f"(ratio {first * 1000 / bare_ms:.2f} to bare), every panel filled in {full * 1000:.0f} ms")


if __name__ == "__main__":
    main()
