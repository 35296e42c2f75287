"""Configuration: the runbook's defaults, the layering file → env → flags, and errors that name the field."""

from pathlib import Path

import pytest

from console.engine.config import ConfigError, load_config, parse_duration
from console.engine.model import Action


def test_defaults_are_the_runbooks() -> None:
    config = load_config(env={})
    assert config.kube.namespace == "butterfly"
    assert config.service_names == ["perception", "capsule", "odyssey", "plato", "nexus", "synapse"]
    assert [p.weight for p in config.phases] == [10, 25, 50, 75, 100]
    assert [p.duration for p in config.phases[:4]] == [900.0] * 4
    assert config.criteria.error_rate_increase == 0.01
    assert config.criteria.p95_increase == 0.20
    assert config.criteria.p99_increase == 0.50 and config.criteria.p99_action is Action.MANUAL_REVIEW
    assert config.criteria.min_success_rate == 0.99
    initial, early, mid, late, _ = config.phases
    assert initial.max_error_rate == 0.01
    assert early.error_rate_increase == 0.005
    assert mid.p95_increase == 0.20
    assert late.anomaly
    assert config.check_interval <= 10 and config.window == 300
    assert config.kube.canary_name("plato") == "plato-canary"
    assert config.kube.image_for("nexus", "1.2.4") == "ghcr.io/254-studioz/butterfly-nexus:1.2.4"
    assert config.kube.name_label == "app.kubernetes.io/name" and config.kube.track_label == "track"


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("check_interval: 5s\nwindow: 2m\nkube:\n  namespace: from-file\n")
    config = load_config(path, env={"CANARY_CONSOLE_KUBE__NAMESPACE": "from-env"},
                         overrides={"window": "1m", "kube": {"context": None}})
    assert config.check_interval == 5.0
    assert config.kube.namespace == "from-env"
    assert config.window == 60.0


@pytest.mark.parametrize(("text", "field"), [
    ("phases:\n  - {name: a, weight: 10, duration: soon}\n", "phases.0.duration"),
    ("prometheus:\n  timeout: x\n", "prometheus.timeout"),
    ("kube:\n  namespase: typo\n", "kube.namespase"),
    ("criteria:\n  p95_increase: -1\n", "criteria.p95_increase"),
    ("services:\n  - name: perception\n    checks:\n      - {name: lag, threshold: 1}\n", "services.0.checks.0.query"),
])
def test_broken_file_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert str(path) in str(caught.value)
    assert f"'{field}'" in str(caught.value)


def test_phases_must_rise_to_100(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("phases:\n  - {name: a, weight: 50, duration: 1m}\n  - {name: b, weight: 25, duration: 1m}\n")
    with pytest.raises(ConfigError, match="end at 100"):
        load_config(path, env={})


def test_not_yaml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("window: [5m\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(path, env={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", env={})


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("30s", 30), ("1.5h", 5400), ("250ms", 0.25), (12, 12)])
def test_durations(text, seconds) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration() -> None:
    with pytest.raises(ValueError):
        parse_duration("fortnight")
