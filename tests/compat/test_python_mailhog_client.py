"""The PyPI ``mailhog`` client, unmodified, against a real server: list, search, read, delete."""

from __future__ import annotations

import httpx
import mailhog  # type: ignore[import-untyped]
import requests

from mailtrap_lite.app import MailServer
from tests.compat.mail import send_both


def client(server: MailServer) -> mailhog.Mailhog:
    assert server.addresses is not None
    return mailhog.Mailhog(server.addresses.http.host, server.addresses.http.port)


def test_list_search_read_delete(
    server: MailServer, smtp_address: tuple[str, int], api: httpx.Client
) -> None:
    send_both(smtp_address)
    hog = client(server)

    listed = hog.messages()
    assert (listed.total, listed.count, listed.start) == (2, 2, 0)
    newest, oldest = listed.items
    assert newest.get_subject() == "Reset your password"
    assert oldest.get_sender() == "bounce@app.example"
    assert oldest.get_recipients() == ["ann@example.com"]
    assert "confirm at https://app.example/confirm/ann" in oldest.content.body
    assert [part.headers["Content-Type"] for part in oldest.mime.parts][1].startswith("['application/pdf")

    assert [m.get_subject() for m in hog.messages(start=1, limit=1).items] == ["Welcome Ann"]
    assert [m.id for m in hog.search("bob@example.com", kind="to").items] == [newest.id]
    assert [m.id for m in hog.search("confirm/ann").items] == [oldest.id]
    assert hog.search("bounce@app.example", kind="from").total == 2
    assert hog.search("nobody@example.com", kind="to").items == []

    hog.delete(newest)
    assert [m.id for m in hog.messages().items] == [oldest.id]
    hog.delete_all()
    assert hog.messages().total == 0
    assert api.get("/api/messages").json()["total"] == 0


def test_errors_reach_the_client_as_http_errors(server: MailServer) -> None:
    hog = client(server)
    try:
        hog.search("x", kind="subject")
    except requests.HTTPError as error:
        assert error.response.status_code == 400
        assert "kind must be one of" in error.response.json()["error"]
    else:
        raise AssertionError("an unknown kind was accepted")
