"""The output room of the command line: how every command says things (a line for people on stdout, one on
stderr, the contract's JSON on one line, a confirmation asked on the terminal) and the exit code of a
cluster that could not be opened. Used by console/cli.py (the argument parser and dispatch) and by the
commands; it imports neither, so neither imports the other's internals.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from console.engine.audit import redact
from console.engine.exits import Exit
from console.engine.model import Problem
from console.engine.ports import ClusterConfigError, ClusterError
from console.engine.text import inert, inert_lines


def json_line(data: Any) -> str:
    """One JSON object on one line, the shape every --json output and NDJSON stream uses; secrets a server
    echoed are redacted (json.dumps escapes control characters)."""
    return json.dumps(redact(data), separators=(", ", ": "), default=str)


def print_json(data: Any) -> None:
    print(json_line(data))


def say(message: str) -> None:
    """`canary-console: <message>` on stderr, as it is (the caller made it inert)."""
    print(f"canary-console: {message}", file=sys.stderr)


def out(text: str) -> None:
    """A line for people on stdout: secrets redacted, outside text inert."""
    print(inert_lines(redact(text)))


def err(message: str) -> None:
    """`canary-console: <message>` on stderr: secrets redacted, outside text inert."""
    print(inert(redact(f"canary-console: {message}")), file=sys.stderr)


def confirm(question: str) -> bool | None:
    """Ask on the terminal: True for yes, False for no; None when there is no terminal to ask on (--yes)."""
    if not sys.stdin.isatty() or os.environ.get("CI"):
        return None
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cluster_exit(exc: ClusterError) -> Exit:
    """Said on stderr, then the exit code: unreachable (or failing) is 4; refused for lack of permission or
    bad credentials, or a configuration that cannot be used, is 2."""
    if isinstance(exc, ClusterConfigError):
        err(str(exc))
        return Exit.USAGE
    if exc.problem in (Problem.UNAUTHORIZED, Problem.FORBIDDEN):
        err(f"the cluster refused: {exc}")
        return Exit.USAGE
    err(f"cluster unreachable: {exc}")
    return Exit.UNREACHABLE
