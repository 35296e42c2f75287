"""`canary-console sandbox`: the simulated world's metrics served in Prometheus' text format with the
runbook's names and labels, the scrape config printed, and a busy port said plainly."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

from tests.prom import free_port

CODE = "import sys; from console.cli import main; sys.exit(main(sys.argv[1:]))"


def _scrape(port: int) -> str:
    """The exposition once it holds samples (the child needs a moment to bind, the world a second of
    traffic); bounded at about a minute, so a loaded CI machine is not mistaken for a broken sandbox."""
    text = ""
    for _ in range(1200):
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            if "_count{" in text:
                return text
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the sandbox never served samples: {text[:300]}")


def test_sandbox_serves_the_runbooks_metrics_and_prints_a_scrape_config() -> None:
    port = free_port()
    child = subprocess.Popen([sys.executable, "-c", CODE, "sandbox", "--port", str(port), "--start"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        text = _scrape(port)
    finally:
        child.terminate()
        out, err = child.communicate(timeout=30)
    assert 'http_server_requests_seconds_count{' in text and 'http_server_requests_seconds_bucket{' in text
    for label in ('service="perception"', 'track="stable"', 'status="200"', 'le="+Inf"'):
        assert label in text
    assert "scrape_configs:" in out and f"127.0.0.1:{port}" in out
    assert "Traceback" not in err


def test_sandbox_on_a_busy_port_exits_2_with_a_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-c", CODE, "sandbox", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
