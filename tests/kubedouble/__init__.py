"""The Kubernetes API double: an aiohttp server on 127.0.0.1 that behaves as the API server does where the
console depends on it (label selectors, watches with resourceVersion and 410, merge and strategic-merge
patch, the scale subresource, pod logs with follow, optimistic concurrency, Status bodies), with fault
injection, a request log and a kubeconfig writer. Tests only; never imported by the product.
"""

from tests.kubedouble.server import KubeDouble, Fault, Logged
from tests.kubedouble.stepclock import StepClock

__all__ = ["KubeDouble", "Fault", "Logged", "StepClock"]
