"""Text from outside is inert in every output (issue 13): a hostile canary version or Lease holderIdentity
puts no raw ESC or BEL on stdout/stderr of `status` (table and --json) or of `run --headless`; text output
shows the escapes visibly, JSON escapes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from console.adapters.kube_objects import micro_time
from console.engine.text import inert
from tests.kubedouble.harness import seeded_double
from tests.test_cli_kube import _canary_at, _cli

HOSTILE = "1.2.4\x1b]0;pwned\x07\x1b[2J\u202e"


def test_inert_shows_control_and_bidi_characters_as_escapes() -> None:
    assert inert("a\x1b[31mb\x07c\u202ed\te") == "a\\x1b[31mb\\x07c\\u202ed\te"
    assert inert("x" * 50, 10) == "x" * 9 + "…"


def _assert_inert(*texts: str) -> None:
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, repr(text)


async def test_status_shows_a_hostile_version_and_lease_holder_visibly_escaped(tmp_path: Path) -> None:
    import time

    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)
        deploy = double.obj("deployments", "perception-canary")
        deploy["spec"]["template"]["spec"]["containers"][0]["image"] = f"ghcr.io/x/perception:{HOSTILE}"
        double.store.put("deployments", "butterfly", deploy, created=False)
        lease = double.obj("leases", "canary-console-perception")
        lease["spec"].update(holderIdentity="mallory\x1b[2J\x07", renewTime=micro_time(time.time()),
                             leaseDurationSeconds=3600)
        double.store.put("leases", "butterfly", lease, created=False)
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        table = await _cli("status", "--kubeconfig", kubeconfig)
        as_json = await _cli("status", "--json", "--kubeconfig", kubeconfig)
    _assert_inert(table[1], table[2], as_json[1], as_json[2])
    assert "\\x1b]0;pwned\\x07" in table[1], table[1]
    perception = json.loads(as_json[1])["services"][0]
    assert perception["canary"]["version"] == HOSTILE  # the JSON holds the value, escaped on the wire


def test_headless_run_prints_a_hostile_version_escaped(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "console.cli", "run", "perception", "--version", HOSTILE,
                           "--headless", "--demo", "--scenario", "error-regression", "--speed", "1000"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    _assert_inert(done.stdout, done.stderr)
    # the version is refused as a tag now (issue 17) and the refusal shows it escaped, never raw
    assert "1.2.4\\x1b]0;pwned\\x07" in done.stdout + done.stderr, (done.stdout, done.stderr)
