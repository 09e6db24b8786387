"""aiosmtpd's SMTP protocol, extended: a transcript of every line, a chunked DATA reader, limits, AUTH
(PLAIN, LOGIN, CRAM-MD5) against the host's credentials, and fault rules applied at each stage.

aiosmtpd has no transcript hook, so inbound bytes are taken in ``data_received`` (decrypted after STARTTLS)
and replies in ``push``. DATA is read in large chunks rather than line by line: only ``<CRLF>.<CRLF>``
ends it (RFC 5321 §4.1.1.4), dot-stuffing is undone piece by piece (§4.5.2), and the size limit is
enforced while reading (§4.5.3.1.7) so an oversized message is never held in memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword, TLSSetupException
from aiosmtpd.smtp import Envelope as AiosmtpdEnvelope

from mailtrap_lite import ids
from mailtrap_lite.errors import StoreUnavailable
from mailtrap_lite.faults import FaultEngine, Stage
from mailtrap_lite.model import Arrival, AuthInfo, Envelope, Recipient, Reply, Session
from mailtrap_lite.session_log import SessionLog, peer_text
from mailtrap_lite.smtp import replies
from mailtrap_lite.smtp.credentials import CramMD5, Credentials, Proof
from mailtrap_lite.smtp.dotstuff import Unstuffer
from mailtrap_lite.smtp.transcript import DATA_END, TranscriptRecorder, has_bare_lf_end

log = logging.getLogger("mailtrap_lite.smtp")

READ_CHUNK_LIMIT = 256 * 1024  # the stream reader's limit: the largest piece DATA is read in
BARE_LF_GRACE = 1.0  # seconds of silence after a bare-LF "\n.\n" before it is answered
BARE_LF_SCAN_LINES = 1000  # lines looked through for that end; past them the rest of the buffer is dropped
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# RFC 5321 §4.1.2 Path with a dot-atom local part and a plain domain, then nothing or " " and parameters.
_PLAIN_PATH = re.compile(
    rf"<(?P<address>{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>"
    r"(?P<rest>(?: [A-Za-z0-9][!-~ ]*)?)\Z"
)


def _text(arg: str | None) -> str:
    """A command argument as text ("" for none). aiosmtpd decodes arguments with surrogateescape, and a
    lone surrogate from bytes that are not UTF-8 can be neither stored in SQLite nor sent as JSON: make
    those U+FFFD."""
    if arg is None:
        return ""
    if arg.isascii():
        return arg
    return arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class SessionHost(Protocol):
    """What a protocol instance needs from the server that created it."""

    hostname: str
    max_message_size: int
    max_recipients: int
    idle_timeout: float
    require_auth: bool
    credentials: Credentials
    faults: FaultEngine

    async def deliver(self, arrival: Arrival) -> None:
        """Store a message; returns once it is stored, raises if it could not be."""

    def session_started(self, protocol: CatcherSMTP) -> None: ...

    def message_rejected(self, reason: str) -> None: ...

    def session_ended(self, protocol: CatcherSMTP, final: Session) -> None: ...


class FaultReply(str):
    """A reply chosen by a fault rule: sent as it is, and marked in the transcript with the rule's id."""

    fault_id: str

    def __new__(cls, text: str, fault_id: str) -> FaultReply:
        reply = super().__new__(cls, text)
        reply.fault_id = fault_id
        return reply


class _Envelope(AiosmtpdEnvelope):
    """aiosmtpd's envelope plus the reply every RCPT got."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: list[Recipient] = []


class CatcherSMTP(SMTP):
    line_length_limit = READ_CHUNK_LIMIT

    def __init__(self, host: SessionHost, **kwargs: Any) -> None:
        self.host = host
        self.transcript = TranscriptRecorder()
        self.record: SessionLog | None = None
        self.quit_received = False
        self._lost = False
        self._delivering = False
        self._greeted = False
        self._in_helo = False
        self._last_reply = ""
        self._peer_host = ""
        self._auth_attempt: AuthInfo | None = None
        super().__init__(
            host,
            hostname=host.hostname,
            ident="mailtrap-lite",
            data_size_limit=host.max_message_size,
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=self._authenticator,
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
        self._peer_host = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self.record = SessionLog(peer_text(peer), self.transcript)
        if transport.get_extra_info("sslcontext") is not None:
            self._record_tls(transport)
        self.host.session_started(self)

    def _record_tls(self, transport: asyncio.BaseTransport) -> None:
        if self.record is not None:
            self.record.note_tls(transport.get_extra_info)

    def connection_lost(self, error: Exception | None) -> None:
        record = self.record
        if record is not None and not self._lost:
            self._lost = True
            if record.error is None and not self.quit_received:
                record.fail("client disconnected without QUIT")
                self.transcript.note("client disconnected without QUIT")
            if not self._delivering:
                self._end_session()
        super().connection_lost(error)

    def _end_session(self) -> None:
        # A message being stored when the client left still belongs to the session: it ends afterwards.
        assert self.record is not None
        if not self.record.ended:
            self.host.session_ended(self, self.record.end())

    def data_received(self, data: bytes) -> None:
        self.transcript.client(data)
        super().data_received(data)

    async def push(self, status: str | bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # the line is down (dropped by a fault, closed after a 421): nothing reaches the client
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        fault_id = status.fault_id if isinstance(status, FaultReply) else None
        if not self._greeted:  # aiosmtpd pushes the greeting before it reads anything
            self._greeted = True
            if await self._answered_by_fault("connect", self._peer_host):
                self._refuse_all_but_quit()
                return
        # RFC 2034 §3: every reply carries an enhanced status code but the greeting and HELO/EHLO's.
        elif fault_id is None and not self._in_helo:
            text = replies.with_enhanced_code(text)
        if not text.isascii() and not (self.envelope is not None and self.envelope.smtp_utf8):
            # aiosmtpd would send UTF-8 (SMTPUTF8 is offered), but only a client that asked for it may get it.
            text = text.encode("ascii", "replace").decode("ascii")
        self._last_reply = text
        self.transcript.server(text, fault_id)
        await super().push(text)

    def _timeout_cb(self) -> None:
        self.close_with(replies.IDLE_TIMEOUT.format(host=self.hostname), "idle timeout")

    def close_with(self, reply: str | None, reason: str, fault_id: str | None = None) -> None:
        """Close without waiting for the client, after a final reply (e.g. 421) when one is given."""
        if self.transport is None or self.transport.is_closing():
            return
        if self.record is not None:
            self.record.fail(reason)
        if reply is None:
            self.transcript.note(reason, fault_id)
        else:
            self.transcript.server(reply, fault_id)
            cast(asyncio.WriteTransport, self.transport).write(reply.encode() + b"\r\n")
        self.transport.close()

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            # aiosmtpd closes the connection itself; a client refusing our certificate is no server error.
            reason = f"TLS handshake failed: {error.__cause__ or error}"
            if self.record is not None:
                self.record.fail(reason)
            self.transcript.note(reason)
            return ""
        status: str = await super().handle_exception(error)
        return status

    # --- fault rules ------------------------------------------------------------------------------------

    async def fault(self, stage: Stage, *arguments: str) -> FaultReply | None:
        """Apply the first fault rule that fires at this stage: every stage (connect, helo, auth, mail,
        rcpt, data) goes through here, and the reply it returns carries the rule's id to the transcript.

        Returns None to go on as usual (no rule fired, or a delay is over), else the reply to send instead
        of the usual one. After a disconnect or a 421 the line is down and that reply is never sent.
        """
        firing = await self.host.faults.take(stage, *arguments)
        if firing is None:
            return None
        rule = firing.rule
        if rule.delay_ms:
            self.transcript.note(f"fault {rule.id}: waiting {rule.delay_ms} ms", rule.id)
            # The client waits for us meanwhile: that is not idleness.
            self._reset_timeout(self._timeout_duration + rule.delay_ms / 1000)
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.action == "delay":
            return None
        if rule.action == "disconnect":
            self.close_with(None, f"connection dropped by fault rule {rule.id}", rule.id)
        elif rule.code == 421:
            # RFC 5321 §3.8: a 421 reply closes the transmission channel.
            self.close_with(rule.reply, f"closed by fault rule {rule.id}", rule.id)
        return FaultReply(rule.reply, rule.id)

    async def _answered_by_fault(self, stage: Stage, *arguments: str) -> bool:
        answer = await self.fault(stage, *arguments)
        if answer is None:
            return False
        await self.push(answer)
        return True

    def _refuse_all_but_quit(self) -> None:
        # RFC 5321 §3.1: after a refusing greeting the server waits for QUIT and answers all else 503.
        self._smtp_methods = {
            name: method if name == "QUIT" else self._refuse for name, method in self._smtp_methods.items()
        }

    async def _refuse(self, arg: str | None) -> None:
        await self.push(replies.CONNECTION_REFUSED)

    # --- commands ---------------------------------------------------------------------------------------

    def _create_envelope(self) -> _Envelope:
        return _Envelope()

    def current_envelope(self) -> _Envelope:
        # A method, not a property: aiosmtpd's __init__ reads every attribute (inspect.getmembers).
        envelope = self.envelope
        assert isinstance(envelope, _Envelope)
        return envelope

    def _next_envelope(self) -> None:
        """Forget the envelope after DATA is answered (RFC 5321 §4.1.1.4), as aiosmtpd does."""
        self._set_post_data_state()  # type: ignore[no-untyped-call]

    async def smtp_HELO(self, hostname: str | None) -> None:
        await self._hello(_text(hostname), super().smtp_HELO)

    async def smtp_EHLO(self, hostname: str | None) -> None:
        await self._hello(_text(hostname), super().smtp_EHLO)

    async def _hello(self, hostname: str, answer: Callable[[str], Awaitable[None]]) -> None:
        if hostname and await self._answered_by_fault("helo", hostname):
            return
        self._in_helo = True
        try:
            await answer(hostname)
        finally:
            self._in_helo = False
        if self.record is not None and hostname:
            self.record.helo = hostname

    async def smtp_QUIT(self, arg: str) -> None:
        self.quit_received = not arg
        await super().smtp_QUIT(arg)

    async def smtp_MAIL(self, arg: str | None) -> None:
        await super().smtp_MAIL(arg if arg is None else _text(arg))

    async def smtp_RCPT(self, arg: str | None) -> None:
        arg = arg if arg is None else _text(arg)
        envelope = self.current_envelope()
        if envelope.mail_from and len(envelope.rcpt_tos) >= self.host.max_recipients:
            address = self._rcpt_address(arg)
            if address is not None:
                await self.push(replies.TOO_MANY_RECIPIENTS)
                envelope.replies.append(Recipient(address, 452, replies.TOO_MANY_RECIPIENTS[4:]))
                return
        answered = len(envelope.replies)
        self._last_reply = ""
        await super().smtp_RCPT(arg)
        if envelope is not self.envelope or len(envelope.replies) > answered:
            return
        # aiosmtpd refused the command before asking our hook (no MAIL, bad parameters): its reply is
        # only known as sent.
        address = self._rcpt_address(arg)
        if address is not None:
            reply = self._last_reply
            envelope.replies.append(Recipient(address, replies.reply_code(reply), reply[4:]))

    async def mail_hook(self, address: str, options: list[str]) -> str:
        """aiosmtpd's MAIL hook (by way of the host): the command is valid, and a fault rule answers where
        a real server's policy would."""
        answer = await self.fault("mail", address)
        if answer is not None:
            return answer
        envelope = self.current_envelope()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.MAIL_OK

    async def rcpt_hook(self, address: str, options: list[str]) -> str:
        """aiosmtpd's RCPT hook: accept the address unless a fault rule answers, and record the reply."""
        envelope = self.current_envelope()
        reply: str | None = await self.fault("rcpt", address)
        if reply is None:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            reply = replies.RCPT_OK
        envelope.replies.append(Recipient(address, replies.reply_code(reply), reply[4:]))
        return reply

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every MAIL/RCPT address with email's full RFC 5322 parser, a large part of a small
        # message's cost (benchmarks/README.md). The everyday <dot-atom@domain> form is taken apart here
        # instead, with exactly the result of the full parser (a test compares them); the rest goes to it.
        plain = _PLAIN_PATH.match(arg)
        if plain is None or self.local_part_limit:
            return super()._getaddr(arg)
        return plain["address"], plain["rest"][1:]

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
        envelope = self.current_envelope()
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
        answer = await self.fault("data", envelope.mail_from or "", *envelope.rcpt_tos)
        if answer is not None:
            self.host.message_rejected("fault")
            self._next_envelope()
            await self.push(answer)
            return
        final = await self._store(raw, envelope)
        self._next_envelope()
        await self.push(final)

    async def _read_data(self) -> bytes | None:
        """Read DATA up to <CRLF>.<CRLF>; None when it was answered already (too big, bare LF)."""
        pieces: list[bytes] = []
        unstuff = Unstuffer()
        size = 0
        too_big = False
        tail = b"\r\n"  # the last bytes read: the CRLF that ended the DATA command at first
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
                if not size and self.transcript.data_ended_empty():
                    # The stream reader looks for CRLF.CRLF and never sees this end: take its ".CRLF".
                    await self._reader.readexactly(3)
                    self._reset_timeout()
                    return b""
                if self.transcript.bare_lf_end_then_silence(BARE_LF_GRACE):
                    await self._reject_bare_lf_end(tail)
                    return None
                continue
            self._reset_timeout()
            size += len(piece)
            tail = (tail + piece[-2:])[-2:]
            # The terminator's ".\r\n" is not content; its CRLF is (RFC 5321 §4.1.1.4).
            if not too_big and size - 3 > limit:
                too_big = True
                pieces.clear()  # stop holding the message, keep reading to its end
            if not too_big:
                # readuntil leaves a partial separator in the buffer, so the last piece holds all of it.
                pieces.append(unstuff.feed(piece[:-3] if end_found else piece))
            if end_found:
                break
        if too_big:
            self.host.message_rejected("too big")
            self._next_envelope()
            await self.push(replies.TOO_BIG)
            return None
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def _reject_bare_lf_end(self, tail: bytes) -> None:
        """Answer a DATA that ended with a bare LF, after discarding it through that end: what the client
        sent after the end (e.g. a pipelined QUIT) is read as commands again. ``tail`` holds the last
        bytes of this DATA read so far."""
        for _ in range(BARE_LF_SCAN_LINES):
            try:
                # Only what is buffered: a bare-LF end read already with an earlier piece is not there.
                async with asyncio.timeout(BARE_LF_GRACE):
                    line = await self._reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as overrun:
                line = await self._reader.read(overrun.consumed)
            except (TimeoutError, asyncio.IncompleteReadError):
                break
            if line in (b".\n", b".\r\n") and has_bare_lf_end(tail + line):
                break
            tail = (tail + line[-2:])[-2:]
        else:
            # Too many lines to look through on the event loop: drop all that is buffered instead.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(BARE_LF_GRACE):
                    await self._reader.read(1 << 30)
        self.transcript.end_data()
        self.host.message_rejected("bare LF end of data")
        if self.record is not None:
            self.transcript.note("DATA ended with a bare LF '.' line; rejected")
        self._next_envelope()
        await self.push(replies.BARE_LF_END)

    async def _store(self, raw: bytes, envelope: _Envelope) -> str:
        assert self.record is not None
        mail_from = envelope.mail_from or ""
        message_id = ids.new_id()
        accepted = replies.QUEUED.format(id=message_id)
        model_envelope = Envelope(
            mail_from="" if mail_from == "<>" else mail_from,
            mail_options=tuple(envelope.mail_options),
            recipients=tuple(envelope.replies),
            data=Reply(250, accepted[4:]),
        )
        arrival = Arrival(message_id, raw, model_envelope, self.record.snapshot(message_ids=False))
        self._delivering = True
        try:
            await self.host.deliver(arrival)
            self.record.delivered(message_id)
            return accepted
        except Exception as error:
            if isinstance(error, StoreUnavailable):  # the store logged the outage once, when it began
                log.debug("could not store a message from %s: %s", self.record.peer, error)
            else:
                log.exception("could not store a message from %s", self.record.peer)
            self.host.message_rejected("store failed")
            return replies.STORE_FAILED
        finally:
            self._delivering = False
            if self._lost:
                self._end_session()

    # --- authentication ---------------------------------------------------------------------------------

    async def check_auth_needed(self, caller_method: str) -> bool:
        # aiosmtpd's auth_required warns when AUTH is allowed in plaintext, which a catcher wants.
        if self.host.require_auth and not (self.session is not None and self.session.authenticated):
            await self.push(replies.AUTH_REQUIRED)
            return True
        return False

    async def auth_PLAIN(self, _: SMTP, args: list[str]) -> AuthResult:
        return await self._conclude_auth(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: SMTP, args: list[str]) -> AuthResult:
        return await self._conclude_auth(await super().auth_LOGIN(_, args))

    async def auth_CRAM__MD5(self, _: SMTP, args: list[str]) -> AuthResult:
        """RFC 2195: the client answers a challenge with its username and an HMAC-MD5 of it."""
        if len(args) > 1:
            await self.push(replies.AUTH_NO_INITIAL_RESPONSE)
            return AuthResult(success=False, handled=True)
        challenge = f"<{secrets.randbelow(10**12)}.{int(time.time())}@{self.hostname}>".encode()
        answer = await self.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)  # challenge_auth has answered already
        login, _space, digest = bytes(answer).rpartition(b" ")
        if not login or not digest:
            await self.push(replies.AUTH_CANNOT_SPLIT)
            return AuthResult(success=False, handled=True)
        proof = CramMD5(challenge, digest.decode("ascii", "replace"))
        return await self._conclude_auth(self._verify("CRAM-MD5", login, proof))

    def _authenticator(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        return self._verify(mechanism, auth_data.login, auth_data.password)

    def _verify(self, mechanism: str, login: bytes, proof: Proof) -> AuthResult:
        username = login.decode("utf-8", "replace")
        self._auth_attempt = AuthInfo(mechanism=mechanism, username=username)
        if not self.host.credentials.verify(username, proof):
            # handled=False with a message: aiosmtpd sends it (handled=True would leave the client hanging).
            return AuthResult(success=False, handled=False, message=replies.AUTH_INVALID)
        # The secret stays out of aiosmtpd's session object too.
        return AuthResult(success=True, auth_data=LoginPassword(login, b""))

    async def _conclude_auth(self, result: AuthResult) -> AuthResult:
        """Apply an auth fault rule now that the username is known; record a successful login."""
        attempt, self._auth_attempt = self._auth_attempt, None
        if attempt is None:
            return result  # the exchange ended before any credentials (bad base64, "*")
        answer = await self.fault("auth", attempt.username)
        if answer is not None:
            await self.push(answer)
            return AuthResult(success=False, handled=True)
        if result.success and self.record is not None:
            self.record.auth = attempt
        return result
