"""The notification adapters room: Slack (incoming webhook, Block Kit), PagerDuty (Events API v2) and a
generic webhook (JSON, HMAC-SHA256 signature), each a queued sink of console.engine.sinks.SinkHub over httpx.

Each sink formats one Notice (with the service's status and the rollout's id) into its service's documented
shape and POSTs it. 2xx is delivered; 429, 5xx, timeouts and connection errors are retryable (the hub
retries with backoff and jitter); any other answer is not (our payload or key is wrong: retrying will not
help). Error texts name the status or the exception's kind only: the URL of a Slack webhook and the keys
are secrets, and never appear in an error, an event, a log or a report (``describe_error`` also masks
them should a library echo them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from console.engine.audit import redact
from console.engine.config import format_duration
from console.engine.model import RolloutStatus
from console.engine.notable import Notable, Notice
from console.engine.notify_config import Notification, resolve_secrets
from console.engine.sinks import Delivery, SinkError, SinkPolicy

USER_AGENT = "canary-console"
PD_TRIGGER = {Notable.AWAITING_APPROVAL, Notable.STUCK, Notable.INCIDENT, Notable.FAILED, Notable.OVERRIDE}
PD_RESOLVE = {Notable.APPROVED, Notable.PROMOTED}


class HttpSink:
    """What the three have in common: filters, one POST, the error rules, secrets kept out of text."""

    kind = "http"

    def __init__(self, item: Notification, secrets: dict[str, str], *, client: httpx.AsyncClient | None = None) -> None:
        self.item = item
        self.name = item.label
        self.url = secrets.get("url", "")
        self._secrets = [value for value in secrets.values() if value]
        self._events = item.wanted_events
        self._services = set(item.services) if item.services is not None else None
        self._client = client  # made on the first send: building a sink opens nothing

    def __repr__(self) -> str:  # never the URL: it may be the secret
        return f"<{type(self).__name__} {self.name}>"

    def wants(self, delivery: Delivery) -> bool:
        notice = delivery.notice
        if notice is None or notice.kind.value not in self._events:
            return False
        if notice.kind is Notable.SINK_FAILING and delivery.event.data.get("sink") == self.name:
            return False  # a sink never reports its own failure to itself
        return self._services is None or notice.service in self._services or notice.service == "*"

    def body(self, delivery: Delivery) -> dict[str, Any] | None:
        raise NotImplementedError

    def headers(self, body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    async def send(self, delivery: Delivery) -> None:
        payload = self.body(delivery)
        if payload is None:
            return
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.item.timeout, headers={"User-Agent": USER_AGENT},
                                             follow_redirects=False, trust_env=False)
        response = await self._client.post(self.url, content=body, headers=self.headers(body))
        if 200 <= response.status_code < 300:
            return
        retryable = response.status_code == 429 or response.status_code >= 500
        raise SinkError(f"HTTP {response.status_code}", retryable=retryable)

    def describe_error(self, exc: BaseException) -> str:
        if isinstance(exc, SinkError):
            text = str(exc)
        elif isinstance(exc, httpx.TimeoutException):
            text = f"timed out after {self.item.timeout:g}s"
        elif isinstance(exc, httpx.ConnectError):
            text = "connection failed (receiver down?)"
        else:
            text = type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return text

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


# ---- Slack ----------------------------------------------------------------------------------------------

def _mrkdwn(value: Any) -> str:
    """Outside text made inert for Slack's mrkdwn (its three control characters)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _pct(value: Any) -> str:
    return f"{value * 100:.2f}%" if isinstance(value, (int, float)) else "n/a"


def _ms(value: Any) -> str:
    return f"{value * 1000:.0f} ms" if isinstance(value, (int, float)) else "n/a"


def verdict_lines(status: RolloutStatus | None) -> list[str]:
    """"error_rate: fail — canary 4.10% vs stable 0.50% (threshold 1.00%)" for each check of the last verdict."""
    verdict = status.verdict if status else None
    if verdict is None:
        return []
    lines = []
    for check in verdict.checks:
        show = _ms if "latency" in check.name else _pct
        if "latency" in check.name:
            bound = f"+{check.threshold * 100:.0f}%"
        elif isinstance(check.threshold, float) and check.threshold < 1:
            bound = _pct(check.threshold)
        else:
            bound = f"{check.threshold:g}"
        lines.append(f"{check.name}: {check.result.value} — canary {show(check.canary)} vs stable "
                     f"{show(check.stable)} (threshold {bound})")
    return lines


class SlackSink(HttpSink):
    kind = "slack"

    def body(self, delivery: Delivery) -> dict[str, Any]:
        notice, status = delivery.notice, delivery.status
        assert notice is not None
        title = f"{_emoji(notice)} {notice.service}: {notice.kind.value.replace('_', ' ')}"
        fields = [f"*Service*\n{_mrkdwn(notice.service)}"]
        if status is not None:
            fields.append(f"*Versions*\n{_mrkdwn(status.stable_version or '?')} → "
                          f"{_mrkdwn(status.canary_version or '?')}")
            fields.append(f"*Weight*\n{status.weight}% (phase {status.phase + 1}, {status.state.label})")
            verdict = status.verdict
            fields.append(f"*Verdict*\n{verdict.outcome.value if verdict else 'none yet'}")
        fields.append(f"*Who acted*\n{_mrkdwn(notice.actor) if notice.actor else 'canary-console (automatic)'}")
        if delivery.rollout:
            fields.append(f"*Rollout*\n{_mrkdwn(delivery.rollout)}")
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(notice.summary)[:3000]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields[:10]]},
        ]
        numbers = verdict_lines(status) if notice.kind is not Notable.REPORT else []
        if numbers:
            blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                       "text": "```" + _mrkdwn("\n".join(numbers))[:2900] + "```"}})
        if notice.kind is Notable.REPORT and delivery.event.data.get("summary"):
            blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                       "text": _mrkdwn(delivery.event.data["summary"])[:3000]}})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"canary-console · severity "
                                                        f"{notice.severity}"}]})
        return {"text": f"{notice.service}: {_mrkdwn(notice.summary)}"[:3000], "blocks": blocks}


def _emoji(notice: Notice) -> str:
    return {"critical": ":rotating_light:", "error": ":x:", "warning": ":warning:"}.get(
        notice.severity, ":white_check_mark:" if notice.kind is Notable.PROMOTED else ":information_source:")


# ---- PagerDuty ------------------------------------------------------------------------------------------

class PagerDutySink(HttpSink):
    """Events API v2: ``trigger`` when a person is needed (automatic rollback, approval, stuck, incident,
    override, failed), ``resolve`` when a person acted (approved, advanced or rolled back by a person) or the
    canary was promoted. One ``dedup_key`` per rollout, so the alert and its resolution meet."""

    kind = "pagerduty"

    def action_of(self, notice: Notice) -> str | None:
        if notice.kind is Notable.ROLLED_BACK:
            return "trigger" if notice.automatic else "resolve"
        if notice.kind is Notable.ADVANCED:
            return None if notice.automatic else "resolve"
        if notice.kind is Notable.INCIDENT:
            return "resolve" if notice.cleared else "trigger"
        if notice.kind in PD_TRIGGER:
            return "trigger"
        if notice.kind in PD_RESOLVE:
            return "resolve"
        return None

    def wants(self, delivery: Delivery) -> bool:
        return super().wants(delivery) and self.action_of(delivery.notice) is not None  # type: ignore[arg-type]

    def body(self, delivery: Delivery) -> dict[str, Any] | None:
        notice, status = delivery.notice, delivery.status
        assert notice is not None
        action = self.action_of(notice)
        if action is None:
            return None
        dedup = f"canary-console/{delivery.rollout or notice.service}"
        body: dict[str, Any] = {"routing_key": self._routing_key, "event_action": action, "dedup_key": dedup}
        if action == "trigger":
            details: dict[str, Any] = {"rollout": delivery.rollout, "event": notice.kind.value,
                                       "who_acted": notice.actor or "canary-console (automatic)"}
            if status is not None:
                details.update(stable_version=status.stable_version, canary_version=status.canary_version,
                               weight=status.weight, state=status.state.value,
                               verdict=status.verdict.outcome.value if status.verdict else None,
                               checks=verdict_lines(status), phase_time_left=format_duration(status.time_left))
            body["payload"] = {"summary": notice.summary[:1024], "source": self.item.source,
                               "severity": notice.severity, "component": notice.service,
                               "class": notice.kind.value, "custom_details": redact(details)}
        return body

    @property
    def _routing_key(self) -> str:
        return self._secrets_by_name.get("routing_key", "")

    def __init__(self, item: Notification, secrets: dict[str, str], **kwargs: Any) -> None:
        super().__init__(item, secrets, **kwargs)
        self._secrets_by_name = dict(secrets)


# ---- generic webhook ------------------------------------------------------------------------------------

def _jsonable_event(delivery: Delivery) -> dict[str, Any]:
    event = delivery.event
    data = {key: (value.to_json() if hasattr(value, "to_json") else value) for key, value in event.data.items()}
    return {"kind": event.kind.value, "service": event.service, "at": round(event.at, 3), "message": event.message,
            "data": data}


class WebhookSink(HttpSink):
    """POSTs ``{"notice", "event", "status", "rollout", "sent_at"}`` with ``X-Canary-Signature: sha256=<hex>``,
    the HMAC-SHA256 of the exact body under the shared secret."""

    kind = "webhook"

    def __init__(self, item: Notification, secrets: dict[str, str], **kwargs: Any) -> None:
        super().__init__(item, secrets, **kwargs)
        self._key = secrets.get("secret", "").encode()

    def body(self, delivery: Delivery) -> dict[str, Any]:
        assert delivery.notice is not None
        return redact({"notice": delivery.notice.to_json(), "event": _jsonable_event(delivery),
                       "status": delivery.status.to_json() if delivery.status else None,
                       "rollout": delivery.rollout, "sent_at": round(time.time(), 3)})

    def headers(self, body: bytes) -> dict[str, str]:
        signature = hmac.new(self._key, body, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", self.item.signature_header: f"sha256={signature}"}


def sign(secret: str, body: bytes) -> str:
    """The signature a receiver recomputes to check a webhook body: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


SINKS: dict[str, type[SlackSink | PagerDutySink | WebhookSink]] = {
    "slack": SlackSink, "pagerduty": PagerDutySink, "webhook": WebhookSink}


def build_sinks(notifications: list[Notification], services: list[str]) -> list[tuple[HttpSink, SinkPolicy]]:
    """The configured sinks, secrets read now; ConfigError (naming the field) when one cannot be."""
    from console.engine.config_layers import ConfigError

    labels = [item.label for item in notifications]
    for index, label in enumerate(labels):
        if labels.index(label) != index:
            raise ConfigError(f"field 'notifications.{index}.name': another sink is called {label!r}; "
                              "give each its own name")
    built: list[tuple[HttpSink, SinkPolicy]] = []
    for index, item in enumerate(notifications):
        unknown = [s for s in item.services or [] if s not in services]
        if unknown:
            raise ConfigError(f"field 'notifications.{index}.services': unknown service {unknown[0]!r}")
        sink = SINKS[item.type](item, resolve_secrets(item, index))
        policy = SinkPolicy(queue_size=item.queue_size, retries=item.retries, backoff=item.backoff,
                            rate_per_minute=item.rate_per_minute)
        built.append((sink, policy))
    return built
