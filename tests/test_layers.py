"""The house's walls: the engine, the adapters and the simulated world never import the UI, widgets
and screens never reach Kubernetes or Prometheus, and they read the engine only through the model, the
protocols and the intent table. import-linter checks the contracts in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is a test dependency: pip install -e '.[test]'"
    done = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken" in done.stdout
    assert "(the intent table, the words) KEPT" in done.stdout  # widgets and screens: model, protocols, vocabulary


def test_the_engine_imports_without_textual() -> None:
    """Import the engine in a fresh interpreter and prove Textual was not loaded along the way."""
    code = ("import sys, console.engine.session, console.engine.judge, console.sim, console.wiring; "
            "bad = [m for m in ('textual', 'widgets', 'screens') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
