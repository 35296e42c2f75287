"""The command line: argument parsing, then dispatch to one of the TUI, run, status, analyze, the one-shot
actions, replay, record and sandbox (console/commands.py and the *_command modules do the work). Exit codes
(console/engine/exits.py) and JSON shapes follow docs/contracts.md: 0 success, 1 rolled back or check
failed, 2 usage or configuration error, 3 inconclusive / awaiting approval / paused, 4 cluster or Prometheus
unreachable. No traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from console.engine.config_layers import ConfigError
from console.engine.exits import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, EXIT_WAITING
from console.engine.intent_table import CLI, intent_named
from console.output import say as _say

if TYPE_CHECKING:  # pydantic (~70 ms) is imported only to validate: the dashboard does it after its first frame
    from console.engine.config import Config

SCENARIOS = ("mixed", "healthy", "error-regression", "latency-regression", "p99-regression", "crashloop",
             "low-traffic", "metrics-gap")

DESCRIPTION = """\
Watch and drive nginx-ingress canary rollouts of the BUTTERFLY services, judged canary-vs-stable from
Prometheus, the way the canary rollout runbook says: weights 10 → 25 → 50 → 75 → 100, a check every
10 s over a 5 m window, automatic rollback when the runbook's criteria are breached.

Without a command, opens the dashboard: all services at once, keys to advance (a), pause (p),
roll back (r), promote, approve; ? for help."""

EPILOG = """\
exit codes:
  0  success: promoted (or already stable), check passed, action done
  1  rolled back, or the check failed
  2  usage or configuration error, or an action refused (the message says why)
  3  inconclusive, awaiting approval, paused or stopped; a confirmation answered "n" (nothing done)
  4  cluster or Prometheus unreachable
  70 an internal error (a bug): one line; --debug shows the traceback

examples:
  canary-console --demo                                   the dashboard on the simulated world
  canary-console run perception --version 1.2.4 --headless --demo --scenario healthy --speed 1000
  canary-console status --json --kubeconfig ~/.kube/config --namespace butterfly
  canary-console analyze perception --prometheus http://127.0.0.1:9090 --weight 25 --json
  canary-console rollback perception --yes
  canary-console replay incident.ndjson --json
  canary-console record perception --since 2h --step 30s --prometheus http://127.0.0.1:9090
  canary-console report perception                        the latest rollout's report (Markdown)

environment:
  CANARY_CONSOLE_CONFIG      the config file (like --config)
  CANARY_CONSOLE_<FIELD>     any config field, __ between nested names (CANARY_CONSOLE_PROMETHEUS__URL)
  KUBECONFIG                 as for kubectl
  NO_COLOR                   monochrome theme

See docs/ for the judging method, the contracts and the configuration reference."""


SUB_EPILOG = """\
common options (--demo, --config, --kubeconfig, --context, -n, --prometheus, --read-only, --json, --speed,
--seed, --scenario, --theme) are accepted here too: canary-console --help lists them, with the exit codes:
0 success · 1 rolled back / check failed · 2 usage or configuration · 3 waiting for a person, paused or
not confirmed · 4 cluster or Prometheus unreachable"""

VERSION_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # an image tag (docker's rule)
DURATION = re.compile(r"^\d+(\.\d+)?(ms|s|m|h|d)?$")


class Parser(argparse.ArgumentParser):
    """argparse, but a bad option is ONE line naming it (`canary-console run: --speed: must be above 0, got
    -1`) and exit 2, instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (--help for usage)\n")


def _checked(kind: str, convert: Callable[[str], Any], ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    """An argparse type that says what is wrong in one line: `must be above 0, got -1`."""
    def check(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{kind}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{kind}, got {text!r}")
        return value
    check.__name__ = kind
    return check


SPEED = _checked("must be a number above 0 (1 = real time)", float, lambda v: v > 0 and v == v and v != float("inf"))
SEED = _checked("must be a whole number", int, lambda v: True)
PORT = _checked("must be a port number from 1 to 65535 (0: any free port)", int, lambda v: 0 <= v <= 65535)
WEIGHT = _checked("must be a weight from 1 to 100", int, lambda v: 1 <= v <= 100)
TAG = _checked("must be an image tag: letters, digits, '.', '_' or '-', at most 128", str,
               lambda v: bool(VERSION_TAG.match(v)))
DURATION_ARG = _checked("must be a duration such as 30s, 5m, 2h", str, lambda v: bool(DURATION.match(v)))
URL = _checked("must be an http:// or https:// URL", str,
               lambda v: v.startswith(("http://", "https://")) and len(v) > len("https://"))
NAMESPACE = _checked("must be a Kubernetes namespace (lower-case letters, digits, '-')", str,
                     lambda v: bool(re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", v)))


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The COMMON options, accepted before and after the command (subcommands default to SUPPRESS so they
    never overwrite what was given before the command, and do not list them: their help stays short)."""
    d = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    if not top:
        group = parser.add_argument_group("common options")
        real_add = group.add_argument

        def quiet(*names: str, **kwargs: Any) -> Any:
            return real_add(*names, **{**kwargs, "help": argparse.SUPPRESS})
        group.add_argument = quiet  # type: ignore[method-assign]
    else:
        group = parser.add_argument_group("common options")
    group.add_argument("--demo", action="store_true", default=d(False),
                       help="use the embedded simulated world instead of a cluster")
    group.add_argument("--scenario", choices=SCENARIOS, default=d("mixed"), metavar="NAME",
                       help="simulated scenario for every service, or 'mixed' (default): " + ", ".join(SCENARIOS))
    group.add_argument("--speed", type=SPEED, default=d(None), metavar="X",
                       help="run the simulated clock X times faster (default 10 for the dashboard, 1 otherwise)")
    group.add_argument("--seed", type=SEED, default=d(7), help="seed of the simulated world (default 7)")
    group.add_argument("--kubeconfig", default=d(None), metavar="PATH", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    group.add_argument("--context", default=d(None), metavar="CTX", help="kubeconfig context")
    group.add_argument("--namespace", "-n", type=NAMESPACE, default=d(None), metavar="NS",
                       help="namespace (default butterfly)")
    group.add_argument("--prometheus", type=URL, default=d(None), metavar="URL", help="Prometheus base URL")
    group.add_argument("--config", default=d(None), metavar="FILE", help="YAML config file")
    group.add_argument("--read-only", action="store_true", default=d(False), help="watch only: no write ever leaves the console")
    group.add_argument("--theme", default=d(None), metavar="NAME", help="dashboard theme: dark (default), light, mono")
    group.add_argument("--json", action="store_true", default=d(False), help="machine-readable output")
    group.add_argument("--debug", action="store_true", default=d(False),
                       help="on an internal error, show the traceback")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog="canary-console", description=DESCRIPTION, epilog=EPILOG, formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_own_version()}",
                        help="print the console's version and exit")
    _common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def sub(name: str, help_text: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_text, description=help_text, epilog=SUB_EPILOG,
                                formatter_class=formatter)
        _common(p, top=False)
        return p

    run = sub("run", "drive one rollout from deploy to promote or rollback")
    run.add_argument("service")
    run.add_argument("--version", required=True, type=TAG, help="the canary version (image tag) to roll out")
    run.add_argument("--headless", action="store_true", help="print events instead of opening the dashboard")
    run.add_argument("--manual", action="store_true", help="wait for a person at the end of every phase")

    status = sub("status", "one snapshot of every (or the named) service")
    status.add_argument("services", nargs="*", metavar="SERVICE")

    analyze = sub("analyze", "one analysis now: every check, its values, the verdict")
    analyze.add_argument("service")
    analyze.add_argument("--weight", type=WEIGHT, default=None, metavar="N",
                         help="judge with the triggers of the phase at weight N (default: the current weight)")

    for intent in CLI:  # the one-shot actions, from the intent table (console/engine/intent_table.py)
        what = intent.cli_help or f"{intent.command} one rollout"
        action = sub(intent.command, f"{what} (the same code path as the dashboard's key)")
        action.add_argument("service")
        action.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
        if intent.forceable:
            action.add_argument("--force", action="store_true", help="even while the verdict is fail (asks to confirm)")

    start = sub("start", "ask the driver of a service (a controller or another console) to start a canary")
    start.add_argument("service")
    start.add_argument("--version", required=True, help="the canary version to roll out")

    ctl = sub("controller", "drive every configured service in the cluster until SIGTERM (the in-cluster driver)")
    ctl.add_argument("--services", dest="drive_services", default="", metavar="A,B", help="drive only these services (default: all)")
    ctl.add_argument("--listen", default="0.0.0.0:8080", metavar="HOST:PORT",
                     help="where /healthz, /readyz and /metrics are served (default 0.0.0.0:8080)")

    replay = sub("replay", "the policy on a recorded timeline (what-if)")
    replay.add_argument("timeline", help="NDJSON timeline file, or - for standard input")
    replay.add_argument("--service", default=None, metavar="S", help="the service to replay (default: the only one)")

    record = sub("record", "write a timeline from Prometheus to stdout")
    record.add_argument("service")
    record.add_argument("--since", type=DURATION_ARG, default="2h", help="how far back (default 2h)")
    record.add_argument("--step", type=DURATION_ARG, default="30s", help="sample step (default 30s)")

    migrate = sub("migrate-router", "between rollouts: print (--apply: create) the HTTPRoute equivalent of a "
                                    "service's Ingress")
    migrate.add_argument("service")
    migrate.add_argument("--to", required=True, choices=["gateway"], help="the router to move to")
    migrate.add_argument("--gateway", default=None, metavar="NAME",
                         help="the parent Gateway (default: the service's gateway: setting)")
    migrate.add_argument("--apply", action="store_true", help="create the HTTPRoute (default: only print it)")

    report = sub("report", "write a rollout's Markdown report from the journal and the cluster record")
    report.add_argument("service")
    report.add_argument("--rollout", default=None, metavar="ID",
                        help="which rollout (e.g. perception-20261130T101500Z; default: the latest)")
    report.add_argument("--output", default=None, metavar="DIR",
                        help="directory to write it in (default: reports/ next to the journal)")

    sandbox = sub("sandbox", "serve the simulated world's metrics for a real Prometheus to scrape")
    sandbox.add_argument("--port", type=PORT, default=9464, help="exporter port on 127.0.0.1 (default 9464)")
    sandbox.add_argument("--start", action="store_true", help="start a canary on every service at once")
    return parser


#: pydantic's phrases, said the way the rest of the console speaks
OUR_WORDS = (
    ("Extra inputs are not permitted", "unknown setting (a typo? the settings are in docs/configuration.md)"),
    ("Input should be a valid number, unable to parse string as a number", "must be a number"),
    ("Input should be a valid integer, unable to parse string as an integer", "must be a whole number"),
    ("Input should be a valid boolean, unable to interpret input", "must be true or false"),
    ("Field required", "is required"),
)


def in_our_words(message: str) -> str:
    for theirs, ours in OUR_WORDS:
        message = message.replace(theirs, ours)
    return message


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that are also configuration settings, as a nested dict for load_config / read_layers."""
    overrides: dict[str, Any] = {"kube": {"namespace": args.namespace, "kubeconfig": args.kubeconfig,
                                          "context": args.context},
                                 "prometheus": {"url": args.prometheus},
                                 "theme": args.theme}
    if args.read_only:
        overrides["read_only"] = True
    if getattr(args, "manual", False):
        overrides["auto"] = False
    return overrides


def _config_from(args: argparse.Namespace) -> Config:
    from console.engine.config import load_config

    return load_config(args.config, overrides=_overrides(args))


def _options(args: argparse.Namespace, config: Config, *, virtual: bool = False, speed: float = 1.0):
    from console.wiring import Options

    return Options(demo=args.demo, scenario=args.scenario, speed=args.speed or speed, seed=args.seed,
                   kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace,
                   prometheus=args.prometheus, read_only=args.read_only or config.read_only,
                   virtual=virtual)


def _check_service(config: Config, service: str) -> None:
    if service not in config.service_names:
        raise ConfigError(f"unknown service '{service}'; configured: {', '.join(config.service_names)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return _dashboard(args)
        config = _config_from(args)
        for service in ([args.service] if getattr(args, "service", None) and args.command != "replay" else []):
            _check_service(config, service)
        for service in getattr(args, "services", []) or []:
            _check_service(config, service)
        return _dispatch(args, config)
    except ConfigError as exc:
        from console.engine.text import inert

        _say(inert(" ".join(in_our_words(str(exc)).split()), 500))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_WAITING
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the crash reporter: one line, no traceback unless asked for
        if getattr(args, "debug", False):
            raise
        from console.engine.audit import redact
        from console.engine.text import inert

        detail = inert(redact(" ".join(str(exc).split())), 300)
        _say(f"internal error: {type(exc).__name__}: {detail} (run again with --debug for the traceback)")
        return EXIT_INTERNAL


def _dashboard(args: argparse.Namespace) -> int:
    """The dashboard draws its first frame from a plain read of the settings (an unreadable file or bad
    YAML still stops here); the full validation runs in the app, and a refusal still exits 2."""
    from console.dashboard_command import dashboard
    from console.engine.config_layers import first_frame, read_layers

    data, _source = read_layers(args.config, overrides=_overrides(args))
    return dashboard(first_frame(data), lambda: _config_from(args),
                     lambda config: _options(args, config, speed=10.0), theme=args.theme,
                     read_only=args.read_only)


def _dispatch(args: argparse.Namespace, config: Config) -> int:
    from console import commands

    if args.command == "run":
        options = _options(args, config, speed=1.0)
        if not args.headless:
            from console.dashboard_command import dashboard
            from console.engine.config_layers import FirstFrame

            return dashboard(FirstFrame.of(config), lambda: config, lambda _config: options, theme=args.theme,
                             read_only=options.read_only, start={args.service: args.version})
        return asyncio.run(commands.run_headless(config, options, args.service, args.version,
                                                 as_json=args.json))
    if args.command == "status":
        services = args.services or config.service_names
        return asyncio.run(commands.status(config, _options(args, config, virtual=True), services,
                                           as_json=args.json))
    if args.command == "analyze":
        return asyncio.run(commands.analyze(config, _options(args, config, virtual=True), args.service,
                                            args.weight, as_json=args.json))
    intent = intent_named(args.command)
    if intent is not None and intent.cli:
        return asyncio.run(commands.action(config, _options(args, config, virtual=True), intent.name,
                                           args.service, yes=args.yes, force=getattr(args, "force", False),
                                           as_json=args.json))
    if args.command == "start":
        return asyncio.run(commands.request_start(config, _options(args, config, virtual=True), args.service,
                                                  args.version, as_json=args.json))
    if args.command == "controller":
        from console.controller_command import controller

        services = [s for s in args.drive_services.split(",") if s]
        for service in services:
            _check_service(config, service)
        return asyncio.run(controller(config, _options(args, config), services, args.listen))
    if args.command == "replay":
        return commands.replay(config, args.timeline, args.service, as_json=args.json)
    if args.command == "record":
        return asyncio.run(commands.record(config, _options(args, config), args.service, args.since,
                                           args.step))
    if args.command == "migrate-router":
        from console.migrate_command import migrate_router

        return asyncio.run(migrate_router(config, args.service, to=args.to, gateway=args.gateway, apply=args.apply,
                                          kubeconfig=args.kubeconfig, context=args.context,
                                          namespace=args.namespace))
    if args.command == "report":
        return asyncio.run(commands.report(config, _options(args, config, virtual=True), args.service,
                                           args.rollout, args.output, as_json=args.json))
    if args.command == "sandbox":
        return asyncio.run(commands.sandbox(config, _options(args, config), args.port, start=args.start))
    raise ConfigError(f"unknown command {args.command!r}")


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("canary-console")
    except PackageNotFoundError:
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
