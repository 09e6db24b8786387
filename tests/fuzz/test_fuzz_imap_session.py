"""A real IMAP listener and raw sockets: random commands in every state, each answered by its tag (or a
BYE), never with a server bug, and the server keeps serving."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailtrap_lite.app import MailServer
from tests.fuzz.budget import examples
from tests.imap.helpers import imap_address, imap_config, with_attachment
from tests.imap.wire import Wire


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    mail_server = MailServer(imap_config())
    mail_server.start()
    try:
        assert mail_server.addresses is not None
        with smtplib.SMTP(mail_server.addresses.smtp.host, mail_server.addresses.smtp.port) as client:
            for _ in range(3):
                client.sendmail("a@example.com", ["b@example.com"], with_attachment())
        yield mail_server
    finally:
        mail_server.stop()


_VERBS = [
    "CAPABILITY", "NOOP", "ID", "LOGIN", "SELECT", "EXAMINE", "LIST", "LSUB", "STATUS", "NAMESPACE", "CHECK",
    "FETCH", "UID FETCH", "SEARCH", "UID SEARCH", "STORE", "UID STORE", "EXPUNGE", "UID EXPUNGE", "CLOSE",
    "UNSELECT", "CREATE", "COPY", "UID COPY", "STARTTLS", "XYZZY", "UID", "uid fetch", "fetch",
]  # fmt: skip
_ARGS = [
    "1", "*", "1:*", "2,1", "0", "4294967295", "INBOX", '"INBOX"', '""', '"*"', "%", "(", ")", "()", "NIL",
    "(FLAGS)", "(UID BODYSTRUCTURE ENVELOPE)", "BODY[]", "BODY.PEEK[1.MIME]", "BODY[HEADER.FIELDS (From)]",
    "BODY.PEEK[]<0.5>", "BODY[2.TEXT]", "ALL", "FAST", "FULL", "+FLAGS", "-FLAGS.SILENT", "FLAGS",
    "(\\Seen)", "(\\Deleted)", "\\Seen", "OR", "NOT", "SEEN", "SUBJECT", "invoice", "SINCE", "1-Jan-2020",
    "BEFORE", "x-Foo-2020", "UID", "HEADER", "LARGER", "99", "CHARSET", "UTF-8", "(MESSAGES UIDNEXT)",
    '"a\\"b"', "\u00e9", "default", "pw", "]", "[", "<1.2>",
]  # fmt: skip
commands = st.lists(
    st.tuples(st.sampled_from(_VERBS), st.lists(st.sampled_from(_ARGS), max_size=5)), min_size=1, max_size=8
)


@examples(60)
@given(commands, st.booleans())
def test_random_commands_are_always_answered_by_tag(server: MailServer, script: list, log_in: bool) -> None:
    with Wire(imap_address(server)) as wire:
        if log_in:
            wire.ask("l", "LOGIN default x")
            wire.ask("s", "SELECT INBOX")
        for number, (verb, args) in enumerate(script):
            tag = f"t{number}"
            wire.send(f"{tag} {' '.join([verb, *args])}\r\n".encode())
            while True:
                line = wire.line()
                assert b"SERVERBUG" not in line, line
                if line.startswith(b"* BYE"):
                    return
                if line.startswith(f"{tag} ".encode()):
                    assert line.split(b" ")[1] in (b"OK", b"NO", b"BAD"), line
                    break
    with Wire(imap_address(server)) as wire:
        assert wire.ask("n", "NOOP") == [b"n OK NOOP completed\r\n"]
