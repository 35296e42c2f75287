"""Tests room: the real control plane as a standalone process for people and other tools, like
benchmarks/kube_double.py for the double. Usage:
    python -m tests.controlplane serve DIR [--gateway-api]
Builds if needed (tests/controlplane/build.sh), starts it in DIR, writes DIR/admin.kubeconfig and
DIR/<role>.kubeconfig for each Role in deploy/rbac.yaml, links DIR/kubectl (same release), seeds the six
services, prints "ready" on a line of its own and serves until SIGTERM/SIGINT, then stops everything.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.controlplane.launcher import ControlPlane, ControlPlaneUnavailable  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.controlplane")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start, seed, print `ready`, serve until SIGTERM")
    serve.add_argument("dir", type=Path)
    serve.add_argument("--gateway-api", action="store_true", help="install the Gateway API standard CRDs")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        plane = ControlPlane.start(args.dir.resolve(), gateway_api=args.gateway_api)
    except ControlPlaneUnavailable as exc:
        print(f"control plane: {exc}", file=sys.stderr)
        return 1
    try:
        link = args.dir / "kubectl"
        link.unlink(missing_ok=True)
        link.symlink_to(plane.kubectl_path)
        print(f"server {plane.server}; kubeconfigs in {args.dir}", file=sys.stderr)
        print("ready", flush=True)
        while not stop.wait(0.5):  # a bounded wait, so the signal handler gets to run
            if plane.proc.poll() is not None:
                print(f"control plane exited {plane.proc.returncode}", file=sys.stderr)
                return 1
    finally:
        plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
