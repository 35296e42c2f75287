"""Issue 12's smaller ones: ${WINDOW} is substituted in extra-check queries (as ${SERVICE} and ${TRACK}) and
an unknown placeholder is refused at config load naming the field; a token_env that is not set is a
configuration error (exit 2), not an inconclusive check."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main
from console.engine.config import ConfigError, load_config
from tests.test_prometheus_answers import adapter, double, poll_one  # noqa: F401  (double is a fixture)
from tests.prom_double import healthy


async def test_window_is_substituted_in_extra_check_queries(double):  # noqa: F811
    server = await double(healthy())
    await poll_one(adapter(server.url), {"perception": {"kafka_lag": "max(max_over_time(lag{service=\"${SERVICE}\"}[${WINDOW}]))"}})
    extra_query = next(s["query"]["query"] for s in server.seen if "lag" in s["query"]["query"])
    assert extra_query == 'max(max_over_time(lag{service="perception"}[300s]))'


def test_an_unknown_placeholder_is_refused_at_load_naming_the_field(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text("services:\n  - name: perception\n    checks:\n      - name: lag\n"
                    "        query: max(lag[${RANGE}])\n        threshold: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert "services[0].checks[0].query" in message or "query" in message
    assert "${RANGE}" in message and "${WINDOW}" in message


def test_an_unset_token_env_is_a_configuration_error(tmp_path: Path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("prometheus:\n  url: http://127.0.0.1:9\n  token_env: NO_SUCH_TOKEN_VARIABLE\n")
    with pytest.raises(ConfigError, match="NO_SUCH_TOKEN_VARIABLE"):
        load_config(path, env={})
    code = main(["analyze", "perception", "--config", str(path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "prometheus.token_env" in err and "NO_SUCH_TOKEN_VARIABLE" in err and "Traceback" not in err
