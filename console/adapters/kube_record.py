"""The rollout record's home: one ConfigMap per service, ``<service>-canary-rollout``, whatever the router,
and the intent log that keeps it and the router's weight from disagreeing unexplained (no request can
change both objects at once).

A weight change is written in three steps: the record first, with ``pending-weight`` (and the
``replaced-weight`` it replaces), then the router, then the record confirmed (``weight`` = the new weight,
the pending keys gone). ``reconcile`` reads a record against the live weight:

- pending and live == pending: the router write landed, the confirmation did not → confirm;
- pending and live == replaced: our own write was interrupted before the router → re-apply it;
- pending and anything else, or no pending and live != the record's weight: a change the console did not
  make → an override, reported in ``ServiceSnapshot.override`` and never written over here.

Only the console that drives the service (holds its Lease) confirms or re-applies; anyone else just reads
the reconciled view. Records written by earlier releases (annotations on the canary Ingress) are read when
no ConfigMap exists and moved into one by the first write; the Ingress is never written a record again.
Pure translations here; the requests are KubeCluster's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from console.adapters import kube_objects as ko
from console.engine.model import RolloutRecord, State

SUFFIX = "-canary-rollout"
MANAGED_BY = "app.kubernetes.io/managed-by"
SERVICE_LABEL = "canary-console.io/service"
SELECTOR = f"{MANAGED_BY}=canary-console"
PENDING = "pending-weight"
REPLACED = "replaced-weight"
ROUTER = "router"


def configmap_name(service: str) -> str:
    return f"{service}{SUFFIX}"


def record_data(record: RolloutRecord) -> dict[str, str]:
    """The record as ConfigMap data: the same keys as the Ingress annotations had, without the prefix."""
    return {key.removeprefix(ko.PREFIX): value for key, value in ko.record_annotations(record).items()}


def record_of(data: dict[str, str]) -> RolloutRecord | None:
    return ko.record_from({ko.PREFIX + key: value for key, value in data.items()})


def configmap(service: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": configmap_name(service),
                         "labels": {MANAGED_BY: "canary-console", SERVICE_LABEL: service}},
            "data": dict(data)}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Stored:
    """A record as found: from the ConfigMap (``resource_version`` set) or the legacy Ingress annotations."""

    record: RolloutRecord | None
    pending: int | None = None
    replaced: int | None = None
    resource_version: str = ""
    legacy: bool = False

    @classmethod
    def from_configmap(cls, obj: dict[str, Any]) -> Stored:
        data = obj.get("data") or {}
        return cls(record=record_of(data), pending=_int(data.get(PENDING)), replaced=_int(data.get(REPLACED)),
                   resource_version=(obj.get("metadata") or {}).get("resourceVersion", ""))

    @classmethod
    def from_legacy(cls, notes: dict[str, str]) -> Stored:
        return cls(record=ko.record_from(notes), legacy=True)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The record as a reader should take it, and what the driver has to do: "" (nothing), "confirm" or
    "reapply" (both finish our own write of ``pending``); ``override`` is the one-line report of a change
    the console did not make."""

    record: RolloutRecord | None
    action: str = ""
    override: str | None = None


_OWN_MOVES = (State.PROMOTED, State.PROMOTING, State.IDLE)  # states in which the console itself moves the weight


def reconcile(stored: Stored, live: int, where: str, changed_by: str | None = None) -> Reconciled:
    record = stored.record
    by = f" by {changed_by}" if changed_by else ""
    if record is None:
        return Reconciled(None)
    if stored.pending is not None:
        if live == stored.pending:
            return Reconciled(replace(record, weight=live), "confirm")
        if live == stored.replaced:
            return Reconciled(replace(record, weight=stored.pending), "reapply")
        return Reconciled(record, override=f"weight {live}% on {where} set outside the console{by} (it was setting "
                                           f"{stored.pending}% from {stored.replaced}%)")
    if live != record.weight and record.state not in _OWN_MOVES:
        return Reconciled(record, override=f"weight {live}% on {where} set outside the console{by} "
                                           f"(the console last set {record.weight}%)")
    return Reconciled(record)
