"""Adapters room: a small client for Prometheus' HTTP API (/api/v1/query and /api/v1/query_range) over httpx.

It owns the production concerns: base URL with a path prefix (Thanos, Mimir, VictoriaMetrics), a bearer
token read from a file (re-read when it changes, as projected service-account tokens do) or from an
environment variable, basic auth with the password in a file, a custom CA (verification always on), extra
headers, a per-request timeout, retries with exponential back-off for what may pass (connection errors,
timeouts, 429 and 5xx). Every failure becomes a QueryFailed whose message is fit for a screen: secrets are
never part of it, nor of the client's repr.
"""

from __future__ import annotations

import asyncio
import base64
import math
import os
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from console.engine.analysis import UNREACHABLE
from console.engine.audit import redact, register_secret
from console.engine.config import PrometheusSettings
from console.engine.model import Problem
from console.engine.ports import problem_for_status

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
Labels = dict[str, str]


class QueryFailed(Exception):
    """Prometheus could not be asked, or refused to answer. ``retryable`` says whether trying again may help;
    ``problem`` what kind of failure it is (the message says it in words)."""

    def __init__(self, message: str, *, retryable: bool = False, problem: Problem = Problem.FAILED) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels
    value: float | None  # None for NaN and ±Inf: no value at all


@dataclass(frozen=True, slots=True)
class Series:
    labels: Labels
    points: list[tuple[float, float | None]] = field(default_factory=list)


def finite(text: Any) -> float | None:
    """Prometheus sends sample values as strings ("0.5", "NaN", "+Inf"); only finite numbers count."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def promql_duration(seconds: float) -> str:
    """A range for PromQL: whole seconds as "300s", anything finer in milliseconds."""
    millis = max(1, int(round(seconds * 1000)))
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


class _Credentials:
    """Builds the Authorization header per request; holds the secrets and never shows them."""

    def __init__(self, settings: PrometheusSettings) -> None:
        self._token_file = Path(settings.token_file).expanduser() if settings.token_file else None
        self._token_env = settings.token_env
        self._username = settings.username
        self._password_file = Path(settings.password_file).expanduser() if settings.password_file else None
        self._cache: dict[Path, tuple[tuple[float, int], str]] = {}
        self.secrets: set[str] = set()

    @property
    def kind(self) -> str:
        if self._token_file or self._token_env:
            return "bearer"
        return "basic" if self._username else "none"

    def _read(self, path: Path) -> str:
        try:
            stat = path.stat()
            key = (stat.st_mtime, stat.st_size)
            cached = self._cache.get(path)
            if cached and cached[0] == key:
                return cached[1]
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise QueryFailed(f"cannot read the credentials file {path}: {exc.strerror or exc}") from None
        self._cache[path] = (key, text)
        self.secrets.add(text)
        register_secret(text)
        return text

    def header(self) -> dict[str, str]:
        if self._token_file:
            return {"Authorization": f"Bearer {self._read(self._token_file)}"}
        if self._token_env:
            token = os.environ.get(self._token_env, "").strip()
            if not token:
                raise QueryFailed(f"the environment variable {self._token_env} holding the token is empty")
            self.secrets.add(token)
            register_secret(token)
            return {"Authorization": f"Bearer {token}"}
        if self._username:
            password = self._read(self._password_file) if self._password_file else ""
            pair = base64.b64encode(f"{self._username}:{password}".encode()).decode()
            self.secrets.add(pair)
            register_secret(pair, password)
            return {"Authorization": f"Basic {pair}"}
        return {}


def _split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """Credentials written into the URL move to basic auth, so the URL itself can be shown."""
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url, None, None
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), parts.username, parts.password


class PrometheusAPI:
    """Instant and range queries against one Prometheus-compatible endpoint."""

    def __init__(self, settings: PrometheusSettings, *, transport: httpx.AsyncBaseTransport | None = None,
                 backoff: float = 0.25) -> None:
        if not settings.url:
            raise ValueError("no Prometheus URL: set prometheus.url or pass --prometheus URL")
        url, user, password = _split_userinfo(settings.url.strip())
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL for Prometheus: {url!r}")
        prefix = "/".join(p for p in (parts.path.strip("/"), settings.path_prefix.strip("/")) if p)
        self.base = urlunsplit((parts.scheme, parts.netloc, f"/{prefix}" if prefix else "", "", ""))
        self.timeout = settings.timeout
        self.retries = settings.retries
        self.backoff = backoff
        self.requests = 0  # HTTP requests sent, retries included
        self._credentials = _Credentials(settings)
        self._secrets = {s for s in (password,) if s}
        if user:  # httpx sends these as a basic-auth pair: a server may echo the pair, not the password
            self._secrets.add(base64.b64encode(f"{user}:{password or ''}".encode()).decode())
        self._headers = dict(settings.headers)
        self._secrets |= {v for k, v in self._headers.items() if k.lower() in ("authorization", "x-api-key")}
        register_secret(*self._secrets)
        verify: ssl.SSLContext | bool = True
        if settings.ca_file:
            try:
                verify = ssl.create_default_context(cafile=str(Path(settings.ca_file).expanduser()))
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load the CA file {settings.ca_file}: {exc}") from None
        auth = httpx.BasicAuth(user, password or "") if user else None
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), verify=verify, auth=auth,
                                         transport=transport, follow_redirects=False)

    def __repr__(self) -> str:
        return f"PrometheusAPI({self.base!r}, auth={self._credentials.kind}, headers={sorted(self._headers)})"

    def redact(self, text: str) -> str:
        for secret in self._secrets | self._credentials.secrets:
            if secret:
                text = text.replace(secret, "***")
        return redact(text)

    async def instant(self, promql: str, at: float | None = None) -> tuple[list[Sample], list[str]]:
        """An instant vector (and Prometheus' warnings). Scalars and strings are refused."""
        params = {"query": promql, "time": f"{time.time() if at is None else at:.3f}"}
        data, warnings = await self._get("/api/v1/query", params)
        if data.get("resultType") != "vector":
            raise QueryFailed(f"expected a vector, Prometheus answered a {data.get('resultType')}")
        return [Sample(dict(r.get("metric") or {}), finite((r.get("value") or [0, None])[1]))
                for r in data.get("result") or []], warnings

    async def range(self, promql: str, start: float, end: float, step: float) -> tuple[list[Series], list[str]]:
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": promql_duration(step)}
        data, warnings = await self._get("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise QueryFailed(f"expected a matrix, Prometheus answered a {data.get('resultType')}")
        return [Series(dict(r.get("metric") or {}), [(float(t), finite(v)) for t, v in r.get("values") or []])
                for r in data.get("result") or []], warnings

    async def _get(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
        params = {**params, "timeout": promql_duration(self.timeout)}
        attempt = 0
        while True:
            try:
                return await self._once(path, params)
            except QueryFailed as failure:
                if not failure.retryable or attempt >= self.retries:
                    raise QueryFailed(self.redact(str(failure)), problem=failure.problem) from None
            await asyncio.sleep(self.backoff * (2 ** attempt))
            attempt += 1

    async def _once(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
        headers = {**self._headers, **self._credentials.header()}
        self.requests += 1
        try:
            response = await self._client.get(self.base + path, params=params, headers=headers)
        except httpx.TimeoutException:
            raise QueryFailed(f"{UNREACHABLE}: no answer from {self.base} within {self.timeout:g}s",
                              retryable=True, problem=Problem.TIMEOUT) from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise QueryFailed(f"{UNREACHABLE}: {self.base}: {reason}", retryable=True,
                              problem=Problem.UNREACHABLE) from None
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> tuple[dict[str, Any], list[str]]:
        status = response.status_code
        if status in (401, 403):
            raise QueryFailed(f"{UNREACHABLE}: HTTP {status} from {self.base}: not allowed — check the token, "
                              f"password or headers", problem=problem_for_status(status))
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise QueryFailed(f"{UNREACHABLE}: {self.base} answered HTTP {status} ({kind}), not Prometheus' "
                              f"API — check the URL and path prefix", retryable=status in RETRYABLE_STATUS,
                              problem=Problem.UNREACHABLE)
        if body.get("status") != "success":
            error = self.redact(str(body.get("error") or "unknown error"))[:300]
            kind = body.get("errorType") or "error"
            if status in (400, 422):
                raise QueryFailed(f"Prometheus rejected the query ({kind}): {error}", problem=Problem.REJECTED)
            raise QueryFailed(f"{UNREACHABLE}: HTTP {status} {kind}: {error}",
                              retryable=status in RETRYABLE_STATUS, problem=Problem.UNREACHABLE)
        return body.get("data") or {}, [self.redact(str(w))[:300] for w in body.get("warnings") or []]

    async def aclose(self) -> None:
        await self._client.aclose()
