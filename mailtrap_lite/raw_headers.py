"""The header section of a raw message, read cheaply at the end of DATA for routing and tagging decisions
(the full MIME parse happens later, in the store's ingest)."""

from __future__ import annotations

import functools
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser

# Routing reads a few headers; a header section larger than this is cut rather than parsed whole.
MAX_HEADER_BYTES = 256 * 1024

_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")


def header_section(raw: bytes) -> EmailMessage:
    """The headers of ``raw`` (bare LF or CRLF line ends), without its body."""
    head = raw[:MAX_HEADER_BYTES]
    end = _END_OF_HEADERS.search(head)
    if end is not None:
        head = head[: end.start()]
    return BytesHeaderParser(policy=policy.default).parsebytes(head)


@functools.lru_cache(maxsize=64)
def _field_line(name: str) -> re.Pattern[bytes]:
    return re.compile(rb"^" + re.escape(name.encode("ascii")) + rb"[ \t]*:", re.IGNORECASE | re.MULTILINE)


def header_values(raw: bytes, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), unfolded and decoded; a header that cannot be
    decoded gives its text as it stands. Parsing the header section costs far more than looking for the
    name at the start of a line, so a message without such a line is not parsed."""
    # A field name is printable ASCII (RFC 5322 §3.6.8): the parser finds no other.
    if not name.isascii() or not _field_line(name).search(raw, 0, MAX_HEADER_BYTES):
        return []
    values: list[str] = []
    for value in header_section(raw).get_all(name) or ():
        try:
            values.append(str(value))
        except (ValueError, LookupError):  # a malformed encoded word: keep what was sent
            values.append(getattr(value, "_value", "") or "")
    return values
