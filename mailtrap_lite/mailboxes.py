"""Mailboxes: which one a message lands in, decided once at the end of DATA, and who may read which.

Routing, in order: the ``--mailbox NAME=RULE[,RULE...]`` routes (the first mailbox with a rule that
matches wins), then the ``X-Mailtrap-Mailbox`` header (always honoured: the pytest plugin gives each test
its own mailbox with it), then ``--mailbox-per-user`` (an authenticated session's mail goes to the mailbox
named after its username), else ``default``. A rule is ``rcpt:GLOB`` (any accepted envelope recipient),
``auth:GLOB`` (the SMTP AUTH username) or ``header:Name:GLOB`` (any value of that header). Globs are
``fnmatch`` patterns, compared case-insensitively. The rule that decided is recorded on the message
(``mailbox_rule``), e.g. ``rcpt:*@shop.example``, ``header:X-Mailtrap-Mailbox``, ``per-user``,
``default``.

Names are case-insensitive, kept lower-case, and match ``NAME_PATTERN``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Literal

from mailtrap_lite.model import Arrival
from mailtrap_lite.raw_headers import header_values
from mailtrap_lite.search import Query

DEFAULT_MAILBOX = "default"
MAILBOX_HEADER = "X-Mailtrap-Mailbox"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 §3.6.8 field name: printable ASCII but ':'
_UNSAFE_CHARS = re.compile(r"[^a-z0-9._+-]+")
MAX_GLOB_CHARS = 512

RuleKind = Literal["rcpt", "auth", "header"]
_KINDS: dict[str, RuleKind] = {"rcpt": "rcpt", "auth": "auth", "header": "header"}


class MailboxError(ValueError):
    """A mailbox name, rule or route that cannot be used; the text says why."""


def mailbox_name(text: str) -> str:
    """The canonical (lower-case) form of a mailbox name; MailboxError when it is not a valid one."""
    name = text.strip().lower()
    if not NAME_PATTERN.fullmatch(name):
        raise MailboxError(
            f"bad mailbox name {text!r}: 1-64 characters a-z 0-9 . _ + -, starting with a letter or digit"
        )
    return name


def name_for_user(username: str) -> str | None:
    """The mailbox ``--mailbox-per-user`` gives a username: lower-cased, each run of characters a name
    cannot hold replaced by ``-`` (``Ann@Shop`` → ``ann-shop``); None when nothing usable is left."""
    name = _UNSAFE_CHARS.sub("-", username.lower()).lstrip("._+-")[:64]
    return name if NAME_PATTERN.fullmatch(name) else None


@dataclass(frozen=True, slots=True)
class Rule:
    kind: RuleKind
    glob: str
    header: str | None = None  # for kind "header"

    def __str__(self) -> str:
        return f"header:{self.header}:{self.glob}" if self.kind == "header" else f"{self.kind}:{self.glob}"

    def matches(self, arrival: Arrival) -> bool:
        if self.kind == "rcpt":
            return any(self._fits(address) for address in arrival.envelope.accepted)
        if self.kind == "auth":
            auth = arrival.session.auth
            return auth is not None and self._fits(auth.username)
        assert self.header is not None
        return any(self._fits(value.strip()) for value in header_values(arrival.raw, self.header))

    def _fits(self, text: str) -> bool:
        return fnmatch.fnmatchcase(text.lower(), self.glob.lower())


@dataclass(frozen=True, slots=True)
class Route:
    """``--mailbox NAME=RULE[,RULE...]``: mail that any of the rules matches goes to ``mailbox``."""

    mailbox: str
    rules: tuple[Rule, ...]


def parse_rule(text: str) -> Rule:
    name, colon, rest = text.strip().partition(":")
    kind = _KINDS.get(name.lower())
    if not colon or kind is None:
        raise MailboxError(f"bad rule {text!r}: expected rcpt:GLOB, auth:GLOB or header:NAME:GLOB")
    glob = rest
    header = None
    if kind == "header":
        header, colon, glob = rest.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(header):
            raise MailboxError(f"bad rule {text!r}: expected header:NAME:GLOB, e.g. header:X-Mailbox:*")
    if not glob or len(glob) > MAX_GLOB_CHARS or not glob.isprintable():
        raise MailboxError(f"bad rule {text!r}: the glob must be 1-{MAX_GLOB_CHARS} printable characters")
    return Rule(kind, glob, header)


def parse_route(text: str) -> Route:
    """``NAME=RULE[,RULE...]``; MailboxError naming the problem."""
    name, equals, rules = text.partition("=")
    if not equals or not rules.strip():
        raise MailboxError(f"expected NAME=RULE[,RULE...] (e.g. shop=rcpt:*@shop.example), got {text!r}")
    return Route(mailbox_name(name), tuple(parse_rule(rule) for rule in rules.split(",")))


@dataclass(frozen=True, slots=True)
class Routing:
    """Everything that decides a message's mailbox."""

    routes: tuple[Route, ...] = ()
    per_user: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The mailboxes named in the configuration, ``default`` first."""
        return tuple(dict.fromkeys([DEFAULT_MAILBOX, *(route.mailbox for route in self.routes)]))

    def route(self, arrival: Arrival) -> tuple[str, str]:
        """The mailbox ``arrival`` goes to, and the rule that decided it."""
        for route in self.routes:
            for rule in route.rules:
                if rule.matches(arrival):
                    return route.mailbox, str(rule)
        for value in header_values(arrival.raw, MAILBOX_HEADER):
            try:
                return mailbox_name(value), f"header:{MAILBOX_HEADER}"
            except MailboxError:
                continue
        auth = arrival.session.auth
        if self.per_user and auth is not None:
            name = name_for_user(auth.username)
            if name is not None:
                return name, "per-user"
        return DEFAULT_MAILBOX, "default"


# --- reading: which mailboxes a query touches ------------------------------------------------------------


def only_mailbox(query: Query | None) -> str | None:
    """The mailbox when ``query`` is exactly one positive ``mailbox:`` term naming one mailbox: the query a
    store can answer from its per-mailbox index and counters alone."""
    if query is None or len(query.terms) != 1:
        return None
    term = query.terms[0]
    if term.field != "mailbox" or term.negated or "," in term.value:
        return None
    return term.value


def mailboxes_of(query: Query | None) -> frozenset[str] | None:
    """The mailboxes every match of ``query`` lies in (the intersection of its positive ``mailbox:``
    terms), or None when the query does not confine them; a store lists candidates from those only."""
    found: frozenset[str] | None = None
    for term in query.terms if query is not None else ():
        if term.field == "mailbox" and not term.negated:
            names = frozenset(name.strip() for name in term.value.split(","))
            found = names if found is None else found & names
    return found
