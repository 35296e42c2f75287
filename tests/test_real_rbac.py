"""The console's user rights on the real control plane: with the watcher Role every action is refused by
the real RBAC authorizer, the console names the verb and resource it lacks (exit 2) and nothing is
written; with --read-only no action command writes, even with a user allowed to write (the read-only
dashboard with key presses is tests/test_real_who_drives.py's)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from console.adapters.kube import connect
from console.engine.config import Config
from tests.controlplane.console_run import by_user, console, service_account, writes
from tests.controlplane.launcher import NAMESPACE, ControlPlane

pytestmark = pytest.mark.controlplane

SERVICE = "plato"
ACTIONS = (["run", SERVICE, "--version", "1.2.4", "--headless"], ["advance", SERVICE], ["pause", SERVICE],
           ["resume", SERVICE], ["approve", SERVICE], ["rollback", SERVICE, "--yes"], ["promote", SERVICE, "--yes"],
           ["delete-canary", SERVICE, "--yes"], ["take-over", SERVICE, "--yes"])
# what the server's 403 names: `cannot VERB resource "RESOURCE"`, which the console must pass on
NAMES_VERB_AND_RESOURCE = re.compile(r"\b(get|list|watch|create|update|patch|delete)\b.*\b(leases|deployments|"
                                     r"deployments/scale|ingresses|services|events|configmaps|httproutes)\b")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def canary_under_way(controlplane: ControlPlane) -> AsyncIterator[None]:
    """A canary of plato at 25 %, started by a driver console that has since exited (its Lease released),
    so every action has something to act on and only the authorizer stands in the way."""
    driver = await connect(Config(), read_only=False, kubeconfig=str(controlplane.kubeconfigs["canary-console-driver"]),
                           namespace=NAMESPACE, console_id="seeding-driver")
    try:
        await driver.start_canary(SERVICE, "1.2.4", 25)
    finally:
        await driver.aclose()
    controlplane.kubectl("wait", "-n", NAMESPACE, "--for=condition=Available", f"deploy/{SERVICE}-canary",
                         "--timeout=120s")
    yield
    for kind in ("deploy", "svc", "ingress"):
        controlplane.kubectl("delete", kind, f"{SERVICE}-canary", "-n", NAMESPACE, "--ignore-not-found")


def _accepted_writes(events: list[dict]) -> list[dict]:
    return [e for e in writes(events) if (e.get("responseStatus") or {}).get("code", 0) < 400]


# Every action the console has, with what the real authorizer must make of it under the watcher Role.
AUTHORIZER_REFUSES = [
    pytest.param(["take-over", SERVICE, "--yes"], id="take-over"),
    # no Prometheus here: advance and promote are forced (refused on missing data otherwise, issue 12), so the
    # write is tried; advance names the refused write (it said "see the error", issue 13)
    pytest.param(["advance", SERVICE, "--force", "--yes"], id="advance"),
    pytest.param(["resume", SERVICE], id="resume"),  # a refused record save is no "done" (was exit 0)
    pytest.param(["rollback", SERVICE, "--yes"], id="rollback"),  # fixed by issue 13: a 403 ends it at once
    pytest.param(["promote", SERVICE, "--force", "--yes"], id="promote"),  # a 403 is not retried (was, past 60 s)
]
# A canary without a rollout record is read as paused: these are refused by the console's own state
# machine before any request (exit 2 and nothing written; the authorizer is not reached); `run` stops at
# "paused ... resume to drive it" and exits 3 (waiting for a person), also without a write.
REFUSED_BEFORE_ASKING = [pytest.param(["run", SERVICE, "--version", "1.2.4", "--headless"], 3, id="run"),
                         pytest.param(["pause", SERVICE], 2, id="pause"),
                         pytest.param(["approve", SERVICE], 2, id="approve"),
                         pytest.param(["delete-canary", SERVICE, "--yes"], 2, id="delete-canary")]


def _as_watcher(plane: ControlPlane, action: list[str]):
    mark = plane.audit_mark()
    done = console(*action, "--kubeconfig", str(plane.kubeconfigs["canary-console-watcher"]), "--namespace",
                   NAMESPACE, timeout=60)
    return done, by_user(plane.audit_events(mark), service_account("canary-console-watcher"))


@pytest.mark.parametrize("action", AUTHORIZER_REFUSES)
def test_the_watcher_role_is_refused_by_the_real_authorizer_and_writes_nothing(
        controlplane: ControlPlane, canary_under_way: None, action: list[str]) -> None:
    done, watcher = _as_watcher(controlplane, action)
    assert done.returncode == 2, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert NAMES_VERB_AND_RESOURCE.search(done.stderr), done.stderr
    assert "Traceback" not in done.stderr
    assert _accepted_writes(watcher) == []
    refused = [e for e in watcher if (e.get("responseStatus") or {}).get("code") == 403]
    assert refused, "no request was refused by the authorizer: the console refused on its own"


@pytest.mark.parametrize(("action", "code"), REFUSED_BEFORE_ASKING)
def test_the_watcher_role_actions_refused_before_asking_write_nothing(
        controlplane: ControlPlane, canary_under_way: None, action: list[str], code: int) -> None:
    done, watcher = _as_watcher(controlplane, action)
    assert done.returncode == code, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr and SERVICE in done.stderr + done.stdout
    assert writes(watcher) == []


READ_ONLY = (["status", "--json"], ["status", SERVICE], ["analyze", SERVICE], *ACTIONS)


def test_read_only_sends_no_write_whatever_the_command(controlplane: ControlPlane, canary_under_way: None) -> None:
    """With the driver Role (allowed to write), --read-only: zero writes from its user in the audit log."""
    mark = controlplane.audit_mark()
    codes, said = {}, {}
    for command in READ_ONLY:
        done = console(*command, "--read-only", "--kubeconfig", str(controlplane.kubeconfigs["canary-console-driver"]),
                       "--namespace", NAMESPACE, timeout=120)
        name = command[0] + (" --json" if "--json" in command else "")
        codes[name], said[name] = done.returncode, done.stderr[-600:]
        assert "Traceback" not in done.stderr, done.stderr
    driver = by_user(controlplane.audit_events(mark), service_account("canary-console-driver"))
    assert writes(driver) == [], [(e["verb"], e["objectRef"]) for e in writes(driver)]
    assert driver, "the console sent no request at all: nothing was tested"
    # status answers (0, or 1/3 when an earlier test on the shared plane left a service failing or waiting)
    assert codes["status --json"] in (0, 1, 3) and all(codes[a[0]] == 2 for a in ACTIONS), (codes, said)
