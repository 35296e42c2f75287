"""Status bodies as the API server writes them for failures (403, 404, 409, 410, 422, 500 …)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
           409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def status_body(code: int, message: str, *, reason: str | None = None, name: str = "",
                kind: str = "", group: str = "") -> dict[str, Any]:
    details = {k: v for k, v in (("name", name), ("group", group), ("kind", kind)) if v}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason or REASONS.get(code, "Unknown"), "details": details, "code": code}


def status_response(code: int, message: str, **kwargs: Any) -> web.Response:
    return web.json_response(status_body(code, message, **kwargs), status=code)


def qualified(resource: str, group: str) -> str:
    """"ingresses.networking.k8s.io", "deployments.apps", "pods" — how the server names a resource."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> web.Response:
    return status_response(404, f'{qualified(resource, group)} "{name}" not found', name=name,
                           kind=resource, group=group)


def conflict(resource: str, group: str, name: str) -> web.Response:
    return status_response(409, f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": the '
                           "object has been modified; please apply your changes to the latest version and "
                           "try again", name=name, kind=resource, group=group)


def already_exists(resource: str, group: str, name: str) -> web.Response:
    return status_response(409, f'{qualified(resource, group)} "{name}" already exists', reason="AlreadyExists",
                           name=name, kind=resource, group=group)


def forbidden(user: str, verb: str, resource: str, group: str, namespace: str, name: str) -> web.Response:
    base, _, sub = resource.partition("/")
    target = f'{qualified(base, group)} "{name}"' if name else qualified(base, group)
    message = (f'{target} is forbidden: User "{user}" cannot {verb} resource "{base}"'
               + (f' subresource "{sub}"' if sub else "")
               + f' in API group "{group}" in the namespace "{namespace}"')
    return status_response(403, message, name=name, kind=base, group=group)
