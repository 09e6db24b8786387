"""ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2) from a message's MIME tree.

Values are the header values as received (encoded words stay encoded: the client decodes them), so
nothing is lost or re-encoded on the way.
"""

from __future__ import annotations

from email.utils import getaddresses

from mailtrap_lite.imap.mime import Entity
from mailtrap_lite.imap.strings import Pieces, join, nstring, paren, string


def envelope(entity: Entity) -> Pieces:
    sender_fields = _addresses(entity, "from")
    return paren(
        [
            nstring(entity.value("date")),
            nstring(entity.value("subject")),
            sender_fields,
            _addresses(entity, "sender") if entity.value("sender") else sender_fields,
            _addresses(entity, "reply-to") if entity.value("reply-to") else sender_fields,
            _addresses(entity, "to"),
            _addresses(entity, "cc"),
            _addresses(entity, "bcc"),
            nstring(entity.value("in-reply-to")),
            nstring(entity.value("message-id")),
        ]
    )


def _addresses(entity: Entity, name: str) -> Pieces:
    values = [value.decode("utf-8", "surrogateescape") for value in entity.values(name)]
    found = [(display, address) for display, address in getaddresses(values) if address or display]
    if not found:
        return [b"NIL"]
    items: list[Pieces] = []
    for display, address in found:
        mailbox, at, host = address.rpartition("@")
        if not at:
            mailbox, host = address, ""
        items.append(paren([nstring(display or None), b"NIL", nstring(mailbox), nstring(host or None)]))
    return paren([[piece for item in items for piece in item]])


def _params(pairs: list[tuple[str, str]]) -> Pieces:
    if not pairs:
        return [b"NIL"]
    return paren([piece for key, value in pairs for piece in (string(key.upper()), string(value))])


def _disposition(entity: Entity) -> Pieces:
    value = entity.value("content-disposition")
    if value is None:
        return [b"NIL"]
    text = value.decode("utf-8", "surrogateescape")
    kind, _, rest = text.partition(";")
    pairs = []
    for item in rest.split(";"):
        key, equals, param = item.partition("=")
        if equals and key.strip():
            pairs.append((key.strip(), param.strip().strip('"')))
    return paren([string(kind.strip() or "attachment"), _params(pairs)])


def _lines(body: bytes) -> int:
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def body_structure(entity: Entity, *, extensible: bool = True) -> Pieces:
    """BODYSTRUCTURE, or with ``extensible=False`` the shorter BODY form."""
    if entity.children:
        items = join([body_structure(child, extensible=extensible) for child in entity.children], b"")
        rest: list[Pieces] = [[string(entity.subtype.upper())]]
        if extensible:
            rest += [_params(entity.params), _disposition(entity), [b"NIL"], [b"NIL"]]
        return join([b"(", items, b" ", join(rest), b")"], b"")
    encoding = entity.value("content-transfer-encoding")
    fields: list[Pieces] = [
        [string(entity.maintype.upper())],
        [string(entity.subtype.upper())],
        _params(entity.params),
        [nstring(entity.value("content-id"))],
        [nstring(entity.value("content-description"))],
        [string(encoding.decode("ascii", "replace").upper() if encoding else "7BIT")],
        [str(len(entity.body)).encode()],
    ]
    if entity.message is not None:
        fields += [
            envelope(entity.message),
            body_structure(entity.message, extensible=extensible),
            [str(_lines(entity.body)).encode()],
        ]
    elif entity.maintype == "text":
        fields.append([str(_lines(entity.body)).encode()])
    if extensible:
        fields += [[nstring(entity.value("content-md5"))], _disposition(entity), [b"NIL"], [b"NIL"]]
    return paren(fields)
