"""The simulated world room: six services with stable and canary tracks, traffic split by the canary
weight, named fault scenarios, pods and logs — behind the same ports as the real cluster and Prometheus.

  world.py      SimWorld: per-second traffic, windows, cumulative counters, truth, metrics gaps
  scenarios.py  service profiles and the scenarios (healthy, error-regression, latency-regression,
                p99-regression, crashloop, low-traffic, metrics-gap, mixed)
  pods.py       one pod's life (Pending → Ready, crash loops with back-off)
  store.py      compact per-second ring buffers with a retention
  latency.py    latency distributions, histogram buckets, histogram_quantile
  noise.py      seeded counter-based randomness (same seed + same times → same numbers)
  extras.py     service-specific metrics (Kafka lag, gateway overhead, tool success rate)
  logs.py       Spring Boot style log lines, hostile ones included
  cluster.py    SimCluster (ports.Cluster), metrics.py SimMetrics (ports.Metrics), demo.py build_demo
  exporter.py   the world's counters in Prometheus text format (written separately)
"""

from console.sim.cluster import SimCluster
from console.sim.demo import build_demo
from console.sim.metrics import SimMetrics
from console.sim.scenarios import SCENARIOS, UnknownScenario
from console.sim.world import SimWorld, TrackCounters

__all__ = ["SCENARIOS", "SimCluster", "SimMetrics", "SimWorld", "TrackCounters", "UnknownScenario",
           "build_demo"]
