"""The simulated world's core room: six services' stable and canary tracks, traffic split by the canary
weight, faults from the scenario, and the numbers Prometheus would see.

Time is cut into whole seconds; second ``k`` covers [k, k+1). ``advance_to(t)`` generates every second
before ``t`` with the state the world has then, so writes (start, weight, rollback, promote) call it first
and their effect starts at the next second. Each second's numbers come from counter-based noise keyed by
(seed, service, track, second), so the same seed and clock times give the same windows in any query order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from console.engine.config import SERVICES
from console.engine.model import Pod, Track, TrackWindow
from console.sim import scenarios as sc
from console.sim.latency import BUCKETS, FAST_FAIL_SECONDS, Latency, bucket_shape, histogram_quantile
from console.sim.noise import poisson, stream_key, unit
from console.sim.pods import SimPod
from console.sim.store import NB, Totals, TrackStore

STABLE_REPLICAS = 3
DAILY_SWING = 0.10  # traffic rises and falls ±10 % over an hour, so charts move
_SWING_RAD = 2 * math.pi / 3600.0
_POD_CHARS = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True, slots=True)
class TrackCounters:
    """Cumulative since the world began, as a Prometheus exporter serves them."""

    requests: dict[str, float]  # by status code
    buckets: list[tuple[float, float]]  # (le seconds, cumulative count), ascending, last le = inf
    sum: float  # seconds
    present: bool = False  # the track ever had pods or traffic (a never-started canary has no series)

    @property
    def count(self) -> float:
        return sum(self.requests.values())


@dataclass(slots=True)
class SimService:
    """One simulated service: its scenario, faults and per-track state (console/sim/extras.py reads it)."""
    name: str
    scenario: str
    faults: frozenset[str]
    profile: sc.ServiceProfile
    stores: dict[Track, TrackStore]
    keys: dict[Track, int]
    stable_version: str
    stable_pods: list[SimPod] = field(default_factory=list)
    canary_version: str | None = None
    canary_exists: bool = False
    canary_pods: list[SimPod] = field(default_factory=list)
    weight: int = 0
    canary_started_at: float | None = None
    regression_from: float = math.inf  # when the weight first reached the error regression's weight
    generation: int = 0

    @property
    def base_rps(self) -> float:
        return sc.LOW_TRAFFIC_RPS if "low-traffic" in self.faults else self.profile.rps

    def pods(self, track: Track) -> list[SimPod]:
        return self.stable_pods if track is Track.STABLE else self.canary_pods

    def share(self, track: Track) -> float:
        canary = self.weight / 100.0 if self.canary_exists else 0.0
        return canary if track is Track.CANARY else 1.0 - canary

    def latency(self, track: Track) -> Latency:
        latency = self.profile.latency
        if track is Track.CANARY and "latency-regression" in self.faults:
            latency = latency.scaled(sc.LATENCY_FACTOR)
        if track is Track.CANARY and "p99-regression" in self.faults:
            latency = latency.with_tail(sc.P99_TAIL_FROM, sc.P99_FACTOR)
        return latency

    def error_rate(self, track: Track, t: float) -> float:
        if track is Track.CANARY and t >= self.regression_from:
            return sc.REGRESSION_ERROR_RATE
        return self.profile.error_rate


class SimWorld:
    def __init__(self, seed: int = 7, scenario: str | Mapping[str, str] = "mixed", start: float = 0.0,
                 services: Sequence[str] = SERVICES, *, retention: float = 7200.0,
                 stable_version: str = "1.2.3") -> None:
        self.seed = seed
        self.start = float(start)
        self.retention = max(60, int(retention))
        self._end = math.floor(self.start)  # seconds before this are generated
        chosen = sc.resolve(scenario, list(services))
        self._services: dict[str, SimService] = {}
        for name in services:
            svc = SimService(name=name, scenario=chosen[name], faults=sc.faults_of(chosen[name]),
                           profile=sc.profile_for(name),
                           stores={t: TrackStore(self.retention, self._end) for t in Track},
                           keys={t: stream_key(seed, name, t.value) for t in Track},
                           stable_version=stable_version)
            svc.stable_pods = self._new_pods(svc, Track.STABLE, STABLE_REPLICAS, self.start - 3600.0,
                                             ready=True)
            self._services[name] = svc

    # ----------------------------------------------------------------- reading
    @property
    def services(self) -> list[str]:
        return list(self._services)

    @property
    def now(self) -> float:
        """The end of the generated time."""
        return float(self._end)

    def scenario_of(self, service: str) -> str:
        return self._svc(service).scenario

    def window(self, service: str, track: Track | str, t_end: float, seconds: float) -> TrackWindow | None:
        """What increase()/histogram_quantile() would say over (t_end - seconds, t_end]; None when the
        track had neither pods nor traffic in it."""
        self.advance_to(t_end)
        store = self._svc(service).stores[Track(track)]
        end = math.floor(t_end)
        begin = max(math.floor(t_end - seconds), store.origin, store.end - store.rows)
        ok, e500, e503, present, *counts = store.counts(begin, end)
        requests = float(ok) + float(e500) + float(e503)
        if present == 0 and requests == 0:
            return None
        buckets = list(zip(BUCKETS, map(float, counts)))
        return TrackWindow(requests=requests, errors=float(e500) + float(e503),
                           p95=histogram_quantile(0.95, buckets), p99=histogram_quantile(0.99, buckets),
                           seconds=float(max(1, end - begin)))

    def counters(self, service: str, track: Track | str) -> TrackCounters:
        total: Totals = self._svc(service).stores[Track(track)].total
        return TrackCounters(requests={"200": total.ok, "500": total.e500, "503": total.e503},
                             buckets=list(zip(BUCKETS, total.buckets)), sum=total.latency_sum,
                             present=total.present > 0 or total.requests > 0)

    def truth(self, service: str, track: Track | str, t: float | None = None) -> dict[str, float | bool | None]:
        """The configured truth at ``t`` (default: the generated end): error rate, P95, P99, mean rps."""
        svc, track = self._svc(service), Track(track)
        t = self.now if t is None else t
        rps = svc.base_rps * svc.share(track) * (1 + DAILY_SWING * math.sin(_SWING_RAD * t))
        serving = any(p.ready(t) for p in svc.pods(track))
        if rps <= 0:
            return {"rps": 0.0, "serving": serving, "error_rate": None, "p95": None, "p99": None}
        if not serving:
            return {"rps": rps, "serving": False, "error_rate": 1.0, "p95": FAST_FAIL_SECONDS,
                    "p99": FAST_FAIL_SECONDS}
        latency = svc.latency(track)
        return {"rps": rps, "serving": True, "error_rate": svc.error_rate(track, t),
                "p95": latency.quantile(0.95), "p99": latency.quantile(0.99)}

    def metrics_gap(self, service: str, t: float) -> bool:
        """True while a metrics-gap service's scrapes are missing (4–12 min after its canary starts)."""
        svc = self._svc(service)
        if "metrics-gap" not in svc.faults:
            return False
        anchor = self.start if svc.canary_started_at is None else svc.canary_started_at
        return sc.GAP_FROM <= t - anchor < sc.GAP_UNTIL

    def extra_value(self, service: str, track: Track | str, name: str, t: float) -> float | None:
        """Service-specific metrics over the last minute; None for a name the world does not know or a
        track without traffic."""
        from console.sim.extras import extra_value

        return extra_value(self, self._svc(service), Track(track), name, t)

    def pods(self, service: str, t: float) -> tuple[Pod, ...]:
        svc = self._svc(service)
        return tuple(p.at(t) for p in (*svc.stable_pods, *svc.canary_pods))

    def versions(self, service: str) -> tuple[str, str | None, bool, int]:
        """(stable version, canary version, canary exists, weight)."""
        svc = self._svc(service)
        return svc.stable_version, svc.canary_version, svc.canary_exists, svc.weight

    def sim_pods(self, service: str, track: Track | None = None) -> list[SimPod]:
        """The service's current pods (both tracks unless one is named)."""
        svc = self._svc(service)
        return [p for p in (*svc.stable_pods, *svc.canary_pods) if track is None or p.track == track]

    def error_rate(self, service: str, track: Track | str, t: float) -> float:
        """The configured 5xx share of a serving track at ``t`` (1.0 when it has no ready pod)."""
        svc, track = self._svc(service), Track(track)
        if not any(p.ready(t) for p in svc.pods(track)):
            return 1.0
        return svc.error_rate(track, t)

    def stored_buckets(self) -> int:
        """Per-second rows held over all tracks (bounded by the retention)."""
        return sum(store.rows for svc in self._services.values() for store in svc.stores.values())

    # ----------------------------------------------------------------- writing
    def start_canary(self, service: str, version: str, weight: int, t: float) -> None:
        self.advance_to(t)
        svc = self._svc(service)
        svc.canary_exists, svc.canary_version, svc.canary_started_at = True, version, t
        svc.regression_from = math.inf
        svc.canary_pods = self._new_pods(svc, Track.CANARY, 1, t)
        self._set_weight(svc, weight, t)

    def set_weight(self, service: str, weight: int, t: float) -> None:
        self.advance_to(t)
        svc = self._svc(service)
        if not svc.canary_exists:
            raise LookupError(f"{service} has no canary")
        self._set_weight(svc, weight, t)

    def scale_canary_to_zero(self, service: str, t: float) -> None:
        """The runbook's rollback: weight 0 and no canary pods; the canary's objects stay."""
        self.advance_to(t)
        svc = self._svc(service)
        svc.weight, svc.canary_pods = 0, []

    def promote(self, service: str, version: str, t: float) -> None:
        """The stable runs ``version`` on fresh pods (already rolled out) and the canary is gone."""
        self.advance_to(t)
        svc = self._svc(service)
        svc.stable_version = version
        svc.stable_pods = self._new_pods(svc, Track.STABLE, STABLE_REPLICAS, t - 30.0, ready=True)
        self.delete_canary(service, t)

    def delete_canary(self, service: str, t: float) -> None:
        self.advance_to(t)
        svc = self._svc(service)
        svc.canary_exists, svc.canary_version, svc.canary_pods, svc.weight = False, None, [], 0

    # ----------------------------------------------------------------- generating
    def advance_to(self, t: float) -> None:
        """Generate traffic for every whole second before ``t`` (idempotent; never goes back)."""
        target = math.floor(t)
        chunk = max(1, self.retention // 2)
        while self._end < target:
            upto = min(target, self._end + chunk)
            for svc in self._services.values():
                for track in Track:
                    self._fill(svc, track, self._end, upto)
                    svc.stores[track].fold()
            self._end = upto

    def _fill(self, svc: SimService, track: Track, k0: int, k1: int) -> None:
        store, key, pods = svc.stores[track], svc.keys[track], svc.pods(track)
        present = 1 if pods else 0
        mean_rps = svc.base_rps * svc.share(track)
        if mean_rps <= 0:
            for _ in range(k0, k1):
                store.put_quiet(present)
            return
        shares, mean = bucket_shape(svc.latency(track))
        regression_from = svc.regression_from if track is Track.CANARY else math.inf
        base_error = svc.profile.error_rate
        sin = math.sin
        for k in range(k0, k1):
            c = 4 * k
            n = poisson(mean_rps * (1.0 + DAILY_SWING * sin(_SWING_RAD * k)), unit(key, c))
            if n == 0:
                store.put_quiet(present)
            elif any(p.serves_during(k) for p in pods):
                rate = sc.REGRESSION_ERROR_RATE if k >= regression_from else base_error
                errors = min(n, poisson(n * rate, unit(key, c + 1)))
                store.put_served(n - errors, errors, present, n * mean, n, shares, unit(key, c + 2))
            else:  # nginx has no ready upstream for this share: 503 at once
                store.put(0, 0, n, present, n * FAST_FAIL_SECONDS, [n] * NB)

    # ----------------------------------------------------------------- helpers
    def _svc(self, service: str) -> SimService:
        try:
            return self._services[service]
        except KeyError:
            raise LookupError(f"unknown service {service!r}") from None

    def _set_weight(self, svc: SimService, weight: int, t: float) -> None:
        if not 0 <= int(weight) <= 100:
            raise ValueError(f"weight must be 0..100, got {weight}")
        svc.weight = int(weight)
        if "error-regression" in svc.faults and svc.weight >= sc.REGRESSION_FROM_WEIGHT:
            svc.regression_from = min(svc.regression_from, t)

    def _new_pods(self, svc: SimService, track: Track, count: int, created: float, *,
                  ready: bool = False) -> list[SimPod]:
        svc.generation += 1
        key = stream_key(self.seed, svc.name, track.value, "pods", svc.generation)
        prefix = svc.name if track is Track.STABLE else f"{svc.name}-canary"
        template = "".join(_POD_CHARS[int(unit(key, i) * len(_POD_CHARS))] for i in range(10))
        pods = []
        for i in range(count):
            suffix = "".join(_POD_CHARS[int(unit(key, 100 + 10 * i + j) * len(_POD_CHARS))] for j in range(5))
            ready_at = created if ready else created + 10.0 + 20.0 * unit(key, 200 + i)
            crash_at = math.inf
            if track is Track.CANARY and "crashloop" in svc.faults:
                low, high = sc.CRASH_READY_FOR
                crash_at = ready_at + low + (high - low) * unit(key, 300 + i)
            pods.append(SimPod(f"{prefix}-{template}-{suffix}", track, created, ready_at, crash_at))
        return pods
