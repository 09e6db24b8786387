"""Mailbox routing as plain functions over arrivals: every rule kind, precedence, names, bad rules."""

from __future__ import annotations

import pytest

from mailtrap_lite.mailboxes import (
    MailboxError,
    Routing,
    mailbox_name,
    mailboxes_of,
    name_for_user,
    only_mailbox,
    parse_route,
    parse_rule,
)
from mailtrap_lite.model import Arrival, AuthInfo, Envelope, Recipient, Session, utcnow
from mailtrap_lite.search import parse_query


def arrival(
    *,
    rcpt: tuple[str, ...] = ("ann@example.com",),
    refused: tuple[str, ...] = (),
    user: str | None = None,
    headers: str = "",
) -> Arrival:
    recipients = tuple(Recipient(a, 250, "2.1.5 Ok") for a in rcpt)
    recipients += tuple(Recipient(a, 550, "5.1.1 No") for a in refused)
    auth = AuthInfo("PLAIN", user) if user is not None else None
    session = Session(id="s1", peer="127.0.0.1:1", started_at=utcnow(), auth=auth)
    raw = f"From: app@example.com\r\nSubject: hi\r\n{headers}\r\nbody\r\n".encode()
    return Arrival("m1", raw, Envelope("app@example.com", recipients=recipients), session)


def routing(*routes: str, per_user: bool = False) -> Routing:
    return Routing(tuple(parse_route(r) for r in routes), per_user)


def test_without_rules_everything_is_in_default() -> None:
    assert Routing().route(arrival(user="ann")) == ("default", "default")


def test_rcpt_rule_matches_any_accepted_recipient_case_insensitively() -> None:
    shop = routing("shop=rcpt:*@shop.example")
    assert shop.route(arrival(rcpt=("a@x.example", "Bob@SHOP.example"))) == ("shop", "rcpt:*@shop.example")
    # A refused recipient is no recipient of the message.
    assert shop.route(arrival(refused=("bob@shop.example",))) == ("default", "default")


def test_auth_rule_matches_the_username() -> None:
    worker = routing("worker=auth:worker-*")
    assert worker.route(arrival(user="worker-7")) == ("worker", "auth:worker-*")
    assert worker.route(arrival(user="web")) == ("default", "default")
    assert worker.route(arrival()) == ("default", "default")


def test_header_rule_matches_any_value_of_the_header() -> None:
    billing = routing("billing=header:X-App:billing*")
    assert billing.route(arrival(headers="X-App: web\r\nx-app:  Billing-EU\r\n")) == (
        "billing",
        "header:X-App:billing*",
    )
    assert billing.route(arrival(headers="X-Other: billing\r\n")) == ("default", "default")


def test_the_first_mailbox_with_a_matching_rule_wins() -> None:
    both = routing("first=auth:nobody,rcpt:*@a.example", "second=rcpt:ann@*")
    assert both.route(arrival(rcpt=("ann@a.example",))) == ("first", "rcpt:*@a.example")
    assert both.route(arrival(rcpt=("ann@b.example",))) == ("second", "rcpt:ann@*")


def test_rules_then_the_mailbox_header_then_per_user_then_default() -> None:
    rules = routing("shop=rcpt:*@shop.example", per_user=True)
    header = "X-Mailtrap-Mailbox: Test-42\r\n"
    assert rules.route(arrival(rcpt=("a@shop.example",), user="ann", headers=header))[0] == "shop"
    assert rules.route(arrival(user="ann", headers=header)) == ("test-42", "header:X-Mailtrap-Mailbox")
    assert rules.route(arrival(user="Ann@Team.example")) == ("ann-team.example", "per-user")
    assert rules.route(arrival()) == ("default", "default")
    # A header naming no valid mailbox is ignored.
    assert rules.route(arrival(headers="X-Mailtrap-Mailbox: ../etc\r\n")) == ("default", "default")


def test_per_user_needs_the_flag() -> None:
    assert Routing().route(arrival(user="ann")) == ("default", "default")


@pytest.mark.parametrize(
    ("username", "expected"),
    [("ann", "ann"), ("Ann@Example.com", "ann-example.com"), ("--x", "x"), ("@@@", None), ("é", None)],
)
def test_name_for_user(username: str, expected: str | None) -> None:
    assert name_for_user(username) == expected


@pytest.mark.parametrize("name", ["", "-shop", "a b", "x" * 65, "shop/1", "ünï"])
def test_bad_mailbox_names(name: str) -> None:
    with pytest.raises(MailboxError, match="bad mailbox name"):
        mailbox_name(name)


def test_names_are_case_insensitive() -> None:
    assert mailbox_name(" Shop.EU ") == "shop.eu"
    assert parse_route("Shop=rcpt:*").mailbox == "shop"


@pytest.mark.parametrize(
    "text", ["rcpt", "to:x", "rcpt:", "header:X-App", "header::x", "header:Bad Name:x", "rcpt:a\x00b"]
)
def test_bad_rules(text: str) -> None:
    with pytest.raises(MailboxError, match="bad rule"):
        parse_rule(text)


@pytest.mark.parametrize("text", ["shop", "shop=", "=rcpt:*"])
def test_bad_routes(text: str) -> None:
    with pytest.raises(MailboxError):
        parse_route(text)


def test_rule_text_is_what_the_summary_records() -> None:
    route = parse_route("ops=rcpt:*@ops.example,auth:ops,header:X-Team:ops")
    assert [str(rule) for rule in route.rules] == ["rcpt:*@ops.example", "auth:ops", "header:X-Team:ops"]


def test_configured_names_start_with_default() -> None:
    assert routing("shop=rcpt:a", "ops=auth:b", "shop=auth:c").names == ("default", "shop", "ops")


def test_which_mailboxes_a_query_confines_to() -> None:
    assert only_mailbox(parse_query("mailbox:Shop")) == "shop"
    assert only_mailbox(parse_query("mailbox:shop subject:x")) is None
    assert only_mailbox(parse_query("-mailbox:shop")) is None
    assert only_mailbox(parse_query("mailbox:a,b")) is None
    assert mailboxes_of(parse_query("mailbox:a,b subject:x mailbox:b,c")) == {"b"}
    assert mailboxes_of(parse_query("subject:x")) is None
    assert mailboxes_of(None) is None
