"""``export`` and ``import``: round trips through mbox and zip keep every message's bytes, the corpus
imports, and an export walks the server page by page instead of loading every message."""

from __future__ import annotations

import io
import json
import mailbox
import os
import pty
import re
import smtplib
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.client import MailtrapClient
from mailtrap_lite.commands import mailfiles, transfer
from tests.cli.conftest import CORPUS, Run, message, run
from tests.conftest import free_config

# Lines an mbox must quote, and a message without a final line break.
TRICKY = [
    b"From: a@example.com\r\nTo: b@example.com\r\nSubject: quoting\r\n\r\nFrom here on\r\n>From there\r\n"
    b">>From everywhere\r\n\r\nFrom the start\r\n",
    b"From: a@example.com\nTo: b@example.com\nSubject: bare LF\n\nno final line break",
    b"From: a@example.com\r\nTo: b@example.com\r\nSubject: empty line at the end\r\n\r\nbody\r\n\r\n",
]
FROM_LINE = re.compile(rb"^From \S+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n", re.MULTILINE)


def post(api: httpx.Client, raw: bytes, **params: Any) -> dict[str, Any]:
    response = api.post(
        "/api/messages", content=raw, params=params, headers={"Content-Type": "message/rfc822"}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def raws(api: httpx.Client) -> list[bytes]:
    """Every stored message's bytes, oldest first."""
    listed = api.get("/api/messages", params={"limit": 1000}).json()["messages"]
    return [api.get(f"/api/messages/{m['id']}/raw").content for m in reversed(listed)]


def envelopes(api: httpx.Client) -> list[tuple[str, list[str]]]:
    listed = api.get("/api/messages", params={"limit": 1000}).json()["messages"]
    return [
        (m["envelope"]["mail_from"], [r["address"] for r in m["envelope"]["recipients"]])
        for m in reversed(listed)
    ]


@pytest.fixture
def stored(api: httpx.Client, smtp_address: tuple[str, int]) -> list[bytes]:
    """Messages over SMTP (one with the null sender and a Bcc-only recipient) and over HTTP."""
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.sendmail("app@example.com", ["ann@example.com", "hidden@example.com"], message("over SMTP"))
        client.sendmail("<>", ["ann@example.com"], message("a bounce"))
    for raw in TRICKY:
        post(api, raw)
    for path in sorted(CORPUS.glob("*.eml")):
        post(api, path.read_bytes(), rcpt="corpus@example.com")
    return raws(api)


@pytest.mark.parametrize("suffix", [".mbox", ".zip"])
def test_export_then_import_gives_back_the_same_bytes(
    cli: Run, api: httpx.Client, stored: list[bytes], tmp_path: Path, suffix: str
) -> None:
    before = envelopes(api)
    first = tmp_path / f"first{suffix}"
    exported = cli("export", "-o", str(first))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == f"exported {len(stored)} messages to {first}"
    assert not (tmp_path / f"first{suffix}.partial").exists()

    assert cli("clear").returncode == 0
    imported = cli("import", str(first), "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] == len(stored)
    after = raws(api)
    # Only a message without a final line break gains one in an mbox, whose lines must end.
    expected = [raw if raw.endswith(b"\n") or suffix == ".zip" else raw + b"\n" for raw in stored]
    assert after == expected
    if suffix == ".zip":  # each entry's comment keeps the whole envelope, Bcc and null sender included
        assert envelopes(api) == before
    else:  # an mbox keeps the sender; the recipients come from the headers
        assert [sender for sender, _ in envelopes(api)] == [sender for sender, _ in before]

    second = tmp_path / f"second{suffix}"
    assert cli("export", "-o", str(second)).returncode == 0
    if suffix == ".mbox":
        assert FROM_LINE.sub(b"", second.read_bytes()) == FROM_LINE.sub(b"", first.read_bytes())
        assert first.read_bytes().count(b"\n>From here on") == 1
        assert first.read_bytes().count(b"\n>>From there") == 1
    else:
        with zipfile.ZipFile(first) as one, zipfile.ZipFile(second) as two:
            assert [one.read(i) for i in one.infolist()] == [two.read(i) for i in two.infolist()]
            assert all(i.filename.endswith(".eml") for i in one.infolist())


def test_export_a_query_and_choose_the_format(
    cli: Run, api: httpx.Client, stored: list[bytes], tmp_path: Path
) -> None:
    target = tmp_path / "bounces.dat"
    result = cli("export", "subject:bounce", "-o", str(target), "--format", "zip", "--json")
    assert json.loads(result.stdout) == {"written": 1, "vanished": 0, "file": str(target), "format": "zip"}
    with zipfile.ZipFile(target) as archive:
        (entry,) = archive.infolist()
        assert json.loads(entry.comment) == {"mail_from": "", "rcpt": ["ann@example.com"]}


def test_import_corpus_files_one_by_one_and_a_directory_of_mixed_files(
    cli: Run, api: httpx.Client, tmp_path: Path
) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    result = cli("import", *map(str, files))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"imported {len(files)} messages, 0 failed"
    assert raws(api) == [path.read_bytes() for path in files]

    archived = tmp_path / "archived.eml"  # no To, Cc or Bcc: the delivery agent's header names the recipient
    archived.write_bytes(
        b"Delivered-To: ann@example.com\r\nFrom: x@example.com\r\nSubject: old\r\n\r\nhi\r\n"
    )
    nobody = tmp_path / "nobody.eml"
    nobody.write_bytes(b"Subject: to nobody\r\n\r\nhi\r\n")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really")
    mixed = cli("import", str(archived), str(nobody), str(broken))
    assert mixed.returncode == 1
    assert "imported 1 message, 2 failed" in mixed.stdout
    assert "nobody.eml: no recipients" in mixed.stderr and "broken.zip" in mixed.stderr
    summary = api.get("/api/messages/latest").json()
    assert [r["address"] for r in summary["envelope"]["recipients"]] == ["ann@example.com"]


def test_import_a_foreign_mbox(cli: Run, api: httpx.Client, tmp_path: Path) -> None:
    """An mbox written by Python's mailbox module (mboxo, LF line ends) imports message by message."""
    path = tmp_path / "foreign.mbox"
    box = mailbox.mbox(path)
    for number in range(3):
        box.add(message(f"foreign {number}"))
    box.close()
    result = cli("import", str(path))
    assert result.returncode == 0, result.stderr
    subjects = [m["subject"] for m in api.get("/api/messages").json()["messages"]]
    assert subjects == ["foreign 2", "foreign 1", "foreign 0"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("export",), "the following arguments are required: -o/--output"),
        (("export", "-o", "mail.txt"), "cannot tell the format from 'mail.txt'"),
        (("export", "-o", "x.mbox", "--format", "maildir"), "invalid choice: 'maildir'"),
        (("import",), "the following arguments are required: FILE"),
        (("import", "/nonexistent.eml"), "no such file: /nonexistent.eml"),
    ],
)
def test_bad_usage_exits_2(cli: Run, args: tuple[str, ...], fragment: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert fragment in result.stderr


class CountingClient(MailtrapClient):
    """The real client, remembering the size of every listing it asks for."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.listed: list[int] = []

    def search(self, q: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        self.listed.append(limit)
        return super().search(q, limit, offset)


def test_an_export_lists_one_page_at_a_time_oldest_first(server: MailServer, api: httpx.Client) -> None:
    sent = [post(api, message(f"n{number}"))["id"] for number in range(300)]
    assert server.addresses is not None
    client = CountingClient(server.addresses.url)
    batches: Iterator[list[dict[str, Any]]] = transfer.pages(client, None, size=40)
    first = next(batches)
    assert len(first) == 40 and len(client.listed) == 3  # the newest, the count, one page: no more
    post(api, message("arrived during the export"))
    rest = [summary for batch in batches for summary in batch]
    assert [s["id"] for s in first + rest] == sent  # oldest first, each once, the late arrival left out
    assert max(client.listed) == 40
    assert len(client.listed) == 2 + 300 // 40 + 1


def test_progress_bar_only_on_a_terminal(env: dict[str, str], api: httpx.Client, tmp_path: Path) -> None:
    for number in range(5):
        post(api, message(f"n{number}"))
    main, child = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mailtrap_lite", "export", "-o", str(tmp_path / "a.mbox")],
            stdout=subprocess.PIPE,
            stderr=child,
            env=env,
            timeout=120,
            check=False,
        )
        os.close(child)
        child = -1
        drawn = b""
        while chunk := _read(main):
            drawn += chunk
    finally:
        os.close(main)
        if child != -1:
            os.close(child)
    assert result.returncode == 0
    assert b"exporting to a.mbox [" + b"#" * 30 + b"] 5/5" in drawn
    piped = subprocess.run(
        [sys.executable, "-m", "mailtrap_lite", "export", "-o", str(tmp_path / "b.mbox")],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0 and piped.stderr == b""


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # Linux answers EIO once the terminal's other end is closed
        return b""


def test_mbox_reader_and_writer_agree_on_every_quoting_case() -> None:
    written = b"".join(
        mailfiles.mbox_entry(raw, "a@example.com", datetime(2026, 1, 2, tzinfo=UTC)) for raw in TRICKY
    )
    read = list(mailfiles.read_mbox(io.BytesIO(written), "t.mbox"))
    assert [m.raw for m in read] == [TRICKY[0], TRICKY[1] + b"\n", TRICKY[2]]
    assert {m.mail_from for m in read} == {"a@example.com"}
    assert written.startswith(b"From a@example.com Fri Jan 02 00:00:00 2026\n")


def test_import_goes_on_past_a_message_too_big_and_stops_when_the_server_is_gone(tmp_path: Path) -> None:
    big, small = tmp_path / "big.eml", tmp_path / "small.eml"
    big.write_bytes(message("big", body="x" * 2000))
    small.write_bytes(message("small"))
    server = MailServer(free_config(max_message_size=1024))
    server.start()
    try:
        assert server.addresses is not None
        url = server.addresses.url
        result = run("import", str(big), str(small), "--url", url)
        assert result.returncode == 1
        assert result.stdout.strip() == "imported 1 message, 1 failed"
        assert "big.eml: the message is larger than --max-message-size (1024 bytes)" in result.stderr
    finally:
        server.stop()
    gone = run("import", str(small), "--url", url)
    assert gone.returncode == 3 and "cannot reach mailtrap-lite" in gone.stderr


def test_a_zip_comment_too_long_for_its_field_keeps_the_sender(tmp_path: Path) -> None:
    many = {"mail_from": "a@example.com", "rcpt": [f"recipient{n}@example.com" for n in range(3000)]}
    info = mailfiles.zip_entry(1, "x", datetime(2026, 1, 2, tzinfo=UTC), many)
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as archive:
        archive.writestr(info, b"Subject: x\r\n\r\n")
    (read,) = mailfiles.read_zip(tmp_path / "many.zip")
    assert (read.mail_from, read.recipients, read.raw) == ("a@example.com", [], b"Subject: x\r\n\r\n")


def test_a_thunderbird_from_line_names_no_sender() -> None:
    mbox = b"From - Mon Jan  5 10:00:00 2026\nFrom: ann@example.com\nSubject: a\n\nhi\n\n"
    mbox += b"From MAILER-DAEMON Mon Jan  5 10:00:01 2026\nSubject: b\n\nbounce\n\n"
    mbox += b"From root@host Mon Jan  5 10:00:02 2026\nSubject: c\n\ncron\n"
    read = list(mailfiles.read_mbox(io.BytesIO(mbox), "t.mbox"))
    assert [(m.mail_from, m.name) for m in read] == [
        (None, "t.mbox#1"),
        ("", "t.mbox#2"),
        ("root@host", "t.mbox#3"),
    ]
    assert read[0].raw == b"From: ann@example.com\nSubject: a\n\nhi\n"
    assert read[2].raw == b"Subject: c\n\ncron\n"
