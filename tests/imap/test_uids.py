"""UIDs and UIDVALIDITY over IMAP: stable across a restart with --db; retention shows as EXPUNGE."""

from __future__ import annotations

import imaplib
import re
from pathlib import Path

from mailtrap_lite.app import MailServer
from tests.imap.helpers import imap_address, imap_config, plain, send
from tests.imap.wire import Wire


def uids(server: MailServer) -> tuple[bytes, list[bytes]]:
    client = imaplib.IMAP4(*imap_address(server), timeout=30)
    client.login("default", "x")
    client.select("INBOX")
    validity = client.untagged_responses["UIDVALIDITY"][0]
    _, data = client.uid("SEARCH", "ALL")
    client.logout()
    return validity, data[0].split()  # type: ignore[union-attr]


def test_uids_and_uidvalidity_survive_a_restart_with_a_database(tmp_path: Path) -> None:
    config = imap_config(db=tmp_path / "mail.db")
    first = MailServer(config)
    first.start()
    try:
        for subject in ("a", "b", "c"):
            send(first, plain(subject))
        assert first.addresses is not None
        validity, before = uids(first)
        assert before == [b"1", b"2", b"3"]
    finally:
        first.stop()
    second = MailServer(config)
    second.start()
    try:
        send(second, plain("d"))
        validity_after, after = uids(second)
        assert validity_after == validity and after == [b"1", b"2", b"3", b"4"]
    finally:
        second.stop()


def test_retention_pruning_while_idle_is_an_expunge() -> None:
    server = MailServer(imap_config(max_messages=2))
    server.start()
    try:
        send(server, plain("old"))
        send(server, plain("newer"))
        with Wire(imap_address(server)) as wire:
            wire.ask("a", "LOGIN default x")
            assert b"* 2 EXISTS\r\n" in wire.ask("b", "SELECT INBOX")
            wire.send(b"c IDLE\r\n")
            assert wire.line().startswith(b"+ ")
            send(server, plain("newest"))
            seen = []
            while b"* 1 EXPUNGE\r\n" not in seen:  # pruning runs once a second
                seen.append(wire.line())
            assert seen[0] == b"* 3 EXISTS\r\n"
            wire.send(b"DONE\r\n")
            assert wire.until_tagged("c")[-1] == b"c OK IDLE terminated\r\n"
            fetched = wire.ask("d", "FETCH 1:* (UID)")
            assert [re.sub(rb"\s+", b" ", line) for line in fetched] == [
                b"* 1 FETCH (UID 2) ",
                b"* 2 FETCH (UID 3) ",
                b"d OK FETCH completed ",
            ]
    finally:
        server.stop()
