"""Widgets room: PodTable, the pods of both tracks (track, name, ready, status, restarts, age), keyed by
pod UID and updated in place: only changed cells are rewritten, gone pods removed, new pods added."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from console.engine.model import Pod
from widgets.keyed_table import KeyedTable
from widgets.text import age, inert

COLUMNS = ("track", "pod", "ready", "status", "restarts", "age")


def pod_cells(pod: Pod, now: float) -> tuple[Text, ...]:
    status = pod.reason or pod.phase
    style = "" if pod.ready and not pod.reason else "bold"
    return (Text(pod.track.value), Text(inert(pod.name, 80)), Text("yes" if pod.ready else "no", style=style),
            Text(inert(status, 40), style=style), Text(str(pod.restarts)),
            Text(age(None if pod.started_at is None else now - pod.started_at)))


class PodTable(KeyedTable):
    COLUMNS = COLUMNS

    def show(self, pods: Sequence[Pod], now: float) -> None:
        self.sync({(pod.uid or pod.name): pod_cells(pod, now) for pod in pods})
