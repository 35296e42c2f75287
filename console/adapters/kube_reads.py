"""Reading several kinds at once, where one failed list is one named problem, not an empty world.

``read_kinds`` runs one request per kind concurrently and keeps what each answered; a kind whose request
failed is in ``failed`` and in ``problem`` ("cannot list deployments: API server error 503 …"), so the
snapshot can keep that kind's last known values and every service can say what it could not read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from console.adapters.kube_api import clean
from console.engine.model import Problem
from console.engine.ports import ClusterError


@dataclass
class Reads:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, ClusterError] = field(default_factory=dict)

    @property
    def failed(self) -> set[str]:
        return set(self.errors)

    @property
    def ok(self) -> bool:
        """Something could be read."""
        return bool(self.values)

    @property
    def problem(self) -> str | None:
        if not self.errors:
            return None
        if not self.values and len({str(e) for e in self.errors.values()}) == 1:
            return _said(next(iter(self.errors.values())))  # one cause for all: said once
        return "; ".join(_named(kind, _said(exc)) for kind, exc in self.errors.items())

    @property
    def problem_kind(self) -> Problem | None:
        return Problem.gravest(*(exc.problem for exc in self.errors.values()))

    def value(self, kind: str, default: Any = None) -> Any:
        return self.values.get(kind, default)

    def by_name(self, kind: str) -> dict[str, dict[str, Any]]:
        items = (self.values.get(kind) or {}).get("items", []) if kind in self.values else []
        return {o["metadata"]["name"]: o for o in items if isinstance(o, dict) and "metadata" in o}


def _named(kind: str, said: str) -> str:
    return said if f"cannot list {kind}" in said else f"cannot list {kind}: {said}"


def _said(exc: ClusterError) -> str:
    text = clean(str(exc))
    return text if exc.retryable is False or text.endswith("retrying") else f"{text}; retrying"


async def read_kinds(requests: dict[str, Awaitable[Any]]) -> Reads:
    """Await every request; a ClusterError is kept per kind, anything else propagates."""
    answers = await asyncio.gather(*requests.values(), return_exceptions=True)
    reads = Reads()
    for kind, answer in zip(requests, answers):
        if isinstance(answer, ClusterError):
            reads.errors[kind] = answer
        elif isinstance(answer, BaseException):
            raise answer
        else:
            reads.values[kind] = answer
    return reads
