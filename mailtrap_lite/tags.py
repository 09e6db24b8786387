"""Tags: what a valid tag is, and the tags a message gets by itself when it arrives.

A tag is stored normalised: trimmed, each inner run of whitespace one space, and lower-cased, because tags
compare case-insensitively (as ``tag:`` does): ``Signup`` and ``signup`` are one tag, kept as ``signup``.
A tag is 1 to ``MAX_TAG_CHARS`` characters, holds no comma (it separates tags in ``X-Tags``) and no control
character (C0, DEL, C1, line and paragraph separators); a message has at most ``MAX_TAGS`` tags. A tag the
API is given that breaks these rules is a ``TagError`` (HTTP 400) naming it.

Automatic tags: at the end of DATA (``Tagging.arrival_tags``) every comma-separated value of the
``X-Tags`` headers, with ``--tags-from-plus`` what follows the ``+`` in an accepted recipient's local part
(``ann+signup@example.com`` gives ``signup``), and with ``--tags-from-auth`` the SMTP AUTH username. Then,
once the message is parsed, the name of every ``--tag NAME=QUERY`` rule whose query matches it
(``tag_stored``, which each store calls where it builds the summary, so that the stored message and its
``message.new`` event carry the tags). Rules see the tags decided before them, not each other's. An
automatic tag that is not valid is left out; the message is accepted all the same.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.message import build_message
from mailtrap_lite.model import Arrival, StoredMessage
from mailtrap_lite.raw_headers import header_values
from mailtrap_lite.search import Query, matches, parse_query, tag_key

MAX_TAG_CHARS = 64
MAX_TAGS = 32  # per message
TAGS_HEADER = "X-Tags"

_CONTROL = frozenset({"Cc", "Zl", "Zp", "Cs"})
_SHOWN_CHARS = 40


class TagError(BadRequest, ValueError):
    """A tag that cannot be stored (HTTP 400); the text names it and says why."""


def _shown(tag: str) -> str:
    return repr(tag if len(tag) <= _SHOWN_CHARS else tag[:_SHOWN_CHARS] + "…")


def normalize(tag: str) -> str:
    """The stored form of ``tag``; TagError naming it when it is not a valid tag."""
    if any(unicodedata.category(char) in _CONTROL for char in tag):
        raise TagError(f"bad tag {_shown(tag)}: control characters are not allowed")
    name = " ".join(tag.split()).lower()
    if not name:
        raise TagError(f"bad tag {_shown(tag)}: a tag cannot be empty")
    if "," in name:
        raise TagError(f"bad tag {_shown(tag)}: a tag cannot hold a comma")
    if len(name) > MAX_TAG_CHARS:
        raise TagError(f"bad tag {_shown(tag)}: {len(name)} characters, at most {MAX_TAG_CHARS}")
    return name


def normalize_all(tags: Iterable[str]) -> tuple[str, ...]:
    """Each tag normalised, duplicates dropped (the first kept); TagError for the first bad tag, or for
    more than MAX_TAGS."""
    found = tuple(dict.fromkeys(normalize(tag) for tag in tags))
    if len(found) > MAX_TAGS:
        raise TagError(f"at most {MAX_TAGS} tags a message, got {len(found)}")
    return found


def valid_only(candidates: Iterable[str]) -> list[str]:
    """The candidates that are valid tags, normalised; the others left out."""
    kept = []
    for candidate in candidates:
        try:
            kept.append(normalize(candidate))
        except TagError:
            continue
    return kept


def merge(current: Sequence[str], add: Sequence[str] = (), remove: Sequence[str] = ()) -> tuple[str, ...]:
    """``current`` without the tags of ``remove``, then each tag of ``add`` it lacks (tags compared as
    ``tag:`` compares them), at most MAX_TAGS: how every store changes a message's tags."""
    gone = {tag_key(tag) for tag in remove}
    kept: dict[str, str] = {}
    for tag in current:
        key = tag_key(tag)
        if key not in gone:
            kept.setdefault(key, tag)
    for tag in add:
        kept.setdefault(tag_key(tag), tag)
    return tuple(kept.values())[:MAX_TAGS]


# --- automatic tags ------------------------------------------------------------------------------------


def header_tags(raw: bytes) -> list[str]:
    """The comma-separated values of every ``X-Tags`` header, as sent."""
    return [piece for value in header_values(raw, TAGS_HEADER) for piece in value.split(",")]


def plus_tags(recipients: Iterable[str]) -> list[str]:
    """The sub-address of each recipient: what follows the first ``+`` of its local part."""
    found = []
    for address in recipients:
        local = address.rpartition("@")[0] or address
        base, plus, detail = local.partition("+")
        if plus and base and detail:
            found.append(detail)
    return found


@dataclass(frozen=True, slots=True)
class TagRule:
    """``--tag NAME=QUERY``: a message that ``query`` matches gets the tag ``name``."""

    name: str
    query: Query

    def __str__(self) -> str:
        return f"{self.name}={self.query.text}"


def parse_rule(text: str) -> TagRule:
    """``NAME=QUERY``; ValueError (a TagError or a QueryError) saying what is wrong."""
    name, equals, query = text.partition("=")
    if not equals or not query.strip():
        raise ValueError(f"expected NAME=QUERY (e.g. welcome=subject:welcome), got {text!r}")
    return TagRule(normalize(name), parse_query(query.strip()))


def build_tagged(arrival: Arrival, rules: Sequence[TagRule]) -> StoredMessage:
    """The stored form of ``arrival`` (``message.build_message``) with its tags and the rules' tags."""
    stored = build_message(
        arrival.message_id,
        arrival.raw,
        arrival.envelope,
        arrival.session.id,
        arrival.eight_bit,
        arrival.mailbox,
        arrival.mailbox_rule,
    )
    return tag_stored(stored, arrival.tags, rules)


def tag_stored(stored: StoredMessage, tags: Sequence[str], rules: Sequence[TagRule]) -> StoredMessage:
    """``stored`` with ``tags`` added, then the name of every rule whose query it matches."""
    summary = stored.summary
    if tags:
        summary = dataclasses.replace(summary, tags=merge(summary.tags, tags))
    matched = [rule.name for rule in rules if matches(rule.query, summary, stored.body_text)]
    if matched:
        summary = dataclasses.replace(summary, tags=merge(summary.tags, matched))
    return stored if summary is stored.summary else dataclasses.replace(stored, summary=summary)


@dataclass(frozen=True, slots=True)
class Tagging:
    """Where the tags decided at the end of DATA come from: ``X-Tags`` always, ``--tags-from-plus`` and
    ``--tags-from-auth`` when set (``--tag`` rules go to the store, which applies them once it parsed)."""

    from_plus: bool = False
    from_auth: bool = False

    def arrival_tags(self, arrival: Arrival) -> tuple[str, ...]:
        """The tags decided at the end of DATA, before the message is parsed (rules come later)."""
        candidates = header_tags(arrival.raw)
        if self.from_plus:
            candidates += plus_tags(arrival.envelope.accepted)
        auth = arrival.session.auth
        if self.from_auth and auth is not None:
            candidates.append(auth.username)
        return merge((), valid_only(candidates))
