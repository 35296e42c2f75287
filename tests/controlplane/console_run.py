"""Tests room: running the installed `canary-console` against the real control plane as a person would,
and reading who wrote what from the apiserver's audit log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

EXE = shutil.which("canary-console")
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def console(*args: str, timeout: float = 180, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`canary-console ARGS` as a subprocess (the installed entry point, else the module), no stdin."""
    command = [EXE] if EXE else [sys.executable, "-m", "console.cli"]
    return subprocess.run([*command, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def service_account(role: str, namespace: str = "butterfly") -> str:
    return f"system:serviceaccount:{namespace}:{role}"


def by_user(events: Iterable[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("user", {}).get("username") == user]


def writes(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("verb") in WRITE_VERBS]


def verb_resource(event: dict[str, Any]) -> tuple[str, str, str]:
    """(verb, API group, resource[/subresource]) of an audit entry, as an RBAC rule names them."""
    ref = event.get("objectRef") or {}
    resource = ref.get("resource", "")
    if ref.get("subresource"):
        resource += "/" + ref["subresource"]
    return event["verb"], ref.get("apiGroup", ""), resource


def short_config(path: Path, services: Iterable[str | dict[str, Any]], phase_s: float = 5.0, **extra: Any) -> Path:
    """The runbook's phases with `phase_s`-second phases, a 10 s window, checks every second; a service is
    a name or a whole service entry (with its extra checks)."""
    phases = [{"name": "initial", "weight": 10, "duration": phase_s, "max_error_rate": 0.01},
              {"name": "early", "weight": 25, "duration": phase_s, "error_rate_increase": 0.005},
              {"name": "mid", "weight": 50, "duration": phase_s, "p95_increase": 0.20, "p99_increase": 0.20},
              {"name": "late", "weight": 75, "duration": phase_s, "max_error_rate": 0.01,
               "error_rate_increase": 0.005},
              {"name": "complete", "weight": 100, "duration": 2.0}]
    # the sandbox's simulated traffic follows its own weights, not the cluster's: the canary's share is only
    # reported, as in replay (docs/judging.md, "Traffic share")
    config = {"phases": phases, "window": "10s", "check_interval": "1s", "progress_deadline": "60s",
              "analysis": {"traffic_share": "report"},
              "services": [s if isinstance(s, dict) else {"name": s} for s in services], **extra}
    path.write_text(yaml.safe_dump(config))
    return path
