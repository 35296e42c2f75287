"""The Kubernetes adapter's boundary with the API server: every request the console sends leaves through
``KubeApi``, which wraps kubernetes-asyncio's ApiClient (its kubeconfig and in-cluster auth, its aiohttp
pool) and adds what the console needs: the read-only guard, bounded retries with backoff for 5xx and
transport failures, and errors that name what failed ("forbidden: cannot patch ingresses in namespace
butterfly") instead of tracebacks.

The read-only guard sits on the ApiClient's REST ``request`` method itself, the one function every request
goes through, so no write can leave the process in read-only mode whichever code path asks for it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from console.engine.audit import redact, register_secret
from console.engine.clock import Clock
from console.engine.model import Problem
from console.engine.ports import ClusterError, ReadOnlyError

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
READS = frozenset({"GET", "HEAD", "OPTIONS"})
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=5)
BACKOFF = (0.5, 1.0, 2.0)  # seconds before each retry of a 5xx / 429 / transport failure
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_PATH = re.compile(r"^/apis?/(?:[^/]+/)?v1/namespaces/([^/]+)/([^/]+)(?:/([^/]+)(?:/([^/]+))?)?")


def clean(text: str, limit: int = 300) -> str:
    """Untrusted text (server messages, names) as plain data: no control or bidi characters, bounded."""
    text = _CONTROL.sub("\N{REPLACEMENT CHARACTER}", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class NotFound(ClusterError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, status=404)


class Conflict(ClusterError):
    """409: a stale resourceVersion (re-read and retry) or, with ``exists``, AlreadyExists on create."""

    def __init__(self, message: str, *, exists: bool) -> None:
        super().__init__(message, retryable=True, status=409)
        self.exists = exists


class Gone(ClusterError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True, status=410)


def describe(method: str, path: str, *, watch: bool = False) -> tuple[str, str, str]:
    """(verb, resource, namespace) of a request, in RBAC's words: ("patch", "ingresses", "butterfly")."""
    match = _PATH.match(path)
    if not match:
        return method.lower(), path, ""
    namespace, resource, name, sub = match.groups()
    if sub:
        resource = f"{resource}/{sub}"
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    else:
        verb = _VERBS.get(method, method.lower())
    return verb, resource, namespace


def error_for(status: int, body: bytes | str, method: str, path: str, *, watch: bool = False) -> ClusterError:
    """The ClusterError a failed answer means, its message naming the verb and the resource."""
    verb, resource, namespace = describe(method, path, watch=watch)
    where = f" in namespace {namespace}" if namespace else ""
    message, reason = _status_message(body)
    if status == 401:
        return ClusterError("unauthorized: the API server did not accept the kubeconfig's credentials "
                            "(expired token or certificate?)", retryable=False, status=401)
    if status == 403:
        return ClusterError(f"forbidden: cannot {verb} {resource}{where}", retryable=False, status=403)
    if status == 404:
        return NotFound(f"not found: {message or resource}")
    if status == 409:
        return Conflict(f"conflict: {message or resource}", exists=reason == "AlreadyExists")
    if status == 410:
        return Gone(f"gone: {message or 'resource version too old'}")
    if status == 429 or status >= 500:
        return ClusterError(f"API server error {status} on {verb} {resource}{where}: {message or reason}",
                            retryable=True, status=status)
    return ClusterError(f"{verb} {resource}{where} refused ({status}): {message or reason}",
                        retryable=False, status=status)


def _status_message(body: bytes | str) -> tuple[str, str]:
    """(message, reason) of a Status body: secrets redacted before it is cut, then made plain text."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return clean(redact(body if isinstance(body, str) else body.decode("utf-8", "replace")), 200), ""
    if not isinstance(data, dict):
        return "", ""
    return clean(redact(str(data.get("message", ""))), 200), clean(str(data.get("reason", "")), 60)


def guard_writes(api_client: Any, is_read_only: Callable[[], bool]) -> None:
    """Make the ApiClient's REST layer refuse every non-read method while ``is_read_only()`` holds."""
    rest = api_client.rest_client
    send = rest.request

    async def guarded(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() not in READS and is_read_only():
            raise ReadOnlyError(f"read-only: refused to send {method.upper()} {url.split('?')[0]}")
        return await send(method, url, *args, **kwargs)

    rest.request = guarded


class KubeApi:
    """JSON in, JSON out, over a kubernetes-asyncio ApiClient; ``clock`` paces the retries."""

    def __init__(self, api_client: Any, clock: Clock, *, read_only: bool,
                 request_timeout: float = REQUEST_TIMEOUT.total or 15.0) -> None:
        self.client = api_client
        self.clock = clock
        self.read_only = read_only
        self.request_timeout = request_timeout  # seconds per request: connect() sizes it to the check interval
        self.requests = 0
        guard_writes(api_client, lambda: self.read_only)

    @property
    def host(self) -> str:
        return str(self.client.configuration.host)

    def _register_credentials(self) -> None:
        """The kubeconfig's token (it may be refreshed) and password are secrets redact() must mask."""
        configuration = self.client.configuration
        token = str((getattr(configuration, "api_key", None) or {}).get("BearerToken") or "")
        register_secret(token, token.removeprefix("Bearer ").strip(), getattr(configuration, "password", None))

    async def raw(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                  content_type: str = "application/json",
                  timeout: aiohttp.ClientTimeout | None = None) -> aiohttp.ClientResponse:
        """One request, no retry; the caller reads (and releases) the response. Transport failures and
        timeouts become ClusterError(retryable=True)."""
        self.requests += 1
        self._register_credentials()
        if timeout is None:
            timeout = self.timeout(self.request_timeout)
        try:
            return await self.client.call_api(
                path, method, query_params=list((query or {}).items()),
                header_params={"Content-Type": content_type, "Accept": "application/json, */*"},
                body=body, auth_settings=["BearerToken"], _preload_content=False, _request_timeout=timeout)
        except ReadOnlyError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            if isinstance(exc, asyncio.TimeoutError):
                raise ClusterError(f"API server unreachable at {self.host}: no answer within "
                                   f"{timeout.total or timeout.sock_read or 0:g}s", retryable=True,
                                   problem=Problem.TIMEOUT) from None
            detail = clean(str(exc) or type(exc).__name__, 160)
            raise ClusterError(f"API server unreachable at {self.host}: {detail}", retryable=True,
                               problem=Problem.UNREACHABLE) from None

    @staticmethod
    def timeout(seconds: float) -> aiohttp.ClientTimeout:
        """A whole-request limit of ``seconds`` (connect included)."""
        return aiohttp.ClientTimeout(total=seconds, sock_connect=min(5.0, seconds))

    async def call(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                   content_type: str = "application/json", retries: int = len(BACKOFF),
                   timeout_s: float | None = None) -> Any:
        """One logical request: JSON answer on 2xx; 5xx, 429 and transport failures retried ``retries``
        times with backoff; anything else raised at once as the ClusterError it means. Each attempt is
        limited to ``timeout_s`` (default: the API's request timeout)."""
        attempt = 0
        while True:
            try:
                return await self._once(method, path, query, body, content_type, timeout_s)
            except ClusterError as exc:
                if not exc.retryable or exc.status in (409, 410) or attempt >= retries:
                    raise
            await self.clock.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            attempt += 1

    async def _once(self, method: str, path: str, query: dict[str, Any] | None, body: Any,
                    content_type: str, timeout_s: float | None = None) -> Any:
        response = await self.raw(method, path, query=query, body=body, content_type=content_type,
                                  timeout=None if timeout_s is None else self.timeout(timeout_s))
        try:
            data = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ClusterError(f"API server connection lost: {clean(str(exc), 160)}", retryable=True,
                               problem=Problem.UNREACHABLE) from None
        finally:
            response.release()
        if not 200 <= response.status < 300:
            raise error_for(response.status, data, method, path)
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")

    async def with_conflicts(self, attempt: Callable[[], Awaitable[Any]], tries: int = 5) -> Any:
        """Run ``attempt`` (which re-reads what it updates) again on 409 Conflict, a bounded number of times."""
        for remaining in range(tries - 1, -1, -1):
            try:
                return await attempt()
            except Conflict as exc:
                if exc.exists or remaining == 0:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.client.close()
