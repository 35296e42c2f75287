"""Issue 16: the sequential checks (their statistics hold under continuous looking), the shared-incident rule,
the canary's observed share of traffic and the minutes a quiet phase still needs — on the judge, on the
controller through replay (virtual clock), and on a small seeded sample of the null and delay sets."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from console.commands import _print_verdict
from console.engine.analysis import analyze_once
from console.engine.config import Config, ConfigError, load_config
from console.engine.judge import INCIDENT, evaluate
from console.engine.model import CheckResult, Outcome, ServiceMetrics, TrackWindow
from console.engine.replay import replay_timeline
from console.engine.sequential import SequentialMonitor, confidence_sequence, log_normal_mixture
from console.engine.traffic_share import ShareTracker, share_check
from tests.scenarios import delay_set, null_set, scenario

SERVICE = "perception"


def enforcing(method: str = "sequential") -> Config:
    """Replays of the scenario set: their traffic follows the default phases, so the share may be enforced."""
    return Config.model_validate({"analysis": {"method": method, "traffic_share": "enforce"}})


def window(requests: float, error_rate: float, p95: float = 0.15, p99: float = 0.25, seconds: float = 300.0):
    return TrackWindow(requests, requests * error_rate, p95, p99, seconds)


def phase(config: Config, name: str):
    return next(p for p in config.phases if p.name == name)


# ---------------------------------------------------------------- the statistics

def test_the_confidence_sequence_covers_the_true_rate_at_every_look_at_once():
    rng = random.Random(7)
    alpha, rate, misses = 0.05, 0.01, 0
    for _ in range(150):
        k = n = 0
        for _ in range(40):  # 40 looks, 50 requests apart: a miss at any look counts once
            n += 50
            k += sum(rng.random() < rate for _ in range(50))
            low, high = confidence_sequence(k, n, alpha)
            if not low <= rate <= high:
                misses += 1
                break
    assert misses / 150 <= alpha  # Ville: P(ever out) ≤ alpha, however often it is looked at
    low, high = confidence_sequence(30, 1000, 0.01)
    assert low < 0.03 < high and high - low < 0.05
    assert confidence_sequence(0, 0, 0.01) == (0.0, 1.0)
    assert confidence_sequence(0, 5000, 0.01)[0] == 0.0


def test_the_normal_mixture_rarely_crosses_without_drift_and_soon_with_one():
    rng = random.Random(3)
    threshold = 4.6  # log(1/0.01)
    crossed = 0
    for _ in range(200):
        total = 0.0
        for n in range(1, 200):
            total += rng.gauss(0.0, 1.0)
            if log_normal_mixture(total, float(n), tau=1.0) >= threshold:
                crossed += 1
                break
    assert crossed / 200 <= 0.02
    drift = sum(0.5 + rng.gauss(0.0, 1.0) for _ in range(100))
    assert log_normal_mixture(drift, 100.0, tau=1.0) >= threshold


def _feed(monitor: SequentialMonitor, checks: int, canary: TrackWindow, stable: TrackWindow, limits) -> None:
    for i in range(checks):
        monitor.offer(10.0 * i, canary, stable, limits, stable)


LIMITS = {"error_rate": 0.005, "p95_latency": 0.2, "p99_latency": 0.5, "success_rate": 0.99}


def test_the_error_stream_breaches_on_a_worse_canary_and_not_on_a_shared_incident():
    worse = SequentialMonitor(Config())
    _feed(worse, 12, window(250, 0.05, seconds=10), window(750, 0.005, seconds=10), LIMITS)
    assert worse.error_rate(0.005).breach and worse.success_rate(0.01).breach
    shared = SequentialMonitor(Config())
    _feed(shared, 60, window(250, 0.06, seconds=10), window(750, 0.06, seconds=10), LIMITS)
    assert not shared.error_rate(0.005).breach  # canary == stable: the relative check holds its fire
    held = shared.success_rate(0.01)  # both over the absolute limit, the canary not shown worse: held
    assert not held.breach and held.incident and "incident on both tracks" in held.reason
    thin_stable = SequentialMonitor(Config())  # a worse canary beside a thin stable is no incident
    _feed(thin_stable, 12, window(250, 0.05, seconds=10), window(20, 0.005, seconds=10), LIMITS)
    assert thin_stable.success_rate(0.01).breach
    healthy = SequentialMonitor(Config())
    _feed(healthy, 90, window(250, 0.005, seconds=10), window(750, 0.005, seconds=10), LIMITS)
    assert not healthy.error_rate(0.005).breach and not healthy.success_rate(0.01).breach
    assert not healthy.latency("p95").breach


def test_the_latency_stream_breaches_on_a_slower_canary_compared_over_the_same_interval():
    slow = SequentialMonitor(Config())
    _feed(slow, 10, window(250, 0.005, p95=0.15 * 1.6, p99=0.25 * 1.6, seconds=10),
          window(750, 0.005, seconds=10), LIMITS)
    assert slow.latency("p95").breach
    both = SequentialMonitor(Config())  # an incident slows both tracks: the ratio stays 1
    _feed(both, 30, window(250, 0.005, p95=0.30, p99=0.5, seconds=10), window(750, 0.005, p95=0.30, p99=0.5,
                                                                                seconds=10), LIMITS)
    assert not both.latency("p95").breach


def test_the_budget_is_per_rollout_split_over_every_stream_it_can_start():
    monitor = SequentialMonitor(Config())
    assert monitor.max_starts == 90  # a 15 m phase, a new stream every 10 s
    assert monitor.alpha == pytest.approx(0.01 / (5 * 90))
    for i in range(200):
        monitor.offer(10.0 * i, window(10, 0.0, seconds=10), window(90, 0.0, seconds=10), LIMITS, None)
    assert len(monitor.streams) == 90  # never more streams than the budget was split over


# ---------------------------------------------------------------- the judge: incidents, share, quiet phases

def test_an_absolute_breach_on_both_tracks_holds_with_a_named_problem_instead_of_rolling_back():
    config = Config()
    stable, canary = window(27000, 0.06), window(3000, 0.06)
    verdict = evaluate(config, SERVICE, phase(config, "initial"), stable, canary)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.check("success_rate").result is CheckResult.INSUFFICIENT_DATA
    assert verdict.problems and verdict.problems[0].startswith(INCIDENT) and verdict.reason.startswith(INCIDENT)
    assert "problems" in verdict.to_json()
    worse = evaluate(config, SERVICE, phase(config, "initial"), stable, window(3000, 0.12))
    assert worse.outcome is Outcome.FAIL and worse.check("error_rate").result is CheckResult.FAIL
    carried = evaluate(config, SERVICE, phase(config, "complete"), stable, canary, stable_carried_over=True)
    assert carried.outcome is Outcome.FAIL  # weight 100: no stable traffic now, the absolute rule stands
    clean_stable = evaluate(config, SERVICE, phase(config, "initial"), window(27000, 0.005), canary)
    assert clean_stable.outcome is Outcome.FAIL and not clean_stable.problems


def test_an_absolute_breach_of_one_window_rolls_back_only_once_the_sequential_test_confirms_it():
    """Read at every check, a window's p < alpha_fail is no budget over a rollout (the closed-loop null set rolled
    back two healthy canaries on it): with the sequential method the absolute rule holds until its stream shows
    the breach, and then fails."""
    from console.engine.sequential_judge import UNCONFIRMED, SequentialJudge

    config, initial = enforcing(), phase(enforcing(), "initial")
    stable, canary = window(9000, 0.005), window(964, 18 / 964)  # null-0-593's window: p = 0.0099
    fixed = evaluate(config, SERVICE, initial, stable, canary)
    assert fixed.check("success_rate").result is CheckResult.FAIL and fixed.outcome is Outcome.FAIL
    unconfirmed = SequentialJudge(config)
    for i in range(6):  # the same healthy-looking increments on both tracks: the stream shows no breach
        unconfirmed.offer(10.0 * i, initial, window(100, 0.01, seconds=10), window(900, 0.005, seconds=10), None)
    held = unconfirmed.apply(fixed, initial, stable, canary, stable_live=True)
    assert held.check("success_rate").result is CheckResult.INSUFFICIENT_DATA, held.check("success_rate")
    assert UNCONFIRMED in held.check("success_rate").reason and "p=0.0099" in held.check("success_rate").reason
    assert held.outcome is not Outcome.FAIL
    confirmed = SequentialJudge(config)
    for i in range(12):  # a canary at 5 % errors beside a clean stable: the stream confirms
        confirmed.offer(10.0 * i, initial, window(250, 0.05, seconds=10), window(750, 0.005, seconds=10), None)
    failed = confirmed.apply(evaluate(config, SERVICE, initial, stable, window(3000, 0.05)), initial, stable,
                             window(3000, 0.05), stable_live=True)
    assert failed.check("success_rate").result is CheckResult.FAIL and failed.outcome is Outcome.FAIL


def test_a_canary_short_of_its_share_holds_and_is_named_and_a_quiet_one_is_not_called_short():
    config = Config()
    short = evaluate(config, SERVICE, phase(config, "early"), window(27000, 0.005), window(300, 0.005),
                     traffic=(300, 27000))
    share = short.check("traffic_share")
    assert share.result is CheckResult.INSUFFICIENT_DATA and short.outcome is Outcome.INCONCLUSIVE
    assert "canary serves 1.1 % of requests at weight 25 %" in share.reason and "endpoints" in share.reason
    assert short.problems == (share.reason,)
    assert share_check(2, 18, 25)[0].result is CheckResult.PASS  # 20 requests cannot show a shortfall
    assert share_check(0, 400, 10)[0].result is CheckResult.INSUFFICIENT_DATA  # zero traffic is short
    assert share_check(240, 760, 25)[0].result is CheckResult.PASS
    reported = share_check(300, 27000, 25, enforce=False)
    assert reported[0].result is CheckResult.PASS and "not held" in reported[0].reason
    assert evaluate(config, SERVICE, phase(config, "early"), window(27000, 0.005),
                    window(300, 0.005)).check("traffic_share") is None  # not asked: the judge as it was


def test_the_share_tracker_leaves_out_the_check_that_straddles_a_weight_change():
    tracker = ShareTracker(300.0)
    tracker.reset(0.0)
    recent = (window(0, 0.0, seconds=10), window(1000, 0.0, seconds=10))
    assert tracker.offer(10.0, recent, (None, None)) is None
    assert tracker.offer(20.0, recent, (None, None)) == (0.0, 1000.0)
    no_increments = ShareTracker(300.0)
    no_increments.reset(0.0)
    assert no_increments.offer(60.0, None, (window(10, 0), window(90, 0))) is None  # window: old weight still
    assert no_increments.offer(300.0, None, (window(10, 0), window(90, 0))) == (10, 90)


def test_a_quiet_phase_says_how_many_more_minutes_it_needs_at_the_current_rate():
    config = Config()
    verdict = evaluate(config, SERVICE, phase(config, "initial"), window(2700, 0.005), window(300, 1 / 300))
    assert "need ~773 canary requests (~8 more minutes at 1 canary rps), have 300" in \
        verdict.check("success_rate").reason
    thin = evaluate(config, SERVICE, phase(config, "initial"), window(2700, 0.005), window(150, 0.0))
    assert "need 200 on each, ~2 more minutes at 0.5 canary rps" in thin.check("p95_latency").reason


async def test_analyze_names_a_starved_canary_in_its_json(capsys):
    class Source:
        async def poll(self, services, window_s, extras=None):
            return {SERVICE: ServiceMetrics(SERVICE, stable=window(29700, 0.005), canary=window(300, 0.005))}

    verdict = await analyze_once(Config(), Source(), SERVICE, 25)
    assert any("canary serves 1.0 % of requests at weight 25 %" in p for p in verdict.to_json()["problems"])
    assert verdict.outcome is Outcome.INCONCLUSIVE
    _print_verdict(SERVICE, verdict, True)  # what `analyze --json` prints
    printed = json.loads(capsys.readouterr().out)
    assert printed["problems"] == list(verdict.problems)
    assert printed["reason"].startswith("canary serves 1.0 %")
    assert any(c["name"] == "traffic_share" and c["result"] == "insufficient_data" for c in printed["checks"])


def test_the_method_is_chosen_in_config_and_a_wrong_one_is_named(tmp_path):
    assert Config().analysis.method == "sequential"
    path = tmp_path / "c.yaml"
    path.write_text("analysis:\n  method: bayesian\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "analysis.method" in str(error.value)


# ---------------------------------------------------------------- the controller, through replay

@pytest.mark.parametrize("method", ["sequential", "fixed"])
def test_shared_incidents_are_held_not_rolled_back_and_a_worse_canary_still_is(method):
    for name in ("shared-errors-at-10pct", "shared-errors-incident"):
        result = replay_timeline(enforcing(method), scenario(name).lines())
        assert result.outcome != "rolled_back", (name, result.outcome)
        assert any(INCIDENT in d.reason for d in result.decisions), name
    worse = replay_timeline(enforcing(method), scenario("shared-errors-worse-canary").lines())
    assert worse.outcome == "rolled_back"


def test_starved_and_zero_traffic_canaries_are_never_promoted_and_the_reason_says_why():
    for name in ("starved-1pct", "zero-traffic"):
        result = replay_timeline(enforcing(), scenario(name).lines())
        assert result.outcome != "promoted", name
        assert result.outcome == "paused"
        assert "canary serves 0.0 % of requests" in result.decisions[-1].reason or \
            "canary serves 1." in result.decisions[-1].reason or "canary has no traffic" in result.decisions[-1].reason


def test_replay_only_reports_the_share_and_says_so():
    result = replay_timeline(Config(), scenario("starved-1pct").lines())
    assert any("traffic share reported, never held" in note for note in result.notes)
    assert not any("canary serves 1." in d.reason for d in result.decisions)


def test_sequential_checks_catch_a_regression_sooner_than_the_fixed_window_at_10s_steps():
    delays = {}
    for method in ("fixed", "sequential"):
        for name in ("errors+3pp-10s-at-20m", "latency-x1.5-10s-at-35m"):
            sc = scenario(name)
            result = replay_timeline(enforcing(method), sc.lines())
            rollback = next(d for d in result.decisions if d.action == "rollback")
            delays[method, name] = rollback.t - sc.onset
    for name in ("errors+3pp-10s-at-20m", "latency-x1.5-10s-at-35m"):
        assert 0 < delays["sequential", name] < delays["fixed", name], delays


def test_a_seeded_sample_of_the_null_set_has_no_rollback_and_the_delay_set_no_promotion():
    for sc in null_set(6, seed=5, duration=40 * 60):
        assert replay_timeline(enforcing(), sc.lines()).outcome != "rolled_back", sc
    for sc in delay_set(4, seed=5):
        sc = dataclasses.replace(sc, duration=sc.onset + 10 * 60)
        assert replay_timeline(enforcing(), sc.lines()).outcome != "promoted", sc


def test_replay_runs_either_method_from_the_config_and_notes_which(tmp_path, capsys, monkeypatch):
    from console.cli import main

    path = tmp_path / "t.ndjson"
    path.write_text("\n".join(scenario("errors+3pp-10s-at-20m").lines()) + "\n")
    seen = {}
    for method in ("fixed", "sequential"):
        monkeypatch.setenv("CANARY_CONSOLE_ANALYSIS__METHOD", method)
        assert main(["replay", str(path), "--json"]) == 1  # rolled back either way
        data = json.loads(capsys.readouterr().out)
        assert f"analysis method: {method}" in data["notes"]
        seen[method] = next(d["t"] for d in data["decisions"] if d["action"] == "rollback")
    assert seen["sequential"] < seen["fixed"]


def test_without_increments_the_sequential_method_keeps_the_fixed_verdict():
    monitor = SequentialMonitor(Config())
    assert monitor.offer(10.0, None, None, LIMITS, None) is False and monitor.streams == []


def test_the_panel_warns_with_the_verdicts_named_problem_and_a_port_problem_still_comes_first():
    from console.engine.model import RolloutStatus, ServiceSnapshot, State, Verdict
    from widgets.service_panel import ServicePanel

    verdict = Verdict(Outcome.INCONCLUSIVE, (), "r", problems=("canary serves 1.1 % of requests at weight 25 %",))
    panel = ServicePanel(SERVICE, (10, 25, 50, 75, 100))
    status = RolloutStatus(SERVICE, State.OBSERVING, 25, 1, 25, 1.0, 900.0, "auto", verdict, "why", "a", "b",
                           None, None)
    assert panel._verdict(status, 80).plain == "⚠ canary serves 1.1 % of requests at weight 25 %"
    down = dataclasses.replace(status, snapshot=ServiceSnapshot(SERVICE, problem="cluster unreachable"))
    assert panel._verdict(down, 80).plain == "⚠ cluster unreachable"
