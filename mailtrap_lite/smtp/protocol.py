"""aiosmtpd's SMTP protocol, extended: a transcript of every line, a chunked DATA reader, limits.

aiosmtpd has no transcript hook, so inbound bytes are taken in ``data_received`` (decrypted after STARTTLS)
and replies in ``push``. DATA is read in large chunks rather than line by line: only ``<CRLF>.<CRLF>``
ends it (RFC 5321 §4.1.1.4), dot-stuffing is undone on the whole body (§4.5.2), and the size limit is
enforced while reading (§4.5.3.1.7) so an oversized message is never held in memory.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from aiosmtpd.smtp import Envelope as AiosmtpdEnvelope

from mailtrap_lite import ids
from mailtrap_lite.model import AuthInfo, Envelope, Recipient, Reply, Session, TLSInfo, utcnow
from mailtrap_lite.smtp import replies
from mailtrap_lite.smtp.transcript import DATA_END, TranscriptRecorder

log = logging.getLogger("mailtrap_lite.smtp")

READ_CHUNK_LIMIT = 256 * 1024  # the stream reader's limit: the largest piece DATA is read in
BARE_LF_GRACE = 1.0  # seconds of silence after a bare-LF "\n.\n" before it is answered
_BARE_LF_ENDINGS = (b"\n.\n", b"\n.\r\n", b"\r\n.\n")


class SessionHost(Protocol):
    """What a protocol instance needs from the server that created it."""

    hostname: str
    max_message_size: int
    max_recipients: int
    idle_timeout: float

    async def deliver(
        self, message_id: str, raw: bytes, envelope: Envelope, session: Session, eight_bit: bool
    ) -> None:
        """Store a message under this id; returns once it is stored, raises if it could not be."""

    def session_started(self, protocol: CatcherSMTP) -> None: ...

    def message_rejected(self, reason: str) -> None: ...

    def session_ended(self, protocol: CatcherSMTP) -> None: ...

    def authenticate(self, mechanism: str, username: str, password: bytes) -> bool: ...


class _Envelope(AiosmtpdEnvelope):  # type: ignore[misc]
    """aiosmtpd's envelope plus the reply every RCPT got."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: list[Recipient] = []


class CatcherSMTP(SMTP):  # type: ignore[misc]
    line_length_limit = READ_CHUNK_LIMIT

    def __init__(self, host: SessionHost, **kwargs: Any) -> None:
        self.host = host
        self.transcript = TranscriptRecorder()
        self.record: Session | None = None
        self.quit_received = False
        self._greeted = False
        self._in_helo = False
        self._last_reply = ""
        super().__init__(
            host,
            hostname=host.hostname,
            ident="mailtrap-lite",
            data_size_limit=host.max_message_size,
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=self._authenticate_any,
            timeout=host.idle_timeout,
            **kwargs,
        )
        # aiosmtpd keeps these limits on the class and grows them on each EHLO; keep ours per connection.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.__ident__ = replies.GREETING_IDENT

    # --- connection life -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        starttls = self._original_transport is not None
        super().connection_made(transport)
        if starttls:
            self.transcript.reset_after_starttls()
            self._record_tls(transport)
            return
        peer = transport.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        # The record shares the recorder's list, so a snapshot (the live view, the copy stored with each
        # message) holds the transcript so far, not only once the connection ends.
        self.record = Session(
            id=ids.new_id(), peer=peer_text, started_at=utcnow(), transcript=self.transcript.lines
        )
        if transport.get_extra_info("sslcontext") is not None:
            self._record_tls(transport)
        self.host.session_started(self)

    def _record_tls(self, transport: asyncio.BaseTransport) -> None:
        cipher = transport.get_extra_info("cipher")
        if self.record is not None and cipher:
            self.record.tls = TLSInfo(version=str(cipher[1]), cipher=str(cipher[0]))

    def connection_lost(self, error: Exception | None) -> None:
        record = self.record
        if record is not None and record.ended_at is None:
            record.ended_at = utcnow()
            if record.error is None and not self.quit_received:
                record.error = "client disconnected without QUIT"
                self.transcript.note(record.error)
            record.transcript = self.transcript.lines
            record.transcript_truncated = self.transcript.truncated
            self.host.session_ended(self)
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        self.transcript.client(data)
        super().data_received(data)

    async def push(self, status: str | bytes) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        # RFC 2034 §3: every reply carries an enhanced status code but the greeting and HELO/EHLO's.
        if self._greeted and not self._in_helo:
            text = replies.with_enhanced_code(text)
        self._greeted = True
        self._last_reply = text
        self.transcript.server(text)
        await super().push(text)

    def _timeout_cb(self) -> None:
        self.close_with(replies.IDLE_TIMEOUT.format(host=self.hostname), "idle timeout")

    def close_with(self, reply: str, reason: str) -> None:
        """Answer with a final reply (e.g. 421) and close, without waiting for the client."""
        if self.transport is None or self.transport.is_closing():
            return
        if self.record is not None and self.record.error is None:
            self.record.error = reason
        self.transcript.server(reply)
        self.transport.write(reply.encode() + b"\r\n")
        self.transport.close()

    # --- commands ---------------------------------------------------------------------------------------

    def _create_envelope(self) -> _Envelope:
        return _Envelope()

    async def smtp_HELO(self, hostname: str) -> None:
        self._in_helo = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._in_helo = False
        self._record_helo(hostname)

    async def smtp_EHLO(self, hostname: str) -> None:
        self._in_helo = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._in_helo = False
        self._record_helo(hostname)

    def _record_helo(self, hostname: str) -> None:
        if self.record is not None and hostname:
            self.record.helo = hostname

    async def smtp_QUIT(self, arg: str) -> None:
        self.quit_received = not arg
        await super().smtp_QUIT(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        envelope = self.envelope
        before = len(envelope.rcpt_tos)
        address = self._rcpt_address(arg)
        if address is not None and envelope.mail_from and before >= self.host.max_recipients:
            await self.push(replies.TOO_MANY_RECIPIENTS)
            envelope.replies.append(Recipient(address, 452, replies.TOO_MANY_RECIPIENTS[4:]))
            return
        self._last_reply = ""
        await super().smtp_RCPT(arg)
        if address is not None and envelope is self.envelope:
            reply = self._last_reply
            envelope.replies.append(Recipient(address, replies.reply_code(reply), reply[4:]))

    def _rcpt_address(self, arg: str | None) -> str | None:
        if arg is None:
            return None
        stripped = self._strip_command_keyword("TO:", arg)
        if stripped is None:
            return None
        address, _ = self._getaddr(stripped)
        return address or None

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope: _Envelope = self.envelope
        if not envelope.rcpt_tos:
            await self.push(replies.NEED_RCPT)
            return
        if arg:
            await self.push(replies.DATA_SYNTAX)
            return
        await self.push(replies.START_DATA)
        raw = await self._read_data()
        if raw is None:
            return
        final = await self._store(raw, envelope)
        self._set_post_data_state()
        await self.push(final)

    async def _read_data(self) -> bytes | None:
        """Read DATA up to <CRLF>.<CRLF>; None when it was answered already (too big, bare LF)."""
        pieces: list[bytes] = [b"\r\n"]  # the CRLF ending the DATA command: a leading "." is stuffed too
        size = 0
        too_big = False
        limit = self.host.max_message_size
        while True:
            try:
                async with asyncio.timeout(BARE_LF_GRACE):
                    piece = await self._reader.readuntil(DATA_END)
                end_found = True
            except asyncio.LimitOverrunError as overrun:
                piece = await self._reader.read(overrun.consumed)
                end_found = False
            except asyncio.IncompleteReadError:
                if self.record is not None:
                    self.record.error = "connection lost during DATA"
                return None
            except TimeoutError:
                if self.transcript.data_tail_endswith(_BARE_LF_ENDINGS):
                    await self._reject_bare_lf_end()
                    return None
                continue
            self._reset_timeout()
            size += len(piece)
            # The terminator's ".\r\n" is not content; its CRLF is (RFC 5321 §4.1.1.4).
            if not too_big and size - 3 > limit:
                too_big = True
                pieces.clear()  # stop holding the message, keep reading to its end
            if not too_big:
                pieces.append(piece)
            if end_found:
                break
        if too_big:
            self.host.message_rejected("too big")
            self._set_post_data_state()
            await self.push(replies.TOO_BIG)
            return None
        # Without the terminator's ".\r\n" (its CRLF ends the last line of the body).
        content = b"".join(pieces)[:-3]
        del pieces
        # RFC 5321 §4.5.2: a leading period on a line was added by the client; remove it.
        if b"\r\n." in content:
            content = content.replace(b"\r\n.", b"\r\n")
        return content[2:]  # without the CRLF of the DATA command we put in front

    async def _reject_bare_lf_end(self) -> None:
        await self._reader.read(1 << 30)  # discard what is buffered of this DATA
        self.transcript.end_data()
        self.host.message_rejected("bare LF end of data")
        if self.record is not None:
            self.transcript.note("DATA ended with a bare LF '.' line; rejected")
        self._set_post_data_state()
        await self.push(replies.BARE_LF_END)

    async def _store(self, raw: bytes, envelope: _Envelope) -> str:
        assert self.record is not None
        mail_from = envelope.mail_from or ""
        eight_bit = "BODY=8BITMIME" in envelope.mail_options
        message_id = ids.new_id()
        accepted = replies.QUEUED.format(id=message_id)
        model_envelope = Envelope(
            mail_from="" if mail_from == "<>" else mail_from,
            mail_options=tuple(envelope.mail_options),
            recipients=tuple(envelope.replies),
            data=Reply(250, accepted[4:]),
        )
        self.record.transcript_truncated = self.transcript.truncated
        try:
            await self.host.deliver(message_id, raw, model_envelope, self.record, eight_bit)
        except Exception:
            log.exception("could not store a message from %s", self.record.peer)
            self.host.message_rejected("store failed")
            return replies.STORE_FAILED
        return accepted

    # --- authentication ---------------------------------------------------------------------------------

    def _authenticate_any(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode("utf-8", "replace")
        if not self.host.authenticate(mechanism, username, auth_data.password):
            return AuthResult(success=False, handled=False, message=replies.AUTH_INVALID)
        if self.record is not None:
            self.record.auth = AuthInfo(mechanism=mechanism, username=username)
        # The password stays with aiosmtpd's session object only; it never reaches our records.
        return AuthResult(success=True, auth_data=LoginPassword(auth_data.login, b""))
