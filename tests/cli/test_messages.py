"""``wait``, ``ls``, ``show``, ``links`` and ``clear`` as subprocesses against a real server, with their exit
codes; mail arrives over smtplib."""

from __future__ import annotations

import json
import shlex
import smtplib
import subprocess
import sys
import threading
import time

import pytest

from mailtrap_lite.app import MailServer
from tests.cli.conftest import Run, message, run, run_bytes

HTML = (
    b"From: App <app@example.com>\r\nTo: ann@example.com\r\nSubject: Reset\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
    b"Reset it: https://example.com/reset?token=abc&u=1.\r\nOr (see https://example.com/help).\r\n"
    b"--b\r\nContent-Type: text/html\r\n\r\n"
    b'<p><a href="https://example.com/reset?token=abc&amp;u=1">reset</a> '
    b'<a href="#top">top</a> <a href="mailto:help@example.com">mail</a> '
    b"or visit https://example.com/faq</p>\r\n--b--\r\n"
)


def send(smtp_address: tuple[str, int], *messages: bytes, to: str = "ann@example.com") -> None:
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        for raw in messages:
            client.sendmail("app@example.com", [to], raw)


def test_ls_lists_newest_first_and_filters(cli: Run, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, message("First"), message("Second"), message("Third", to="bob@example.com"))
    listed = cli("ls")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.rsplit("  ", 1)[1] for line in lines] == ["Third", "Second", "First"]
    assert "App <app@example.com> -> ann@example.com" in lines[1]

    assert cli("ls", "to:bob").stdout.count("\n") == 1
    limited = cli("ls", "--limit", "2", "--json")
    data = json.loads(limited.stdout)
    assert (data["total"], data["count"]) == (3, 2)
    assert [m["subject"] for m in data["messages"]] == ["Third", "Second"]
    assert "2 of 3 shown" not in limited.stderr  # --json says it in the data
    assert "2 of 3 shown" in cli("ls", "--limit", "2").stderr


def test_ls_pages_through_more_than_one_server_page(cli: Run, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, *(message(f"n{number}") for number in range(1005)))
    everything = json.loads(cli("ls", "--limit", "0", "--json").stdout)
    assert everything["count"] == everything["total"] == 1005
    assert len({m["id"] for m in everything["messages"]}) == 1005


def test_show_each_view(cli: Run, env: dict[str, str], smtp_address: tuple[str, int]) -> None:
    send(smtp_address, HTML)
    human = cli("show", "latest")
    assert human.returncode == 0
    assert "Subject:  Reset" in human.stdout and "Reset it: https://example.com/reset" in human.stdout
    assert cli("show", "latest", "--text").stdout.startswith("Reset it:")
    assert cli("show", "latest", "--html").stdout.startswith("<p><a href=")
    assert "Content-Type: multipart/alternative" in cli("show", "latest", "--headers").stdout
    data = json.loads(cli("show", "latest", "--json").stdout)
    assert data["subject"] == "Reset" and data["attachments"] == []
    assert run_bytes("show", data["id"], "--raw", env=env).stdout == HTML


def test_show_a_missing_message_exits_1(cli: Run, smtp_address: tuple[str, int]) -> None:
    result = cli("show", "latest")
    assert result.returncode == 1 and "no message 'latest'" in result.stderr
    send(smtp_address, message("plain only"))
    no_html = cli("show", "latest", "--html")
    assert no_html.returncode == 1 and "has no html body" in no_html.stderr


def test_links_prints_each_link_once_in_order(cli: Run, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, HTML)
    result = cli("links", "latest")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "https://example.com/reset?token=abc&u=1",
        "https://example.com/help",
        "mailto:help@example.com",
        "https://example.com/faq",
    ]
    assert json.loads(cli("links", "latest", "--json").stdout)["links"][0].endswith("u=1")


def test_clear_deletes_matches_or_everything(cli: Run, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, message("keep"), message("drop"), message("drop too"))
    assert cli("clear", "subject:drop").stdout.strip() == "deleted 2 messages"
    assert [m["subject"] for m in json.loads(cli("ls", "--json").stdout)["messages"]] == ["keep"]
    assert json.loads(cli("clear", "--json").stdout)["deleted"] == 1
    assert cli("ls").stdout == ""


def test_wait_returns_when_the_messages_arrive(
    cli: Run, server: MailServer, smtp_address: tuple[str, int]
) -> None:
    def later() -> None:
        deadline = time.monotonic() + 60
        while server.service.subscribers == 0 and time.monotonic() < deadline:  # the long poll listens
            time.sleep(0.02)
        send(smtp_address, message("Welcome", to="ann@example.com"), message("Welcome", to="bob@example.com"))

    sender = threading.Thread(target=later)
    sender.start()
    try:
        result = cli("wait", "subject:welcome", "--count", "2", "--timeout", "60", "--json")
    finally:
        sender.join()
    assert result.returncode == 0, result.stderr
    assert {m["to"][0]["address"] for m in json.loads(result.stdout)["messages"]} == {
        "ann@example.com",
        "bob@example.com",
    }


def test_wait_times_out_with_exit_1_listing_what_arrived(cli: Run, smtp_address: tuple[str, int]) -> None:
    send(smtp_address, message("Welcome", to="bob@example.com"), message("Receipt"))
    result = cli("wait", "subject:welcome", "to:ann", "--timeout", "1")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "timed out after 1s: 0 of 1 messages matched 'subject:welcome to:ann'"
    assert lines[1] == "The server holds 2, newest first:"
    assert lines[2].endswith("-> ann@example.com  Receipt")
    assert lines[3].endswith("-> bob@example.com  Welcome")


def test_wait_json_on_timeout(cli: Run) -> None:
    result = cli("wait", "", "--timeout", "0.2", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["error"] == "timed out" and data["total"] == 0 and data["received"]["total"] == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("wait",), "the following arguments are required: QUERY"),
        (("wait", "x", "--count", "0"), "must be at least 1"),
        (("wait", "x", "--timeout", "soon"), "expected a number of seconds"),
        (("ls", "before:someday"), "bad date 'someday'"),
        (("ls", "--limit", "-1"), "must not be negative"),
        (("show",), "the following arguments are required: ID"),
        (("show", "latest", "--text", "--raw"), "not allowed with argument"),
        (("links",), "required: ID"),
        (("clear", "nosuchfield:x"), "nosuchfield"),
        (("ls", "--bogus"), "unrecognized arguments: --bogus"),
        (("ls", "--url", "ftp://x"), "expected an http:// or https:// URL"),
        (("ls", "--user", "nocolon"), "--user must be USER:PASS"),
    ],
)
def test_bad_usage_exits_2(cli: Run, args: tuple[str, ...], fragment: str) -> None:
    result = cli(*args)
    assert result.returncode == 2, result
    assert fragment in result.stderr


def test_an_unreachable_server_exits_3() -> None:
    result = run("ls", "--url", "http://127.0.0.1:9")
    assert result.returncode == 3
    assert "cannot reach mailtrap-lite at http://127.0.0.1:9" in result.stderr


def test_a_reader_that_stops_early_is_no_error(env: dict[str, str], smtp_address: tuple[str, int]) -> None:
    send(smtp_address, *(message(f"n{number}") for number in range(300)))
    command = f"{shlex.quote(sys.executable)} -m mailtrap_lite ls --limit 0 | head -1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and result.stderr == ""
