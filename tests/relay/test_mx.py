"""--relay mx against a DNS server on loopback: MX by preference, the A/AAAA fallback, null MX, NXDOMAIN."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailtrap_lite.app import MailServer
from mailtrap_lite.config import RelayTarget
from tests.conftest import free_config
from tests.relay.helpers import (
    MX,
    A,
    DNSServer,
    api_of,
    latest_id,
    messages,
    running,
    send,
    smtp_of,
    wait_until,
)


@pytest.fixture
def upstream() -> Iterator[MailServer]:
    with running(free_config()) as server:
        yield server


@pytest.fixture
def dns() -> Iterator[DNSServer]:
    records = {
        # The preferred host listens nowhere (127.0.0.2): the relay must go on to the next one.
        ("corp.test", "MX"): [MX("mx2.corp.test", 20), MX("mx1.corp.test", 10)],
        ("mx1.corp.test", "A"): [A("127.0.0.2")],
        ("mx2.corp.test", "A"): [A("127.0.0.1")],
        ("bare.test", "A"): [A("127.0.0.1")],  # no MX records: the domain is its own mail host
        ("nullmx.test", "MX"): [MX(".", 0)],
    }
    with DNSServer(records) as server:
        yield server


def release_to(upstream: MailServer, dns: DNSServer, to: list[str]) -> tuple[int, dict[str, object]]:
    port = smtp_of(upstream)[1]
    config = free_config(relay=RelayTarget(None, port), relay_dns=dns.address, relay_tls="none")
    with running(config) as relay, api_of(relay) as api:
        send(relay)
        response = api.post(f"/api/messages/{latest_id(api)}/release", json={"to": to})
        return response.status_code, response.json()


def test_mx_hosts_are_tried_by_preference(upstream: MailServer, dns: DNSServer) -> None:
    status, record = release_to(upstream, dns, ["ann@corp.test"])
    assert status == 200, record
    port = smtp_of(upstream)[1]
    assert record["relay"] == f"mx2.corp.test:{port}"
    notes = [line["line"] for line in record["transcript"]]  # type: ignore[attr-defined]
    assert notes[0].startswith(f"<cannot connect to mx1.corp.test:{port} (127.0.0.2)")
    assert ("corp.test", "MX") in dns.queries
    with api_of(upstream) as up:
        arrived = wait_until(lambda: messages(up), what="the relayed message")[0]
        assert arrived["envelope"]["recipients"][0]["address"] == "ann@corp.test"


def test_a_domain_without_mx_is_its_own_mail_host(upstream: MailServer, dns: DNSServer) -> None:
    status, record = release_to(upstream, dns, ["bob@bare.test"])
    assert status == 200, record
    assert record["relay"] == f"bare.test:{smtp_of(upstream)[1]}"
    assert dns.queries.index(("bare.test", "MX")) < dns.queries.index(("bare.test", "A"))


@pytest.mark.parametrize(
    ("to", "reason"), [("x@nullmx.test", "null MX"), ("x@nowhere.test", "does not exist")]
)
def test_no_route_is_refused_without_connecting(
    upstream: MailServer, dns: DNSServer, to: str, reason: str
) -> None:
    status, record = release_to(upstream, dns, [to])
    assert status == 502
    assert record["result"] == "refused" and record["code"] is None
    assert reason in str(record["error"])
    assert record["transcript"] == []
    with api_of(upstream) as up:
        assert up.get("/api/sessions").json()["total"] == 0


def test_one_domain_per_release_with_mx(upstream: MailServer, dns: DNSServer) -> None:
    status, record = release_to(upstream, dns, ["a@corp.test", "b@bare.test"])
    assert status == 400
    assert "one domain" in str(record["error"])
