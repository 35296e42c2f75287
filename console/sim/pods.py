"""Pod room of the simulated world: one pod's life as a pure function of time.

A pod is Pending for a few seconds, Running but not Ready until its readiness probe passes (10–30 s after
creation), then Ready. A crash-looping pod is Ready until ``crash_at``, then restarts with Kubernetes'
back-off (10 s doubling to 5 min), runs a few seconds without becoming Ready and crashes again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from console.engine.model import Pod, Track

PENDING_SECONDS = 3.0
RUN_BEFORE_CRASH = 5.0
BACKOFF_START, BACKOFF_CAP = 10.0, 300.0


@dataclass(frozen=True, slots=True)
class SimPod:
    name: str
    track: Track
    created_at: float
    ready_at: float
    crash_at: float = math.inf

    def ready(self, t: float) -> bool:
        return self.ready_at <= t < self.crash_at

    def serves_during(self, k: int) -> bool:
        """Whether the pod is Ready at any moment of second ``k``: the world applies a write to the whole
        second it happens in, so a canary that turned Ready in that second serves the traffic sent to it."""
        return self.ready_at < k + 1 and k < self.crash_at

    def _restarts(self, t: float) -> tuple[int, bool]:
        """(restarts so far, whether the pod is waiting in back-off) at ``t``."""
        if t < self.crash_at:
            return 0, False
        restarts, crashed, backoff = 0, self.crash_at, BACKOFF_START
        while True:
            restart = crashed + backoff
            if t < restart:
                return restarts, True
            restarts += 1
            crashed = restart + RUN_BEFORE_CRASH
            if t < crashed:
                return restarts, False
            backoff = min(backoff * 2, BACKOFF_CAP)

    def at(self, t: float) -> Pod:
        """The pod as `kubectl get pods` would show it at ``t``."""
        if t < self.created_at + PENDING_SECONDS:
            return Pod(self.name, self.track, False, "Pending", 0, None, "ContainerCreating", self.name)
        restarts, waiting = self._restarts(t)
        return Pod(self.name, self.track, self.ready(t), "Running", restarts,
                   self.created_at + PENDING_SECONDS, "CrashLoopBackOff" if waiting else "", self.name)
