"""Tests room: the session-scoped `controlplane` fixture. One real control plane for the whole session,
started in a temp dir and stopped at the end. Skipped only when `go` is not on PATH on a developer's
machine; under CI=true that is a failure, as is any failure to build or start, anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.controlplane.launcher import ControlPlane, go_available


@pytest.fixture(scope="session")
def controlplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    if not go_available():
        if os.environ.get("CI") == "true":
            pytest.fail("Go is not on PATH under CI=true: the real control plane cannot be built")
        pytest.skip("Go is not on PATH: the real control plane is built from Go modules (tests/controlplane/build.sh)")
    plane = ControlPlane.start(tmp_path_factory.mktemp("controlplane"))
    try:
        yield plane
    finally:
        plane.stop()
