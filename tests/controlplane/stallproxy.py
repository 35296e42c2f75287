"""Tests room: a loopback TCP proxy in front of the real apiserver that can stall what the server sends
(a watch that falls behind) and cut every connection (the stream breaks), so a test can make the real
server answer a watch from a compacted resourceVersion. Bytes are passed through untouched (TLS end to end)."""

from __future__ import annotations

import asyncio
import contextlib


class StallProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> StallProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_r, up_w = await asyncio.open_connection(*self.upstream)
        self._writers |= {client_w, up_w}

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, held: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
                while data := await reader.read(65536):
                    if held:
                        await self.flowing.wait()
                    writer.write(data)
                    await writer.drain()
            writer.close()

        await asyncio.gather(pump(client_r, up_w, False), pump(up_r, client_w, True))
        self._writers -= {client_w, up_w}

    def stall(self) -> None:
        """What the server sends stops reaching the clients (their connections stay open)."""
        self.flowing.clear()

    def cut(self) -> None:
        """Every open connection is closed; new ones flow again."""
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        self.flowing.set()

    async def aclose(self) -> None:
        self.cut()
        if self._server:
            self._server.close()
            await self._server.wait_closed()
