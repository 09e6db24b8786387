"""The MIME tree of a message, read defensively: numbering, part metadata, roles and payloads.

Part ids: the root is ``"0"``, its children ``"1"``, ``"2"``…, child *i* of part *p* is ``f"{p}.{i}"``.
A ``message/*`` part has the embedded message as its child. Content-IDs are kept without angle brackets,
as ``cid:`` URLs name them (RFC 2392).

A part is *inline* when it has a Content-ID and sits in a ``multipart/related`` (or is
``Content-Disposition: inline`` with a Content-ID); any other non-body part with a filename or
``Content-Disposition: attachment`` is an *attachment*. Parts inside an attached message
belong to that message: they are in the tree, but neither bodies, attachments nor inline parts of this one.

Limits: the tree is walked ``MAX_DEPTH`` levels deep and ``MAX_PARTS`` parts wide at most, with a
``mime-limit`` warning past either; the raw message is kept whole, and the parts not walked are still in
the content of the part around them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message as EmailPart
from email.parser import BytesParser
from typing import TypeVar

from mailtrap_lite.mime_safe import (
    READ_POLICY,
    Warnings,
    collapse,
    decode_bytes,
    decode_header_text,
    printable,
)

MAX_DEPTH = 32
MAX_PARTS = 1000

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_CRLF = re.compile(r"\r\n?")

_T = TypeVar("_T")


@dataclass(slots=True)
class Node:
    part_id: str
    part: EmailPart
    depth: int
    embedded: bool  # inside an attached message/*
    in_related: bool
    content_type: str = "text/plain"
    charset: str | None = None
    disposition: str | None = None
    filename: str | None = None
    content_id: str | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def is_message(self) -> bool:
        return self.content_type.startswith("message/")


@dataclass(slots=True)
class Roles:
    text: Node | None = None
    html: Node | None = None
    attachments: list[Node] = field(default_factory=list)
    inline: list[Node] = field(default_factory=list)


def attempt(read: Callable[[], _T], fallback: _T, where: str, warnings: Warnings) -> _T:
    try:
        return read()
    except Exception as exc:
        warnings.add("header-error", f"{where}: {type(exc).__name__}: {str(exc)[:80]}")
        return fallback


def parse(raw: bytes) -> tuple[EmailPart, str | None]:
    """The tree under READ_POLICY, and why the MIME structure had to be given up, if it had to be."""
    try:
        return BytesParser(policy=READ_POLICY).parsebytes(raw), None
    except Exception as exc:  # RecursionError on absurd nesting, mostly
        failure = f"MIME structure unreadable ({type(exc).__name__}); the body is kept as one part"
    try:
        return BytesParser(policy=READ_POLICY).parsebytes(raw, headersonly=True), failure
    except Exception:
        part = EmailPart(policy=READ_POLICY)
        part.set_payload(raw.decode("ascii", "surrogateescape"))
        return part, failure


def _filename(part: EmailPart, where: str, warnings: Warnings) -> str | None:
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = part.get_param(param, None, header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded text as Latin-1)
            charset, _language, text = value
            data = text.encode("latin-1", "replace")
            name = decode_bytes(data, charset or "utf-8", f"{where} {param}*", warnings)
        else:
            name = value
        name = decode_header_text(f"{where} {param}", name.strip(), warnings)
        return name or None
    return None


def _make_node(
    part_id: str, part: EmailPart, depth: int, embedded: bool, in_related: bool, warnings: Warnings
) -> Node:
    node = Node(part_id, part, depth, embedded, in_related)
    where = f"part {part_id}"
    ctype = attempt(part.get_content_type, "text/plain", where, warnings)
    node.content_type = "".join(ctype.split("(")[0].split()) or "text/plain"  # compat32 keeps comments
    node.charset = attempt(part.get_content_charset, None, where, warnings)
    node.disposition = attempt(part.get_content_disposition, None, where, warnings)
    node.filename = attempt(lambda: _filename(part, where, warnings), None, where, warnings)
    cid = attempt(lambda: part.get("content-id"), None, where, warnings)
    if cid:
        cid = cid.strip()
        if cid.startswith("<") and cid.endswith(">"):
            cid = cid[1:-1].strip()
        node.content_id = cid or None
    return node


def walk(msg: EmailPart, warnings: Warnings) -> list[Node]:
    """Every part in pre-order, with the numbering of the module docstring."""
    root = _make_node("0", msg, 0, False, False, warnings)
    order: list[Node] = []
    stack = [root]
    made = 1
    while stack:
        node = stack.pop()
        order.append(node)
        if not node.part.is_multipart():
            continue
        if node.depth >= MAX_DEPTH:
            warnings.add(
                "mime-limit", f"part {node.part_id}: nested over {MAX_DEPTH} deep; inner parts not shown"
            )
            continue
        embedded = node.embedded or node.is_message
        related = node.content_type == "multipart/related" or (node.in_related and not node.is_message)
        prefix = "" if node.part_id == "0" else node.part_id + "."
        contents = node.part.get_payload()
        subparts = (
            [sub for sub in contents if isinstance(sub, EmailPart)] if isinstance(contents, list) else []
        )
        if made + len(subparts) > MAX_PARTS:
            warnings.add(
                "mime-limit",
                f"part {node.part_id}: over {MAX_PARTS} parts in the message; "
                f"only {MAX_PARTS - made} of its {len(subparts)} parts shown",
            )
            subparts = subparts[: MAX_PARTS - made]
        made += len(subparts)
        node.children = [
            _make_node(f"{prefix}{index}", sub, node.depth + 1, embedded, related, warnings)
            for index, sub in enumerate(subparts, 1)
        ]
        stack.extend(reversed(node.children))
    return order


def classify(nodes: list[Node]) -> Roles:
    roles = Roles()
    for node in nodes:
        if node.embedded or (node.part.is_multipart() and not node.is_message):
            continue
        body = node.disposition != "attachment" and node.filename is None and not node.is_message
        if body and node.content_type == "text/plain" and roles.text is None:
            roles.text = node
        elif body and node.content_type == "text/html" and roles.html is None:
            roles.html = node
        elif node.content_id and (node.in_related or node.disposition == "inline"):
            roles.inline.append(node)
        elif node.filename or node.disposition == "attachment":
            roles.attachments.append(node)
    return roles


def check_content_ids(nodes: list[Node], warnings: Warnings) -> None:
    owners: dict[str, list[str]] = {}
    for node in nodes:
        if node.content_id and not node.embedded:
            owners.setdefault(node.content_id, []).append(node.part_id)
    for cid, part_ids in owners.items():
        if len(part_ids) > 1:
            warnings.add("duplicate-content-id", f"Content-ID <{cid}> is used by parts {', '.join(part_ids)}")


def make_leaf(node: Node) -> bytes:
    """Make a container part a leaf whose text is its content, with the same bytes; returns them. Parts
    around it then serialise it as text, without walking the parts inside it again."""
    content = _body(serialize(node.part))
    # The generator writes a message/* part's text payload as ASCII only: 8-bit content stays a tree.
    if content.isascii():
        node.part.set_payload(content.decode("ascii"))
    return content


def _body(data: bytes) -> bytes:
    """A serialised part without its header."""
    _head, sep, body = data.partition(b"\r\n\r\n")
    return data[2:] if data.startswith(b"\r\n") else body if sep else b""


def payload(node: Node, warnings: Warnings) -> bytes:
    """The decoded payload of a leaf; a message/* part's content is the embedded message."""
    if node.part.is_multipart():
        data = serialize(node.part)
        return _body(data) if node.is_message else data
    try:
        decoded = node.part.get_payload(decode=True)
    except Exception as exc:
        warnings.add("parse-defect", f"part {node.part_id}: payload undecodable ({type(exc).__name__})")
        return b""
    return decoded if isinstance(decoded, bytes) else b""


def serialize(part: EmailPart) -> bytes:
    try:
        return part.as_bytes(policy=READ_POLICY)
    except Exception:
        pass
    # The bytes generator writes text payloads as ASCII (with surrogate escapes); a part the parser could
    # not split, inside an embedded message, holds decoded text (U+FFFD included). Written as UTF-8 instead.
    try:
        return part.as_string(policy=READ_POLICY).encode("utf-8", "surrogateescape")
    except Exception:
        return b""


def text_of(node: Node, warnings: Warnings, limit: int | None = None) -> str:
    data = payload(node, warnings)
    if limit is not None:
        data = data[:limit]
    text = decode_bytes(data, node.charset, f"part {node.part_id}", warnings)
    return _CRLF.sub("\n", text) if "\r" in text else text


def _describe(defect: object) -> str:
    name = type(defect).__name__.removesuffix("Defect")
    words = _CAMEL.sub(" ", name).lower()
    detail = collapse(printable(str(defect)))
    return f"{words}: {detail[:120]}" if detail else words


def collect_defects(nodes: list[Node], failure: str | None, warnings: Warnings) -> None:
    if failure:
        warnings.add("parse-defect", f"part 0: {failure}")
    for node in nodes:
        for defect in getattr(node.part, "defects", ()):
            warnings.add("parse-defect", f"part {node.part_id}: {_describe(defect)}")
