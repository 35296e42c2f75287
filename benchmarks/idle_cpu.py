"""Benchmarks room: CPU used by `canary-console --demo` left alone in a real terminal (tmux) for 60 s,
read from /proc/PID/stat (utime + stime), next to a bare Textual app measured the same way, and the
resident memory (VmRSS) of each at the end. At --speed 10 with the 10 s check interval each of the six
services gets one status a second. Usage:
    python -m benchmarks.idle_cpu [--seconds 60] [--size 120x40] [--speed 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
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
    with Pane(command, size) as pane:
        pane.seconds_until(words)
        time.sleep(2)  # past start-up
        pid = pane.pid
        before, wall = cpu_seconds(pid), time.perf_counter()
        time.sleep(seconds)
        used, elapsed = cpu_seconds(pid) - before, time.perf_counter() - wall
        rss = rss_mb(pid)
    return 100.0 * used / elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--speed", type=float, default=10.0)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    bare_file = Path(tempfile.mkdtemp()) / "bare_app.py"
    bare_file.write_text(BARE_APP)
    bare, bare_rss = measure(f"{sys.executable} {bare_file}", ("bare textual ready",), size, args.seconds)
    demo, demo_rss = measure(f"{demo_command()} --speed {args.speed:g}", SERVICES, size, args.seconds)
    print(f"idle CPU over {args.seconds:.0f} s at {args.size}: bare Textual {bare:.1f} %, "
          f"canary-console --demo --speed {args.speed:g} {demo:.1f} % of one core (target <= 2 %)")
    print(f"RSS at the end: bare Textual {bare_rss:.0f} MB, canary-console --demo {demo_rss:.0f} MB")


if __name__ == "__main__":
    main()
