"""Random IMAP command bytes: the parser answers with a Command or a ParseError, nothing else; every
command that parses, parses the same way when rebuilt; FETCH attributes, search keys and MIME trees
built from it never raise anything but ParseError."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from mailtrap_lite.imap import fetch, mime
from mailtrap_lite.imap import search as imap_search
from mailtrap_lite.imap.parser import Atom, ParenList, ParseError, Token, literal_announced, parse_command
from mailtrap_lite.imap.strings import nstring, wire
from mailtrap_lite.imap.structure import body_structure, envelope
from tests.fuzz.budget import examples

_PIECES = [
    b"a1", b" ", b"FETCH", b"UID", b"SEARCH", b"STORE", b"LOGIN", b"1:*", b"2,4:6", b"*", b"0", b"(", b")",
    b'"', b"\\", b"{3}\r\n", b"{0}\r\n", b"{99999999999}\r\n", b"BODY.PEEK[", b"]", b"<0.10>",
    b"HEADER.FIELDS", b"\r\n", b"\n", b"\x00", b"\xff", b"NIL", b"OR", b"NOT", b"SINCE", b"1-Feb-2026",
    b"FLAGS", b"\\Seen", b"%",
]  # fmt: skip
command_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from(_PIECES), max_size=30).map(b"".join),
)


@examples(600)
@given(command_bytes)
def test_the_parser_returns_a_command_or_a_parse_error(data: bytes) -> None:
    literal_announced(data)
    try:
        command = parse_command(data)
    except ParseError:
        return
    assert command.tag and command.name.isalpha() and command.name.isupper()
    rebuilt = f"{command.tag} {'UID ' if command.uid else ''}{command.name}".encode()
    for arg in command.args:
        rebuilt += b" " + _unparse(arg)
    assert parse_command(rebuilt) == command
    for use in (lambda: fetch.parse_items(command.args, "t"), lambda: imap_search.parse(command.args, "t")):
        with contextlib.suppress(ParseError):
            use()


def _unparse(token: Token) -> bytes:
    if isinstance(token, Atom):
        return token.text.encode()
    if isinstance(token, ParenList):
        return b"(" + b" ".join(_unparse(item) for item in token.items) + b")"
    return b"{%d}\r\n%s" % (len(token), token)


_MIME_PIECES = [
    b"Content-Type: multipart/mixed; boundary=b\r\n", b"Content-Type: message/rfc822\r\n", b"\r\n",
    b"--b\r\n", b"--b--\r\n", b"From: a@b\r\n", b"Subject: x\r\n", b"body\r\n", b"\n", b" folded\r\n",
    b"To: <>,;,\"\r\n",
    b"Content-Disposition: attachment; filename=\"a\r\n", b"\xff\xfe",
]  # fmt: skip


@examples(300)
@given(st.lists(st.sampled_from(_MIME_PIECES), max_size=40).map(b"".join))
def test_any_bytes_give_a_mime_tree_and_its_structure(raw: bytes) -> None:
    root = mime.parse(raw)
    assert root.header + root.body == raw
    assert wire(body_structure(root)).startswith(b"(")
    assert wire(envelope(root)).startswith(b"(")
    assert wire([nstring(raw)])
