"""Fixtures shared by the whole suite."""

from tests.controlplane.fixture import controlplane  # noqa: F401  (the real control plane, session-scoped)
