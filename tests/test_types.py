"""Test room: the type checker. mypy (standard strictness, configured in pyproject.toml) passes on console/,
widgets/ and screens/, so a reader and a checker can follow a key press from the app through the session's
protocol to the controller; and the session the app holds is typed by that protocol, never ``Any``."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from console.app import CanaryApp
from console.engine.protocols import SessionView
from tests.test_tui_support import fake_session

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_passes_on_the_console_the_widgets_and_the_screens(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mypy", "console", "widgets", "screens",
                           "--cache-dir", str(tmp_path / "mypy-cache")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout


def test_the_app_holds_the_session_by_its_protocol_and_the_session_has_all_of_it():
    hints = inspect.signature(CanaryApp.__init__).parameters["session"].annotation
    assert "SessionView" in str(hints) and "Any" not in str(hints)
    assert "self.session: SessionView | None" in inspect.getsource(CanaryApp)
    session, _clock, _cluster = fake_session()
    wanted = {name for name in dir(SessionView) if not name.startswith("_")} | set(SessionView.__annotations__)
    assert wanted >= {"config", "bus", "intent", "status_all", "follow_logs", "requests"}
    missing = {name for name in wanted if not hasattr(session, name)}
    assert not missing, missing


def _protocol_members() -> set[str]:
    """Every name a Protocol class of the console, the widgets or the screens declares."""
    import ast

    names: set[str] = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(getattr(base, "id", None) == "Protocol" for base in node.bases):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        names.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.add(item.target.id)
    return names


def _sources() -> list[Path]:
    return sorted(p for folder in ("console", "widgets", "screens") for p in (ROOT / folder).rglob("*.py"))


def test_no_capability_is_reached_by_its_name_in_a_string():
    """What an object can do beyond its type (a cluster's ``check``, an app's ``report_ui_error``, a sink's
    ``aclose``, a virtual clock's ``advance``, the demo's ``world``) is asked with ``isinstance`` on a named
    protocol or type, never with ``getattr(obj, "name")``, which neither a reader nor mypy can follow."""
    import ast

    capabilities = _protocol_members() | {"advance", "world", "hold_numbers", "report_ui_error", "describe_error"}
    assert {"check", "aclose", "take_over", "record_event", "identity"} <= capabilities
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value in capabilities):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} getattr(…, {node.args[1].value!r})")
    assert not found, found
