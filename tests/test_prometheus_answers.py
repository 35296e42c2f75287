"""Tests for the Prometheus adapter against bad and odd answers: a stopped Prometheus (closed port), a hung
one, one answering 5xx, HTML, NaN, Inf, warnings, empty results, one track missing — and the production
settings (path prefix, bearer token from a file or the environment, basic auth, extra headers, retries,
polls that never overlap). Every case comes back as data with a reason, never as an exception or a pass.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from console.adapters.prometheus import PrometheusMetrics, services_regex
from console.engine.analysis import could_not_ask
from console.engine.config import PrometheusSettings
from tests.prom import free_port
from tests.prom_double import PrometheusDouble, error, healthy, vector

SERVICES = ["perception", "nexus"]


@pytest.fixture
async def double():
    started: list[PrometheusDouble] = []

    async def start(script, prefix: str = "") -> PrometheusDouble:
        server = await PrometheusDouble(script, prefix).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


def adapter(url: str, **settings) -> PrometheusMetrics:
    return PrometheusMetrics(PrometheusSettings(url=url, **settings), backoff=0.0)


async def poll_one(metrics: PrometheusMetrics, extras=None):
    try:
        return (await metrics.poll(SERVICES, 300, extras))["perception"]
    finally:
        await metrics.aclose()


async def test_healthy_answer_becomes_both_windows(double):
    server = await double(healthy())
    result = await poll_one(adapter(server.url), {"perception": {"kafka_lag": "max(lag{service=\"${SERVICE}\"})"}})
    assert result.problem is None
    assert (result.stable.requests, result.stable.errors, result.stable.p95) == (10000, 50, 0.2)
    assert result.canary.error_rate == pytest.approx(0.04)
    assert result.canary.p99 == 0.5 and result.canary.seconds == 300
    assert result.extras == {"kafka_lag": 3.0}
    extra_query = next(s["query"]["query"] for s in server.seen if "lag" in s["query"]["query"])
    assert extra_query == 'max(lag{service="perception"})'


async def test_stopped_prometheus_is_unreachable_not_an_exception():
    metrics = adapter(f"http://127.0.0.1:{free_port()}", retries=1)
    result = await poll_one(metrics)
    assert result.stable is None and result.canary is None
    assert result.problem.startswith("Prometheus unreachable")
    assert could_not_ask(result)
    assert metrics.queries == 4 * 2  # one retry per metric


async def test_hung_prometheus_times_out(double):
    async def hang(request):
        await server.hang.wait()
        return vector([])
    server = await double({"requests": hang, "errors": hang, "p95": hang, "p99": hang})
    result = await poll_one(adapter(server.url, timeout=0.2, retries=0))
    assert result.canary is None
    assert "Prometheus unreachable" in result.problem and "within 0.2s" in result.problem


async def test_server_errors_are_retried_then_reported(double):
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        return error(503, "unavailable", "overloaded") if calls["n"] <= 2 else healthy()["requests"](request)
    script = {**healthy(), "requests": flaky}
    server = await double(script)
    result = await poll_one(adapter(server.url, retries=2))
    assert result.problem is None and result.canary.requests == 1000
    server.script["requests"] = lambda r: error(500, "internal", "boom")
    result = await poll_one(adapter(server.url, retries=2))
    assert result.canary is None and "HTTP 500" in result.problem and "boom" in result.problem


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
async def test_non_finite_requests_are_no_data(double, value):
    script = {**healthy(), "requests": lambda r: vector([("perception", "stable", "100"),
                                                          ("perception", "canary", value)])}
    result = await poll_one(adapter((await double(script)).url))
    assert result.stable is not None and result.canary is None
    assert result.problem == "no data for canary (NaN or Inf)"


async def test_non_finite_quantiles_are_missing_values(double):
    script = {**healthy(), "p95": lambda r: vector([("perception", "stable", "NaN"), ("perception", "canary", "0.3")]),
              "p99": lambda r: vector([("perception", "canary", "+Inf")])}
    result = await poll_one(adapter((await double(script)).url))
    assert result.stable.p95 is None and result.canary.p95 == 0.3
    assert result.canary.p99 is None and result.stable.p99 is None


async def test_empty_results_and_a_missing_track(double):
    server = await double({})
    result = await poll_one(adapter(server.url))
    assert (result.stable, result.canary, result.problem) == (None, None, "no data for stable or canary")
    assert not could_not_ask(result)
    server.script.update(healthy())
    server.script["requests"] = lambda r: vector([("perception", "stable", "100")])
    result = await poll_one(adapter(server.url))
    assert result.stable.requests == 100 and result.canary is None and result.problem == "no data for canary"


async def test_no_5xx_series_means_no_errors(double):
    result = await poll_one(adapter((await double({**healthy(), "errors": lambda r: vector([])})).url))
    assert result.problem is None and result.canary.errors == 0 and result.canary.requests == 1000


async def test_warnings_make_data_untrusted(double):
    script = {**healthy(), "errors": lambda r: vector([("perception", "canary", "1")], ["partial response: store down"])}
    result = await poll_one(adapter((await double(script)).url))
    assert result.stable is None and result.canary is None
    assert result.problem == "Prometheus warned: partial response: store down"


async def test_quantile_failure_keeps_counts_but_says_so(double):
    script = {**healthy(), "p99": lambda r: error(422, "execution", "query timed out in expression evaluation")}
    result = await poll_one(adapter((await double(script)).url))
    assert result.canary.requests == 1000 and result.canary.p99 is None and result.canary.p95 == 0.25
    assert result.problem.startswith("p99: Prometheus rejected the query (execution)")


async def test_html_from_a_wrong_path_names_the_prefix(double):
    server = await double(healthy(), prefix="/prometheus")
    result = await poll_one(adapter(server.url, retries=0))
    assert "not Prometheus' API" in result.problem and "path prefix" in result.problem
    result = await poll_one(adapter(server.url, path_prefix="/prometheus/"))
    assert result.problem is None and server.seen[-1]["path"] == "/prometheus/api/v1/query"


async def test_rejected_query_is_not_retried(double):
    server = await double({"requests": lambda r: error(400, "bad_data", "parse error at char 3")})
    metrics = adapter(server.url, retries=3)
    result = await poll_one(metrics)
    assert "Prometheus rejected the query (bad_data): parse error" in result.problem
    assert metrics.queries == 4


async def test_extra_checks_need_exactly_one_value(double):
    server = await double({**healthy(), "extra": lambda r: vector([("perception", "canary", "1"),
                                                                    ("perception", "stable", "2")])})
    result = await poll_one(adapter(server.url), {"perception": {"lag": "lag", "nexus_only": "x"}, "other": {"y": "y"}})
    assert result.extras == {"lag": None, "nexus_only": None}
    assert "lag: 2 series (aggregate it to one)" in result.problem
    assert len(server.seen) == 4 + 2  # the unknown service "other" is not asked about


async def test_token_from_file_is_sent_and_never_shown(double, tmp_path):
    token = "s3cr3t-token-value"
    (tmp_path / "token").write_text(token + "\n")
    server = await double({**healthy(), "requests": lambda r: error(500, "internal", f"bad header {r.headers['Authorization']}")})
    metrics = adapter(server.url, token_file=str(tmp_path / "token"), retries=0, headers={"X-Scope-OrgID": "team-a"})
    assert token not in repr(metrics)
    result = await poll_one(metrics)
    assert all(s["headers"]["Authorization"] == f"Bearer {token}" for s in server.seen)
    assert all(s["headers"]["X-Scope-OrgID"] == "team-a" for s in server.seen)
    assert token not in result.problem and "bad header Bearer ***" in result.problem


async def test_rotated_token_file_is_reread(double, tmp_path):
    server = await double(healthy())
    (tmp_path / "token").write_text("first")
    metrics = adapter(server.url, token_file=str(tmp_path / "token"))
    await metrics.poll(SERVICES, 60)
    (tmp_path / "token").write_text("second-longer")
    await poll_one(metrics)
    assert server.seen[0]["headers"]["Authorization"] == "Bearer first"
    assert server.seen[-1]["headers"]["Authorization"] == "Bearer second-longer"


async def test_token_from_environment_and_basic_auth(double, tmp_path, monkeypatch):
    server = await double(healthy())
    monkeypatch.setenv("PROM_TOKEN", "env-token")
    await poll_one(adapter(server.url, token_env="PROM_TOKEN"))
    assert server.seen[-1]["headers"]["Authorization"] == "Bearer env-token"
    (tmp_path / "password").write_text("pa55")
    await poll_one(adapter(server.url, username="viewer", password_file=str(tmp_path / "password")))
    assert server.seen[-1]["headers"]["Authorization"] == "Basic dmlld2VyOnBhNTU="  # viewer:pa55
    monkeypatch.setenv("PROM_TOKEN", "")
    result = await poll_one(adapter(server.url, token_env="PROM_TOKEN"))
    assert "PROM_TOKEN" in result.problem and result.canary is None


async def test_refused_credentials_say_so(double):
    server = await double({name: (lambda r: web.Response(status=401, text="Unauthorized"))
                           for name in ("requests", "errors", "p95", "p99")})
    result = await poll_one(adapter("http://user:hunter2@" + server.url.removeprefix("http://"), retries=0))
    assert "HTTP 401" in result.problem and "check the token" in result.problem
    assert "hunter2" not in result.problem
    assert server.seen[0]["headers"]["Authorization"].startswith("Basic ")


async def test_polls_never_overlap(double):
    release = asyncio.Event()

    async def gated(request):
        if server.inflight >= 4:
            release.set()
        try:
            await asyncio.wait_for(release.wait(), 2.0)
        except asyncio.TimeoutError:
            pass
        return healthy()["requests"](request)
    server = await double({name: gated for name in ("requests", "errors", "p95", "p99")})
    metrics = adapter(server.url)
    first, second = await asyncio.gather(metrics.poll(SERVICES, 60), metrics.poll(SERVICES, 60))
    await metrics.aclose()
    assert len(server.seen) == 8 and server.max_inflight == 4
    assert first["perception"].canary is not None and second["perception"].canary is not None


def test_services_regex_escapes_for_promql():
    assert services_regex(["perception", "odd.name"]) == "perception|odd\\\\.name"


def test_bad_settings_fail_early(tmp_path):
    with pytest.raises(ValueError, match="no Prometheus URL"):
        PrometheusMetrics(PrometheusSettings())
    with pytest.raises(ValueError, match="not an http"):
        PrometheusMetrics("ftp://example")
    with pytest.raises(ValueError, match="cannot load the CA file"):
        PrometheusMetrics(PrometheusSettings(url="https://127.0.0.1:1", ca_file=str(tmp_path / "nope.pem")))
