"""Test room: a real Prometheus (Debian's /usr/bin/prometheus) for the tests that need one.

``PrometheusServer`` starts it on a free loopback port with its own temporary TSDB and a config scraping the
given targets every second, waits for /-/ready and stops it afterwards. The ``prometheus`` fixture is a
factory: ``server = prometheus(["127.0.0.1:9464"])``. Under CI=true a missing binary fails the test; on a
developer's machine it skips. ``wait_until`` polls a condition (Prometheus scrapes in wall time, so tests
wait for data to appear, never for a fixed time).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from console.engine.config import Config, Phase, Service
from console.sim.exporter import scrape_config

BINARY = os.environ.get("PROMETHEUS_BINARY", "/usr/bin/prometheus")
PATIENCE = 60.0  # seconds before a condition that should hold in a few seconds is declared broken


def require_prometheus() -> str:
    found = BINARY if Path(BINARY).exists() else shutil.which("prometheus")
    if found:
        return found
    message = f"Debian's prometheus is needed ({BINARY} not found; .ci/run installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prometheus_yaml(targets: Sequence[str], interval: str = "1s") -> str:
    """A whole prometheus.yml: the sandbox's own scrape config (so the tests prove what it prints works)."""
    return f"global:\n  evaluation_interval: {interval}\n" + scrape_config(targets, interval)


class PrometheusServer:
    """One Prometheus process on 127.0.0.1; ``url`` is its base URL."""

    def __init__(self, workdir: Path, targets: Sequence[str], interval: str = "1s") -> None:
        self.binary = require_prometheus()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_text(prometheus_yaml(targets, interval), encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrometheusServer:
        self.process = subprocess.Popen(
            [self.binary, f"--config.file={self.workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=warn", "--storage.tsdb.retention.time=1h"],
            stdout=subprocess.DEVNULL, stderr=open(self.workdir / "prometheus.log", "wb"))
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(self.workdir / 'prometheus.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # waiting for a process to listen, not for time to pass
        raise RuntimeError("prometheus did not become ready")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    started: list[PrometheusServer] = []

    def start(targets: Sequence[str], interval: str = "1s") -> PrometheusServer:
        server = PrometheusServer(tmp_path / f"prometheus-{len(started)}", targets, interval)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def short_phase_config(services: Sequence[str], phase_s: float) -> Config:
    """The runbook's phases and triggers with ``phase_s``-second phases, a 10 s window, checks every second:
    a whole rollout in well under a minute of wall time."""
    phases = [Phase(name="initial", weight=10, duration=phase_s, max_error_rate=0.01),
              Phase(name="early", weight=25, duration=phase_s, error_rate_increase=0.005),
              Phase(name="mid", weight=50, duration=phase_s, p95_increase=0.20, p99_increase=0.20),
              Phase(name="late", weight=75, duration=phase_s, max_error_rate=0.01, error_rate_increase=0.005),
              Phase(name="complete", weight=100, duration=2.0)]
    return Config(services=[Service(name=s) for s in services], phases=phases, window=10, check_interval=1,
                  progress_deadline=60)


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str, every: float = 0.2,
                     patience: float = PATIENCE) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if it never does (``patience`` is a bound
    against hanging, not a performance assertion)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(every)
    pytest.fail(f"gave up waiting for {what}")
