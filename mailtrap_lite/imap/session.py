"""One IMAP connection (RFC 3501): reading commands, the states, and every command this server answers.

States: not authenticated → authenticated (LOGIN, AUTHENTICATE) → selected (SELECT, EXAMINE) → logout.
A login names one mailbox, shown as ``INBOX``; a login that ``--mailbox-access`` names also sees the
mailboxes listed for it, each as a folder of its own name. Mail is read-only but for the read flag
(``\\Seen``) and deletion (``\\Deleted`` then EXPUNGE or CLOSE), both through the service so the API and
UI see them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import logging
import re
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailtrap_lite import __version__
from mailtrap_lite.errors import NotFound
from mailtrap_lite.events import Event
from mailtrap_lite.imap import fetch
from mailtrap_lite.imap import search as imap_search
from mailtrap_lite.imap.parser import (
    Atom,
    Command,
    ParenList,
    ParseError,
    Token,
    astring,
    literal_announced,
    parse_command,
    sequence_set,
)
from mailtrap_lite.imap.selected import Selected
from mailtrap_lite.imap.strings import Pieces, wire
from mailtrap_lite.imap.transcript import IMAPTranscript
from mailtrap_lite.model import AuthInfo, MessageSummary
from mailtrap_lite.raw_headers import header_values
from mailtrap_lite.search import Query, Term, with_mailbox
from mailtrap_lite.session_log import SessionLog, peer_text

log = logging.getLogger("mailtrap_lite.imap")

if TYPE_CHECKING:
    from mailtrap_lite.imap.server import IMAPHost

LINE_LIMIT = 64 * 1024  # the longest command line; longer gets BYE
MAX_LITERAL = 64 * 1024  # this server takes no message uploads: a command's literals are short
MAX_COMMAND = 256 * 1024
AUTOLOGOUT = 1800.0  # RFC 3501 §5.4: at least 30 minutes
FAILED_LOGIN_DELAY = 0.5
ALL_MESSAGES = 2**31
PERMANENT = "\\Seen \\Deleted"
MAILBOX_NAME = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}")
_ANY_STATE = {"CAPABILITY", "NOOP", "LOGOUT", "ID"}
_NOT_AUTHENTICATED = {"STARTTLS", "LOGIN", "AUTHENTICATE"}
_AUTHENTICATED = {
    "SELECT", "EXAMINE", "LIST", "LSUB", "STATUS", "NAMESPACE", "IDLE", "CREATE", "DELETE", "RENAME",
    "SUBSCRIBE", "UNSUBSCRIBE", "APPEND",
}  # fmt: skip
_SELECTED = {"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE"}
_WITH_UID = {"FETCH", "SEARCH", "STORE", "EXPUNGE", "COPY", "MOVE"}
# While these answer by sequence number, no EXPUNGE may be sent (RFC 3501 §7.4.1).
_NO_EXPUNGE_DURING = {"FETCH", "STORE", "SEARCH"}


class Hangup(Exception):
    """The connection is over (LOGOUT, BYE sent, or the client went away)."""


class IMAPSession:
    def __init__(
        self, host: IMAPHost, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls: bool
    ) -> None:
        self.host = host
        self.reader = reader
        self.writer = writer
        self.transcript = IMAPTranscript()
        self.record = SessionLog(peer_text(writer.get_extra_info("peername")), self.transcript, "imap")
        self.tls_active = tls
        self.mailbox: str | None = None  # the login's own mailbox, shown as INBOX
        self.folders: dict[str, str] = {}  # folder name as listed -> mailbox, INBOX first
        self.selected: Selected | None = None

    # --- the connection ----------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if self.tls_active:
                self.record.note_tls(self.writer.get_extra_info)
            await self.send(
                f"* OK [CAPABILITY {self.capabilities()}] {self.host.hostname} ready\r\n".encode()
            )
            while True:
                await self.command()
        except Hangup:
            pass
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError) as error:
            self.record.fail(f"connection lost: {type(error).__name__}")
        finally:
            if self.selected is not None:
                self.selected.close()
            self.writer.close()
            self.host.session_ended(self, self.record.end())

    async def send(self, data: bytes | Pieces) -> None:
        pieces: Pieces = [data] if isinstance(data, bytes) else data
        self.transcript.response(pieces)
        self.writer.write(wire(pieces))
        await self.writer.drain()

    async def bye(self, text: str) -> None:
        self.record.fail(text)
        with contextlib.suppress(ConnectionError):
            await self.send(f"* BYE {text}\r\n".encode())
        raise Hangup

    async def read_line(self) -> bytes:
        try:
            async with asyncio.timeout(AUTOLOGOUT):
                line = await self.reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            await self.bye("command line too long")
        except TimeoutError:
            await self.bye("autologout: idle too long")
        return line

    async def command(self) -> None:
        lines: list[bytes] = []
        literals: list[int] = []
        chunks: list[bytes] = []
        total = 0
        while True:
            line = await self.read_line()
            lines.append(line)
            chunks.append(line)
            total += len(line)
            announced = literal_announced(line)
            if announced is None:
                break
            size, synchronising = announced
            if size > MAX_LITERAL or total + size > MAX_COMMAND:
                self.transcript.command(lines, literals)
                if not synchronising:  # its bytes are on their way: the connection cannot go on
                    await self.bye(f"literal of {size} bytes is over the limit of {MAX_LITERAL}")
                tag = lines[0].split(b" ", 1)[0].decode("ascii", "replace")
                await self.send(
                    f"{tag} BAD literal of {size} bytes is over the limit of {MAX_LITERAL}\r\n".encode()
                )
                return
            if synchronising:
                await self.send(b"+ Ready for literal data\r\n")
            data = await self.reader.readexactly(size)
            literals.append(size)
            chunks.append(data)
            total += size
        self.transcript.command(lines, literals)
        try:
            parsed = parse_command(b"".join(chunks))
        except ParseError as error:
            await self.send(f"{error.tag or '*'} BAD {error}\r\n".encode())
            return
        try:
            await self.dispatch(parsed)
        except ParseError as error:
            await self.send(f"{parsed.tag} BAD {error}\r\n".encode())
        except (Hangup, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
            raise
        except Exception:  # a bug: say so to this client, keep the others' sessions going
            log.exception("IMAP command %s failed", parsed.name)
            await self.send(
                f"{parsed.tag} NO [SERVERBUG] the command failed; see the server log\r\n".encode()
            )

    async def dispatch(self, command: Command) -> None:
        name, tag = command.name, command.tag
        known = _ANY_STATE | _NOT_AUTHENTICATED | _AUTHENTICATED | _SELECTED
        if name not in known or (command.uid and name not in _WITH_UID):
            await self.send(f"{tag} BAD unknown command\r\n".encode())
            return
        if name in _NOT_AUTHENTICATED and self.mailbox is not None:
            await self.send(f"{tag} BAD already logged in\r\n".encode())
            return
        if (name in _AUTHENTICATED or name in _SELECTED) and self.mailbox is None:
            await self.send(f"{tag} BAD log in first\r\n".encode())
            return
        if name in _SELECTED and self.selected is None:
            await self.send(f"{tag} BAD no mailbox selected\r\n".encode())
            return
        handler = getattr(self, f"do_{name.lower()}")
        result: str = await handler(command)
        await self.flush(expunge=not (name in _NO_EXPUNGE_DURING and not command.uid))
        if result:
            await self.send(f"{tag} {result}\r\n".encode())

    async def flush(self, *, expunge: bool, events: Sequence[Event] = ()) -> None:
        """Tell the client what changed in the selected mailbox since it was last told."""
        selected = self.selected
        if selected is None:
            return
        if selected.subscription.overflowed:  # the hub dropped it in a burst: compare with a listing
            subscription = self.host.service.subscribe(functools.partial(_wanted, selected.mailbox))
            out = selected.resync(await self._list(selected.mailbox), subscription)
        else:
            out = selected.changes(expunge=expunge, taken=events)
        if out:
            await self.send(b"".join(out))

    # --- not authenticated -------------------------------------------------------------------------------

    def capabilities(self) -> str:
        caps = ["IMAP4rev1", "IDLE", "ID", "NAMESPACE", "UNSELECT", "UIDPLUS", "SASL-IR"]
        if self.host.tls_context is not None and not self.tls_active and self.mailbox is None:
            caps.append("STARTTLS")
        if self.login_disabled:
            caps.append("LOGINDISABLED")
        elif self.mailbox is None:
            caps.append("AUTH=PLAIN")
        return " ".join(caps)

    @property
    def login_disabled(self) -> bool:
        return self.host.require_tls and not self.tls_active

    async def do_capability(self, command: Command) -> str:
        await self.send(f"* CAPABILITY {self.capabilities()}\r\n".encode())
        return "OK CAPABILITY completed"

    async def do_noop(self, command: Command) -> str:
        return "OK NOOP completed"

    async def do_id(self, command: Command) -> str:
        await self.send(f'* ID ("name" "mailtrap-lite" "version" "{__version__}")\r\n'.encode())
        return "OK ID completed"

    async def do_logout(self, command: Command) -> str:
        await self.send(b"* BYE logging out\r\n")
        await self.send(f"{command.tag} OK LOGOUT completed\r\n".encode())
        raise Hangup

    async def do_starttls(self, command: Command) -> str:
        context = self.host.tls_context
        if context is None or self.tls_active:
            return "BAD STARTTLS is not available here"
        await self.send(f"{command.tag} OK begin TLS negotiation now\r\n".encode())
        # What came with STARTTLS is plaintext an attacker could have injected (RFC 3501 §6.2.1 as RFC
        # 3207 §4.2): dropped. StreamReader has no public way to take only what it holds already.
        held = len(getattr(self.reader, "_buffer", b""))
        if held:
            await self.reader.readexactly(held)
            self.transcript.note(f"{held} bytes sent with STARTTLS dropped")
        await self.writer.start_tls(context)
        self.tls_active = True
        self.record.note_tls(self.writer.get_extra_info)
        return ""  # answered before the handshake

    async def do_login(self, command: Command) -> str:
        if len(command.args) != 2:
            raise ParseError("LOGIN needs a username and a password", command.tag)
        if self.login_disabled:
            return "NO [PRIVACYREQUIRED] use STARTTLS first"
        user, password = astring(command.args[0], command.tag), astring(command.args[1], command.tag)
        return await self._log_in(user, password.encode("utf-8"), "LOGIN")

    async def do_authenticate(self, command: Command) -> str:
        if not command.args or not isinstance(command.args[0], Atom) or len(command.args) > 2:
            raise ParseError("AUTHENTICATE needs a mechanism", command.tag)
        if command.args[0].upper != "PLAIN":
            return "NO [CANNOT] only AUTHENTICATE PLAIN is supported"
        if self.login_disabled:
            return "NO [PRIVACYREQUIRED] use STARTTLS first"
        if len(command.args) == 2:
            answer = astring(command.args[1], command.tag).encode()
        else:
            await self.send(b"+ \r\n")
            answer = (await self.read_line()).strip()
            self.transcript.secret()
            if answer == b"*":
                return "BAD AUTHENTICATE cancelled"
        try:
            pieces = base64.b64decode(answer, validate=True).split(b"\0")
        except binascii.Error:
            return "BAD invalid base64"
        if len(pieces) != 3:
            return "BAD expected authorization id, user and password"
        return await self._log_in(pieces[1].decode("utf-8", "replace"), pieces[2], "PLAIN")

    async def _log_in(self, user: str, password: bytes, mechanism: str) -> str:
        mailbox = user.lower()
        if not MAILBOX_NAME.fullmatch(mailbox) or not self.host.credentials.verify(user, password):
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            return "NO [AUTHENTICATIONFAILED] invalid credentials (the username names a mailbox)"
        self.mailbox = mailbox
        self.folders = {"INBOX": mailbox}
        for name in self.host.readable.get(user, ()):
            if name != mailbox:
                self.folders[name] = name
        self.record.auth = AuthInfo(mechanism, user)
        return f"OK [CAPABILITY {self.capabilities()}] logged in to mailbox {mailbox}"

    # --- authenticated -----------------------------------------------------------------------------------

    async def _list(self, mailbox: str) -> list[MessageSummary]:
        page = await self.host.service.list_messages(with_mailbox(None, mailbox), ALL_MESSAGES, 0)
        return list(page.messages)

    def _folder(self, token: Token, tag: str) -> tuple[str, str] | None:
        """(folder name, mailbox) of a mailbox argument; None when the login may not read it."""
        name = astring(token, tag)
        if name.upper() == "INBOX":
            name = "INBOX"
        mailbox = self.folders.get(name)
        return None if mailbox is None else (name, mailbox)

    async def do_select(self, command: Command) -> str:
        return await self._select(command, read_only=False)

    async def do_examine(self, command: Command) -> str:
        return await self._select(command, read_only=True)

    async def _select(self, command: Command, *, read_only: bool) -> str:
        if len(command.args) != 1:
            raise ParseError("expected a mailbox name", command.tag)
        if self.selected is not None:
            self.selected.close()
            self.selected = None
        found = self._folder(command.args[0], command.tag)
        if found is None:
            return "NO [NONEXISTENT] no such mailbox (INBOX is the login's mailbox)"
        name, mailbox = found
        subscription = self.host.service.subscribe(functools.partial(_wanted, mailbox))
        summaries = await self._list(mailbox)
        state = await self.host.service.store.uid_state()
        selected = Selected(name, mailbox, read_only, subscription, summaries)
        lines = [
            "* FLAGS (\\Seen \\Deleted)",
            f"* OK [PERMANENTFLAGS ({'' if read_only else PERMANENT})] flags kept",
            f"* {len(selected.messages)} EXISTS",
            "* 0 RECENT",
            f"* OK [UIDVALIDITY {state.validity}] UIDs valid",
            f"* OK [UIDNEXT {state.next}] predicted next UID",
        ]
        first_unseen = selected.first_unseen()
        if first_unseen is not None:
            lines.append(f"* OK [UNSEEN {first_unseen}] first unseen")
        await self.send("".join(line + "\r\n" for line in lines).encode())
        self.selected = selected
        return f"OK [{'READ-ONLY' if read_only else 'READ-WRITE'}] {command.name} completed"

    async def do_list(self, command: Command) -> str:
        args = [a for a in command.args if not isinstance(a, ParenList)]  # LIST-EXTENDED options ignored
        if len(args) < 2:
            raise ParseError("expected a reference and a mailbox pattern", command.tag)
        pattern = astring(args[1], command.tag)
        if pattern == "":
            await self.send(f'* {command.name} (\\Noselect) "/" ""\r\n'.encode())
        else:
            regex = re.escape(pattern).replace(r"\*", ".*").replace("%", "[^/]*")
            for folder in self.folders:
                if re.fullmatch(regex, folder, re.IGNORECASE if folder == "INBOX" else 0):
                    await self.send(f'* {command.name} (\\HasNoChildren) "/" {folder}\r\n'.encode())
        return f"OK {command.name} completed"

    async def do_lsub(self, command: Command) -> str:
        return await self.do_list(command)

    async def do_namespace(self, command: Command) -> str:
        await self.send(b'* NAMESPACE (("" "/")) NIL NIL\r\n')
        return "OK NAMESPACE completed"

    async def do_status(self, command: Command) -> str:
        if len(command.args) != 2 or not isinstance(command.args[1], ParenList):
            raise ParseError("expected a mailbox and a list of status items", command.tag)
        found = self._folder(command.args[0], command.tag)
        if found is None:
            return "NO [NONEXISTENT] no such mailbox"
        page = await self.host.service.list_messages(with_mailbox(None, found[1]), 1, 0)
        state = await self.host.service.store.uid_state()
        values = {
            "MESSAGES": page.total, "UNSEEN": page.unread, "UIDNEXT": state.next,
            "UIDVALIDITY": state.validity, "RECENT": 0,
        }  # fmt: skip
        items = []
        for item in command.args[1].items:
            name = astring(item, command.tag).upper()
            if name not in values:
                raise ParseError(f"unknown status item {name[:30]}", command.tag)
            items.append(f"{name} {values[name]}")
        await self.send(f"* STATUS {found[0]} ({' '.join(items)})\r\n".encode())
        return "OK STATUS completed"

    async def do_subscribe(self, command: Command) -> str:
        return "OK subscriptions are not kept: every readable mailbox is listed"

    async def do_unsubscribe(self, command: Command) -> str:
        return await self.do_subscribe(command)

    async def _read_only(self, command: Command) -> str:
        return f"NO [CANNOT] {command.name} is not supported: mailboxes are filled by SMTP only"

    do_create = do_delete = do_rename = do_append = do_copy = do_move = _read_only

    async def do_idle(self, command: Command) -> str:
        await self.send(b"+ idling\r\n")
        reading = asyncio.ensure_future(self.reader.readuntil(b"\n"))
        try:
            while True:
                waiting: set[asyncio.Future[object]] = {reading}  # type: ignore[arg-type]
                selected = self.selected
                if selected is not None:
                    waiting.add(asyncio.ensure_future(selected.subscription.get()))
                    waiting.add(asyncio.ensure_future(selected.subscription.wakeup.wait()))
                done, pending = await asyncio.wait(waiting, timeout=AUTOLOGOUT, return_when="FIRST_COMPLETED")
                for task in pending - {reading}:
                    task.cancel()
                if not done:
                    await self.bye("autologout: idle too long")
                events = [task.result() for task in done - {reading} if isinstance(task.result(), Event)]
                await self.flush(expunge=True, events=events)  # type: ignore[arg-type]
                if reading in done:
                    break
        except BaseException:
            reading.cancel()
            raise
        try:
            line = reading.result()
        except asyncio.LimitOverrunError:
            await self.bye("line too long")
        assert isinstance(line, bytes)
        self.transcript.line(line.rstrip(b"\r\n").decode("utf-8", "replace"))
        if line.strip().upper() != b"DONE":
            return "BAD expected DONE"
        return "OK IDLE terminated"

    # --- selected ----------------------------------------------------------------------------------------

    def _view(self) -> Selected:
        assert self.selected is not None
        return self.selected

    async def do_check(self, command: Command) -> str:
        return "OK CHECK completed"

    async def do_close(self, command: Command) -> str:
        selected = self._view()
        if not selected.read_only:
            await self._delete(selected, [s for s in selected.messages if s.uid in selected.deleted])
        selected.close()
        self.selected = None
        return "OK CLOSE completed"

    async def do_unselect(self, command: Command) -> str:
        self._view().close()
        self.selected = None
        return "OK UNSELECT completed"

    async def do_expunge(self, command: Command) -> str:
        selected = self._view()
        if selected.read_only:
            return "NO [READ-ONLY] the mailbox was opened with EXAMINE"
        doomed = [s for s in selected.messages[: selected.announced] if s.uid in selected.deleted]
        if command.uid:
            if len(command.args) != 1:
                raise ParseError("UID EXPUNGE needs a UID set", command.tag)
            named = {
                s.uid for _, s in selected.resolve(sequence_set(command.args[0], command.tag), uid=True) or []
            }
            doomed = [s for s in doomed if s.uid in named]
        await self._delete(selected, doomed)
        return "OK EXPUNGE completed"

    async def _delete(self, selected: Selected, doomed: list[MessageSummary]) -> None:
        for summary in doomed:
            # Deleted elsewhere meanwhile (NotFound): its EXPUNGE is on its way all the same.
            with contextlib.suppress(NotFound):
                await self.host.service.delete(summary.id)

    def _resolve(self, command: Command, token: Token) -> list[tuple[int, MessageSummary]]:
        found = self._view().resolve(sequence_set(token, command.tag), uid=command.uid)
        if found is None:
            raise ParseError("invalid sequence set: no such message number", command.tag)
        return found

    async def do_fetch(self, command: Command) -> str:
        if len(command.args) != 2:
            raise ParseError("FETCH needs a sequence set and attributes", command.tag)
        selected = self._view()
        targets = self._resolve(command, command.args[0])
        items = fetch.parse_items(command.args[1:], command.tag)
        if command.uid and not any(item.name == "UID" for item in items):
            items.insert(0, fetch.Item("UID"))
        marks_seen = not selected.read_only and any(item.sets_seen for item in items)
        if marks_seen and not any(item.name == "FLAGS" for item in items):
            items.append(fetch.Item("FLAGS"))
        needs_raw = any(item.needs_raw for item in items)
        service = self.host.service
        for sequence, summary in targets:
            try:
                if marks_seen and not summary.read:
                    summary = await service.update(summary.id, read=True)
                    selected.replace(summary)
                raw = (await service.raw(summary.id))[1] if needs_raw else None
            except NotFound:
                continue  # deleted elsewhere: its EXPUNGE follows when it may be sent
            flags = selected.flags(summary)
            if raw is None:
                pieces = fetch.render(items, sequence, summary, flags, None)
            else:
                pieces = await self.host.off_loop(fetch.render, items, sequence, summary, flags, raw)
            await self.send(pieces)
        return "OK FETCH completed"

    async def do_store(self, command: Command) -> str:
        if len(command.args) < 3 or not isinstance(command.args[1], Atom):
            raise ParseError("STORE needs a sequence set, an action and flags", command.tag)
        selected = self._view()
        if selected.read_only:
            return "NO [READ-ONLY] the mailbox was opened with EXAMINE"
        targets = self._resolve(command, command.args[0])
        action = command.args[1].upper
        silent = action.endswith(".SILENT")
        action = action.removesuffix(".SILENT")
        if action not in ("FLAGS", "+FLAGS", "-FLAGS"):
            raise ParseError("STORE action must be FLAGS, +FLAGS or -FLAGS", command.tag)
        flag_tokens = command.args[2].items if isinstance(command.args[2], ParenList) else command.args[2:]
        flags = {astring(token, command.tag).upper() for token in flag_tokens}
        for sequence, summary in targets:
            seen = _wanted_flag(action, "\\SEEN" in flags, summary.read)
            deleted = _wanted_flag(action, "\\DELETED" in flags, summary.uid in selected.deleted)
            try:
                if seen != summary.read:
                    summary = await self.host.service.update(summary.id, read=seen)
                    selected.replace(summary)
            except NotFound:
                continue
            if deleted:
                selected.deleted.add(summary.uid)
            else:
                selected.deleted.discard(summary.uid)
            if not silent:
                uid = f" UID {summary.uid}" if command.uid else ""
                found = " ".join(selected.flags(summary))
                await self.send(f"* {sequence} FETCH (FLAGS ({found}){uid})\r\n".encode())
        return "OK STORE completed"

    async def do_search(self, command: Command) -> str:
        selected = self._view()
        key = imap_search.parse(command.args, command.tag)
        texts = await imap_search.answer_text(key, self._text_search)
        known = selected.messages[: selected.announced]
        header_names = _header_names(key)
        found = []
        for sequence, summary in enumerate(known, 1):
            fields: dict[str, str] = {}
            if header_names:
                try:
                    raw = (await self.host.service.raw(summary.id))[1]
                except NotFound:
                    continue
                fields = await self.host.off_loop(_header_texts, raw, header_names)
            candidate = imap_search.Candidate(
                sequence, summary, summary.uid in selected.deleted, len(known), known[-1].uid if known else 0
            )
            if imap_search.matches(key, candidate, texts, functools.partial(_field, fields)):
                found.append(summary.uid if command.uid else sequence)
        await self.send(("* SEARCH" + "".join(f" {n}" for n in found) + "\r\n").encode())
        return "OK SEARCH completed"

    async def _text_search(self, field: str | None, text: str) -> set[str]:
        query = with_mailbox(Query((Term(field, " ".join(text.lower().split())),)), self._view().mailbox)
        page = await self.host.service.list_messages(query, ALL_MESSAGES, 0)
        return {summary.id for summary in page.messages}


def _wanted(mailbox: str, event: Event) -> bool:
    if event.type == "message.new":
        return bool(event.subject.summary.mailbox == mailbox)
    if event.type == "message.updated":
        return bool(event.subject.mailbox == mailbox)
    return event.type in ("message.deleted", "messages.cleared")


def _wanted_flag(action: str, named: bool, current: bool) -> bool:
    if action == "FLAGS":
        return named
    if not named:
        return current
    return action == "+FLAGS"


def _header_names(key: imap_search.Key) -> list[str]:
    if key.name == "HEADER":
        return [key.text.partition("\n")[0]]
    return [name for child in key.children for name in _header_names(child)]


def _field(fields: dict[str, str], name: str) -> str:
    return fields.get(name, "")


def _header_texts(raw: bytes, names: list[str]) -> dict[str, str]:
    return {name: " ".join(header_values(raw, name)) for name in names}
