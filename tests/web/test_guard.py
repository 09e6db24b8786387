"""The guard's policy as plain functions: no server, no sockets."""

from __future__ import annotations

import socket

import pytest

from mailtrap_lite.config import HostPort, build_config
from mailtrap_lite.errors import ConfigError
from mailtrap_lite.web.guard import (
    MISDIRECTED,
    WEBSOCKET_REFUSED,
    Policy,
    host_of,
    is_json,
    own_origin,
    refusal,
)
from tests.conftest import free_config

DEFAULT = Policy.from_config(free_config())
PROXIED = Policy.from_config(
    free_config(trusted_host=("mailtrap",), trusted_origin=("https://mail.example.com",))
)


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("127.0.0.1:8025", "127.0.0.1"),
        ("LOCALHOST:8025", "localhost"),
        ("[::1]:8025", "::1"),
        ("mail.example.com.", "mail.example.com"),
        ("127.0.0.1:99999", None),
        ("evil@127.0.0.1", None),
        ("127.0.0.1/x", None),
        ("", None),
        ("a b", None),
    ],
)
def test_host_of_a_host_header(header: str, host: str | None) -> None:
    assert host_of(header) == host


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8025",
        "127.8.9.10",
        "localhost:8025",
        "app.localhost:8025",
        "[::1]:8025",
        "192.168.1.20:8025",  # an address names no one else: no rebinding through it
        "[fe80::1]",
        f"{socket.gethostname()}:8025",
    ],
)
def test_loopback_addresses_and_this_machines_name_are_allowed(host: str) -> None:
    assert refusal(DEFAULT, "http", "GET", {"host": host}) is None


@pytest.mark.parametrize(
    "host",
    ["rebind.attacker.example:8025", "localhost.attacker.example", "mailtrap:8025", "127.0.0.1.nip.io"],
)
def test_other_names_are_misdirected(host: str) -> None:
    refused = refusal(DEFAULT, "http", "GET", {"host": host})
    assert refused is not None and refused.status == MISDIRECTED
    assert "--trusted-host" in refused.error and host in refused.error


def test_trusted_hosts_and_the_hosts_of_trusted_origins_are_allowed() -> None:
    for host in ("mailtrap:8025", "mail.example.com", "MAIL.example.com:443"):
        assert refusal(PROXIED, "http", "GET", {"host": host}) is None
    assert refusal(PROXIED, "http", "GET", {"host": "mail.example.org"}) is not None


def test_the_http_host_is_allowed() -> None:
    named = Policy.from_config(free_config(http=HostPort("devbox.internal", 0)))
    assert "devbox.internal" in named.hosts
    anywhere = Policy.from_config(free_config(http=HostPort("0.0.0.0", 0)))
    assert refusal(anywhere, "http", "GET", {"host": "devbox.internal"}) is not None
    assert refusal(anywhere, "http", "GET", {"host": "192.168.1.20:8025"}) is None


def test_a_request_without_host_has_nothing_to_rebind() -> None:
    assert refusal(DEFAULT, "http", "GET", {}) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_state_changing_requests_need_our_own_origin(method: str) -> None:
    host = {"host": "127.0.0.1:8025"}
    assert refusal(DEFAULT, "http", method, {**host, "origin": "http://127.0.0.1:8025"}) is None
    for origin in (
        "http://127.0.0.1:8026",
        "https://127.0.0.1:8025",
        "http://localhost:8025",
        "http://evil.example",
        "null",
        "garbage",
    ):
        refused = refusal(DEFAULT, "http", method, {**host, "origin": origin})
        assert refused is not None and refused.status == 403, origin
        assert "--trusted-origin" in refused.error


def test_default_ports_and_case_do_not_matter() -> None:
    headers = {"host": "Mail.Example.com", "origin": "HTTPS://mail.example.com:443"}
    assert refusal(PROXIED, "https", "POST", headers) is None
    assert own_origin("https", "mail.example.com:443") == "https://mail.example.com"
    assert own_origin("ws", "127.0.0.1:8025") == "http://127.0.0.1:8025"


def test_a_trusted_origin_may_change_state_through_a_proxy() -> None:
    # A TLS-terminating proxy elsewhere: the request reaches us as plain http.
    headers = {"host": "mail.example.com", "origin": "https://mail.example.com"}
    assert refusal(PROXIED, "http", "DELETE", headers) is None
    assert refusal(DEFAULT, "http", "DELETE", {"host": "127.0.0.1", "origin": "https://mail.example.com"})


def test_reads_need_no_origin_check() -> None:
    headers = {"host": "127.0.0.1:8025", "origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    for method in ("GET", "HEAD", "OPTIONS"):
        assert refusal(DEFAULT, "http", method, headers) is None


@pytest.mark.parametrize(
    ("sec_fetch_site", "allowed"),
    [(None, True), ("same-origin", True), ("same-site", False), ("cross-site", False), ("none", False)],
)
def test_a_missing_origin_is_a_program_unless_the_browser_says_otherwise(
    sec_fetch_site: str | None, allowed: bool
) -> None:
    headers = {"host": "127.0.0.1:8025"}
    if sec_fetch_site is not None:
        headers["sec-fetch-site"] = sec_fetch_site
    refused = refusal(DEFAULT, "http", "POST", headers)
    assert (refused is None) == allowed
    if refused is not None:
        assert refused.status == 403 and sec_fetch_site in refused.error


def test_websocket_handshakes_check_origin_against_the_allow_list() -> None:
    own = {"host": "127.0.0.1:8025", "origin": "http://127.0.0.1:8025"}
    assert refusal(DEFAULT, "ws", None, own) is None
    assert refusal(DEFAULT, "ws", None, {"host": "127.0.0.1:8025"}) is None
    foreign = refusal(DEFAULT, "ws", None, {**own, "origin": "http://evil.example"})
    assert foreign is not None and (foreign.status, foreign.error) == (403, WEBSOCKET_REFUSED)
    # Origin equal to Host, as a rebound page sends it: the Host is not ours, so neither is the origin.
    rebound = {"host": "rebind.attacker.example:8025", "origin": "http://rebind.attacker.example:8025"}
    refused = refusal(DEFAULT, "ws", None, rebound)
    assert refused is not None and refused.status == MISDIRECTED


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("text/json", False),
        ("", False),
        (None, False),
    ],
)
def test_json_bodies_need_a_json_media_type(content_type: str | None, expected: bool) -> None:
    assert is_json(content_type) is expected


def test_the_options_come_from_flags_and_the_environment() -> None:
    config = build_config(
        {"trusted_host": ["Mail.Example.com"]},
        environ={
            "MAILTRAP_LITE_TRUSTED_HOST": "ignored.example",
            "MAILTRAP_LITE_TRUSTED_ORIGIN": "https://a.example:443,http://b.example:8080",
        },
    )
    assert config.trusted_host == ("mail.example.com",)
    assert config.trusted_origin == ("https://a.example", "http://b.example:8080")


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"trusted_host": ["http://mail.example.com"]}, "--trusted-host"),
        ({"trusted_host": ["mail.example.com:8025"]}, "--trusted-host"),
        ({"trusted_origin": ["mail.example.com"]}, "--trusted-origin"),
        ({"trusted_origin": ["https://mail.example.com/app"]}, "--trusted-origin"),
        ({"trusted_origin": ["null"]}, "--trusted-origin"),
    ],
)
def test_bad_values_name_the_flag(values: dict[str, list[str]], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        build_config(values, environ={})


def test_a_config_built_in_code_is_checked_too() -> None:
    with pytest.raises(ConfigError):
        Policy.from_config(free_config(trusted_origin=("not an origin",)))
