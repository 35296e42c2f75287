"""Every error path is one clear line and a documented exit code; a traceback only with --debug (issue 13):
a binary config file, malformed kubeconfigs, a Prometheus URL that is not http(s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console import cli


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def _assert_one_line(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("canary-console") and done.stderr.count("\n") == 1, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def test_a_binary_config_file_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    _assert_one_line(_run("status", "--config", str(path), "--demo"), 2, str(path))


@pytest.mark.parametrize("text", [
    "apiVersion: v1\nclusters: 5\n",
    "\x00\x01\x02",
    "clusters:\n- cluster: {server: 'http://127.0.0.1:1'}\n  name: x\ncontexts: [{name: c, context: {cluster: x, "
    "user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: [1, 2]}}]\n",
    "- just\n- a list\n",
])
def test_a_malformed_kubeconfig_is_a_configuration_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(text.encode())
    _assert_one_line(_run("status", "--kubeconfig", str(path)), 2, "kubeconfig")


def test_a_prometheus_url_that_is_not_http_names_the_field(tmp_path: Path) -> None:
    done = _run("analyze", "perception", "--prometheus", "htp://127.0.0.1:9")
    _assert_one_line(done, 2, "--prometheus")  # the option names itself (issue 17)


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("something \x1b[31mwent\x07 wrong")

    monkeypatch.setattr(cli, "_dispatch", broken)
    assert cli.main(["status", "--demo"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError" in err and "--debug" in err and "\x1b" not in err
    with pytest.raises(RuntimeError):
        cli.main(["status", "--demo", "--debug"])
