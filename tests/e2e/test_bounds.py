"""Every input is bounded, over real sockets: each limit gives a clear SMTP reply, a 400 or a warning."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from mailtrap_lite.faults import MAX_RULES
from mailtrap_lite.mime_tree import MAX_DEPTH
from mailtrap_lite.search import MAX_QUERY_CHARS, MAX_QUERY_TERMS
from mailtrap_lite.smtp.protocol import BARE_LF_SCAN_LINES
from mailtrap_lite.web.ws import MAX_SUBSCRIBERS, POLICY_VIOLATION
from tests.conftest import free_config
from tests.e2e.helpers import reply_of, serving, session_of

LINE_TOO_LONG = b"500 5.5.2 Command line too long"
BARE_LF_REJECTED = b"550 5.6.11 "
BYE = b"221 2.0.0 Bye"
MIB = 1024 * 1024


@pytest.fixture
def server_config() -> Config:
    # Far beyond the sockets' 30 s timeout: a test never passes by waiting for the idle timeout.
    return free_config(idle_timeout=600)


def rss_bytes() -> int:
    """This process's resident set; the server runs in it, in a thread."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_a_command_line_that_never_ends_is_not_held_in_memory(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    block = b"a" * 65536
    with socket.create_connection(smtp_address, timeout=30) as sock:
        sock.recv(1024)
        sock.sendall(b"NOOP " + block * 16)  # warm up every buffer on the way
        before = rss_bytes()
        for _ in range(20 * 16):  # 20 MiB more, never a line feed
            sock.sendall(block)
        grown = rss_bytes() - before
        assert grown < 8 * MIB, f"RSS grew by {grown} bytes while a 20 MiB line arrived"
        sock.sendall(b"\r\nNOOP\r\n")
        replies = read_until(sock, b"2.0.0 OK\r\n")
        assert LINE_TOO_LONG in replies, replies
        sock.sendall(b"QUIT\r\n")
        assert BYE in read_until(sock, BYE)
    lines = [line["line"] for line in session_of(api)["transcript"]]
    long_line = next(line for line in lines if line.startswith("NOOP a"))
    assert long_line.endswith(f"… <{5 + 21 * MIB} bytes>")
    assert len(long_line) < 2100


def test_pipelined_bare_lf_end_and_quit_in_one_write_are_both_answered(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    # What `printf ... | nc` sends: bare LF everywhere, everything at once, no waiting for 354.
    script = (
        b"HELO nc\nMAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\nDATA\n"
        b"Subject: piped\n\nbody line\n.\nQUIT\n"
    )
    with socket.create_connection(smtp_address, timeout=30) as sock:
        sock.recv(1024)
        sock.sendall(script)
        replies = read_until(sock, BYE)
    assert BARE_LF_REJECTED in replies, replies
    assert replies.index(BARE_LF_REJECTED) < replies.index(BYE)
    assert api.get("/api/messages").json()["total"] == 0
    session = session_of(api)
    assert session["error"] is None  # it ended with QUIT, not a timeout


def test_bare_lf_end_then_more_commands_in_separate_writes(smtp_address: tuple[str, int]) -> None:
    with socket.create_connection(smtp_address, timeout=30) as sock:
        sock.recv(1024)
        sock.sendall(b"HELO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        assert b"354 " in read_until(sock, b"354 ")
        sock.sendall(b"Subject: s\n\nx\n.\nNOOP\n")
        sock.sendall(b"MAIL FROM:<c@example.com>\r\n")
        replies = read_until(sock, b"2.1.0 Ok\r\n")
        assert replies.startswith(BARE_LF_REJECTED), replies
        assert b"250 2.0.0 OK" in replies


@pytest.fixture(params=["memory", "sqlite"])
def either_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailServer]:
    db = tmp_path / "mail.db" if request.param == "sqlite" else None
    with serving(free_config(db=db)) as server:
        yield server


def test_query_limits_are_400_on_both_stores(either_store: MailServer) -> None:
    target = either_store
    assert target.addresses is not None
    smtp = target.addresses.smtp
    assert reply_of((smtp.host, smtp.port), b"Subject: findme\r\n\r\nneedle\r\n")[0] == 250
    with httpx.Client(base_url=target.addresses.url, timeout=30) as client:
        fits = " ".join(["needle"] * (MAX_QUERY_TERMS - 1) + ["findme"])
        found = client.get("/api/messages", params={"q": fits, "mailbox": "default"})
        assert found.status_code == 200, found.text
        assert found.json()["total"] == 1
        for query, words in (
            (" ".join(["a"] * 1000), "too many terms"),
            ("x" * (MAX_QUERY_CHARS + 1), "query too long"),
        ):
            refused = client.get("/api/messages", params={"q": query})
            assert refused.status_code == 400
            assert words in refused.json()["error"]


def test_fault_rules_are_capped(api: httpx.Client) -> None:
    for index in range(MAX_RULES):
        assert api.post("/api/faults", json={"stage": "rcpt", "code": 550, "match": f"r{index}@x"}).is_success
    refused = api.post("/api/faults", json={"stage": "data", "code": 451})
    assert refused.status_code == 400
    assert f"at most {MAX_RULES}" in refused.json()["error"]
    assert len(api.get("/api/faults").json()["faults"]) == MAX_RULES


def test_too_many_fault_flags_stop_the_cli_at_start() -> None:
    flags = [f"--fault=rcpt:550:r{index}@x" for index in range(MAX_RULES + 1)]
    done = subprocess.run(
        [sys.executable, "-m", "mailtrap_lite", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 2
    assert f"at most {MAX_RULES} --fault rules" in done.stderr


def ws_url(server: MailServer) -> str:
    assert server.addresses is not None
    return server.addresses.url.replace("http://", "ws://") + "/api/ws"


def test_an_over_long_subscription_query_gets_an_error_frame(server: MailServer) -> None:
    with connect(ws_url(server)) as client:
        client.send(json.dumps({"subscribe": "x" * (MAX_QUERY_CHARS + 1)}))
        frame = json.loads(client.recv(timeout=10))
        assert frame["type"] == "error"
        assert "query too long" in frame["data"]["error"]
        client.send(json.dumps({"subscribe": "subject:ok"}))
        assert json.loads(client.recv(timeout=10))["type"] == "subscribed"


def test_subscribers_over_the_cap_are_closed_with_1008(server: MailServer) -> None:
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_SUBSCRIBERS):
            stack.enter_context(connect(ws_url(server)))
        with connect(ws_url(server)) as extra, pytest.raises(ConnectionClosed) as closed:
            extra.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == POLICY_VIOLATION
    assert f"at most {MAX_SUBSCRIBERS}" in closed.value.rcvd.reason


def nested_rfc822(levels: int) -> bytes:
    inner = b"Subject: core\r\n\r\nthe innermost text\r\n"
    for level in range(levels):
        inner = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % level + inner
    return b"From: a@example.com\r\nMessage-ID: <n@x>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n" + inner


def test_deeply_nested_message_is_bounded_and_kept_whole(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    raw = nested_rfc822(200)
    code, text = reply_of(smtp_address, raw)
    assert code == 250
    message_id = text.rsplit(b" ", 1)[1].decode()
    message = api.get(f"/api/messages/{message_id}")
    assert message.status_code == 200
    warnings = [w for w in message.json()["warnings"] if w["code"] == "mime-limit"]
    assert warnings and f"nested over {MAX_DEPTH}" in warnings[0]["message"]
    assert api.get(f"/api/messages/{message_id}/raw").content == raw
    deepest = ".".join(["1"] * MAX_DEPTH)
    part = api.get(f"/api/messages/{message_id}/parts/{deepest}")
    assert part.status_code == 200
    assert b"the innermost text" in part.content  # the parts not walked are still in its content


def test_attachment_file_name_with_control_characters_downloads(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message["Subject"] = "evil name"
    message.set_content("see attached")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="x.pdf")
    # RFC 2231 lets a parameter carry any octet, CR LF and NUL included.
    evil = "UTF-8''in%0D%0ASet-Cookie: a=b%00%C3%A9t%C3%A9.pdf"
    raw = message.as_bytes().replace(b'filename="x.pdf"', b"filename*=" + evil.encode())
    code, text = reply_of(smtp_address, raw)
    assert code == 250
    message_id = text.rsplit(b" ", 1)[1].decode()
    attachment = api.get(f"/api/messages/{message_id}").json()["attachments"][0]
    part = api.get(f"/api/messages/{message_id}/parts/{attachment['part_id']}")
    assert part.status_code == 200
    assert part.content == b"%PDF-1.4"
    assert "set-cookie" not in part.headers
    disposition = part.headers["content-disposition"]
    assert all(" " <= char <= "~" for char in disposition), disposition
    assert 'filename="in__Set-Cookie: a=b__t_.pdf"' in disposition
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "in__Set-Cookie: a=b_été.pdf"


def test_bare_lf_end_after_more_lines_than_are_scanned_is_still_answered(
    smtp_address: tuple[str, int],
) -> None:
    body = b"Subject: many\n\n" + b"line\n" * (BARE_LF_SCAN_LINES * 2) + b".\n"
    with socket.create_connection(smtp_address, timeout=30) as sock:
        sock.recv(1024)
        sock.sendall(b"HELO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        assert b"354 " in read_until(sock, b"354 ")
        sock.sendall(body)
        assert read_until(sock, b"\r\n").startswith(BARE_LF_REJECTED)
        sock.sendall(b"QUIT\r\n")
        assert BYE in read_until(sock, BYE)
