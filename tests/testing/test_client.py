"""The HTTP client against a real server: errors, credentials in the URL, and the public testing names."""

from __future__ import annotations

import socket

import pytest

import mailtrap_lite.testing
from mailtrap_lite.app import MailServer
from mailtrap_lite.client import APIError, MailtrapClient
from tests.conftest import free_config


def test_errors_carry_status_and_the_servers_message(server: MailServer) -> None:
    assert server.addresses is not None
    client = MailtrapClient(server.addresses.url + "/")
    assert client.url == server.addresses.url
    with pytest.raises(APIError) as raised:
        client.message("nope")
    assert (raised.value.status, raised.value.message) == (404, "no message 'nope'")
    with pytest.raises(APIError) as raised:
        client.search("subject:")
    assert raised.value.status == 400
    page, enough = client.wait("subject:never", 1, 0.1)
    assert (page["total"], enough) == (0, False)


def test_an_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(APIError, match=rf"cannot reach mailtrap-lite at http://127.0.0.1:{port}") as raised:
        MailtrapClient(f"http://127.0.0.1:{port}", timeout=5).stats()
    assert raised.value.status == 0


def test_not_a_url() -> None:
    with pytest.raises(ValueError, match="expected an http:// or https:// URL"):
        MailtrapClient("localhost:8025")


@pytest.mark.parametrize("server_config", [free_config(ui_auth=("ann", "s3cret"))])
def test_credentials_in_the_url(server: MailServer) -> None:
    assert server.addresses is not None
    url = server.addresses.url
    with pytest.raises(APIError) as raised:
        MailtrapClient(url).stats()
    assert raised.value.status == 401
    authorised = MailtrapClient(url.replace("http://", "http://ann:s3cret@"))
    assert authorised.url == url and "s3cret" not in repr(authorised)
    assert authorised.stats()["messages"] == 0


def test_the_public_testing_names_are_pinned() -> None:
    assert mailtrap_lite.testing.__all__ == [
        "APIError",
        "Attachment",
        "Filters",
        "Mailbox",
        "MailtrapAssertionError",
        "MailtrapClient",
        "MailtrapServer",
        "Message",
        "Messages",
        "Release",
        "SMTPSession",
    ]
    for name in mailtrap_lite.testing.__all__:
        assert getattr(mailtrap_lite.testing, name).__name__ == name
