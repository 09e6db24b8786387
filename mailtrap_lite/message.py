"""Raw RFC 5322 bytes → summary and full view, as pure functions that never raise on any input.

Part numbering and the inline/attachment rule are those of ``mime_tree``. Header fields are decoded
through ``mime_safe``; address lists with ``email.utils.getaddresses``, which is ten times faster than
``policy.default``'s address parser and does not raise on the malformed lists that make that one fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.message import Message as EmailPart
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from mailtrap_lite.mime_safe import (
    SAFE_DEFAULT,
    Warnings,
    collapse,
    decode_header_text,
    html_to_text,
    printable,
)
from mailtrap_lite.mime_tree import (
    Node,
    attempt,
    check_content_ids,
    classify,
    collect_defects,
    make_leaf,
    parse,
    payload,
    serialize,
    text_of,
    walk,
)
from mailtrap_lite.model import (
    Address,
    Attachment,
    Envelope,
    Message,
    MessageSummary,
    MessageWarning,
    Part,
    StoredMessage,
    utcnow,
)

__all__ = ["build_message", "parse_email", "parse_full", "part_content", "scan_raw", "summarize"]

# Parsing a message this large would hold the event loop for milliseconds: do it elsewhere.
PARSE_OFF_LOOP_BYTES = 128 * 1024
DEFAULT_MAILBOX = "default"

SNIPPET_CHARS = 160
BODY_TEXT_CHARS = 100_000
# summarize reads at most this much of a body: enough for BODY_TEXT_CHARS even in UTF-32 or tag-heavy HTML.
_TEXT_SCAN_BYTES = 4 * BODY_TEXT_CHARS
_HTML_SCAN_BYTES = 2_000_000
MAX_LINE_OCTETS = 998  # RFC 5322 §2.1.1, excluding the CRLF

_PART_ID = re.compile(r"0|[1-9][0-9]{0,5}(?:\.[1-9][0-9]{0,5}){0,63}")
_EMPTY_GROUP = re.compile(r"[^:@<>\"]*:\s*;?\s*")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_SKELETON_MIN_BYTES = 64 * 1024
_LINE_BLOCK = (MAX_LINE_OCTETS + 1) // 2
_SKELETON_HEAD_BYTES = 16 * 1024
_BASE64_LINES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/\r\n"
# Whole-message bytes operations run on at most this much at a time: a bytes method holds the GIL for
# its whole call, and the event loop needs it back soon (benchmarks/README.md has the loop lag it caused).
_SLICE = 1 << 20
_HEAD_PARSER = BytesHeaderParser(policy=compat32)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN_ADDRESS = re.compile(
    rf"[ \t]*(?:(?P<address>{_ADDR_SPEC})"
    rf"|(?P<name>[A-Za-z0-9]+(?:[ \t]+[A-Za-z0-9]+)*)?[ \t]*<(?P<bracketed>{_ADDR_SPEC})>)[ \t]*"
)
_QUOTED_ADDRESS = re.compile(rf'[ \t]*"(?P<name>[^"\\\r\n]*)"[ \t]*<(?P<address>{_ADDR_SPEC})>[ \t]*')


def _values(msg: EmailPart, name: str) -> list[str]:
    try:
        return [str(value) for value in msg.get_all(name, [])]
    except Exception:
        return []


def _addresses(msg: EmailPart, name: str, warnings: Warnings) -> tuple[Address, ...]:
    found: list[Address] = []
    for value in _values(msg, name):
        if not value.strip():
            continue
        pairs = _plain_pairs(value)
        if pairs is None:
            try:
                pairs = [(display, addr.strip()) for display, addr in getaddresses([value])]
            except Exception:
                pairs = [("", "")]
        named = [(display, addr) for display, addr in pairs if addr]
        lost = len(named) < len(pairs) and not _EMPTY_GROUP.fullmatch(value)
        if lost or any("@" not in addr for _, addr in named):
            warnings.add("header-error", f"{name}: could not parse every address in {value!r:.100}")
        for display, addr in named:
            display = decode_header_text(name, display, warnings).strip() if display else ""
            found.append(Address(printable(display), printable(addr)))
    return tuple(found)


def _plain_pairs(value: str) -> list[tuple[str, str]] | None:
    """What ``getaddresses([value])`` returns, for the everyday forms only: ``addr``, ``Name <addr>`` and
    ``"Name" <addr>`` with a dot-atom address, comma-separated; None for anything else.

    email's address parser was a fifth of summarizing a small message (benchmarks/README.md); a test
    checks that this gives the parser's own answer on crafted and random header values.
    """
    if '"' in value:
        match = _QUOTED_ADDRESS.fullmatch(value)
        return None if match is None else [(match["name"], match["address"])]
    pairs = []
    for entry in value.split(","):
        match = _PLAIN_ADDRESS.fullmatch(entry)
        if match is None:
            return None
        name, address = match["name"], match["address"] or match["bracketed"]
        pairs.append((" ".join(name.split()) if name else "", address))
    return pairs


def _date(msg: EmailPart, warnings: Warnings) -> datetime | None:
    values = _values(msg, "date")
    if not values or not values[0].strip():
        warnings.add("missing-date", "no Date header (RFC 5322 §3.6 requires one)")
        return None
    try:
        moment = parsedate_to_datetime(values[0])
    except Exception:
        warnings.add("header-error", f"Date: {values[0]!r:.80} is not an RFC 5322 date")
        return None
    # "-0000" parses naive: RFC 5322 §3.3 says the time is UTC with no local-offset information.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _blind_copies(envelope: Envelope, named: Sequence[Address]) -> tuple[Address, ...]:
    seen = {address.address.lower() for address in named}
    blind: list[Address] = []
    for recipient in envelope.accepted:
        address = recipient.strip()
        if address.startswith("<") and address.endswith(">"):
            address = address[1:-1].strip()
        if address and address.lower() not in seen:
            seen.add(address.lower())
            blind.append(Address("", address))
    return tuple(blind)


def _elidable(head: bytes) -> bool:
    """Whether a part with these headers is base64 that summarize never decodes (not text, no container)."""
    part = _HEAD_PARSER.parsebytes(head)
    return (
        part.get_content_maintype() not in ("text", "message", "multipart")
        and str(part.get("content-transfer-encoding", "")).strip().lower() == "base64"
    )


def skeleton(raw: bytes) -> bytes:
    """``raw`` with the middle of every large base64 attachment cut out, for a faster summary.

    The stdlib parser reads bodies line by line (most of its time on 10 MB, see benchmarks/README.md), yet
    summarize never decodes a non-text part: it only counts it. Cutting whole base64 quanta from such a
    body leaves every boundary, header and text body — everything summarize reads — exactly as it was, so
    the summary is the same (a test checks this over the corpus). A region is cut only when it holds
    nothing but complete CRLF-ended base64 lines; ``size`` and the protocol warnings always come from the
    real bytes.
    """
    if len(raw) < _SKELETON_MIN_BYTES:
        return raw
    kept: list[bytes] = []
    start = 0
    # Parts start after a line beginning with "--" (a boundary, RFC 2046 §5.1.1); base64 has no "-".
    while start < len(raw):
        nxt = raw.find(b"\n--", start)
        end = len(raw) if nxt == -1 else nxt + 1
        kept.append(_cut(raw, start, end))
        if nxt == -1:
            break
        line_end = raw.find(b"\n", nxt + 1)
        stop = len(raw) if line_end == -1 else line_end + 1
        kept.append(raw[end:stop])
        start = stop
    return b"".join(kept) if len(kept) > 1 or kept[0] is not raw else raw


def _cut(raw: bytes, start: int, end: int) -> bytes:
    if end - start < _SKELETON_MIN_BYTES:
        return raw[start:end]
    head_end = raw.find(b"\r\n\r\n", start, end)
    if head_end == -1 or head_end - start > _SKELETON_HEAD_BYTES or not _elidable(raw[start : head_end + 4]):
        return raw[start:end]
    # Keep a few lines after the header and the last two lines (where the padding is); cut between.
    cut_from = head_end + 4
    for _ in range(4):
        cut_from = raw.find(b"\r\n", cut_from, end) + 2
        if cut_from == 1:
            return raw[start:end]
    cut_to = raw.rfind(b"\r\n", cut_from, raw.rfind(b"\r\n", cut_from, end - 2)) + 2
    crlf = _count(raw, b"\r\n", cut_from, cut_to)
    if (
        cut_to <= cut_from
        or any(raw[a:b].translate(None, _BASE64_LINES) for a, b in _spans(cut_from, cut_to))
        or _count(raw, b"\n", cut_from, cut_to) != crlf
        or _count(raw, b"\r", cut_from, cut_to) != crlf
        or any(raw.find(b"\r\n\r\n", a, b) != -1 for a, b in _spans(cut_from, cut_to, 3))
        or (cut_to - cut_from - 2 * crlf) % 4
    ):
        return raw[start:end]
    return raw[start:cut_from] + raw[cut_to:end]


def summarize(
    raw: bytes,
    *,
    message_id: str,
    session_id: str,
    mailbox: str,
    received_at: datetime,
    envelope: Envelope,
    extra_warnings: Sequence[MessageWarning] = (),
    mailbox_rule: str = DEFAULT_MAILBOX,
) -> StoredMessage:
    """Build the stored form of a message: its summary, the bytes, and the text that search reads.

    Attachment payloads are never decoded here, only counted; bodies are read up to a bounded prefix.
    """
    warnings = Warnings(extra_warnings)
    msg, failure = parse(skeleton(raw))

    subjects = _values(msg, "subject")
    subject = decode_header_text("Subject", subjects[0], warnings).strip() if subjects else ""
    senders = _addresses(msg, "From", warnings)
    to = _addresses(msg, "To", warnings)
    cc = _addresses(msg, "Cc", warnings)
    reply_to = _addresses(msg, "Reply-To", warnings)
    date = _date(msg, warnings)
    message_ids = _values(msg, "message-id")
    header_message_id = message_ids[0].strip() if message_ids else ""
    if not header_message_id:
        warnings.add("missing-message-id", "no Message-ID header (RFC 5322 §3.6.4 says it SHOULD have one)")
    if _values(msg, "bcc"):
        warnings.add("bcc-header", "the message data carries a Bcc header, which senders should remove")

    nodes = walk(msg, warnings)
    roles = classify(nodes)
    check_content_ids(nodes, warnings)
    body = text_of(roles.text, warnings, _TEXT_SCAN_BYTES) if roles.text else ""
    if not body.strip() and roles.html:
        body = html_to_text(text_of(roles.html, warnings, _HTML_SCAN_BYTES))
    body = printable(body[:BODY_TEXT_CHARS])
    collect_defects(nodes, failure, warnings)

    summary = MessageSummary(
        id=message_id,
        session_id=session_id,
        mailbox=mailbox,
        received_at=received_at,
        size=len(raw),
        envelope=envelope,
        subject=printable(subject),
        from_=senders[0] if senders else None,
        to=to,
        cc=cc,
        bcc=_blind_copies(envelope, to + cc),
        reply_to=reply_to,
        date=date,
        message_id=header_message_id or None,
        snippet=collapse(body[: SNIPPET_CHARS * 25])[:SNIPPET_CHARS].rstrip(),
        attachments=len(roles.attachments),
        warnings=warnings.result(),
        mailbox_rule=mailbox_rule,
    )
    return StoredMessage(summary=summary, raw=raw, body_text=body)


def _part_tree(node: Node, sizes: dict[str, int]) -> Part:
    return Part(
        part_id=node.part_id,
        content_type=node.content_type,
        charset=node.charset,
        disposition=node.disposition,
        filename=node.filename,
        content_id=node.content_id,
        size=sizes.get(node.part_id, 0),
        children=tuple(_part_tree(child, sizes) for child in node.children),
    )


def _attachment(node: Node, sizes: dict[str, int]) -> Attachment:
    return Attachment(node.part_id, node.filename, node.content_type, sizes[node.part_id], node.content_id)


# The message/* types whose content is one embedded message: the generator writes these as plain text
# once made leaves (message/delivery-status, a list of header blocks, it does not).
_EMBEDDED_MESSAGES = frozenset({"message/rfc822", "message/global"})


def parse_full(summary: MessageSummary, raw: bytes) -> Message:
    """The full view: decoded headers, bodies, the MIME tree, attachments and inline parts."""
    warnings = Warnings(summary.warnings)
    msg, failure = parse(raw)
    nodes = walk(msg, warnings)
    headers = tuple(
        (name, printable(decode_header_text(name, value, warnings, structured=True)))
        for name, value in attempt(msg.items, list[tuple[str, str]](), "headers", warnings)
    )
    roles = classify(nodes)
    text = text_of(roles.text, warnings) if roles.text else None
    html = text_of(roles.html, warnings) if roles.html else None
    sizes: dict[str, int] = {}
    # Inner parts first: an embedded message is serialised once, not again inside each one around it.
    for node in reversed(nodes):
        if node.content_type in _EMBEDDED_MESSAGES and node.part.is_multipart():
            sizes[node.part_id] = len(make_leaf(node))
        elif node.is_message or not node.part.is_multipart():
            sizes[node.part_id] = len(payload(node, warnings))
    collect_defects(nodes, failure, warnings)
    return Message(
        summary=summary,
        headers=headers,
        text=text,
        html=html,
        parts=_part_tree(nodes[0], sizes),
        attachments=tuple(_attachment(node, sizes) for node in roles.attachments),
        inline=tuple(_attachment(node, sizes) for node in roles.inline),
        warnings=warnings.result(),
    )


def part_content(raw: bytes, part_id: str) -> tuple[str, str | None, bytes] | None:
    """``(content_type, filename, decoded bytes)`` of one part, or None when there is no such part.

    A ``message/*`` part's content is the embedded message; a multipart's is the part as it would be
    sent (its headers and body).
    """
    if not _PART_ID.fullmatch(part_id):
        return None
    warnings = Warnings()
    msg, _failure = parse(raw)
    for node in walk(msg, warnings):
        if node.part_id == part_id:
            if node.part.is_multipart() and not node.is_message:
                return node.content_type, node.filename, serialize(node.part)
            return node.content_type, node.filename, payload(node, warnings)
    return None


def parse_email(raw: bytes) -> EmailMessage:
    """The stdlib object under ``policy.default`` semantics; a header it cannot parse reads as plain text."""
    parsed = (
        _try_parse(lambda: BytesParser(policy=SAFE_DEFAULT).parsebytes(raw))
        or _try_parse(lambda: BytesParser(EmailMessage, policy=compat32).parsebytes(raw))
        or _try_parse(lambda: BytesParser(policy=SAFE_DEFAULT).parsebytes(raw, headersonly=True))
    )
    return parsed if parsed is not None else EmailMessage(policy=SAFE_DEFAULT)


def _try_parse(read: Callable[[], object]) -> EmailMessage | None:
    try:
        parsed = read()
    except Exception:
        return None
    return parsed if isinstance(parsed, EmailMessage) else None


def _line_of(raw: bytes, offset: int) -> int:
    return _count(raw, b"\n", 0, offset) + 1


def _spans(start: int, end: int, overlap: int = 0) -> Iterator[tuple[int, int]]:
    """[start, end) in _SLICE steps, each span reaching ``overlap`` bytes into the next."""
    for begin in range(start, end, _SLICE):
        yield begin, min(begin + _SLICE + overlap, end)


def _count(raw: bytes, sub: bytes, start: int = 0, end: int | None = None) -> int:
    """``raw.count(sub, start, end)`` a slice at a time, for a ``sub`` that cannot overlap itself."""
    stop = len(raw) if end is None else end
    if stop - start <= _SLICE:
        return raw.count(sub, start, stop)
    return sum(raw.count(sub, begin, until) for begin, until in _spans(start, stop, len(sub) - 1))


def _may_have_long_lines(raw: bytes) -> bool:
    """False when no line can exceed MAX_LINE_OCTETS, checked without making a bytes object per line.

    A line of 999 octets or more contains a whole aligned block of 499 octets without LF; when every such
    block has an LF, every line is short; unlike splitting into lines, this makes no object per line.
    """
    find = raw.find
    return any(find(b"\n", start, start + _LINE_BLOCK) == -1 for start in range(0, len(raw), _LINE_BLOCK))


def scan_raw(raw: bytes, *, declared_8bitmime: bool) -> list[MessageWarning]:
    """Protocol-level problems of DATA bytes: bare LF/CR, over-long lines, undeclared 8-bit data."""
    found: list[MessageWarning] = []
    crlf = _count(raw, b"\r\n")
    bare_lf = _count(raw, b"\n") - crlf
    if bare_lf:
        first = _line_of(raw, raw.replace(b"\r\n", b"\r\r").find(b"\n"))
        found.append(
            MessageWarning(
                "bare-lf",
                f"{bare_lf} line(s) end in a bare LF, the first is line {first} (RFC 5322 §2.3: CRLF)",
            )
        )
    bare_cr = _count(raw, b"\r") - crlf
    if bare_cr:
        offset = raw.replace(b"\r\n", b"\n\n").find(b"\r")
        found.append(
            MessageWarning(
                "bare-cr", f"{bare_cr} bare CR(s) not followed by LF, first on line {_line_of(raw, offset)}"
            )
        )
    if len(raw) > MAX_LINE_OCTETS and _may_have_long_lines(raw):
        lengths = list(map(len, raw.splitlines()))
        long_lines = sum(map(MAX_LINE_OCTETS.__lt__, lengths))
        if long_lines:
            found.append(
                MessageWarning(
                    "long-line",
                    f"{long_lines} line(s) longer than {MAX_LINE_OCTETS} octets, the longest {max(lengths)} "
                    "(RFC 5322 §2.1.1)",
                )
            )
    if not declared_8bitmime and not raw.isascii():
        count = sum(b - a - len(raw[a:b].translate(None, _HIGH_BYTES)) for a, b in _spans(0, len(raw)))
        match = _HIGH_BYTE.search(raw)
        offset = match.start() if match else 0
        found.append(
            MessageWarning(
                "8bit-without-8bitmime",
                f"{count} byte(s) ≥ 0x80, the first on line {_line_of(raw, offset)}, "
                "without BODY=8BITMIME on MAIL FROM (RFC 6152)",
            )
        )
    return found


def build_message(
    message_id: str,
    raw: bytes,
    envelope: Envelope,
    session_id: str,
    eight_bit: bool,
    mailbox: str = DEFAULT_MAILBOX,
    mailbox_rule: str = DEFAULT_MAILBOX,
) -> StoredMessage:
    """The stored form of an acknowledged message: its bytes, summary and protocol/MIME warnings."""
    return summarize(
        raw,
        message_id=message_id,
        session_id=session_id,
        mailbox=mailbox,
        mailbox_rule=mailbox_rule,
        received_at=utcnow(),
        envelope=envelope,
        extra_warnings=scan_raw(raw, declared_8bitmime=eight_bit),
    )
