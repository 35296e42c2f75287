"""Configuration: pydantic models whose defaults are the runbook's tables, loaded from one YAML file, then
overridden by environment variables (``CANARY_CONSOLE_<FIELD>``, ``__`` between nested names, e.g.
``CANARY_CONSOLE_PROMETHEUS__URL``), then by command-line flags.

A broken file raises ConfigError naming the file and the field; the CLI turns it into exit 2. Reading and
merging the layers lives in console.engine.config_layers (no pydantic), which the dashboard's first frame uses.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from console.engine.config_layers import ENV_PREFIX, SERVICES, ConfigError, read_layers
from console.engine.intent_table import keymap_problem
from console.engine.model import Action
from console.engine.notify_config import Notification

__all__ = ["ENV_PREFIX", "SERVICES", "ConfigError", "Config", "load_config", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """"15m", "30s", "1.5h", "250ms" or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '15m'")
    try:
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            match = _DURATION.match(str(value)[:100])
            if not match:
                raise ValueError(f"{str(value)[:40]!r} is not a duration (use e.g. 30s, 15m, 1h)")
            seconds = float(match.group(1)) * _UNITS[match.group(2)]
    except OverflowError:
        raise ValueError("a duration must be a finite number of seconds") from None
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def _bounded(low: float, high: float, *, low_open: bool = False):
    """A field validator: a duration (parsed first) within [low, high] seconds (``low_open``: above low)."""
    def check(cls: Any, value: Any) -> float:
        seconds = parse_duration(value)
        if seconds < low or (low_open and seconds <= low) or seconds > high:
            floor = f"more than {format_duration(low)}" if low_open else f"at least {format_duration(low)}"
            raise ValueError(f"must be {floor} and at most {format_duration(high)}, got {str(value)[:40]!r}")
        return seconds
    return check


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
DAY, WEEK = 86400.0, 7 * 86400.0


def format_duration(seconds: float) -> str:
    if seconds < 1 and seconds > 0:
        return f"{int(round(seconds * 1000))}ms"
    seconds = int(round(seconds))
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0 and seconds:
        return f"{seconds // 60}m"
    return f"{seconds}s"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Phase(_Strict):
    """One row of the runbook's "Canary Weights by Phase" table, with its tightened rollback triggers."""

    name: str = Field(min_length=1, max_length=63)
    weight: int = Field(ge=0, le=100)
    duration: float = Field(description="observation time with usable data before the next step")
    max_error_rate: float | None = Field(None, gt=0, le=1, description="absolute canary error rate that rolls back")
    error_rate_increase: float | None = Field(None, gt=0, le=1, description="tighter error increase (fraction)")
    p95_increase: float | None = Field(None, gt=0, le=100)
    p99_increase: float | None = Field(None, gt=0, le=100)
    anomaly: bool = Field(False, description="'any anomaly': restarts and warnings ask for a person")

    _dur = field_validator("duration", mode="before")(_bounded(0.0, WEEK, low_open=True))
    _fin = field_validator("max_error_rate", "error_rate_increase", "p95_increase", "p99_increase",
                           mode="before")(lambda cls, v: _finite(v))


def _default_phases() -> list[Phase]:
    return [
        Phase(name="initial", weight=10, duration=15 * 60, max_error_rate=0.01),
        Phase(name="early", weight=25, duration=15 * 60, error_rate_increase=0.005),
        Phase(name="mid", weight=50, duration=15 * 60, p95_increase=0.20, p99_increase=0.20),
        Phase(name="late", weight=75, duration=15 * 60, max_error_rate=0.01, error_rate_increase=0.005,
              p95_increase=0.20, p99_increase=0.20, anomaly=True),
        Phase(name="complete", weight=100, duration=5 * 60),
    ]


class Criteria(_Strict):
    """The runbook's "Canary Success Criteria" table, as contracts.md defines each row."""

    error_rate_increase: float = Field(0.01, gt=0, le=1, description="canary − stable error rate, fraction (1 pp)")
    p95_increase: float = Field(0.20, gt=0, le=100, description="canary P95 / stable P95 − 1")
    p99_increase: float = Field(0.50, gt=0, le=100, description="canary P99 / stable P99 − 1 (manual review)")
    min_success_rate: float = Field(0.99, gt=0, lt=1, description="canary non-5xx / total")
    p99_action: Action = Action.MANUAL_REVIEW

    _fin = field_validator("error_rate_increase", "p95_increase", "p99_increase", "min_success_rate",
                           mode="before")(lambda cls, v: _finite(v))


class Judging(_Strict):
    """Small-sample method parameters (see docs/judging.md)."""

    alpha_fail: float = Field(0.01, gt=0, lt=0.5, description="one-sided significance to call a breach")
    confidence_pass: float = Field(0.95, gt=0.5, lt=1, description="confidence the canary is within bounds")
    min_requests: int = Field(50, ge=1, le=10**9, description="canary requests in the window below which nothing is judged")
    min_latency_samples_p95: int = Field(200, ge=1, le=10**9)
    min_latency_samples_p99: int = Field(400, ge=1, le=10**9)
    latency_persistence: int = Field(2, ge=1, le=1000, description="consecutive latency breaches before acting")


class Analysis(_Strict):
    """How the judge decides over time (see docs/judging.md, "Sequential checks" and "Traffic share")."""

    method: Literal["sequential", "fixed"] = Field(
        "sequential", description="sequential: anytime-valid tests over the phase's checks; fixed: one test per window")
    false_alarm: float = Field(0.01, gt=0, lt=0.5, description="sequential: false-rollback budget per check and rollout")
    restart_every: float = Field(10.0, gt=0, description="sequential: a new test starts this often within a phase")
    traffic_share: Literal["enforce", "report"] = Field(
        "enforce", description="enforce: a canary short of its weight's share holds; report: only say so (replay)")

    _dur = field_validator("restart_every", mode="before")(lambda cls, v: parse_duration(v))


EXTRA_PLACEHOLDERS = ("SERVICE", "TRACK", "WINDOW")  # what an extra check's query may use


class ExtraCheck(_Strict):
    """A service-specific check from the runbook's considerations (Kafka lag, gateway overhead, …)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    query: str = Field(min_length=1, description="PromQL; ${SERVICE}, ${TRACK} and ${WINDOW} are substituted")
    threshold: float
    breach: Literal["above", "below"] = "above"
    action: Action = Action.MANUAL_REVIEW
    description: str = ""

    _fin = field_validator("threshold", mode="before")(lambda cls, v: _finite(v))

    @field_validator("query")
    @classmethod
    def _known_placeholders(cls, query: str) -> str:
        """A placeholder the adapter would not substitute would reach Prometheus as text: refuse it here."""
        unknown = sorted(set(re.findall(r"\$\{([^}]*)\}", query)) - set(EXTRA_PLACEHOLDERS))
        if unknown:
            known = ", ".join("${" + name + "}" for name in EXTRA_PLACEHOLDERS)
            raise ValueError(f"unknown placeholder ${{{unknown[0]}}} (known: {known})")
        return query


_K8S_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class Service(_Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    checks: list[ExtraCheck] = Field(default_factory=list)
    router: Literal["nginx", "gateway", "auto"] = Field(
        "nginx", description="how traffic is shifted: nginx canary Ingress, Gateway API HTTPRoute, or detect")
    route: str | None = Field(None, pattern=_K8S_NAME, description="the HTTPRoute's name (default: the service's)")
    gateway: str | None = Field(None, pattern=_K8S_NAME,
                                description="the parent Gateway the HTTPRoute must attach to (default: any)")


class Kube(_Strict):
    namespace: str = "butterfly"
    kubeconfig: str | None = None
    context: str | None = None
    name_label: str = "app.kubernetes.io/name"
    track_label: str = "track"
    canary_suffix: str = "-canary"
    image: str = "ghcr.io/254-studioz/butterfly-${SERVICE}"
    lease_seconds: float = 15.0
    promote_deadline: float = 600.0
    # send a kubeconfig's bearer token to an http:// API server (tests against a loopback double only)
    allow_token_over_http: bool = False
    # in a pod (no kubeconfig, KUBERNETES_SERVICE_HOST set): where the ServiceAccount token and CA are
    serviceaccount_dir: str = "/var/run/secrets/kubernetes.io/serviceaccount"

    _lease = field_validator("lease_seconds", mode="before")(_bounded(5.0, DAY))
    _promote = field_validator("promote_deadline", mode="before")(_bounded(10.0, DAY))

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if len(value) > 63 or not _DNS_LABEL.match(value):
            raise ValueError(f"{value!r} is not a namespace name (lower-case letters, digits and '-', at most 63)")
        return value

    @field_validator("name_label", "track_label")
    @classmethod
    def _label_key(cls, value: str) -> str:
        if len(value) > 316 or not _LABEL_KEY.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes label key")
        return value

    @field_validator("canary_suffix")
    @classmethod
    def _suffix(cls, value: str) -> str:
        if not value or not _DNS_LABEL.match("x" + value):
            raise ValueError(f"{value!r} cannot name the canary apart from stable: it must be non-empty, "
                             "of lower-case letters, digits and '-', and end in a letter or digit")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} is not an image reference")
        return value

    def canary_name(self, service: str) -> str:
        return f"{service}{self.canary_suffix}"

    def image_for(self, service: str, version: str) -> str:
        return f"{self.image.replace('${SERVICE}', service)}:{version}"


class Queries(_Strict):
    """PromQL templates. ${WINDOW} is the range, ${SERVICES} a regex of the services."""

    requests: str = 'sum by (service, track) (increase(http_server_requests_seconds_count{service=~"${SERVICES}"}[${WINDOW}]))'
    errors: str = 'sum by (service, track) (increase(http_server_requests_seconds_count{service=~"${SERVICES}",status=~"5.."}[${WINDOW}]))'
    p95: str = 'histogram_quantile(0.95, sum by (service, track, le) (rate(http_server_requests_seconds_bucket{service=~"${SERVICES}"}[${WINDOW}])))'
    p99: str = 'histogram_quantile(0.99, sum by (service, track, le) (rate(http_server_requests_seconds_bucket{service=~"${SERVICES}"}[${WINDOW}])))'


class PrometheusSettings(_Strict):
    url: str | None = None
    path_prefix: str = ""
    token_file: str | None = None
    token_env: str | None = None
    username: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = 5.0
    retries: int = Field(2, ge=0, le=10)
    queries: Queries = Field(default_factory=Queries)

    _dur = field_validator("timeout", mode="before")(_bounded(0.05, 300.0))

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            raise ValueError("not a URL (its host or port cannot be read)") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            # the URL itself is not repeated: it may carry user:password
            raise ValueError(f"not an http:// or https:// URL (scheme {parts.scheme[:20]!r})")
        return value


class Config(_Strict):
    services: list[Service] = Field(default_factory=lambda: [Service(name=s) for s in SERVICES])
    phases: list[Phase] = Field(default_factory=_default_phases)
    criteria: Criteria = Field(default_factory=Criteria)
    judging: Judging = Field(default_factory=Judging)
    analysis: Analysis = Field(default_factory=Analysis)
    check_interval: float = Field(10.0, description="seconds between checks")
    window: float = Field(300.0, description="analysis window (the runbook's [5m])")
    progress_deadline: float = Field(600.0, description="no usable data for this long pauses the rollout")
    auto: bool = Field(True, description="advance on passing checks without a person")
    auto_rollback: bool = Field(True, description="roll back on a failing verdict without a person")
    shadow: bool = Field(False, description="only say 'would roll back'; never roll back on its own")
    read_only: bool = False
    journal: str | None = Field(None, description="JSONL audit journal; default under the state directory")
    kube: Kube = Field(default_factory=Kube)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    theme: str | None = None
    notifications: list[Notification] = Field(default_factory=list, description="Slack, PagerDuty, webhooks")
    keymap: dict[str, str] = Field(default_factory=dict, description="the dashboard's keys: {intent: key}, "
                                   "e.g. {advance: n} (console/engine/intent_table.py)")

    _interval = field_validator("check_interval", mode="before")(_bounded(0.5, 3600.0))
    _window = field_validator("window", mode="before")(_bounded(1.0, DAY))
    _deadline = field_validator("progress_deadline", mode="before")(_bounded(1.0, WEEK))

    @model_validator(mode="after")
    def _coherent(self) -> Config:
        """Settings that are each fine alone but dangerous together. The message starts with the field."""
        weights = [p.weight for p in self.phases]
        if not weights:
            raise ValueError("phases: at least one phase is needed")
        if weights != sorted(weights) or len(set(weights)) != len(weights) or weights[-1] != 100:
            raise ValueError(f"phases: weights must rise strictly and end at 100, got {weights}")
        if weights[0] <= 0:
            raise ValueError("phases: the first weight must be above 0")
        phase_names = [p.name for p in self.phases]
        if len(set(phase_names)) != len(phase_names):
            raise ValueError(f"phases: duplicate phase names in {phase_names}")
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError(f"services: duplicate names in {names}")
        if self.window < self.check_interval:
            raise ValueError(f"window: {format_duration(self.window)} is shorter than check_interval "
                             f"{format_duration(self.check_interval)}: checks would miss traffic")
        keymap = keymap_problem(self.keymap)
        if keymap:
            raise ValueError(keymap)
        suffix = self.kube.canary_suffix
        for name in names:
            canary = name + suffix
            if len(canary) > 63:
                raise ValueError(f"kube.canary_suffix: {canary!r} is longer than a Kubernetes name may be (63)")
            if canary in names:
                raise ValueError(f"kube.canary_suffix: the canary of {name!r} would be the service {canary!r}")
        return self

    @property
    def service_names(self) -> list[str]:
        return [s.name for s in self.services]

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def journal_path(self) -> Path:
        if self.journal:
            return Path(self.journal).expanduser()
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(state) / "canary-console" / "journal.jsonl"


_FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_.]*): (.*)$", re.S)


def _locate(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """File, then environment, then flags (``overrides``, nested dicts, None values ignored)."""
    data, source = read_layers(path, env=env, overrides=overrides)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _locate(first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"] and (named := _FIELD_FIRST.match(message)):  # a model-level rule names its field
            field, message = named.groups()
        raise ConfigError(_one_line(f"{source}: field '{field}': {message}{more}")) from None
    token_env = config.prometheus.token_env
    if token_env and config.prometheus.url and not (os.environ if env is None else env).get(token_env, "").strip():
        raise ConfigError(f"{source}: field 'prometheus.token_env': the environment variable {token_env} holding "
                          "the Prometheus token is not set (or empty)")
    return config
