"""Wiring: from the command line's choices to one engine Session over the right ports.

The simulated world (`--demo`), a real cluster (kubeconfig), Prometheus or none: whichever the flags say,
the result is the same Session the TUI, the headless console and the one-shot commands drive. Imports of
the heavy adapters (kubernetes_asyncio, httpx) happen here lazily, only when they are used, so the demo's
first frame never waits for them. This module never imports Textual.

Two doors: ``open_world`` for the commands that may act (run, the one-shot actions, the dashboard), told
which services it drives (``drive``); ``open_reader`` for the commands that only read (status, analyze,
the read-only dashboard): the cluster is opened read-only and handed to the session as a ReadOnlyCluster
with no write method, and the session drives nothing, so reading never writes whoever forgets a flag.
Every World's ``aclose`` saves the final record of what it drove before the Leases are released.
"""

from __future__ import annotations

import asyncio
import getpass
import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from console.engine.config import Config
from console.engine.model import Problem, ServiceMetrics
from console.engine.protocols import identity_of

if TYPE_CHECKING:  # the engine's session is imported when a world is opened: after the dashboard's first frame
    from console.engine.clock import Clock
    from console.engine.session import Session
    from console.sim.world import SimWorld

DEMO_VERSION = "1.2.4"


@dataclass
class Options:
    """What the command line chose, independent of argparse."""

    demo: bool = False
    scenario: str = "mixed"
    speed: float = 10.0
    seed: int = 7
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    prometheus: str | None = None
    read_only: bool = False
    virtual: bool = False  # demo on a virtual clock (status, analyze, one-shot actions: instant)
    notify: bool = True  # feed the configured notification sinks (off for commands that only look)


class NoMetrics:
    """The Metrics port when no Prometheus is configured: every poll says so, nothing is ever judged."""

    queries = 0

    async def poll(self, services: Sequence[str], window_s: float,
                   extras: dict[str, dict[str, str]] | None = None) -> dict[str, ServiceMetrics]:
        return {s: ServiceMetrics(service=s, problem="no Prometheus configured (--prometheus URL)",
                                  problem_kinds=(Problem.FAILED,))
                for s in services}

    async def history(self, services: Sequence[str], window_s: float, since_s: float,
                      step_s: float) -> dict[str, list[ServiceMetrics]]:
        return {s: [] for s in services}


@dataclass
class World:
    """A Session with the things that must be closed when it is done."""

    session: Session
    clock: Clock
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    demo: bool = False
    sim: SimWorld | None = None  # the demo's simulated world (its exporter serves it): None on a real cluster

    async def let_time_pass(self, seconds: float) -> None:
        """Wait ``seconds`` on the world's clock: a virtual clock is advanced, a real one slept on."""
        from console.engine.clock import VirtualClock

        await (self.clock.advance(seconds) if isinstance(self.clock, VirtualClock) else self.clock.sleep(seconds))

    async def aclose(self, notify_grace: float = 5.0) -> None:
        try:  # first: the final record of every driven service, while the Leases are still ours
            await self.session.close_out()
        except Exception:  # each save reports its own failure on the bus; closing goes on
            pass
        try:  # then queued notifications get up to ``notify_grace`` seconds to go out
            await asyncio.wait_for(self.session.sinks.drain(), notify_grace)
        except (asyncio.TimeoutError, Exception):  # what is still queued is lost, and was counted
            pass
        await self.session.sinks.aclose()
        for close in reversed(self.closers):
            try:
                await close()
            except Exception:  # closing is best effort; the command's result is already decided
                pass


def local_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def prometheus_for(config: Config, url: str) -> Any:
    """The Prometheus adapter for ``url`` with the config's auth, CA, headers, timeouts and queries."""
    from console.adapters.prometheus import PrometheusMetrics

    return PrometheusMetrics(config.prometheus.model_copy(update={"url": url}))


def _metrics_for(config: Config, options: Options, fallback: Any) -> tuple[Any, list]:
    url = options.prometheus or config.prometheus.url
    if not url:
        return fallback, []
    metrics = prometheus_for(config, url)
    return metrics, [metrics.aclose]


async def open_reader(config: Config, options: Options) -> World:
    """A world for reading only: the cluster opened read-only, behind a ReadOnlyCluster (no write method),
    a session that drives nothing and keeps no journal. (The demo's simulated world is the command's own
    and stays writable, so it can be warmed up with canaries.)"""
    return await _open(config, options, read_only=True, drive=(), actor_kind="command")


async def open_world(config: Config, options: Options, *, drive: Any = (), actor_kind: str = "key") -> World:
    """Build the session the options ask for, driving the services in ``drive`` (or "all"); a read-only
    choice (flag or config) opens it as open_reader does. Raises ClusterError when a cluster cannot be
    reached."""
    read_only = options.read_only or config.read_only
    return await _open(config, options, read_only=read_only, drive=() if read_only else drive,
                       actor_kind=actor_kind)


async def _open(config: Config, options: Options, *, read_only: bool, drive: Any, actor_kind: str) -> World:
    from console.engine.clock import RealClock, ScaledClock, VirtualClock
    from console.engine.ports import ReadOnlyCluster
    from console.engine.session import Session

    actor = local_actor()
    if options.demo:
        from console.sim import build_demo

        clock: Clock = VirtualClock(start=1_700_000_000.0) if options.virtual else ScaledClock(options.speed)
        world, cluster, sim_metrics = build_demo(config, seed=options.seed, scenario=options.scenario,
                                                 clock=clock)
        metrics, closers = _metrics_for(config, options, sim_metrics)
        journal = _journal(config, explicit_only=True)  # the demo writes no journal unless asked to
        sim_read_only = options.read_only or config.read_only  # the command's own simulation: as asked
        session = Session(config, cluster, metrics, clock, actor=f"{actor}@demo", read_only=sim_read_only,
                          journal=journal, drive=drive, actor_kind=actor_kind)
        session.ephemeral = True
        if options.notify:
            add_notifications(session, config)
        return World(session=session, clock=clock, closers=closers, demo=True, sim=world)

    # kubernetes_asyncio takes ~0.4 s to import: in a thread, so the dashboard keeps drawing meanwhile
    kube = await asyncio.to_thread(importlib.import_module, "console.adapters.kube")
    cluster = await kube.connect(config, read_only=read_only, kubeconfig=options.kubeconfig,
                            context=options.context, namespace=options.namespace)
    metrics, closers = _metrics_for(config, options, NoMetrics())
    identity = identity_of(cluster) or actor
    # the read-only port has no write method at all: the session and its controllers take it as it is
    port = ReadOnlyCluster(cluster) if read_only else cluster
    session = Session(config, port, metrics, RealClock(), actor=identity, read_only=read_only,
                      journal=None if read_only else _journal(config), drive=drive, actor_kind=actor_kind,
                      requests=None if read_only else cluster.requests)
    try:
        if options.notify:
            add_notifications(session, config)
    except Exception:
        await cluster.aclose()
        raise
    closers.insert(0, cluster.aclose)
    return World(session=session, clock=RealClock(), closers=closers)


def add_notifications(session: Session, config: Config) -> None:
    """The configured Slack, PagerDuty and webhook sinks, fed by the session's SinkHub. A read-only console
    tells nobody (it drives nothing; the driving console tells). ConfigError when a secret cannot be read."""
    if not config.notifications or session.read_only:
        return
    from console.adapters.notify import build_sinks

    for sink, policy in build_sinks(config.notifications, config.service_names):
        session.sinks.add(sink, policy)


def _journal(config: Config, *, explicit_only: bool = False):
    """The JSONL audit journal (config `journal`, default under the user's state directory)."""
    if explicit_only and not config.journal:
        return None
    from console.engine.audit import Journal

    return Journal(config.journal_path())


async def warm_demo(world: World, services: Sequence[str], minutes: float = 6.0) -> None:
    """Start canaries on the demo world and let its (virtual) clock run until the windows hold data."""
    session = world.session
    for service in services:
        await session.intent(service, "start", version=DEMO_VERSION)
    end = world.clock.now() + minutes * 60
    while world.clock.now() < end:
        await session.step()
        await world.let_time_pass(session.config.check_interval)
    await session.step()
