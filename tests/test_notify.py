"""Tests of the notifications rooms (engine/notable.py, engine/sinks.py, adapters/notify.py): whole rollouts on
the virtual clock with the fakes, each sink posting to a real HTTP receiver on loopback (tests/receivers.py).

The payloads are checked against each service's documented format (Slack: ``text`` + Block Kit ``blocks``;
PagerDuty Events API v2: ``routing_key``, ``event_action``, ``dedup_key``, ``payload.summary/source/severity``;
the webhook: its body's HMAC-SHA256 signature recomputed with the secret) for an automatic rollback, an
approval wait then approval, and a promotion. Receivers that answer 500, hang, or are not there leave the
rollout's timing and the journal exactly as a run without sinks.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from console.adapters.notify import sign
from console.engine.audit import Journal
from console.engine.clock import VirtualClock
from console.engine.config import Config, Service
from console.engine.model import Event, EventKind, State
from console.engine.notify_config import Notification
from console.engine.session import Session
from console.wiring import add_notifications
from tests.fakes import FakeCluster, FakeMetrics, Rig, Traffic
from tests.receivers import Receiver, down_url

SLACK_SECRET = "T0SLACKSECRET/B0HOOKSECRETXYZ"
PD_KEY = "R0UTINGKEYSECRET0123456789abcd"
HMAC_KEY = "HMACSHAREDSECRET-42"
SECRETS = (SLACK_SECRET, PD_KEY, HMAC_KEY)

ERRORS_AT_25 = {"perception": lambda _t, w: Traffic(error_rate=0.04) if w >= 25 else Traffic()}
P99_REGRESSION = {"perception": lambda _t, _w: Traffic(p95=0.15 * 1.05, p99=0.22 * 1.8)}


def sink_items(tmp_path: Path, monkeypatch, slack: str, pagerduty: str, webhook: str, **policy: Any) -> list[dict]:
    """One sink of each type; the Slack URL from a file, the PagerDuty key from the environment, the HMAC key
    from a file (the three ways a secret may be given)."""
    (tmp_path / "slack-url").write_text(slack.rstrip("/") + "/services/" + SLACK_SECRET + "\n")
    (tmp_path / "hmac").write_text(HMAC_KEY)
    monkeypatch.setenv("TEST_PD_ROUTING_KEY", PD_KEY)
    return [
        {"type": "slack", "url_file": str(tmp_path / "slack-url"), **policy},
        {"type": "pagerduty", "url": pagerduty.rstrip("/") + "/v2/enqueue", "routing_key_env": "TEST_PD_ROUTING_KEY",
         **policy},
        {"type": "webhook", "url": webhook, "secret_file": str(tmp_path / "hmac"), **policy},
    ]


def make(tmp_path: Path, *, canary=None, sinks: list[dict] | None = None, **config: Any):
    config_obj = Config(services=[Service(name="perception")], journal=str(tmp_path / "journal.jsonl"),
                        notifications=[Notification(**item) for item in sinks or []], **config)
    clock = VirtualClock()
    cluster = FakeCluster(clock, ["perception"])
    metrics = FakeMetrics(cluster, rps=400.0, canary=canary or {})
    session = Session(config_obj, cluster, metrics, clock, actor="alice", journal=Journal(config_obj.journal_path()))
    add_notifications(session, config_obj)
    events: list[Event] = []
    session.bus.subscribe(events.append)
    return session, cluster, clock, events


async def run_rollout(session: Session, clock: VirtualClock, until: float) -> Rig:
    rig = Rig(session, clock)
    await session.step()
    session.announce("perception", "1.2.4")
    assert (await session.intent("perception", "start", version="1.2.4")).ok
    await rig.until(until)
    return rig


async def delivered(session: Session, clock: VirtualClock, wall_seconds: float = 20.0) -> None:
    """Let every queued notification go out: retries back off on the virtual clock, so time is advanced
    while any sink still has work (HTTP itself is real loopback I/O)."""
    deadline = time.monotonic() + wall_seconds
    while any(h.queued for h in session.sinks.health()):
        assert time.monotonic() < deadline, [h.to_json() for h in session.sinks.health()]
        await clock.advance(5)
        await asyncio.sleep(0.005)


def by_kind(receiver: Receiver) -> dict[str, list[Any]]:
    """Webhook bodies by the notice's kind (signature checked on every one)."""
    found: dict[str, list[Any]] = {}
    for request in receiver.requests:
        assert request.headers["x-canary-signature"] == sign(HMAC_KEY, request.body)
        assert request.headers["content-type"] == "application/json"
        body = request.json
        found.setdefault(body["notice"]["kind"], []).append(body)
    return found


def slack_of(receiver: Receiver, kind: str) -> list[dict]:
    messages = []
    for request in receiver.requests:
        assert request.path == "/services/" + SLACK_SECRET
        body = request.json
        assert isinstance(body["text"], str) and body["text"]
        assert body["blocks"][0]["type"] == "header" and body["blocks"][-1]["type"] == "context"
        for block in body["blocks"]:
            assert block["type"] in ("header", "section", "context")
            if block["type"] == "section":
                assert "text" in block or "fields" in block
        if body["blocks"][0]["text"]["text"].endswith(kind.replace("_", " ")):
            messages.append(body)
    return messages


def fields(message: dict) -> dict[str, str]:
    section = next(b for b in message["blocks"] if "fields" in b)
    return dict(f["text"].split("\n", 1) for f in section["fields"])


def check_pagerduty(request_body: dict, action: str) -> None:
    assert request_body["routing_key"] == PD_KEY and request_body["event_action"] == action
    assert request_body["dedup_key"].startswith("canary-console/perception-19700101T")
    if action == "trigger":
        payload = request_body["payload"]
        assert payload["summary"] and len(payload["summary"]) <= 1024 and payload["source"] == "canary-console"
        assert payload["severity"] in ("critical", "error", "warning", "info")


def wired(tmp_path: Path, monkeypatch, receivers: list[Receiver]) -> list[dict]:
    """The three sinks, each to its own answering receiver (Slack, PagerDuty, webhook)."""
    slack, pagerduty, webhook = receivers
    return sink_items(tmp_path, monkeypatch, slack.url(), pagerduty.url(), webhook.url("/hook"))


@pytest.fixture
def receivers():
    made = [Receiver("ok") for _ in range(3)]
    yield made
    for receiver in made:
        receiver.close()


async def test_an_automatic_rollback_reaches_slack_pagerduty_and_the_webhook_in_their_formats(
        tmp_path, monkeypatch, receivers):
    slack, pagerduty, webhook = receivers
    sinks = wired(tmp_path, monkeypatch, receivers)
    session, _cluster, clock, _events = make(tmp_path, canary=ERRORS_AT_25, sinks=sinks)
    rig = await run_rollout(session, clock, 2400)
    assert session.controllers["perception"].state is State.ROLLED_BACK
    await delivered(session, clock)
    await rig.close()

    rolled = slack_of(slack, "rolled_back")
    assert len(rolled) == 1
    got = fields(rolled[0])
    assert got["*Service*"] == "perception" and got["*Versions*"] == "1.2.3 → 1.2.4"
    assert got["*Weight*"].startswith("0%") and got["*Verdict*"] == "fail"
    assert got["*Who acted*"] == "canary-console (automatic)"
    assert "rolled back automatically" in rolled[0]["text"]
    numbers = next(b["text"]["text"] for b in rolled[0]["blocks"] if b.get("text", {}).get("text", "").startswith("```"))
    assert "success_rate: fail" in numbers or "error_rate: fail" in numbers
    assert slack_of(slack, "starting") and slack_of(slack, "started") and slack_of(slack, "report")

    bodies = pagerduty.bodies()
    assert [b["event_action"] for b in bodies] == ["trigger"]  # automatic advances page nobody
    check_pagerduty(bodies[0], "trigger")
    assert bodies[0]["payload"]["severity"] == "critical"
    assert "rolled back automatically" in bodies[0]["payload"]["summary"]
    assert bodies[0]["payload"]["custom_details"]["canary_version"] == "1.2.4"
    assert all(r.path == "/v2/enqueue" for r in pagerduty.requests)

    hooks = by_kind(webhook)
    assert set(hooks) >= {"starting", "started", "advanced", "rolled_back", "report"}
    notice = hooks["rolled_back"][0]["notice"]
    assert notice["automatic"] is True and notice["needs_person"] is True and notice["severity"] == "critical"
    assert hooks["rolled_back"][0]["status"]["state"] == "rolled_back"
    assert hooks["rolled_back"][0]["rollout"].startswith("perception-1970")
    report = Path(hooks["report"][0]["event"]["data"]["report"])
    assert report.exists() and "## Decisive checks" in report.read_text()
    assert all(h.state == "ok" and h.delivered for h in session.sinks.health())


async def test_an_approval_wait_pages_and_the_approval_resolves_the_same_incident(tmp_path, monkeypatch, receivers):
    slack, pagerduty, webhook = receivers
    sinks = wired(tmp_path, monkeypatch, receivers)
    session, _cluster, clock, _events = make(tmp_path, canary=P99_REGRESSION, sinks=sinks)
    rig = await run_rollout(session, clock, 600)
    assert session.controllers["perception"].state is State.AWAITING_APPROVAL
    session.controllers["perception"].actor = "bob"
    assert (await session.intent("perception", "approve")).ok
    await delivered(session, clock)
    await rig.close()

    bodies = pagerduty.bodies()
    assert [b["event_action"] for b in bodies] == ["trigger", "resolve"]
    check_pagerduty(bodies[0], "trigger")
    check_pagerduty(bodies[1], "resolve")
    assert bodies[0]["dedup_key"] == bodies[1]["dedup_key"]
    assert bodies[0]["payload"]["severity"] == "warning" and "needs a person" in bodies[0]["payload"]["summary"]
    assert "p99" in bodies[0]["payload"]["summary"].lower()

    waiting, approved = slack_of(slack, "awaiting_approval"), slack_of(slack, "approved")
    assert len(waiting) == 1 and len(approved) == 1
    assert fields(waiting[0])["*Verdict*"] == "manual_review"
    assert fields(approved[0])["*Who acted*"] == "bob"
    hooks = by_kind(webhook)
    assert hooks["awaiting_approval"][0]["notice"]["needs_person"] is True
    assert hooks["approved"][0]["notice"]["actor"] == "bob"


async def test_a_promotion_resolves_and_is_told_with_its_report(tmp_path, monkeypatch, receivers):
    slack, pagerduty, webhook = receivers
    sinks = wired(tmp_path, monkeypatch, receivers)
    session, _cluster, clock, _events = make(tmp_path, sinks=sinks)
    rig = await run_rollout(session, clock, 5000)
    assert session.controllers["perception"].state is State.PROMOTED
    await delivered(session, clock)
    await rig.close()

    bodies = pagerduty.bodies()
    assert [b["event_action"] for b in bodies] == ["resolve"]
    check_pagerduty(bodies[0], "resolve")
    promoted = slack_of(slack, "promoted")
    assert len(promoted) == 1 and fields(promoted[0])["*Versions*"] == "1.2.3 → 1.2.4"
    assert len(slack_of(slack, "advanced")) == 5  # 10, 25, 50, 75, 100
    report = slack_of(slack, "report")[0]
    assert any("promoted" in b.get("text", {}).get("text", "") for b in report["blocks"])
    hooks = by_kind(webhook)
    assert [h["notice"]["kind"] for h in hooks["promoted"]] == ["promoted"]
    assert hooks["promoted"][0]["notice"]["severity"] == "info"


# ---- failing receivers change nothing in the rollout ------------------------------------------------------

def timing(session: Session, cluster: FakeCluster, events: list[Event]) -> dict[str, Any]:
    verdicts = [e.at for e in events if e.kind is EventKind.VERDICT]
    first_fail = min(e.at for e in events if e.kind is EventKind.VERDICT and e.data["verdict"]["verdict"] == "fail")
    rollback = [t for t, _ in cluster.writes_of("rollback")]
    return {"weights": cluster.weight_changes("perception"), "verdicts": verdicts,
            "intervals": sorted({round(b - a, 6) for a, b in zip(verdicts, verdicts[1:])}),
            "rollback_latency": rollback[0] - first_fail, "writes": [(t, op) for t, op, _s, _a in cluster.writes]}


async def test_a_receiver_that_fails_hangs_or_is_down_changes_no_timing_and_loses_nothing(tmp_path, monkeypatch):
    quiet_dir, loud_dir = tmp_path / "quiet", tmp_path / "loud"
    quiet_dir.mkdir(), loud_dir.mkdir()
    session, cluster, clock, events = make(quiet_dir, canary=ERRORS_AT_25)
    rig = await run_rollout(session, clock, 2400)
    baseline = timing(session, cluster, events)
    await rig.close()

    with Receiver("fail") as failing, Receiver("hang") as hanging:
        sinks = sink_items(loud_dir, monkeypatch, failing.url(), hanging.url(), down_url("/hook"),
                           retries=2, backoff=1.0)
        sinks[1]["timeout"] = 0.2  # the hanging receiver's requests end by this (real) timeout
        session, cluster, clock, events = make(loud_dir, canary=ERRORS_AT_25, sinks=sinks)
        rig = await run_rollout(session, clock, 2400)
        measured = timing(session, cluster, events)
        await delivered(session, clock)
        await rig.close()
        health = {h.kind: h for h in session.sinks.health()}
        sent_to_failing, sent_to_hanging = len(failing.requests), len(hanging.requests)

    assert measured == baseline  # check intervals, weight changes, every write and the rollback latency
    assert baseline["intervals"] == [10.0] and baseline["rollback_latency"] == 0.0
    journal = lambda d: (d / "journal.jsonl").read_text().splitlines()  # noqa: E731
    quiet = [line.replace("/quiet/", "/loud/") for line in journal(quiet_dir)]  # the report paths differ
    loud = journal(loud_dir)
    told = [json.loads(line)["entry"] for line in loud if json.loads(line)["entry"] in ("sink", "announce")]
    assert told[0] == "announce"  # "Team notified" is journalled only when there is someone to tell
    assert [line for line in loud if json.loads(line)["entry"] not in ("sink", "announce")] == quiet  # byte for byte
    assert {json.loads(line)["sink"]: json.loads(line)["state"] for line in loud
            if json.loads(line)["entry"] == "sink"} == {"slack": "failing", "pagerduty": "failing", "webhook": "failing"}
    for kind, expected in (("slack", "HTTP 500"), ("pagerduty", "timed out"), ("webhook", "connection failed")):
        sink = health[kind]
        assert sink.delivered == 0 and sink.state == "failing" and expected in (sink.last_error or ""), sink
        assert sink.failed_attempts == 3 * sink.given_up  # every notice tried 1 + 2 retries
    assert sent_to_failing == health["slack"].failed_attempts  # the retries really went out
    # a request that timed out may reach the hanging receiver's handler only later (a loaded machine)
    assert 1 <= sent_to_hanging <= health["pagerduty"].failed_attempts
    shown = [e for e in events if e.kind is EventKind.ERROR and e.data.get("sink")]
    assert {e.data["sink"] for e in shown} == {"slack", "pagerduty", "webhook"}  # once each, for the dashboard
    assert len(shown) == 3 and all("keep failing" in e.message for e in shown)


def test_status_json_lists_each_sinks_health(tmp_path, monkeypatch, capsys):
    from console.cli import main

    monkeypatch.setenv("TEST_PD_ROUTING_KEY", PD_KEY)
    (tmp_path / "hmac").write_text(HMAC_KEY)
    config = tmp_path / "config.yaml"
    config.write_text(f"""notifications:
  - type: pagerduty
    routing_key_env: TEST_PD_ROUTING_KEY
  - type: webhook
    name: audit-hook
    url: {down_url('/hook')}
    secret_file: {tmp_path / 'hmac'}
    events: [rolled_back, promoted]
""")
    assert main(["status", "perception", "--demo", "--json", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert [(s["name"], s["type"], s["state"]) for s in data["notifications"]] == \
        [("pagerduty", "pagerduty", "unknown"), ("audit-hook", "webhook", "unknown")]
    assert data["notifications"][1]["events"] == ["promoted", "rolled_back"]
    assert PD_KEY not in out and HMAC_KEY not in out


@pytest.mark.parametrize(("yaml_item", "problem"), [
    ("type: slack\n    url_env: NOT_SET_ANYWHERE", "notifications.0.url_env"),
    ("type: pagerduty", "routing_key_file or routing_key_env"),
    ("type: webhook\n    url: http://127.0.0.1:9/\n    secret_file: /nonexistent/key", "notifications.0.secret_file"),
    ("type: slack\n    url_env: HOME\n    events: [rolled_bak]", "unknown event 'rolled_bak'"),
    ("type: slack\n    url_env: HOME\n    services: [kafka]", "notifications.0.services"),
    ("type: slack\n    url_env: HOME\n  - type: slack\n    url_env: HOME", "notifications.1.name"),
])
def test_a_bad_notification_is_one_line_naming_the_field_and_exit_2(tmp_path, capsys, yaml_item, problem):
    from console.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(f"notifications:\n  - {yaml_item}\n")
    assert main(["status", "--demo", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# ---- the dashboard -----------------------------------------------------------------------------------------

async def test_the_dashboard_alerts_by_the_same_rule_and_shows_a_failing_sink():
    from console.app import CanaryApp
    from tests.test_tui_support import fake_session, settle

    session, clock, _cluster = fake_session()
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        bells = app.bells
        session.bus.publish(Event(EventKind.STATE, "plato", clock.now(), "observing → paused: no usable data",
                                  {"from": "observing", "to": "paused",
                                   "reason": "no usable data for 10m: Prometheus unreachable"}))
        session.bus.publish(Event(EventKind.STATE, "nexus", clock.now(), "observing → paused: paused by bob",
                                  {"from": "observing", "to": "paused", "reason": "paused by bob"}))
        await settle(app, pilot)
        assert app.bells == bells + 1  # stuck needs a person; bob's own pause does not ring
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("plato stuck: no usable data") for m in messages)
        assert not any("nexus paused" in m for m in messages)
        session.bus.publish(Event(EventKind.ERROR, "*", clock.now(), "notifications to slack keep failing: HTTP 500",
                                  {"sink": "slack", "failing": True}))
        await settle(app, pilot)
        assert "notifications to slack keep failing: HTTP 500" in [n.message for n in app._notifications]


async def test_the_dashboards_alert_speaks_the_peoples_words_not_the_engines_identifiers():
    """An approval notice's summary carries the judge's reason (`manual review: p99_latency: …`); the toast
    says `needs review: P99 latency: …` like every other line on screen (seen in the demo as raw words)."""
    from console.app import CanaryApp
    from tests.test_tui_support import fake_session, settle

    session, clock, _cluster = fake_session()
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        session.bus.publish(Event(EventKind.STATE, "nexus", clock.now(), "observing → awaiting approval",
                                  {"from": "observing", "to": "awaiting_approval",
                                   "reason": "manual review: p99_latency: canary P99 0.235 s vs stable 0.135 s"}))
        await settle(app, pilot)
        alerts = [n.message for n in app._notifications if n.message.startswith("nexus")]
        assert alerts and all("p99_latency" not in m and "manual review" not in m for m in alerts), alerts
        assert any("P99 latency" in m for m in alerts), alerts


async def test_a_console_that_resumes_a_rollout_resolves_the_incident_its_predecessor_opened(
        tmp_path, monkeypatch, receivers):
    slack, pagerduty, webhook = receivers
    sinks = wired(tmp_path, monkeypatch, receivers)
    first, cluster, clock, _events = make(tmp_path, canary=P99_REGRESSION, sinks=sinks)
    rig = await run_rollout(first, clock, 600)
    assert first.controllers["perception"].state is State.AWAITING_APPROVAL
    await delivered(first, clock)
    rig.stop.set()  # the first console dies; the record stays in the cluster, the journal on disk
    await clock.advance(300)
    config = first.config
    second = Session(config, cluster, first.metrics, clock, actor="carol", journal=Journal(config.journal_path()))
    add_notifications(second, config)
    await second.step()
    assert second.controllers["perception"].state is State.AWAITING_APPROVAL  # resumed from the record
    assert (await second.intent("perception", "approve")).ok
    await delivered(second, clock)
    bodies = pagerduty.bodies()
    # the second console only watched until the approval through it made it drive: it told nothing before
    assert [b["event_action"] for b in bodies] == ["trigger", "resolve"]
    assert len({b["dedup_key"] for b in bodies}) == 1  # one incident, opened and resolved
    await second.aclose()
    await first.aclose()


async def test_a_console_that_only_watches_tells_nobody(tmp_path, monkeypatch, receivers):
    from console.engine.model import RolloutRecord

    slack, pagerduty, webhook = receivers
    sinks = wired(tmp_path, monkeypatch, receivers)
    watcher, cluster, clock, events = make(tmp_path, sinks=sinks)
    svc = cluster.services["perception"]
    svc.canary_version, svc.canary_replicas, svc.canary_created_at, svc.weight = "1.2.4", 1, -5000.0, 25
    svc.driver = "other-console"
    svc.record = RolloutRecord(State.AWAITING_APPROVAL, 1, 25, -900.0, 300.0, "1.2.4", "manual_review", "other-console")
    await watcher.step()
    svc.record = RolloutRecord(State.ROLLED_BACK, 1, 0, -900.0, 300.0, "1.2.4", "fail", "other-console")
    await clock.advance(10)
    await watcher.step()
    await delivered(watcher, clock)
    states = [e.data["to"] for e in events if e.kind is EventKind.STATE]
    assert states == ["awaiting_approval", "rolled_back"]  # it saw both, as its screen would
    assert slack.requests == pagerduty.requests == webhook.requests == []  # the driver tells, not a watcher
    await watcher.aclose()
