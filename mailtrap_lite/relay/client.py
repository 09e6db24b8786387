"""The SMTP client of a relay: one transaction with the next hop, through aiosmtplib, with every command
and reply recorded in the same line format as an inbound transcript."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiosmtplib
from aiosmtplib import SMTPResponse

from mailtrap_lite.model import Release, TranscriptLine, UpstreamReply, utcnow
from mailtrap_lite.relay.mx import Hop
from mailtrap_lite.smtp.transcript import MASK, masked_auth

CONNECT_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0  # RFC 5321 §4.5.3.2 asks for minutes; a catcher's user waits on a release
Result = Literal["sent", "refused", "deferred"]
OFF_LOOP_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ClientSettings:
    tls: str  # none, starttls or tls
    verify: bool
    username: str | None
    password: str | None
    local_hostname: str


class _Recorder:
    """The outbound transcript: ``C`` lines are what we send, ``S`` lines what the next hop answers."""

    def __init__(self) -> None:
        self.lines: list[TranscriptLine] = []
        self.replies: list[UpstreamReply] = []
        self._started = time.monotonic()
        self._secret_next = False

    def _add(self, direction: Literal["C", "S"], line: str) -> None:
        self.lines.append(TranscriptLine(int((time.monotonic() - self._started) * 1000), direction, line))

    def command(self, line: str) -> str:
        """Record a command line; returns it as recorded (AUTH secrets masked)."""
        line = MASK if self._secret_next else masked_auth(line)
        self._add("C", line)
        return line

    def reply(self, command: str, response: SMTPResponse) -> None:
        texts = response.message.split("\n") if response.message else [""]
        for n, text in enumerate(texts):
            self._add("S", f"{response.code}{'-' if n < len(texts) - 1 else ' '}{text}".rstrip())
        self.replies.append(UpstreamReply(command, response.code, response.message))
        self._secret_next = response.code == 334

    def note(self, text: str) -> None:
        self._add("S", f"<{text}>")


class _RecordingSMTP(aiosmtplib.SMTP):
    """aiosmtplib's client with every command and reply going through a recorder."""

    def __init__(self, recorder: _Recorder, **options: Any) -> None:
        super().__init__(**options)
        self.recorder = recorder

    async def execute_command(self, *args: bytes, timeout: Any = COMMAND_TIMEOUT) -> SMTPResponse:
        command = self.recorder.command(b" ".join(args).decode("utf-8", "replace"))
        response = await super().execute_command(*args, timeout=timeout)
        self.recorder.reply(command, response)
        return response

    async def starttls(self, **options: Any) -> SMTPResponse:
        await self._ehlo_or_helo_if_needed()
        self.recorder.command("STARTTLS")
        try:
            response = await super().starttls(**options)
        except aiosmtplib.SMTPResponseException as error:
            self.recorder.reply("STARTTLS", SMTPResponse(error.code, error.message))
            raise
        self.recorder.reply("STARTTLS", response)
        return response

    async def send_data(self, message: bytes) -> SMTPResponse:
        """DATA with ``message`` dot-stuffed and terminated, and not otherwise changed (aiosmtplib's
        ``data`` would rewrite bare line feeds)."""
        response = await self.execute_command(b"DATA")
        if response.code != 354:
            return response
        protocol = self.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self.recorder.command(f"<DATA {len(message)} bytes>")
        # Stuffing copies the message: a large one is copied off the event loop.
        small = len(message) < OFF_LOOP_BYTES
        protocol.write(dot_stuffed(message) if small else await asyncio.to_thread(dot_stuffed, message))
        response = await protocol.read_response(timeout=COMMAND_TIMEOUT)
        self.recorder.reply("DATA", response)
        return response


def dot_stuffed(message: bytes) -> bytes:
    """RFC 5321 §4.5.2: a line starting with "." gets another; the content ends with CRLF.CRLF."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"


def _outcome(code: int) -> Result:
    return "refused" if code >= 500 else "deferred"


class _Ended(Exception):
    """The transaction ended early with this reply code (None: no reply decided it)."""

    def __init__(self, code: int | None, error: str, result: Result) -> None:
        super().__init__(error)
        self.code = code
        self.result = result


@dataclass(frozen=True, slots=True)
class Delivery:
    release: Release
    deferred_to: tuple[str, ...]  # recipients the next hop answered 4xx: worth another try


async def deliver(
    message: bytes,
    *,
    mail_from: str,
    to: Sequence[str],
    hops: Sequence[Hop],
    settings: ClientSettings,
    tls_context: ssl.SSLContext | None,
) -> Delivery:
    """One SMTP transaction: the first hop that answers at all takes it (RFC 5321 §5.1: try the next
    address only when one cannot be reached)."""
    recorder = _Recorder()
    at = utcnow()
    relay = str(hops[0]) if hops else ""
    code: int | None = None
    result: Result = "deferred"
    error: str | None = "no next hop"
    deferred_to: tuple[str, ...] = ()
    for hop in hops:
        relay = str(hop)
        try:
            sock = await _connect(hop)
        except OSError as failure:
            error = f"cannot connect to {hop} ({hop.address}): {failure.strerror or failure}"
            recorder.note(error)
            continue
        smtp = _RecordingSMTP(
            recorder,
            hostname=hop.name,
            sock=sock,
            use_tls=settings.tls == "tls",
            start_tls=False,
            tls_context=tls_context,
            local_hostname=settings.local_hostname,
            timeout=COMMAND_TIMEOUT,
        )
        try:
            code, deferred_to = await _transaction(smtp, message, mail_from, to, settings)
            result, error = "sent", None
        except _Ended as ended:
            code, result, error = ended.code, ended.result, str(ended)
        except aiosmtplib.SMTPResponseException as failure:
            recorder.reply("", SMTPResponse(failure.code, failure.message))
            code, result, error = failure.code, _outcome(failure.code), failure.message
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as failure:
            code, result, error = None, "deferred", str(failure) or type(failure).__name__
            recorder.note(error)
        finally:
            # The socket belongs to the transport now, which closes it (after a TLS close_notify).
            smtp.close()
        break
    release = Release(
        at=at,
        to=tuple(to),
        relay=relay,
        result=result,
        code=code,
        mail_from=mail_from,
        error=error,
        replies=tuple(recorder.replies),
        transcript=tuple(recorder.lines),
    )
    return Delivery(release, deferred_to)


async def _connect(hop: Hop) -> socket.socket:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(CONNECT_TIMEOUT):
        infos = await loop.getaddrinfo(hop.address, hop.port, type=socket.SOCK_STREAM)
        last: OSError = OSError(f"no address for {hop.address}")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError as error:
                sock.close()
                last = error
                continue
            return sock
        raise last


async def _transaction(
    smtp: _RecordingSMTP, message: bytes, mail_from: str, to: Sequence[str], settings: ClientSettings
) -> tuple[int, tuple[str, ...]]:
    greeting = await smtp.connect()
    smtp.recorder.reply("", greeting)
    await smtp.ehlo()
    if settings.tls == "starttls":
        if not smtp.supports_extension("starttls"):
            raise _Ended(None, "the next hop does not offer STARTTLS (--relay-tls starttls)", "deferred")
        await smtp.starttls()
        await smtp.ehlo()
    if settings.username is not None:
        await smtp.login(settings.username, settings.password or "")
    options = []
    if smtp.supports_extension("size"):
        options.append(f"SIZE={len(message)}".encode())
    if smtp.supports_extension("8bitmime") and not message.isascii():
        options.append(b"BODY=8BITMIME")
    if not (mail_from + "".join(to)).isascii():
        if not smtp.supports_extension("smtputf8"):
            raise _Ended(None, "the next hop does not offer SMTPUTF8 for these addresses", "refused")
        options.append(b"SMTPUTF8")
    response = await smtp.execute_command(b"MAIL", f"FROM:<{mail_from}>".encode(), *options)
    if response.code != 250:
        raise _Ended(response.code, f"MAIL FROM refused: {response.message}", _outcome(response.code))
    accepted: list[str] = []
    deferred: list[str] = []
    worst: SMTPResponse | None = None
    for address in to:
        response = await smtp.execute_command(b"RCPT", f"TO:<{address}>".encode())
        if response.code in (250, 251):
            accepted.append(address)
            continue
        if response.code < 500:
            deferred.append(address)
        if worst is None or (response.code < 500 <= worst.code):
            worst = response
    if not accepted:
        assert worst is not None
        await _quit(smtp)
        raise _Ended(worst.code, f"every recipient refused: {worst.message}", _outcome(worst.code))
    response = await smtp.send_data(message)
    if response.code != 250:
        raise _Ended(response.code, f"the message was refused: {response.message}", _outcome(response.code))
    await _quit(smtp)
    return response.code, tuple(deferred)


async def _quit(smtp: _RecordingSMTP) -> None:
    # The transaction's outcome is known: a next hop that hangs up early changes nothing.
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await smtp.quit()
