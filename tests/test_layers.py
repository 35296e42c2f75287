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


def _private_reaches(path: Path) -> list[str]:
    """Each ``obj._name`` in ``path`` whose object is not ``self`` or ``cls``."""
    import ast

    return [f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]


def test_the_commands_use_the_adapters_public_methods_only() -> None:
    """The command rooms (console/*.py) ask the adapters through their public methods: migrate-router once
    read resources and composed API paths with the Kubernetes adapter's private ``_get`` and ``_path``."""
    found = [hit for path in sorted((ROOT / "console").glob("*.py")) for hit in _private_reaches(path)]
    assert not found, found


def test_the_vocabulary_widgets_may_read_imports_only_the_model() -> None:
    """Widgets and screens may import the intent table and the words (docs/architecture.md says why: they are
    names, not workings); that holds only while those two import nothing of the engine but the model."""
    import ast

    for name in ("intent_table", "words"):
        tree = ast.parse((ROOT / "console" / "engine" / f"{name}.py").read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert {m for m in imported if m.startswith("console")} == {"console.engine.model"}, (name, imported)
