"""Configuration that cannot express a dangerous state (issue 13): names that cannot collide, durations and
counts within sane bounds and finite, thresholds within their meaning; each refusal one line naming the field,
and through the command line exit 2 with no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.engine.config import ConfigError, load_config


@pytest.mark.parametrize(("text", "field"), [
    # the canary's objects would be the stable ones: run rewrote stable, rollback scaled it to 0
    ("kube:\n  canary_suffix: ''\n", "kube.canary_suffix"),
    ("kube:\n  canary_suffix: '-'\n", "kube.canary_suffix"),
    ("kube:\n  canary_suffix: '_Canary'\n", "kube.canary_suffix"),
    ("services:\n  - name: perception\n  - name: perception-canary\n", "kube.canary_suffix"),
    ("services:\n  - name: " + "a" * 60 + "\n", "kube.canary_suffix"),
    ("kube:\n  namespace: 'Not A Namespace'\n", "kube.namespace"),
    ("kube:\n  track_label: ''\n", "kube.track_label"),
    ("kube:\n  image: ''\n", "kube.image"),
    # durations and counts: bounded and finite
    ("kube:\n  lease_seconds: 0\n", "kube.lease_seconds"),
    ("kube:\n  lease_seconds: .inf\n", "kube.lease_seconds"),
    ("kube:\n  promote_deadline: 0\n", "kube.promote_deadline"),
    ("prometheus:\n  timeout: 0\n", "prometheus.timeout"),
    ("prometheus:\n  timeout: .nan\n", "prometheus.timeout"),
    ("prometheus:\n  retries: 1000000\n", "prometheus.retries"),
    ("check_interval: .inf\n", "check_interval"),
    ("check_interval: 1ms\n", "check_interval"),
    ("window: " + "9" * 400 + "\n", "window"),
    ("progress_deadline: 0\n", "progress_deadline"),
    ("phases:\n  - {name: a, weight: 100, duration: 0}\n", "phases.0.duration"),
    ("phases:\n  - {name: a, weight: 100, duration: .inf}\n", "phases.0.duration"),
    ("judging:\n  min_requests: 1e300\n", "judging.min_requests"),
    # thresholds within their meaning
    ("phases:\n  - {name: a, weight: 100, duration: 1m, max_error_rate: -0.5}\n", "phases.0.max_error_rate"),
    ("phases:\n  - {name: a, weight: 100, duration: 1m, max_error_rate: 2}\n", "phases.0.max_error_rate"),
    ("phases:\n  - {name: a, weight: 100, duration: 1m, error_rate_increase: -1}\n", "phases.0.error_rate_increase"),
    ("phases:\n  - {name: a, weight: 100, duration: 1m, p95_increase: .inf}\n", "phases.0.p95_increase"),
    ("criteria:\n  error_rate_increase: 5\n", "criteria.error_rate_increase"),
    ("criteria:\n  p99_increase: .inf\n", "criteria.p99_increase"),
    ("services:\n  - name: perception\n    checks:\n      - {name: lag, query: up, threshold: .nan}\n",
     "services.0.checks.0.threshold"),
    # weights strictly increasing to 100, names unique
    ("phases:\n  - {name: a, weight: 10, duration: 1m}\n  - {name: b, weight: 10, duration: 1m}\n"
     "  - {name: c, weight: 100, duration: 1m}\n", "phases"),
    ("phases:\n  - {name: a, weight: 10, duration: 1m}\n  - {name: a, weight: 100, duration: 1m}\n", "phases"),
    ("phases: []\n", "phases"),
    # a window shorter than the checks: every check would look at a window that misses traffic
    ("check_interval: 10m\nwindow: 1m\n", "window"),
])
def test_a_dangerous_setting_is_refused_naming_its_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert f"field '{field}'" in message, message
    assert "\n" not in message


@pytest.mark.parametrize("text", [
    "kube:\n  canary_suffix: '-next'\n",
    "kube:\n  lease_seconds: 86400\n",
    "check_interval: 1\nwindow: 10\nprogress_deadline: 60\n",
    "phases:\n  - {name: only, weight: 100, duration: 2s}\n",
    "prometheus:\n  timeout: 200ms\n",
])
def test_sane_settings_still_load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    load_config(path, env={})


def test_empty_canary_suffix_exits_2_in_one_line_before_touching_anything(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kube:\n  canary_suffix: ''\n")
    done = subprocess.run([sys.executable, "-m", "console.cli", "rollback", "perception", "--yes", "--config",
                           str(path), "--kubeconfig", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "kube.canary_suffix" in done.stderr
    assert "Traceback" not in done.stderr
