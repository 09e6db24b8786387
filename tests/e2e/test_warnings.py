"""Protocol warnings, end to end: each problem sent over SMTP shows on the message and is searchable."""

from __future__ import annotations

import smtplib

import httpx
import pytest

from tests.e2e.helpers import simple_message

HEAD = b"From: app@example.com\r\nTo: ann@example.com\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
CLEAN = HEAD + b"Message-ID: <clean@example.com>\r\nSubject: clean\r\n\r\nAll fine.\r\n"
RELATED = (
    b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=B\r\n\r\n"
    b"--B\r\nContent-Type: text/html\r\n\r\n<img src=cid:logo><img src=cid:logo>\r\n"
    b"--B\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n\r\nAAAA\r\n"
    b"--B\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n\r\nBBBB\r\n--B--\r\n"
)

# warning code -> the message bytes that earn it (everything else about them is clean)
CASES: dict[str, bytes] = {
    "bare-lf": HEAD + b"Message-ID: <1@x>\r\nSubject: bare lf\r\n\r\none\ntwo\r\n",
    "bare-cr": HEAD + b"Message-ID: <2@x>\r\nSubject: bare cr\r\n\r\none\rtwo\r\n",
    "long-line": HEAD + b"Message-ID: <3@x>\r\nSubject: long line\r\n\r\n" + b"x" * 1200 + b"\r\n",
    "8bit-without-8bitmime": HEAD + b"Message-ID: <4@x>\r\nSubject: eight bit\r\n\r\ncaf\xc3\xa9\r\n",
    "missing-date": b"From: app@example.com\r\nMessage-ID: <5@x>\r\nSubject: no date\r\n\r\nx\r\n",
    "missing-message-id": HEAD + b"Subject: no id\r\n\r\nx\r\n",
    "bcc-header": HEAD + b"Message-ID: <7@x>\r\nBcc: secret@example.com\r\nSubject: bcc\r\n\r\nx\r\n",
    "duplicate-content-id": HEAD + b"Message-ID: <8@x>\r\nSubject: cids\r\n" + RELATED,
}


def deliver(address: tuple[str, int], raw: bytes, mail_options: tuple[str, ...] = ()) -> str:
    with smtplib.SMTP(*address, timeout=30) as client:
        client.ehlo("x")
        assert client.mail("app@example.com", list(mail_options))[0] == 250
        assert client.rcpt("ann@example.com")[0] == 250
        code, text = client.data(raw)  # smtplib sends bytes as they are: bare LF/CR survive
    assert code == 250, text
    return text.rsplit(b" ", 1)[1].decode()


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_warning_is_shown_and_searchable(
    code: str, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    clean_id = deliver(smtp_address, CLEAN)
    message_id = deliver(smtp_address, CASES[code])
    summary = api.get(f"/api/messages/{message_id}").json()
    assert [w["code"] for w in summary["warnings"]] == [code], summary["warnings"]
    assert summary["warnings"][0]["message"]
    assert api.get(f"/api/messages/{clean_id}").json()["warnings"] == []
    for query in (f"warning:{code}", "has:warning"):
        found = api.get("/api/messages", params={"q": query}).json()
        assert [m["id"] for m in found["messages"]] == [message_id], query
    listed = api.get("/api/messages", params={"q": f"-warning:{code}"}).json()
    assert [m["id"] for m in listed["messages"]] == [clean_id]


def test_declared_8bitmime_and_smtputf8_are_not_warned(
    smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    message = simple_message(subject="Grüße", to="ñandú@exämple.com", body="Ça va très bien ✓\n")
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        refused = client.sendmail(
            "jösé@exämple.com",
            ["ñandú@exämple.com"],
            message.as_bytes(),
            mail_options=["SMTPUTF8", "BODY=8BITMIME"],
        )
    assert refused == {}
    found = api.get("/api/messages", params={"q": "rcpt:ñandú"}).json()
    assert found["total"] == 1
    summary = found["messages"][0]
    assert summary["subject"] == "Grüße"
    assert summary["envelope"]["mail_from"] == "jösé@exämple.com"
    assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(summary["envelope"]["mail_options"])
    full = api.get(f"/api/messages/{summary['id']}").json()
    assert full["warnings"] == []
    assert "très bien ✓" in full["text"]
