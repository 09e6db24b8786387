"""The pytest plugin's ``msg.release(to=[...])`` and its assertions, in-process and over HTTP."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.client import APIError, MailtrapClient
from mailtrap_lite.testing.backend import Backend
from mailtrap_lite.testing.mailbox import Mailbox, MailtrapAssertionError
from mailtrap_lite.testing.server import MailtrapServer
from mailtrap_lite.testing.thread import LocalBackend
from tests.conftest import free_config
from tests.relay.helpers import RAW, api_of, messages, relaying, running, send, smtp_of, wait_until
from tests.testing.conftest import plugin_args

pytest_plugins = ["pytester"]


@pytest.fixture
def upstream() -> Iterator[MailServer]:
    with running(free_config()) as server:
        yield server


@pytest.fixture
def relay(upstream: MailServer) -> Iterator[MailServer]:
    with running(relaying(upstream, relay_deny=("ceo@*",))) as server:
        yield server


def mailbox_of(server: MailServer, kind: str) -> Mailbox:
    assert server.addresses is not None
    backend: Backend = MailtrapClient(server.addresses.url) if kind == "http" else LocalBackend(server)
    smtp = server.addresses.smtp
    return MailtrapServer(
        smtp.host, smtp.port, backend.url, backend, timeout=10.0, mail_server=server
    ).mailbox()


@pytest.mark.parametrize("kind", ["in-process", "http"])
def test_release_and_its_assertions(relay: MailServer, upstream: MailServer, kind: str) -> None:
    box = mailbox_of(relay, kind)
    send(relay)
    msg = box.wait_for(subject="Release me")
    release = msg.release(to=["me@real.example"]).assert_sent()
    assert (release.to, release.code, release.trigger) == (("me@real.example",), 250, "manual")
    assert "RCPT TO:<me@real.example>" in release.commands
    assert box.wait_for(subject="Release me").releases == (release,)
    with api_of(upstream) as up:
        arrived = wait_until(lambda: messages(up), what="the relayed message")[0]
        assert up.get(f"/api/messages/{arrived['id']}/raw").content.endswith(RAW)
        up.post("/api/faults", json={"stage": "rcpt", "code": 550, "message": "No such user"})
    refused = msg.release().assert_refused(550)
    assert refused.to == ("ann@example.com",)
    with pytest.raises(MailtrapAssertionError, match=r"(?s)expected the release to be sent.*RCPT TO"):
        refused.assert_sent()
    with pytest.raises(MailtrapAssertionError, match="deferred"):
        refused.assert_deferred()
    with pytest.raises(APIError, match=r"ceo@example\.com") as denied:
        msg.release(to=["ceo@example.com"])
    assert denied.value.status == 403


@pytest.mark.parametrize("kind", ["in-process", "http"])
def test_release_without_a_relay_names_the_flag(kind: str) -> None:
    with running(free_config()) as server:
        box = mailbox_of(server, kind)
        send(server)
        with pytest.raises(APIError, match="--relay") as raised:
            box.wait_for(subject="Release me").release()
        assert raised.value.status == 409


def test_a_user_suite_configures_the_relay_with_mailtrap_args(
    pytester: pytest.Pytester, upstream: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.testing.conftest import ROOT

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    host, port = smtp_of(upstream)
    pytester.makeini(f"[pytest]\nmailtrap_args = --relay {host}:{port} --relay-tls none\n")
    pytester.makepyfile(
        test_suite=textwrap.dedent(
            """
            import smtplib

            def test_release(mailtrap):
                raw = b"Subject: hi\\r\\n\\r\\nhi\\r\\n"
                with smtplib.SMTP(mailtrap.host, mailtrap.port, timeout=30) as client:
                    client.sendmail("app@example.com", ["ann@example.com"], raw)
                msg = mailtrap.wait_for(subject="hi")
                msg.release(to=["me@real.example"]).assert_sent()
            """
        )
    )
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:asyncio")
    result.assert_outcomes(passed=1)
    with api_of(upstream) as up:
        arrived = wait_until(lambda: messages(up), what="the release of the inner suite")[0]
        assert arrived["envelope"]["recipients"][0]["address"] == "me@real.example"
