"""The Mailpit- and MailHog-compatible routes over real sockets, on the memory store and on SQLite: what
their clients rely on beyond the shapes (read on open, bulk changes, ids not stored, bad input)."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.config import Config
from tests.compat.mail import PDF, send_both
from tests.conftest import free_config
from tests.e2e.helpers import serving

LOGO = b"\\x89PNG fake"


def send_inline_image(smtp_address: tuple[str, int]) -> None:
    message = EmailMessage()
    message["From"] = "shop@app.example"
    message["To"] = "ann@example.com"
    message["Subject"] = "Logo"
    message.set_content("see the logo")
    message.add_alternative('<p><img src="cid:logo@app"></p>', subtype="html")
    html = message.get_payload()[1]  # type: ignore[index]
    html.add_related(LOGO, "image", "png", cid="<logo@app>")
    with smtplib.SMTP(*smtp_address, timeout=30) as client:
        client.send_message(message)


@pytest.fixture(params=["memory", "sqlite"])
def server_config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    return free_config(db=tmp_path / "mail.db") if request.param == "sqlite" else free_config()


def ids(api: httpx.Client, query: str | None = None) -> list[str]:
    found = api.get("/api/v1/search", params={"query": query}) if query else api.get("/api/v1/messages")
    assert found.status_code == 200, found.text
    return [message["ID"] for message in found.json()["messages"]]


def test_mailpit_reads_marks_tags_and_deletes(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    send_both(smtp_address)
    reset, welcome = ids(api)
    listed = api.get("/api/v1/search", params={"query": "is:unread -to:bob"}).json()
    assert (listed["total"], listed["unread"], listed["messages_count"], listed["messages_unread"]) == (
        2,
        2,
        1,
        1,
    )

    opened = api.get("/api/v1/message/latest").json()
    assert opened["ID"] == reset
    assert api.get(f"/api/messages/{reset}").json()["read"] is True
    assert ids(api, "is:unread") == [welcome]

    # Unknown ids change nothing and are no error, as in Mailpit.
    assert api.put("/api/v1/messages", json={"IDs": ["gone", welcome], "Read": True}).text == "ok"
    assert ids(api, "is:read") == [reset, welcome]
    assert api.put("/api/v1/messages", json={"Search": "subject:welcome"}).text == "ok"
    assert ids(api, "is:unread") == [welcome]

    assert api.put("/api/v1/tags", json={"IDs": [welcome, "gone"], "Tags": ["signup"]}).text == "ok"
    assert api.get(f"/api/messages/{welcome}").json()["tags"] == ["signup"]
    assert ids(api, "tag:signup") == [welcome]

    part = api.get(f"/api/v1/message/{welcome}").json()["Attachments"][0]["PartID"]
    download = api.get(f"/api/v1/message/{welcome}/part/{part}")
    assert download.content == PDF
    assert download.headers["content-security-policy"].startswith("sandbox")

    source = api.get(f"/view/{welcome}.raw")
    assert source.headers["content-type"] == "text/plain; charset=utf-8"
    assert source.content == api.get(f"/api/messages/{welcome}/raw").content
    assert api.get(f"/view/{reset}.html", follow_redirects=True).status_code == 404  # no HTML, as in Mailpit

    deleted = api.request("DELETE", "/api/v1/messages", json={"IDs": [reset, "gone"]})
    assert deleted.text == "ok"
    assert ids(api) == [welcome]
    assert api.delete("/api/v1/search", params={"query": "tag:signup"}).text == "ok"
    assert ids(api) == []


def test_mailhog_paths_and_downloads(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    send_both(smtp_address)
    page = api.get("/api/v2/messages", params={"start": "1", "limit": "1"}).json()
    assert (page["total"], page["count"], page["start"]) == (2, 1, 1)
    welcome = page["items"][0]
    assert welcome["Content"]["Headers"]["Subject"] == ["Welcome Ann"]
    assert welcome["Raw"]["Helo"]  # the client's EHLO name, from the session
    download = api.get(f"/api/v1/messages/{welcome['ID']}/download")
    assert download.headers["content-type"] == "message/rfc822"
    assert download.headers["content-disposition"] == f'attachment; filename="{welcome["ID"]}.eml"'
    assert download.content.decode() == welcome["Raw"]["Data"]
    gone = api.delete(f"/api/v1/messages/{welcome['ID']}")
    assert (gone.status_code, gone.content) == (200, b"")
    assert api.get(f"/api/v1/messages/{welcome['ID']}").status_code == 404
    assert api.get("/api/v2/search", params={"kind": "from", "query": ""}).json()["total"] == 1


def test_view_html_is_the_preview_with_working_part_links_under_a_base_path() -> None:
    with serving(free_config(base_path="/mail")) as server:
        assert server.addresses is not None
        send_inline_image((server.addresses.smtp.host, server.addresses.smtp.port))
        assert server.addresses.url.endswith("/mail")
        with httpx.Client(base_url=server.addresses.url, timeout=30) as api:
            page = api.get("/view/latest.html", follow_redirects=True)
            assert page.status_code == 200
            assert page.headers["content-security-policy"].startswith("sandbox")
            image = re.search(r'src="(parts/[0-9.]+)"', page.text)
            assert image is not None, page.text
            assert api.get(str(page.url.join(image.group(1)))).content == LOGO


def test_send_stores_the_message_in_a_session_of_its_own(api: httpx.Client) -> None:
    body = {
        "From": {"Email": "app@example.com"},
        "To": [{"Email": "ann@example.com"}],
        "Subject": "Over HTTP",
        "HTML": "<p>Hi</p>",
        "Tags": ["api"],
    }
    sent = api.post("/api/v1/send", json=body)
    assert sent.status_code == 200, sent.text
    message = api.get(f"/api/messages/{sent.json()['ID']}").json()
    assert (message["subject"], message["tags"], message["html"]) == ("Over HTTP", ["api"], "<p>Hi</p>\n")
    assert message["envelope"]["mail_from"] == "app@example.com"
    session = api.get(f"/api/messages/{message['id']}/session").json()
    assert session["protocol"] == "http"
    assert session["transcript"][0]["line"].startswith("POST /api/v1/send: ")
