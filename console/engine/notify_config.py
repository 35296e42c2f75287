"""The notifications room's configuration: the ``notifications:`` list of the YAML config, one item per sink.

Secrets (a Slack webhook URL, a PagerDuty routing key, a webhook's HMAC key) are never written in the
config itself but read from a file or an environment variable named there (``url_file``/``url_env``,
``routing_key_file``/``routing_key_env``, ``secret_file``/``secret_env``); ``resolve_secrets`` reads them when
the sinks are built, and a missing one is a ConfigError naming the field, never its value. No secret is part
of any model's repr or JSON.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from console.engine.config_layers import ConfigError
from console.engine.notable import NOTABLE_NAMES

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_EVENTS = {
    "slack": ("starting", "started", "advanced", "awaiting_approval", "approved", "paused", "stuck", "override",
              "would_roll_back", "rolled_back", "promoted", "failed", "incident", "report", "sink_failing"),
    "pagerduty": ("awaiting_approval", "approved", "advanced", "rolled_back", "promoted", "stuck", "incident",
                  "failed", "override"),
    "webhook": NOTABLE_NAMES,
}


class Notification(BaseModel):
    """One sink. ``events`` and ``services`` default to every notable event (per type) and every service."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["slack", "pagerduty", "webhook"]
    name: str | None = None
    url: str | None = Field(None, description="the endpoint (PagerDuty: the Events API v2 by default)")
    url_file: str | None = None
    url_env: str | None = None
    routing_key_file: str | None = None
    routing_key_env: str | None = None
    secret_file: str | None = None
    secret_env: str | None = None
    signature_header: str = "X-Canary-Signature"
    events: list[str] | None = None
    services: list[str] | None = None
    timeout: float = Field(5.0, gt=0, description="seconds per request")
    retries: int = Field(4, ge=0, le=20)
    backoff: float = Field(2.0, gt=0, description="first retry delay (seconds); doubles, with jitter")
    rate_per_minute: float = Field(20.0, ge=0, description="most requests a minute (0: no limit)")
    queue_size: int = Field(100, ge=1, le=100_000)
    source: str = Field("canary-console", description="PagerDuty payload.source")

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str] | None) -> list[str] | None:
        unknown = [e for e in events or [] if e not in NOTABLE_NAMES]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; known: {', '.join(NOTABLE_NAMES)}")
        return events

    @model_validator(mode="after")
    def _where_and_secrets(self) -> Notification:
        if self.type == "slack" and not (self.url or self.url_file or self.url_env):
            raise ValueError("a slack notification needs url_file or url_env (the webhook URL is a secret)")
        if self.type == "webhook" and not (self.url or self.url_file or self.url_env):
            raise ValueError("a webhook notification needs url (or url_file, url_env)")
        if self.type == "pagerduty" and not (self.routing_key_file or self.routing_key_env):
            raise ValueError("a pagerduty notification needs routing_key_file or routing_key_env")
        if self.type == "webhook" and not (self.secret_file or self.secret_env):
            raise ValueError("a webhook notification needs secret_file or secret_env (its HMAC key)")
        return self

    @property
    def label(self) -> str:
        return self.name or self.type

    @property
    def wanted_events(self) -> frozenset[str]:
        return frozenset(self.events if self.events is not None else DEFAULT_EVENTS[self.type])


def _secret(item: Notification, index: int, field: str) -> str | None:
    """The value named by ``<field>_file`` or ``<field>_env``; None when neither is set."""
    where = f"notifications.{index}"
    path, env = getattr(item, f"{field}_file"), getattr(item, f"{field}_env")
    if path:
        try:
            value = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"field '{where}.{field}_file': cannot read {path}: {exc.strerror or exc}") from None
        if not value:
            raise ConfigError(f"field '{where}.{field}_file': {path} is empty")
        return value
    if env:
        value = os.environ.get(env, "").strip()
        if not value:
            raise ConfigError(f"field '{where}.{field}_env': the environment variable {env} is not set")
        return value
    return None


def resolve_secrets(item: Notification, index: int) -> dict[str, str]:
    """{"url": …, "routing_key": …, "secret": …} for this sink (only those it has), read now."""
    found: dict[str, str] = {}
    url = _secret(item, index, "url") or item.url or (PAGERDUTY_URL if item.type == "pagerduty" else None)
    if url:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"field 'notifications.{index}.url': not an http(s) URL")
        found["url"] = url
    for field in ("routing_key", "secret"):
        value = _secret(item, index, field)
        if value:
            found[field] = value
    return found
