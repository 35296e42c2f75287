"""Benchmarks room: every benchmark of docs/performance.md, one after the other, each printing its own
figures under a heading. Run from the repository root after `pip install -e ".[test]"` (tmux and Debian's
prometheus installed):
    python -m benchmarks.run_all [--quick]
--quick shortens the CPU measurement to 20 s and runs one breach-to-rollback round against Prometheus.
Takes about 4 minutes (2 with --quick); it uses a core or so, so run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def benchmarks(quick: bool) -> list[tuple[str, list[str]]]:
    return [
        ("1. first frame (tmux 120x40, vs a bare Textual app; and against the Kubernetes API double)",
         ["-m", "benchmarks.first_frame", "--runs", "5"]),
        ("2. CPU and RSS of the demo, six services live, one status a second each",
         ["-m", "benchmarks.idle_cpu", "--seconds", "20" if quick else "60"]),
        ("3. RSS after an hour of simulated history and 10,000 log lines per service",
         ["-m", "benchmarks.memory_hour"]),
        ("4. log lines per second the detail screen keeps up with; longest frame gap",
         ["-m", "benchmarks.log_rate"]),
        ("5. key press to the first API request (simulated world)", ["-m", "benchmarks.key_to_request"]),
        ("6. Prometheus queries per poll of six services", ["-m", "benchmarks.queries_per_poll"]),
        ("7a. breach visible → rollback request, virtual clock", ["-m", "benchmarks.breach_virtual"]),
        ("7b. breach visible → rollback request, real Prometheus",
         ["benchmarks/breach_to_rollback.py", "--runs", "1" if quick else "3"]),
    ]


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')} · nproc {os.cpu_count()} · {model} · "
            f"{mem_kb / 1024 / 1024:.1f} GiB RAM · Python {platform.python_version()} · "
            f"load average {os.getloadavg()[0]:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(machine(), flush=True)
    failed = []
    for title, command in benchmarks(args.quick):
        print(f"\n## {title}\n$ python {' '.join(command)}", flush=True)
        if subprocess.run([sys.executable, *command], cwd=ROOT).returncode != 0:
            failed.append(title)
    if failed:
        print("\nfailed: " + "; ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
