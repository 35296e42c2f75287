"""Tests that problems are types, not words (issue 10): the adapters type what went wrong, exit 4 is chosen
from the type (a message that merely says "unreachable" is not unreachable, and one that does not say it can
be), the metrics adapter — not the judge — fills each check's query, and exit codes and outcomes are defined
once."""

from __future__ import annotations

import pytest

from console.adapters.kube_api import error_for
from console.engine.analysis import analyze_once, could_not_ask
from console.engine.config import Config, PrometheusSettings
from console.engine.exits import OUTCOME_EXIT, Exit, RolloutOutcome, outcome_exit
from console.engine.model import Problem, ServiceMetrics, TrackWindow
from console.engine.ports import ClusterError, MetricsError, problem_of
from console.output import cluster_exit
from tests.prom import free_port
from tests.prom_double import PrometheusDouble, error, healthy, vector

SERVICE = "perception"
GOOD = TrackWindow(requests=30000, errors=15, p95=0.15, p99=0.30)


class OnePoll:
    """A Metrics port that answers every poll with one ServiceMetrics."""

    def __init__(self, answer: ServiceMetrics) -> None:
        self.answer = answer

    async def poll(self, services, window_s, extras=None):
        return {SERVICE: self.answer}


async def test_exit_4_comes_from_the_problem_kind_not_from_its_words():
    said_only = ServiceMetrics(SERVICE, problem="Prometheus unreachable (only in words)", problem_kinds=(Problem.NO_DATA,))
    typed_only = ServiceMetrics(SERVICE, problem="the wire was cut", problem_kinds=(Problem.TIMEOUT,))
    assert not could_not_ask(said_only) and could_not_ask(typed_only)
    words = await analyze_once(Config(), OnePoll(said_only), SERVICE, 25)
    typed = await analyze_once(Config(), OnePoll(typed_only), SERVICE, 25)
    assert words.not_asked is None and words.outcome.value == "inconclusive"
    assert typed.not_asked is Problem.TIMEOUT and typed.reason == "the wire was cut"


async def test_a_track_that_answered_is_never_not_asked():
    partial = ServiceMetrics(SERVICE, stable=GOOD, problem="extra: Prometheus unreachable",
                             problem_kinds=(Problem.UNREACHABLE,))
    assert partial.not_asked and not could_not_ask(partial)


@pytest.mark.parametrize("status,kind", [(401, Problem.UNAUTHORIZED), (403, Problem.FORBIDDEN),
                                         (503, Problem.UNREACHABLE), (429, Problem.UNREACHABLE),
                                         (422, Problem.REJECTED), (404, Problem.REJECTED)])
def test_the_kubernetes_adapter_types_each_failed_answer(status, kind):
    assert error_for(status, b"{}", "GET", "/api/v1/namespaces/butterfly/pods").problem is kind


def test_the_cluster_exit_code_is_chosen_from_the_kind(capsys):
    assert cluster_exit(ClusterError("the server said: unreachable", status=403)) == Exit.USAGE
    assert cluster_exit(ClusterError("no words about it", problem=Problem.UNREACHABLE)) == Exit.UNREACHABLE
    err = capsys.readouterr().err
    assert "the cluster refused: the server said: unreachable" in err and "cluster unreachable: no words" in err


def test_an_untyped_exception_is_a_failure_and_metrics_errors_say_their_kind():
    assert problem_of(ValueError("unreachable")) is Problem.FAILED
    assert MetricsError("x").problem is Problem.UNREACHABLE
    assert MetricsError("x", problem=Problem.WARNED).problem is Problem.WARNED


def test_the_prometheus_unreachable_line_is_worded_from_the_kind():
    """Exit 4's line says "Prometheus unreachable" once: an error of a kind that could not ask is worded so by
    the adapter; any other kind gets the words in front, even when its own text happens to start with them."""
    from console.commands import _prometheus_unreachable

    said = MetricsError("Prometheus unreachable: http://prom:9090: connection refused", problem=Problem.TIMEOUT)
    assert _prometheus_unreachable(said) == str(said)
    rejected = MetricsError("prometheus unreachable? the query's own error text", problem=Problem.REJECTED)
    assert _prometheus_unreachable(rejected) == f"Prometheus unreachable: {rejected}"
    assert _prometheus_unreachable(TimeoutError(), "no answer within 5s") == "Prometheus unreachable: no answer within 5s"


@pytest.fixture
async def double():
    started: list[PrometheusDouble] = []

    async def start(script) -> PrometheusDouble:
        server = await PrometheusDouble(script).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


async def _poll(url: str, extras=None) -> ServiceMetrics:
    from console.adapters.prometheus import PrometheusMetrics

    metrics = PrometheusMetrics(PrometheusSettings(url=url, retries=0), backoff=0.0)
    try:
        return (await metrics.poll([SERVICE, "nexus"], 300, extras))[SERVICE]
    finally:
        await metrics.aclose()


async def test_the_prometheus_adapter_types_what_went_wrong(double):
    closed = await _poll(f"http://127.0.0.1:{free_port()}")
    assert closed.problem_kind is Problem.UNREACHABLE and closed.problem.startswith("Prometheus unreachable")
    refused = await _poll((await double({"requests": lambda r: error(401, "auth", "no")})).url)
    assert refused.problem_kind is Problem.UNAUTHORIZED and could_not_ask(refused)
    rejected = await _poll((await double({"requests": lambda r: error(400, "bad_data", "parse error")})).url)
    assert rejected.problem_kind is Problem.REJECTED and not could_not_ask(rejected)
    warned = await _poll((await double({**healthy(), "errors": lambda r: vector([], ["partial response"])})).url)
    assert warned.problem_kind is Problem.WARNED and not could_not_ask(warned)
    empty = await _poll((await double({"requests": lambda r: vector([])})).url)
    assert empty.problem == "no data for stable or canary" and empty.problem_kinds == (Problem.NO_DATA,)


async def test_the_metrics_adapter_fills_each_checks_query(double):
    server = await double(healthy())
    result = await _poll(server.url, {SERVICE: {"kafka_lag": 'max(lag{service="${SERVICE}"}[${WINDOW}])'}})
    error_rate = result.queries["error_rate"]
    assert 'status=~"5.."' in error_rate and 'service=~"perception"' in error_rate and "[5m]" in error_rate
    assert result.queries["success_rate"] == f"1 - {error_rate}"
    assert "histogram_quantile(0.99" in result.queries["p99_latency"]
    assert result.queries["kafka_lag"] == 'max(lag{service="perception"}[5m])'
    verdict = await analyze_once(Config(), OnePoll(result), SERVICE, 25)
    assert verdict.check("error_rate").query == error_rate and verdict.check("kafka_lag") is None


def test_every_outcome_has_one_exit_code():
    assert set(OUTCOME_EXIT) == set(RolloutOutcome)
    assert [outcome_exit(o) for o in ("promoted", "rolled_back", "paused", "incomplete", "stopped", "already_stable")
            ] == [0, 1, 3, 3, 3, 0]
    assert outcome_exit("not an outcome") == Exit.WAITING
