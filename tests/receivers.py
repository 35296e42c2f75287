"""Test room: HTTP receivers on loopback for the notification sinks (Slack, PagerDuty, webhooks).

``Receiver(mode)`` serves on 127.0.0.1 (a free port) from a thread and records every request (path, headers,
body). Modes: ``ok`` answers 200; ``fail`` answers 500; ``hang`` reads the request and never answers until the
receiver closes; ``down_url()`` gives a loopback URL where nothing listens. Standard library only.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.requests: list[Request] = []
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.mode == "hang":
                    receiver._release.wait(30)
                    return
                status = 500 if receiver.mode == "fail" else 202 if "enqueue" in self.path else 200
                answer = b'{"status": "success"}' if status < 300 else b'{"error": "boom"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:  # a client that gave up
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[Any]:
        return [r.json for r in self.requests]

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def down_url(path: str = "/") -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
