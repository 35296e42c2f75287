"""Benchmarks room: CPU used by `canary-console --demo` left alone in a real terminal (tmux) for 60 s,
read from /proc/PID/stat (utime + stime), next to a bare Textual app measured the same way. Usage:
    python benchmarks/idle_cpu.py [--seconds 60] [--size 120x40] [--speed 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from first_frame import BARE_APP, SERVICES, Pane, demo_command


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def measure(command: str, words: tuple[str, ...], size: tuple[int, int], seconds: float) -> float:
    with Pane(command, size) as pane:
        pane.seconds_until(words)
        time.sleep(2)  # past start-up
        pid = pane.pid
        before, wall = cpu_seconds(pid), time.perf_counter()
        time.sleep(seconds)
        used, elapsed = cpu_seconds(pid) - before, time.perf_counter() - wall
    return 100.0 * used / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--speed", type=float, default=10.0)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    bare_file = Path(tempfile.mkdtemp()) / "bare_app.py"
    bare_file.write_text(BARE_APP)
    bare = measure(f"{sys.executable} {bare_file}", ("bare textual ready",), size, args.seconds)
    demo = measure(f"{demo_command()} --speed {args.speed:g}", SERVICES, size, args.seconds)
    print(f"idle CPU over {args.seconds:.0f} s at {args.size}: bare Textual {bare:.1f} %, "
          f"canary-console --demo --speed {args.speed:g} {demo:.1f} % of one core")


if __name__ == "__main__":
    main()
