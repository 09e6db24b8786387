"""imap-tools, a maintained IMAP client library from PyPI, against the server on loopback."""

from __future__ import annotations

import threading

import httpx
import pytest
from imap_tools import AND, MailBoxUnencrypted, MailMessageFlags

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import Config
from tests.imap.helpers import PDF, imap_address, imap_config, plain, send, with_attachment


@pytest.fixture
def server_config() -> Config:
    return imap_config()


def test_imap_tools_reads_searches_flags_deletes_and_idles(server: MailServer, api: httpx.Client) -> None:
    raw = with_attachment()
    send(server, raw)
    send(server, plain("Weekly news", "Nothing new this week.\r\n"))
    host, port = imap_address(server)
    with MailBoxUnencrypted(host, port, timeout=30).login("default", "secret", initial_folder="INBOX") as box:
        messages = list(box.fetch(mark_seen=False))
        assert [m.subject for m in messages] == ["Your invoice", "Weekly news"]
        invoice = messages[0]
        assert invoice.from_ == "shop@example.com" and invoice.to == ("ann@example.com",)
        assert [(a.filename, a.payload) for a in invoice.attachments] == [("invoice.pdf", PDF)]
        assert [m.subject for m in box.fetch(AND(subject="weekly"), mark_seen=False)] == ["Weekly news"]
        assert [m.subject for m in box.fetch(AND(text="nothing new"), mark_seen=False)] == ["Weekly news"]

        box.flag(invoice.uid, MailMessageFlags.SEEN, True)
        assert [m.subject for m in box.fetch(AND(seen=True), mark_seen=False)] == ["Your invoice"]
        box.delete(messages[1].uid)
        assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["Your invoice"]
        assert api.get("/api/messages").json()["messages"][0]["read"] is True

        with box.idle as idle:
            threading.Timer(0.2, send, (server, plain("Arrived in IDLE"))).start()
            responses = idle.poll(timeout=30)
        assert any(b"EXISTS" in response for response in responses)
        assert [m.subject for m in box.fetch(AND(seen=False), mark_seen=False)] == ["Arrived in IDLE"]
