"""Test room: helpers shared by the TUI tests (no tests here): sessions on a virtual clock over the seeded
simulated world or the engine's in-memory fakes, the screen as plain text, and waiting for the app's
workers and status flush without sleeping."""

from __future__ import annotations

from contextlib import asynccontextmanager

from console.app import CanaryApp
from console.engine.clock import VirtualClock
from console.engine.config import Config
from console.engine.session import Session
from console.sim import build_demo
from tests.fakes import FakeCluster, FakeMetrics

START = 1_700_000_000.0


def sim_session(scenario: str | dict = "mixed", seed: int = 7) -> tuple[Session, VirtualClock]:
    config = Config()
    clock = VirtualClock(START)
    _world, cluster, metrics = build_demo(config, seed=seed, scenario=scenario, clock=clock)
    return Session(config, cluster, metrics, clock), clock


def fake_session(canary: dict | None = None, *, read_only: bool = False,
                 config: Config | None = None) -> tuple[Session, VirtualClock, FakeCluster]:
    config = config or Config()
    clock = VirtualClock(START)
    cluster = FakeCluster(clock, config.service_names)
    metrics = FakeMetrics(cluster, canary=canary or {})
    return Session(config, cluster, metrics, clock, read_only=read_only), clock, cluster


async def start_all(session: Session, services: list[str] | None = None, version: str = "1.2.4") -> None:
    for service in services or session.config.service_names:
        await session.intent(service, "start", version=version)


async def run_for(session: Session, clock: VirtualClock, seconds: float) -> None:
    """Step the session every check interval for ``seconds`` of virtual time (nothing sleeps)."""
    end = clock.now() + seconds
    while clock.now() < end:
        await session.step()
        await clock.advance(session.config.check_interval)


def screen_text(app: CanaryApp) -> str:
    """What a person would read on the app's screen right now."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def settle(app: CanaryApp, pilot) -> None:
    """Let intent workers finish, then push pending statuses to the screen and let it repaint."""
    await pilot.pause()
    for worker in [w for w in app.workers if w.group.startswith("intent:")]:
        await worker.wait()
    await pilot.pause()
    app.flush()
    await pilot.pause()


@asynccontextmanager
async def app_watching(canary: dict, services: list[str], seconds: float, *, config: Config | None = None,
                       size: tuple[int, int] = (80, 24)):
    """Canaries started on ``services`` over the fakes, the app open while ``seconds`` of virtual time pass
    (so it hears every event, bells included): yields (app, pilot, session, clock, cluster)."""
    session, clock, cluster = fake_session(canary=canary, config=config)
    await start_all(session, services)
    app = CanaryApp(session, autorun=False)
    async with app.run_test(size=size) as pilot:
        await run_for(session, clock, seconds)
        await settle(app, pilot)
        yield app, pilot, session, clock, cluster
