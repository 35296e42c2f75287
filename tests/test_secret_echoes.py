"""Secrets a server echoes are redacted before they are printed or journalled (issue 13): a Prometheus that
echoes the Authorization header (basic auth, in its error and in a warning), and an API server that echoes
the bearer token, bare, in an error."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.kubedouble.harness import seeded_double
from tests.prom_double import PrometheusDouble, error, healthy, vector
from tests.test_cli_kube import _canary_at, _cli


async def test_a_prometheus_that_echoes_the_authorization_header_has_it_redacted(tmp_path: Path) -> None:
    def echo(request):
        return error(500, "internal", f"cannot serve {request.headers.get('Authorization')} today")

    script = {**healthy(), "requests": echo}
    double = await PrometheusDouble(script).start()
    try:
        url = double.url.replace("http://", "http://admin:s3cret-pass@")
        code, out, err = await _cli("analyze", "perception", "--prometheus", url, "--weight", "25", "--json")
    finally:
        await double.stop()
    basic = base64.b64encode(b"admin:s3cret-pass").decode()
    assert any(h.get("Authorization") == f"Basic {basic}" for h in (s["headers"] for s in double.seen))
    assert code == 4, out + err
    for text in (out, err):
        assert basic not in text and basic[:12] not in text and "s3cret-pass" not in text, text


async def test_a_prometheus_warning_that_echoes_the_token_is_redacted(tmp_path: Path) -> None:
    token = "tok-" + "z" * 40
    token_file = tmp_path / "token"
    token_file.write_text(token)
    config = tmp_path / "c.yaml"
    config.write_text(f"prometheus:\n  token_file: {token_file}\n")

    def warn(request):
        return vector([("perception", "stable", "10000"), ("perception", "canary", "1000")],
                      warnings=[f"slow for {request.headers.get('Authorization')}", f"token was {token}"])

    double = await PrometheusDouble({**healthy(), "requests": warn}).start()
    try:
        code, out, err = await _cli("analyze", "perception", "--prometheus", double.url, "--config", str(config),
                                    "--weight", "25", "--json")
    finally:
        await double.stop()
    assert token not in out + err, out + err


async def test_an_api_server_that_echoes_the_bearer_token_bare_has_it_redacted(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    async with seeded_double() as double:
        await _canary_at(double, tmp_path, 25)
        fault = double.fail(r"/ingresses/perception-canary$", 403, times=1000, method="PATCH")
        fault.message = f"token {double.token} may not patch"
        deny = double.fail(r"/deployments$", 500, times=1000, method="GET")
        deny.message = f"backend refused {double.token}"
        kubeconfig = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        status = await _cli("status", "--json", "--kubeconfig", kubeconfig)
        rollback = await _cli("rollback", "perception", "--yes", "--json", "--kubeconfig", kubeconfig,
                              env={"CANARY_CONSOLE_JOURNAL": str(journal)})
        token = double.token
    assert status[0] == 4 and rollback[0] != 0, (status, rollback)
    assert "backend refused" in json.dumps(json.loads(status[1])), status[1]
    for text in (*status[1:], *rollback[1:], journal.read_text() if journal.exists() else ""):
        assert token not in text, text
