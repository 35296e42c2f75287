"""Benchmarks room: CPU used by `canary-console --demo` left alone in a real terminal (tmux) for 60 s,
read from /proc/PID/stat (utime + stime), next to a bare Textual app measured the same way, and the
resident memory (VmRSS) of each at the end. At --speed 10 with the 10 s check interval each of the six
services gets one status a second. With ``--beside TREE`` the demo of another checkout of the console (a
source tree: ``git worktree add ../before main``) runs at the same time, over the same seconds, so a change is
measured against the code before it under the same load (a shared machine's load moves the figures far more
than most changes do); a fixed Python loop timed before and after (host_speed) tells a slow hour of the host
from a regression. Usage:
    python -m benchmarks.idle_cpu [--seconds 60] [--size 120x40] [--speed 10] [--beside TREE]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.first_frame import BARE_APP, SERVICES, Pane, demo_command


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(command: str, words: tuple[str, ...], size: tuple[int, int], seconds: float) -> tuple[float, float]:
    """(percent of one core, MB resident at the end)."""
    return measure_together([(command, words)], size, seconds)[0]


def measure_together(commands: list[tuple[str, tuple[str, ...]]], size: tuple[int, int],
                     seconds: float, cwds: list[Path | None] | None = None) -> list[tuple[float, float]]:
    """Each command in its own pane (started in its ``cwds`` entry: a checkout's root, so that checkout is the
    one imported), all over the same seconds: [(percent of one core, MB resident), …]."""
    with ExitStack() as stack:
        panes = [stack.enter_context(Pane(command, size, cwd)) for (command, _words), cwd
                 in zip(commands, cwds or [None] * len(commands))]
        for pane, (_command, words) in zip(panes, commands):
            pane.seconds_until(words)
            runs_in = Path(os.readlink(f"/proc/{pane.pid}/cwd"))  # the checkout it imports
            if runs_in != pane.cwd:
                raise RuntimeError(f"{pane.command!r} runs in {runs_in}, not {pane.cwd}")
        time.sleep(2)  # past start-up
        pids = [pane.pid for pane in panes]
        before, wall = [cpu_seconds(pid) for pid in pids], time.perf_counter()
        time.sleep(seconds)
        elapsed = time.perf_counter() - wall
        return [(100.0 * (cpu_seconds(pid) - used) / elapsed, rss_mb(pid)) for pid, used in zip(pids, before)]


def host_speed(steps: int = 5_000_000) -> float:
    """CPU seconds a fixed pure-Python loop takes here and now: the same machine has run it in about half the
    time on a fast day and in its full time on a slow one, and the demo's figure moves with it. Printed
    beside the figure, it tells a slow hour of the host from a regression of the code."""
    started = time.process_time()
    total = 0
    for i in range(steps):
        total += i
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--beside", metavar="TREE", help="another checkout whose demo runs at the same time")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    speed_before = host_speed()
    bare_file = Path(tempfile.mkdtemp()) / "bare_app.py"
    bare_file.write_text(BARE_APP)
    bare, bare_rss = measure(f"{sys.executable} {bare_file}", ("bare textual ready",), size, args.seconds)
    demo = f"{demo_command()} --speed {args.speed:g}"
    if not args.beside:
        demo_cpu, demo_rss = measure(demo, SERVICES, size, args.seconds)
    else:
        other = Path(args.beside).resolve()
        beside = f"env PYTHONPATH={shlex.quote(str(other))} {demo}"
        (demo_cpu, demo_rss), (other_cpu, other_rss) = measure_together([(demo, SERVICES), (beside, SERVICES)],
                                                                         size, args.seconds, [None, other])
    print(f"idle CPU over {args.seconds:.0f} s at {args.size}: bare Textual {bare:.1f} %, "
          f"canary-console --demo --speed {args.speed:g} {demo_cpu:.1f} % of one core (target <= 2 %)")
    if args.beside:
        print(f"  the same seconds, {args.beside}: {other_cpu:.2f} %; this code: {demo_cpu:.2f} % "
              f"(ratio {demo_cpu / other_cpu:.2f}; load average {os.getloadavg()[0]:.1f})")
    print(f"RSS at the end: bare Textual {bare_rss:.0f} MB, canary-console --demo {demo_rss:.0f} MB")
    print(f"host speed: a 5 M-step Python loop took {speed_before:.2f} s of CPU before and {host_speed():.2f} s "
          f"after (docs/performance.md says what it read on the days measured)")


if __name__ == "__main__":
    main()
