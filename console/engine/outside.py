"""The outside room: what a driving controller last wrote or saw of its service's objects, and the changes
in a cluster snapshot that it did not make (a person with kubectl, another tool). Pure and small: the
controller (console/engine/controller.py) decides what such a change means: pause, announce, never write
over it.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.engine.model import ServiceSnapshot


@dataclass
class Expected:
    """The canary Deployment's existence and replicas and the stable image, as this driver last wrote or
    saw them; None while not known yet (taken from the first snapshot that shows them)."""

    deployment: bool | None = None
    replicas: int | None = None
    stable: str | None = None

    def wrote(self, operation: str, to_weight: int | None) -> None:
        """Our own write: what it changes is expected from now on."""
        if operation == "start_canary":
            self.deployment, self.replicas = True, 1
        elif operation == "rollback":
            self.replicas = 0
        elif operation in ("promote", "delete_canary"):
            self.deployment = self.replicas = self.stable = None

    def see(self, snapshot: ServiceSnapshot) -> None:
        """What the snapshot shows is known from now on (after the changes in it were reported)."""
        if snapshot.canary_deployment is not None:
            self.deployment = snapshot.canary_deployment
        self.replicas = snapshot.canary_replicas if snapshot.canary_deployment else None
        if snapshot.stable_version:
            self.stable = snapshot.stable_version

    def changes(self, snapshot: ServiceSnapshot, weight: int, canary_name: str) -> list[str]:
        """The changes we did not make, one phrase each: what, outside the console, and what it was."""
        found = []
        if snapshot.weight != weight:
            by = f", by {snapshot.weight_changed_by}" if snapshot.weight_changed_by else ""
            found.append(f"weight set to {snapshot.weight} outside the console (was {weight}%{by})")
        if self.deployment and snapshot.canary_deployment is False:
            found.append(f"canary Deployment {canary_name} was deleted outside the console")
        elif None not in (self.replicas, snapshot.canary_replicas) and snapshot.canary_replicas != self.replicas:
            found.append(f"canary scaled to {snapshot.canary_replicas} replicas outside the console "
                         f"(was {self.replicas})")
        if self.stable and snapshot.stable_version and snapshot.stable_version != self.stable:
            found.append(f"stable image changed to {snapshot.stable_version} outside the console (was {self.stable})")
        return found
