"""A message's MIME structure over its raw bytes, for FETCH: every part's header and body as byte slices.

IMAP sections (``BODY[1.2.MIME]``) are byte ranges of the message as received, so the tree is cut from
the raw bytes rather than rebuilt by ``email``; ``email`` only reads each part's Content-Type. Numbering
follows RFC 3501 §6.4.5: a part of a multipart is numbered from 1, a single-part message has the one
part 1, and the parts of an encapsulated ``message/rfc822`` continue under its number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value

MAX_DEPTH = 32  # nested multiparts and encapsulated messages; deeper ones are read as opaque bodies
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINES = re.compile(rb"[^\n]*\n|[^\n]+")
_UNFOLD = re.compile(rb"\r?\n(?=[ \t])")


@dataclass(slots=True)
class Entity:
    header: bytes  # the header section, the blank line that ends it included
    body: bytes
    content_type: str  # lower case, e.g. "text/plain"
    params: list[tuple[str, str]]
    fields: list[tuple[str, bytes]]  # (lower-case name, raw field with its folded lines)
    children: list[Entity] = field(default_factory=list)
    message: Entity | None = None  # the encapsulated message of a message/rfc822 part

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    def values(self, name: str) -> list[bytes]:
        """The unfolded values of every field called ``name`` (lower case)."""
        return [_value(raw) for found, raw in self.fields if found == name]

    def value(self, name: str) -> bytes | None:
        found = self.values(name)
        return found[0] if found else None

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.params if key == name), None)


def parse(raw: bytes, default_type: str = "text/plain", depth: int = 0) -> Entity:
    header, body = _split(raw)
    headers: Message = BytesHeaderParser(policy=compat32).parsebytes(header)
    if default_type != "text/plain":
        headers.set_default_type(default_type)
    content_type = headers.get_content_type()
    params = [
        (str(key).lower(), collapse_rfc2231_value(value))
        for key, value in (headers.get_params(header="content-type") or [])[1:]
    ]
    entity = Entity(header, body, content_type, params, _fields(header))
    if depth >= MAX_DEPTH:
        return entity
    boundary = entity.param("boundary")
    if entity.maintype == "multipart" and boundary:
        child_type = "message/rfc822" if entity.subtype == "digest" else "text/plain"
        entity.children = [parse(part, child_type, depth + 1) for part in split_multipart(body, boundary)]
    elif content_type == "message/rfc822":
        entity.message = parse(body, "text/plain", depth + 1)
    return entity


def _split(raw: bytes) -> tuple[bytes, bytes]:
    if raw.startswith((b"\r\n", b"\n")):
        end = 2 if raw.startswith(b"\r\n") else 1
        return raw[:end], raw[end:]
    match = _HEADER_END.search(raw)
    if match is None:
        return raw, b""
    return raw[: match.end()], raw[match.end() :]


def _fields(header: bytes) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for line in _LINES.findall(header):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and found:
            name, raw = found[-1]
            found[-1] = (name, raw + line)
            continue
        name, colon, _ = line.partition(b":")
        if colon:
            found.append((name.strip().decode("ascii", "replace").lower(), line))
    return found


def _value(raw: bytes) -> bytes:
    return _UNFOLD.sub(b"", raw.partition(b":")[2]).strip()


def split_multipart(body: bytes, boundary: str) -> list[bytes]:
    """The parts of a multipart body: what lies between its delimiter lines (RFC 2046 §5.1.1)."""
    delimiter = re.compile(rb"(?m)^--" + re.escape(boundary.encode("utf-8", "replace")) + rb"(--)?[ \t]*\r?$")
    parts: list[bytes] = []
    start: int | None = None
    for match in delimiter.finditer(body):
        if start is not None:
            end = match.start()
            # The line break before a delimiter belongs to the delimiter.
            end -= 2 if body[end - 2 : end] == b"\r\n" else 1 if body[end - 1 : end] == b"\n" else 0
            parts.append(body[start : max(start, end)])
        if match.group(1):
            return parts
        start = match.end()
        start += 2 if body[start : start + 2] == b"\r\n" else 1 if body[start : start + 1] == b"\n" else 0
    if start is not None and start < len(body):  # no closing delimiter: the last part runs to the end
        parts.append(body[start:])
    return parts


# --- sections -----------------------------------------------------------------------------------------------


def part(root: Entity, numbers: list[int]) -> Entity | None:
    """Part ``1.2.3`` of the message; None when it does not exist."""
    entity = root
    for position, number in enumerate(numbers):
        single = position == 0  # a message's body is its part 1 when it is not a multipart
        if position and entity.message is not None:
            entity, single = entity.message, True
        if entity.children:
            if not 1 <= number <= len(entity.children):
                return None
            entity = entity.children[number - 1]
        elif not (single and number == 1):
            return None
    return entity


def header_fields(entity: Entity, names: list[str], *, keep: bool) -> bytes:
    """The fields named (``HEADER.FIELDS``), or all others (``.NOT``), then the blank line."""
    wanted = {name.lower() for name in names}
    kept = [raw for name, raw in entity.fields if (name in wanted) == keep]
    return b"".join(raw if raw.endswith(b"\n") else raw + b"\r\n" for raw in kept) + b"\r\n"
