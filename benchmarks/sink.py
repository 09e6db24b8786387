"""Reference SMTP servers for the benchmark, each run as its own process.

``aiosmtpd`` (the reference): a bare aiosmtpd server whose handler only answers 250 — the speed of the
SMTP stack mailtrap-lite is built on, storing nothing. ``instant``: a few lines of asyncio that answer
every command at once and scan DATA for its end; the load generator's ceiling is measured against it.

    python benchmarks/sink.py {aiosmtpd|instant} PORT
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiosmtpd.smtp import SMTP

DATA_END = b"\r\n.\r\n"


class AnswerOnly:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


class InstantSMTP(asyncio.Protocol):
    """Just enough SMTP for the load generator: no parsing, no storing, no limits."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 instant ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                end = self.buffer.find(DATA_END)
                if end == -1:
                    self.buffer = self.buffer[-4:]
                    return
                self.buffer = self.buffer[end + len(DATA_END) :]
                self.in_data = False
                self.transport.write(b"250 OK\r\n")
                continue
            newline = self.buffer.find(b"\n")
            if newline == -1:
                return
            verb = self.buffer[:4].upper()
            self.buffer = self.buffer[newline + 1 :]
            if verb == b"EHLO":
                self.transport.write(b"250-instant\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # a terminator may come right after the command
                self.transport.write(b"354 go on\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 OK\r\n")


async def serve(kind: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    if kind == "aiosmtpd":
        handler = AnswerOnly()
        # hostname= avoids socket.getfqdn(), a reverse DNS lookup that can block on an unreachable resolver.
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink", data_size_limit=64 * 1024 * 1024), "127.0.0.1", port
        )
    elif kind == "instant":
        server = await loop.create_server(InstantSMTP, "127.0.0.1", port)
    else:
        raise SystemExit(f"unknown sink {kind!r}")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
