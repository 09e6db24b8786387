"""The POP3 conversation as a state machine over command lines, without sockets: RFC 1939, CAPA (RFC 2449),
STLS (RFC 2595) and AUTH PLAIN (RFC 5034).

``receive`` takes one command line (without its line ending) and answers what to do next: a ``Reply`` to
send, or work only the server can do — check a login and open the maildrop (``Login``), send a message
(``Fetch``), start TLS (``StartTLS``), delete at QUIT (``Update``). The server reports a login's outcome
back through ``logged_in`` or ``login_failed``, and a finished TLS handshake through ``tls_started``.
"""

from __future__ import annotations

import binascii
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from mailtrap_lite.pop3 import replies
from mailtrap_lite.pop3.maildrop import Entry, mailbox_of
from mailtrap_lite.smtp.transcript import MASK, masked_auth


class State(enum.Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"  # QUIT in TRANSACTION: nothing more is read


@dataclass(frozen=True, slots=True)
class Reply:
    status: str  # the first line: "+OK ...", "-ERR ..." or a SASL challenge "+ ..."
    lines: tuple[str, ...] | None = None  # a multi-line response's lines, sent dot-stuffed before "."
    close: bool = False


@dataclass(frozen=True, slots=True)
class Login:
    username: str
    password: bytes
    mechanism: str  # "USER" (USER/PASS) or "PLAIN"
    mailbox: str


@dataclass(frozen=True, slots=True)
class Fetch:
    number: int
    entry: Entry
    body_lines: int | None  # TOP's line count; None for RETR


@dataclass(frozen=True, slots=True)
class StartTLS:
    pass


@dataclass(frozen=True, slots=True)
class Update:
    ids: tuple[str, ...]  # the messages marked deleted, to delete now


Action = Reply | Login | Fetch | StartTLS | Update

_TRANSACTION_ONLY = frozenset({"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"})
_AUTHORIZATION_ONLY = frozenset({"USER", "PASS", "AUTH", "STLS"})


class Machine:
    def __init__(self, *, hostname: str, tls_available: bool, tls_active: bool, require_tls: bool) -> None:
        """``tls_available``: STLS can be offered; ``tls_active``: the connection is already encrypted."""
        self.hostname = hostname
        self.state = State.AUTHORIZATION
        self.mailbox: str | None = None
        self._tls_available = tls_available
        self._tls_active = tls_active
        self._require_tls = require_tls
        self._user: str | None = None
        self._awaiting_sasl = False
        self._drop: tuple[Entry, ...] = ()
        self._deleted: set[int] = set()

    # --- what the server reports back ----------------------------------------------------------------

    def logged_in(self, mailbox: str, drop: Sequence[Entry]) -> Reply:
        self.state = State.TRANSACTION
        self.mailbox = mailbox
        self._drop = tuple(drop)
        return Reply(replies.LOGIN_OK.format(mailbox=mailbox, **self._totals()))

    def login_failed(self, reply: str = replies.LOGIN_FAILED) -> Reply:
        return Reply(reply)

    def tls_started(self) -> None:
        self._tls_active = True

    # --- the transcript ------------------------------------------------------------------------------

    def loggable(self, line: bytes) -> str:
        """How ``line`` (about to be received) shows in the transcript: secrets masked."""
        text = line.decode("utf-8", "replace")
        if self._awaiting_sasl:
            return text if text == "*" else MASK  # "*" cancels (RFC 5034 §4) and is no secret
        words = text.split(" ", 1)
        if words[0].upper() == "PASS" and len(words) > 1:
            return f"{words[0]} {MASK}"
        return masked_auth(text)

    # --- commands ------------------------------------------------------------------------------------

    def receive(self, line: bytes) -> Action:
        text = line.decode("latin-1")
        if self._awaiting_sasl:
            self._awaiting_sasl = False
            return self._sasl_plain(text)
        keyword, _, argument = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "CAPA":
            return Reply(replies.CAPA, self._capabilities())
        if keyword == "QUIT":
            if self.state is State.TRANSACTION:
                self.state = State.UPDATE
                return Update(tuple(self._drop[n - 1].id for n in sorted(self._deleted)))
            return Reply(replies.BYE.format(host=self.hostname), close=True)
        if self.state is State.AUTHORIZATION and keyword in _AUTHORIZATION_ONLY:
            return self._authorization(keyword, argument)
        if self.state is State.TRANSACTION and keyword in _TRANSACTION_ONLY:
            return self._transaction(keyword, argument.split())
        if keyword in _AUTHORIZATION_ONLY or keyword in _TRANSACTION_ONLY:
            return Reply(replies.WRONG_STATE.format(command=keyword))
        return Reply(replies.UNKNOWN)

    def _capabilities(self) -> tuple[str, ...]:
        capabilities = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state is State.AUTHORIZATION:
            if self._tls_available and not self._tls_active:
                capabilities.append("STLS")
            if self._tls_active or not self._require_tls:
                capabilities += ["USER", "SASL PLAIN"]
        capabilities.append("IMPLEMENTATION mailtrap-lite")
        return tuple(capabilities)

    def _authorization(self, keyword: str, argument: str) -> Action:
        if keyword == "STLS":
            if self._tls_active:
                return Reply(replies.STLS_ACTIVE)
            if not self._tls_available:
                return Reply(replies.STLS_UNAVAILABLE)
            return StartTLS()
        if self._require_tls and not self._tls_active:
            self._user = None
            return Reply(replies.TLS_REQUIRED)
        if keyword == "USER":
            self._user = None
            if not argument or " " in argument:
                return Reply(replies.BAD_ARGUMENT.format(usage="USER name"))
            if mailbox_of(argument) is None:
                return Reply(replies.NO_SUCH_MAILBOX.format(name=argument))
            self._user = argument
            return Reply(replies.USER_OK)
        if keyword == "PASS":
            user, self._user = self._user, None
            if user is None:
                return Reply(replies.PASS_WITHOUT_USER)
            # RFC 1939 §7: the password may contain spaces; all of the rest of the line is the password.
            return self._login(user, argument.encode("latin-1"), "USER")
        mechanism, _, initial = argument.partition(" ")
        if not mechanism:
            return Reply(replies.AUTH_MECHANISMS, ("PLAIN",))
        if mechanism.upper() != "PLAIN":
            return Reply(replies.AUTH_UNSUPPORTED)
        if not initial:
            self._awaiting_sasl = True
            return Reply(replies.AUTH_CHALLENGE)
        return self._sasl_plain(initial)

    def _sasl_plain(self, response: str) -> Action:
        if response == "*":
            return Reply(replies.AUTH_CANCELLED)
        try:
            # RFC 5034 §4: "=" is an empty initial response.
            encoded = response.encode("latin-1")
            decoded = b"" if response == "=" else binascii.a2b_base64(encoded, strict_mode=True)
        except (binascii.Error, ValueError):
            return Reply(replies.AUTH_MALFORMED)
        fields = decoded.split(b"\0")
        if len(fields) != 3 or not fields[1]:
            return Reply(replies.AUTH_MALFORMED)
        authzid, authcid, password = fields
        try:
            username = authcid.decode("utf-8")
        except UnicodeDecodeError:
            return Reply(replies.AUTH_MALFORMED)
        if authzid and authzid != authcid:  # acting as another user is not offered
            return Reply(replies.LOGIN_FAILED)
        if mailbox_of(username) is None:
            return Reply(replies.NO_SUCH_MAILBOX.format(name=username))
        return self._login(username, password, "PLAIN")

    def _login(self, username: str, password: bytes, mechanism: str) -> Login:
        mailbox = mailbox_of(username)
        assert mailbox is not None
        return Login(username, password, mechanism, mailbox)

    # --- TRANSACTION ---------------------------------------------------------------------------------

    def _totals(self) -> dict[str, int]:
        live = [entry for n, entry in enumerate(self._drop, 1) if n not in self._deleted]
        return {"count": len(live), "size": sum(entry.size for entry in live)}

    def _number(self, text: str) -> int | None:
        """A message number that names a message not marked deleted, or None."""
        number = _decimal(text)
        if number is None or not 1 <= number <= len(self._drop) or number in self._deleted:
            return None
        return number

    def _listing(self, args: list[str], keyword: str, every: str, value: str) -> Reply:
        if len(args) > 1:
            return self._bad(f"{keyword} [message]")
        if args:
            number = self._number(args[0])
            if number is None:
                return Reply(replies.NO_SUCH_MESSAGE)
            return Reply(replies.LISTED_ONE.format(number=number, value=self._value(number, value)))
        lines = tuple(
            f"{n} {self._value(n, value)}" for n in range(1, len(self._drop) + 1) if n not in self._deleted
        )
        return Reply(every.format(**self._totals()), lines)

    def _value(self, number: int, which: str) -> str:
        entry = self._drop[number - 1]
        return str(entry.size) if which == "size" else entry.id

    def _transaction(self, keyword: str, args: list[str]) -> Action:
        if keyword == "STAT":
            return Reply(replies.STAT.format(**self._totals())) if not args else self._bad("STAT")
        if keyword == "LIST":
            return self._listing(args, "LIST", replies.LIST_ALL, "size")
        if keyword == "UIDL":
            return self._listing(args, "UIDL", replies.UIDL_ALL, "id")
        if keyword == "NOOP":
            return Reply(replies.NOOP) if not args else self._bad("NOOP")
        if keyword == "RSET":
            if args:
                return self._bad("RSET")
            self._deleted.clear()
            return Reply(replies.RSET.format(**self._totals()))
        if keyword == "TOP":
            lines = _decimal(args[1]) if len(args) == 2 else None
            if lines is None:
                return self._bad("TOP message lines")
            number = self._number(args[0])
            if number is None:
                return Reply(replies.NO_SUCH_MESSAGE)
            return Fetch(number, self._drop[number - 1], lines)
        if len(args) != 1:
            return self._bad(f"{keyword} message")
        number = self._number(args[0])
        if number is None:
            if _decimal(args[0]) in self._deleted:
                return Reply(replies.ALREADY_DELETED.format(number=args[0]))
            return Reply(replies.NO_SUCH_MESSAGE)
        if keyword == "RETR":
            return Fetch(number, self._drop[number - 1], None)
        self._deleted.add(number)
        return Reply(replies.DELETED.format(number=number))

    def _bad(self, usage: str) -> Reply:
        return Reply(replies.BAD_ARGUMENT.format(usage=usage))


def _decimal(text: str) -> int | None:
    """A message number or line count: ASCII digits only (``str.isdigit`` also takes "²")."""
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    return int(text)
