"""Test room: the dashboard command (no subcommand) from the command line. Its first frame is drawn from a
plain read of the settings and the configuration is validated in the app's connect worker, so these tests
check what must not change for a person: a broken config still exits 2 naming the file and the field with
no traceback (printed after the app closes), a wrong theme or an unreadable file still stops before any
screen, and the plain read gives exactly what the validated Config says. The app runs headless under
Pilot (CanaryApp.run_async is replaced by a run_test), never in the test's terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import CanaryApp
from console.cli import main
from console.engine.config import Config, load_config
from console.engine.config_layers import DEFAULT_WEIGHTS, SERVICES, FirstFrame, first_frame, read_layers
from tests.test_tui_support import screen_text


@pytest.fixture
def headless(monkeypatch):
    """Run the CLI's app under Pilot: record its first frame, wait for its connect worker, then quit."""
    seen: dict[str, object] = {}

    async def run_async(self: CanaryApp, **_ignored) -> None:
        async with self.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            seen["first frame"] = screen_text(self)
            for _ in range(200):  # the connect worker starts once the first frame is painted
                connecting = [w for w in self.workers if w.name == "connect"]
                if connecting:
                    await connecting[0].wait()
                    break
                await pilot.pause()
            seen["session"] = self.session
            if self.is_running:
                await pilot.press("q")

    monkeypatch.setattr(CanaryApp, "run_async", run_async)
    return seen


def test_a_broken_config_still_exits_2_after_the_first_frame(tmp_path: Path, capsys, headless) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("check_interval: -5\n")
    assert main(["--demo", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "field 'check_interval'" in err and "cannot be negative" in err
    assert "Traceback" not in err
    assert all(service in str(headless["first frame"]) for service in SERVICES)  # drawn before validation
    assert headless["session"] is None  # nothing was opened on a refused configuration


def test_the_demo_dashboard_opens_its_validated_world(capsys, headless) -> None:
    assert main(["--demo"]) == 0
    session = headless["session"]
    assert session is not None and isinstance(session.config, Config)
    assert session.config.service_names == list(SERVICES)
    assert "Traceback" not in capsys.readouterr().err


def test_a_wrong_theme_or_unreadable_file_stops_before_any_screen(tmp_path: Path, capsys, headless) -> None:
    assert main(["--demo", "--theme", "nosuch"]) == 2
    assert "unknown theme 'nosuch'" in capsys.readouterr().err
    path = tmp_path / "bad.yaml"
    path.write_text("services: [\n")
    assert main(["--demo", "--config", str(path)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert main(["--demo", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the config file" in capsys.readouterr().err
    assert "first frame" not in headless  # the app never started


def test_a_theme_in_the_environment_is_checked_before_the_screen(monkeypatch, capsys, headless) -> None:
    monkeypatch.setenv("CANARY_CONSOLE_THEME", "nosuch")
    assert main(["--demo"]) == 2
    assert "unknown theme 'nosuch'" in capsys.readouterr().err and "first frame" not in headless


def test_the_defaults_first_frame_is_the_validated_configs() -> None:
    assert first_frame(read_layers(env={})[0]) == FirstFrame.of(Config())
    assert list(DEFAULT_WEIGHTS) == [phase.weight for phase in Config().phases]


CONFIGS = {
    "services and phases": """
services: [{name: alpha}, {name: beta, checks: []}]
phases:
  - {name: one, weight: 20, duration: 5m}
  - {name: two, weight: "60", duration: 5m}
  - {name: all, weight: 100, duration: 1m}
theme: light
read_only: "yes"
""",
    "empty file": "",
    "other settings only": "check_interval: 30s\nprometheus: {url: 'http://127.0.0.1:9090'}\n",
    "no services": "services: []\n",
}


@pytest.mark.parametrize("text", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_plain_read_gives_what_validation_gives(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert first_frame(read_layers(path, env={})[0]) == FirstFrame.of(load_config(path, env={}))


def test_environment_and_flags_reach_the_first_frame(tmp_path: Path) -> None:
    env = {"CANARY_CONSOLE_READ_ONLY": "true", "CANARY_CONSOLE_THEME": "mono"}
    overrides = {"theme": "light", "kube": {"namespace": None}}
    expected = FirstFrame.of(load_config(env=env, overrides=overrides))
    assert first_frame(read_layers(env=env, overrides=overrides)[0]) == expected
    assert expected.read_only and expected.theme == "light"


def test_unusable_values_fall_back_to_the_defaults_for_the_first_frame_only() -> None:
    frame = first_frame({"services": "perception", "phases": [{"weight": "ten"}], "theme": 3, "read_only": "no"})
    assert frame == FirstFrame(list(SERVICES), list(DEFAULT_WEIGHTS), None, False)
