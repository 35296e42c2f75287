"""The dashboard command's room: the app comes up first, drawn from the cheap first-frame settings
(console.engine.config_layers, no pydantic); the configuration is validated and the world (simulated or the
cluster) opened in the app's connect worker, after the first paint.

A configuration the validation refuses closes the app at once and is printed after it, exit 2 (the same
message as before the dashboard existed); an unreachable cluster is said on the panels and, once the person
quits, printed with exit 4 (2 when refused). `--demo --read-only` gives the simulated world a driver of its
own, so the watching console opens on running canaries. This module imports neither pydantic nor the
engine's session before the first frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from console.engine.config_layers import ConfigError, FirstFrame

if TYPE_CHECKING:  # validated and opened in the connect worker, after the first frame
    from console.engine.config import Config
    from console.wiring import Options, World


def dashboard(first: FirstFrame, load: Callable[[], Config], options_for: Callable[[Config], Options], *,
              theme: str | None, read_only: bool = False, start: dict[str, str] | None = None) -> int:
    """Run the dashboard until the person quits. ``load`` validates the configuration (ConfigError when it
    is broken); ``options_for`` turns the validated configuration into the world's options."""
    from themes import UnknownTheme, resolve_theme

    theme = theme or first.theme
    try:  # a wrong --theme (or theme: in the file) is refused before the screen opens, as always
        resolve_theme(theme)
    except UnknownTheme as exc:
        raise ConfigError(str(exc)) from None
    return asyncio.run(_dashboard(first, load, options_for, theme, read_only or first.read_only, start))


async def _dashboard(first: FirstFrame, load: Callable[[], Config], options_for: Callable[[Config], Options],
                     theme: str | None, read_only: bool, start: dict[str, str] | None) -> int:
    from console.app import HOLD_NUMBERS_SECONDS, CanaryApp

    worlds: list[World] = []
    failures: list[Exception] = []
    drivers: list[asyncio.Task] = []
    stop_driver = asyncio.Event()
    starts: dict[str, str] = dict(start or {})

    async def connect() -> Any:
        from console.engine.ports import ClusterError

        try:  # pydantic's import and the validation in a thread: the loop keeps drawing meanwhile
            config = await asyncio.to_thread(load)
        except ConfigError as exc:  # nothing useful can be shown: close, and say it after the app
            failures.append(exc)
            app.exit()
            raise
        from console.wiring import DEMO_VERSION, open_world

        options = options_for(config)
        if start is None and options.demo:
            starts.update(dict.fromkeys(config.service_names, DEMO_VERSION))
        try:
            world = await open_world(config, options)
        except (ClusterError, ConfigError) as exc:  # the panels say why; the exit code and stderr too, once the app closes
            failures.append(exc)
            raise
        except ConfigError as exc:  # e.g. a notification's secret file cannot be read
            failures.append(exc)
            app.exit()
            raise
        worlds.append(world)
        return world.session

    async def on_ready() -> None:
        session = worlds[0].session
        if worlds[0].demo and session.read_only:  # "just look": someone else drives the demo's canaries
            drivers.append(await demo_driver(session, starts, stop_driver))
            return
        if start is not None:  # run SERVICE: one look first, so a rollout under way is resumed, not refused
            await session.step()
        for service, version in starts.items():
            controller = session.controllers[service]
            if start is not None and not controller.state.terminal:
                await session.intent(service, "drive")
            else:
                if start is not None:  # `run SERVICE`: the team hears of it first (demo auto-starts do not)
                    session.announce(service, version)
                await session.intent(service, "start", version=version)

    app = CanaryApp(config=first, connect=connect, theme=theme, read_only=read_only, on_ready=on_ready,
                    freeze_gc=True, detect_colours=True, hold_numbers=HOLD_NUMBERS_SECONDS)
    from console.signals import handle_signals

    # SIGTERM and SIGHUP (a dropped SSH session) close the app as quitting does: records saved, Leases released
    restore_signals = handle_signals(lambda _sig: app.exit(), ("SIGTERM", "SIGHUP"))
    try:
        await app.run_async()
    finally:
        restore_signals()
        stop_driver.set()
        for task in drivers:
            await asyncio.wait([task], timeout=2.0)
        for world in worlds:  # saves each driven service's final record, then releases its Lease
            await world.aclose()
    return _after(failures, app.return_code or 0)


async def demo_driver(watcher: Any, starts: dict[str, str], stop: asyncio.Event) -> asyncio.Task:
    """`--demo --read-only`: the simulated world gets a driver of its own (another console, as on a real
    cluster), which starts the demo's canaries and drives them; the read-only console only watches and so
    opens on the demo's canaries, not on six `no canary` panels and six refusals."""
    from console.engine.session import Session

    config = watcher.config.model_copy(update={"read_only": False})  # --read-only is the watcher's, not the world's
    driver = Session(config, watcher.cluster, watcher.metrics, watcher.clock, actor="demo-driver@demo")
    for service, version in starts.items():
        await driver.intent(service, "start", version=version)
    return asyncio.create_task(driver.run(stop), name="demo-driver")


def _after(failures: list[Exception], code: int) -> int:
    """The exit code (and stderr line) once the app has closed: the first failure decides."""
    if not failures:
        return code
    if isinstance(failures[0], ConfigError):
        raise failures[0]  # the CLI prints it and exits 2, as it does before any screen
    from console.output import cluster_exit

    return cluster_exit(failures[0])  # type: ignore[arg-type]
