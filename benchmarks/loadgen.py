"""The load generator: raw asyncio SMTP, strictly sequenced (no pipelining), cheap per message.

Messages are built once per size and dot-stuffed once; per message only the headers that make it unique
(subject, Message-ID) are new bytes, the body is written as the same shared object every time.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SIZES = {"1KB": 1024, "50KB": 50 * 1024, "1MB": 1024 * 1024, "10MB": 10 * 1024 * 1024}
KINDS = {"1KB": "text", "50KB": "html+text", "1MB": "attachment", "10MB": "attachment"}
WORDS = tuple(
    [
        "invoice",
        "order",
        "shipped",
        "welcome",
        "password",
        "reset",
        "account",
        "verify",
        "payment",
        "receipt",
        "weekly",
        "report",
        "meeting",
        "agenda",
        "project",
        "update",
        "release",
        "notes",
        "customer",
        "ticket",
        "support",
        "billing",
        "newsletter",
    ]
)


SENDERS = 500


class SMTPError(Exception):
    pass


def varied(index: int) -> tuple[str, str]:
    """Senders and subjects that make field and free-text search find some, not all."""
    word = WORDS[index % len(WORDS)]
    return (
        f"user{index % SENDERS}@shop{index % 7}.example",
        f"{word} #{index} for order {index * 7919 % 100_000}",
    )


def _text(size: int, rng: random.Random) -> str:
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(10))
        lines.append(line)
        total += len(line) + 2
    return "\r\n".join(lines)


@dataclass(frozen=True, slots=True)
class Template:
    """A message of one size: its fixed head (after the varying headers) and body, dot-stuffed."""

    name: str
    body: bytes  # everything after the varying headers, dot-stuffed, ending with the DATA terminator

    def head(self, index: int, sender: str, subject: str) -> bytes:
        return (
            f"From: {sender}\r\nTo: ann@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <m{index}.{time.monotonic_ns()}@bench.example>\r\n"
            "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
        ).encode()


def build_template(name: str, seed: int = 7) -> Template:
    rng = random.Random(seed)
    size = SIZES[name]
    kind = KINDS[name]
    if kind == "text":
        head = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        body = head + _text(size - 300 - len(head), rng) + "\r\n"
    elif kind == "html+text":
        text = _text(size // 3, rng)
        html = "<html><body>" + "".join(f"<p>{p}</p>\r\n" for p in _text(size // 2, rng).split("\r\n"))
        body = (
            'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n'
            f"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            f"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}</body></html>\r\n--alt--\r\n"
        )
    else:
        raw = os.urandom(size * 3 // 4 - 2000)
        encoded = base64.encodebytes(raw).decode().replace("\n", "\r\n")
        body = (
            'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="mix"\r\n\r\n'
            "--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe report is attached.\r\n"
            '--mix\r\nContent-Type: application/pdf; name="report.pdf"\r\n'
            'Content-Disposition: attachment; filename="report.pdf"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}--mix--\r\n"
        )
    data = body.encode()
    # RFC 5321 §4.5.2: a line starting with "." gets another one.
    data = data.replace(b"\r\n.", b"\r\n..")
    return Template(name, data + b".\r\n")


@dataclass
class Result:
    messages: int = 0
    bytes: int = 0
    wall: float = 0.0
    client_cpu: float = 0.0
    ids: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.messages / self.wall if self.wall else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.bytes / self.wall / 1e6 if self.wall else 0.0


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        connection = cls(reader, writer)
        await connection.reply(220)
        writer.write(b"EHLO bench.example\r\n")
        await connection.reply(250)
        return connection

    async def reply(self, expected: int) -> str:
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line[3:4] != b"-":
                break
        if int(line[:3]) != expected:
            raise SMTPError(f"expected {expected}, got {line!r}")
        return line.decode()

    async def begin_data(self) -> None:
        """MAIL, RCPT and DATA: what follows is the message."""
        write = self.writer.write
        write(b"MAIL FROM:<app@bench.example>\r\n")
        await self.reply(250)
        write(b"RCPT TO:<ann@example.com>\r\n")
        await self.reply(250)
        write(b"DATA\r\n")
        await self.reply(354)

    async def send(self, head: bytes, body: bytes) -> str:
        """One transaction; returns the final reply's text (mailtrap-lite's carries the message id)."""
        await self.begin_data()
        write = self.writer.write
        write(head)
        write(body)
        if len(body) > 65536:
            await self.writer.drain()
        return await self.reply(250)

    async def close(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await self.reply(221)
        finally:
            self.writer.close()
            await self.writer.wait_closed()


def vanish(writer: asyncio.StreamWriter, reset: bool) -> None:
    """Drop a connection without a word: with ``reset`` an RST, otherwise a FIN (an RST all the same
    when the kernel still holds unread bytes from the peer)."""
    if reset:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def message_id_of(reply: str) -> str | None:
    marker = "queued as "
    at = reply.find(marker)
    return reply[at + len(marker) :].strip() if at != -1 else None


Subjects = Callable[[int], tuple[str, str]]


def default_subjects(index: int) -> tuple[str, str]:
    return "app@bench.example", f"bench {index}"


async def blast(
    host: str,
    port: int,
    template: Template,
    count: int,
    concurrency: int,
    *,
    reuse: bool = True,
    subjects: Subjects = default_subjects,
    keep_ids: bool = False,
) -> Result:
    """Send ``count`` messages over ``concurrency`` connections (one per message without ``reuse``)."""
    next_index = 0
    result = Result()

    def take() -> int | None:
        nonlocal next_index
        if next_index >= count:
            return None
        next_index += 1
        return next_index - 1

    async def worker() -> None:
        connection = await Connection.open(host, port) if reuse else None
        try:
            while (index := take()) is not None:
                sender, subject = subjects(index)
                head = template.head(index, sender, subject)
                if connection is None:
                    single = await Connection.open(host, port)
                    reply = await single.send(head, template.body)
                    await single.close()
                else:
                    reply = await connection.send(head, template.body)
                result.messages += 1
                result.bytes += len(head) + len(template.body)
                if keep_ids and (message_id := message_id_of(reply)):
                    result.ids.append(message_id)
        finally:
            if connection is not None:
                await connection.close()

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    result.wall = time.perf_counter() - start
    result.client_cpu = time.process_time() - cpu
    return result
