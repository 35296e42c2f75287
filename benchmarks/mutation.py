"""Benchmark room for the tests: the mutation score of one decision-core module against the tests that
exercise it. A benchmark, not part of the CI suite: it takes minutes, not seconds.

    python -m benchmarks.mutation console/engine/judge.py [--jobs 1] [--keep] [--verbose]

mutmut (3.x, pinned in the ``mutation`` extra; its settings are ``[tool.mutmut]`` in pyproject.toml) copies
the package into a ``mutants/`` tree and runs each mutant against the tests that execute the mutated
function. So that one module is mutated against only its own tests, the run happens in a scratch copy of
the project (console/, tests/, pyproject.toml) whose ``[tool.mutmut]`` also names the module
(``only_mutate``) and its tests (``pytest_add_cli_args_test_selection``, from TARGETS below); the working
tree is never touched. mutmut limits each mutant to a CPU-time budget (``timeout_multiplier`` and
``timeout_constant``), so a mutant that loops forever ends after seconds and counts as killed.

Score: killed (a test failed, or the mutant ran out of time) of all mutants, including those no selected
test runs. Survivors are printed with their diff before the last line, which is always
``MODULE: killed K of N (S %)``; docs/testing.md records the scores and argues each survivor left.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module → the test files that exercise it (globs relative to the project root)
TARGETS: dict[str, tuple[str, ...]] = {
    "console/engine/judge.py": ("tests/test_judge*.py",),
    "console/engine/binomial.py": ("tests/test_binomial*.py", "tests/test_judge*.py"),
    "console/engine/intents.py": ("tests/test_intents*.py", "tests/test_controller*.py"),
    "console/engine/controller.py": ("tests/test_controller*.py", "tests/test_intents*.py"),
}

KILLED = {"killed", "timeout", "caught by type check"}
# mutmut 3's exit-code meaning (mutmut/stats.py: status_by_exit_code), kept here so a reader sees it
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          35: "suspicious", 36: "timeout", 37: "caught by type check", -24: "timeout", 24: "timeout",
          152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault", None: "not checked"}


def select_tests(module: str) -> list[str]:
    files = sorted({path for pattern in TARGETS[module] for path in glob.glob(pattern, root_dir=ROOT)})
    if not files:
        raise SystemExit(f"mutation: no test file matches {', '.join(TARGETS[module])}")
    return files


def prepare(scratch: Path, module: str, tests: list[str]) -> None:
    """A copy of the project whose [tool.mutmut] mutates only ``module`` against only ``tests``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    shutil.copytree(ROOT / "console", scratch / "console", ignore=ignore)
    shutil.copytree(ROOT / "tests", scratch / "tests", ignore=ignore)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    header = "[tool.mutmut]\n"
    if header not in text:
        raise SystemExit("mutation: pyproject.toml has no [tool.mutmut] table")
    extra = (f"only_mutate = {json.dumps([module])}\n"
             f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n")
    (scratch / "pyproject.toml").write_text(text.replace(header, header + extra, 1), encoding="utf-8")


def results(scratch: Path, module: str) -> dict[str, str]:
    """mutant name → status, from the .meta file mutmut keeps beside the mutated module."""
    meta = scratch / "mutants" / (module + ".meta")
    if not meta.exists():
        raise SystemExit(f"mutation: mutmut produced no results for {module} (see its output above)")
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return {name: STATUS.get(code, "suspicious") for name, code in codes.items()}


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
module = sys.argv[1]
for name in json.load(sys.stdin):
    try:
        print(json.dumps([name, get_diff_for_mutant(name, path=module)]))
    except Exception as exc:  # a diff is only for the reader: say why it is missing
        print(json.dumps([name, f"(no diff: {exc})"]))
"""


def changed_lines(scratch: Path, module: str, names: list[str], env: dict[str, str]) -> dict[str, str]:
    """mutant → "removed lines  →  added lines", from mutmut's own diffs (one process for all)."""
    shown = subprocess.run([sys.executable, "-c", _DIFFS, module], cwd=scratch, env=env, input=json.dumps(names),
                           capture_output=True, text=True)
    lines: dict[str, str] = {}
    for row in shown.stdout.splitlines():
        name, diff = json.loads(row)
        minus = [x[1:].strip() for x in diff.splitlines() if x.startswith("-") and not x.startswith("---")]
        plus = [x[1:].strip() for x in diff.splitlines() if x.startswith("+") and not x.startswith("+++")]
        lines[name] = f"{' / '.join(minus)}  →  {' / '.join(plus)}" if minus or plus else diff.strip()[:200]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mutation", description=__doc__.split("\n")[0])
    parser.add_argument("module", choices=sorted(TARGETS), help="the module to mutate")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1: a shared machine)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy and print where it is")
    parser.add_argument("--verbose", action="store_true", help="show mutmut's own progress output")
    parser.add_argument("--only", nargs="+", metavar="GLOB", default=[],
                        help="test only the mutants whose names match (e.g. 'console.engine.controller.*_would*'); "
                             "the score is then over those mutants")
    args = parser.parse_args(argv)
    module = args.module
    tests = select_tests(module)
    scratch = Path(tempfile.mkdtemp(prefix="canary-mutation-"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    try:
        prepare(scratch, module, tests)
        print(f"mutation: {module} against {' '.join(tests)}", flush=True)
        log = scratch / "mutmut.log"
        with log.open("w", encoding="utf-8") as out:
            run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs), *args.only],
                                 cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                                 stdout=None if args.verbose else out, stderr=subprocess.STDOUT)
        if run.returncode != 0:
            sys.stdout.write(log.read_text(encoding="utf-8", errors="replace")[-4000:])
            raise SystemExit(f"mutation: mutmut run exited {run.returncode}")
        status = results(scratch, module)
        if args.only:
            status = {name: s for name, s in status.items() if s != "not checked"}
        tally = Counter(status.values())
        survivors = sorted(name for name, s in status.items() if s not in KILLED)
        print()
        print("mutation: " + ", ".join(f"{s} {n}" for s, n in sorted(tally.items())))
        diffs = changed_lines(scratch, module, survivors, env)
        for name in survivors:
            print(f"  {status[name]:<10} {name}: {diffs.get(name, '(no diff)')}")
        if args.keep:
            print(f"mutation: scratch copy kept in {scratch}")
        killed, total = sum(tally[s] for s in KILLED), len(status)
        score = 100.0 * killed / total if total else 0.0
        subset = f" [only {' '.join(args.only)}]" if args.only else ""
        print(f"{module}{subset}: killed {killed} of {total} ({score:.1f} %)")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
