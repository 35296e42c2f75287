"""Log room of the simulated world: Spring Boot style lines for each pod, as a pure function of
(seed, pod, second), including hostile ones (markup-like brackets and terminal escape sequences) that a
screen must show literally.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from console.engine.model import Track
from console.engine.ports import LogLine
from console.sim import scenarios as sc
from console.sim.noise import stream_key, unit

HOSTILE = (
    "Rejected payload field [/bad] from client 10.2.0.14",
    "User-Agent [@click=app.quit] curl/8.5.0 sent an unknown header",
    "\x1b[31mUpstream said: alert\x1b[0m (ANSI colour in a client-supplied string)",
    "Client supplied title \x1b]0;pwned\x07 in X-Request-Name",
    "Parsed filter [status=[5xx]] [bold]not markup[/bold]",
)
HOSTILE_EVERY = 17  # one line in this many is hostile
LINE_CHANCE = {Track.STABLE: 0.5, Track.CANARY: 0.7}  # lines per pod per second (on average)
_THREADS = ("nio-8080-exec-1", "nio-8080-exec-4", "nio-8080-exec-7", "scheduling-1", "kafka-consumer-2")
_CRASH = (
    "ERROR", "main", "o.s.boot.SpringApplication",
    "Application run failed: java.lang.IllegalStateException: Failed to load ApplicationContext "
    "(caused by: Connection to db-primary:5432 refused)",
)


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _line(t: float, level: str, thread: str, logger: str, message: str) -> str:
    return f"{_stamp(t)} {level:>5} 1 --- [{thread:>15}] {logger:<40} : {message}"


def _message(profile: sc.ServiceProfile, failing: bool, key: int, k: int) -> tuple[str, str, str]:
    """(level, logger, message) of one ordinary line."""
    u = unit(key, 4 * k + 1)
    if int(unit(key, 4 * k + 2) * 1e6) % HOSTILE_EVERY == 0:
        return "WARN", profile.logger, HOSTILE[int(u * len(HOSTILE))]
    if failing and u < 0.5:
        return "ERROR", "o.a.c.c.C.[.[.[/].[dispatcherServlet]", (
            "Servlet.service() threw exception [Request processing failed: "
            "java.lang.NullPointerException] with root cause")
    if u < 0.04:
        return "WARN", "com.zaxxer.hikari.pool.HikariPool", ("HikariPool-1 - Connection is not available, "
                                                             "request timed out after 30000ms.")
    ms = int(5 + 300 * unit(key, 4 * k + 3))
    return "INFO", profile.logger, profile.activity.format(a=int(u * 90000), b=int(u * 97) % 12, ms=ms)


def pod_lines(world, service: str, track: Track | None, t0: float, t1: float,
              limit: int = 200) -> list[LogLine]:
    """The log lines the service's current pods wrote in (t0, t1], oldest first, at most the last
    ``limit`` (older seconds are not even generated)."""
    profile = sc.profile_for(service)
    lines: list[LogLine] = []
    for pod in world.sim_pods(service, track):
        key = stream_key(world.seed, "logs", pod.name)
        first = max(math.floor(t0) + 1, math.ceil(pod.created_at), math.floor(t1) - 4 * limit)
        for k in range(first, math.floor(t1) + 1):
            state = pod.at(k)
            if state.phase == "Pending" or state.reason == "CrashLoopBackOff" or unit(key, 4 * k) >= LINE_CHANCE[pod.track]:
                continue
            if not state.ready and k >= pod.crash_at:
                level, thread, logger, message = _CRASH
            else:
                failing = world.error_rate(service, pod.track, k) > 0.02
                level, logger, message = _message(profile, failing, key, k)
                thread = _THREADS[int(unit(key, 4 * k + 3) * len(_THREADS))]
            at = k + unit(key, 4 * k + 2)
            lines.append(LogLine(pod.name, pod.track, _line(at, level, thread, logger, message), at))
    lines.sort(key=lambda line: line.at)
    return lines[-limit:]
