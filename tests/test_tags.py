"""Tag normalisation and the automatic tags, as plain functions."""

from __future__ import annotations

import pytest

from mailtrap_lite.config import build_config
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.model import Arrival, AuthInfo, Envelope, Recipient, Session, utcnow
from mailtrap_lite.search import QueryError, parse_query
from mailtrap_lite.tags import (
    MAX_TAG_CHARS,
    MAX_TAGS,
    TagError,
    Tagging,
    TagRule,
    header_tags,
    merge,
    normalize,
    normalize_all,
    parse_rule,
    plus_tags,
    tag_stored,
    valid_only,
)
from tests.store.helpers import new_message, new_session


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("signup", "signup"),
        ("  Signup ", "signup"),
        ("Order  Shipped", "order shipped"),
        ("ÉCOLE", "école"),
        ("ci/nightly", "ci/nightly"),
        ("x" * MAX_TAG_CHARS, "x" * MAX_TAG_CHARS),
        ("a\u00a0b", "a b"),  # a no-break space is whitespace like any other
    ],
)
def test_tags_are_trimmed_collapsed_and_lower_cased(given: str, stored: str) -> None:
    assert normalize(given) == stored


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("a,b", "cannot hold a comma"),
        ("a\x00b", "control characters"),
        ("tab\there", "control characters"),
        ("line\nbreak", "control characters"),
        ("del\x7f", "control characters"),
        ("c1\x85", "control characters"),
        ("sep\u2028", "control characters"),
        ("x" * (MAX_TAG_CHARS + 1), f"at most {MAX_TAG_CHARS}"),
        ("x" * 10_000, "10000 characters"),
    ],
)
def test_bad_tags_are_refused_naming_the_tag(given: str, why: str) -> None:
    with pytest.raises(TagError, match=why) as raised:
        normalize(given)
    message = str(raised.value)
    assert message.startswith("bad tag ")
    assert repr(given[:10])[:-1] in message  # named, as Python would spell it (escapes visible)
    assert len(message) < 200  # a 10,000-character tag is named, not echoed
    assert isinstance(raised.value, BadRequest)


def test_normalize_all_keeps_the_first_of_each_tag_and_caps_the_count() -> None:
    assert normalize_all(["B", "a", " b", "A "]) == ("b", "a")
    assert normalize_all([]) == ()
    assert len(normalize_all([f"t{n}" for n in range(MAX_TAGS)])) == MAX_TAGS
    with pytest.raises(TagError, match=f"at most {MAX_TAGS} tags"):
        normalize_all([f"t{n}" for n in range(MAX_TAGS + 1)])
    with pytest.raises(TagError, match="'a,b'"):
        normalize_all(["ok", "a,b"])


def test_valid_only_leaves_out_what_is_not_a_tag() -> None:
    assert valid_only([" Ok ", "", "a,b", "x\x01", "y" * 100, "Fine"]) == ["ok", "fine"]


def test_merge_removes_then_adds_what_is_missing_comparing_as_search_does() -> None:
    assert merge(("a", "b"), add=("c",)) == ("a", "b", "c")
    assert merge(("a", "b"), add=("B",)) == ("a", "b")
    assert merge(("a", "b"), remove=("A",)) == ("b",)
    assert merge(("old", "x"), add=("new",), remove=("old",)) == ("x", "new")
    # Renaming onto a tag a message has already merges the two.
    assert merge(("old", "new"), add=("new",), remove=("old",)) == ("new",)
    # A tag both removed and added stays (the add comes after the removal).
    assert merge(("a",), add=("a",), remove=("a",)) == ("a",)
    assert merge(("a", "A", " a ")) == ("a",)
    assert len(merge((), add=tuple(f"t{n}" for n in range(MAX_TAGS + 5)))) == MAX_TAGS


def test_header_tags_read_every_x_tags_header_split_on_commas() -> None:
    raw = b"Subject: hi\r\nX-Tags: Alpha, beta\r\nx-tags:gamma\r\n\r\nX-Tags: not-a-header\r\n"
    assert header_tags(raw) == ["Alpha", " beta", "gamma"]
    assert header_tags(b"Subject: no tags\r\n\r\nbody") == []
    folded = b"X-Tags: one,\r\n two\r\n\r\n"
    assert [t.strip() for t in header_tags(folded)] == ["one", "two"]
    encoded = b"X-Tags: =?utf-8?q?caf=C3=A9?=, plain\r\n\r\n"
    assert valid_only(header_tags(encoded)) == ["café", "plain"]


def test_plus_tags_are_the_sub_addresses_of_the_recipients() -> None:
    found = plus_tags(["ann+signup@example.com", "bob@example.com", "c+a+b@x", "+lead@x", "d+@x"])
    assert found == ["signup", "a+b"]


def test_rules_parse_as_name_and_query() -> None:
    rule = parse_rule("Welcome=subject:welcome from:shop")
    assert rule == TagRule("welcome", parse_query("subject:welcome from:shop"))
    assert str(rule) == "welcome=subject:welcome from:shop"
    assert parse_rule("x=subject:a=b").query == parse_query("subject:a=b")
    for bad in ("welcome", "welcome=", "welcome=  ", "=subject:x"):
        with pytest.raises(ValueError, match=r"NAME=QUERY|cannot be empty"):
            parse_rule(bad)
    with pytest.raises(TagError):
        parse_rule("a,b=subject:x")
    with pytest.raises(QueryError):
        parse_rule("x=nosuchfield:y")


def test_tag_stored_adds_the_arrival_tags_then_the_matching_rules() -> None:
    stored = new_message(new_session(), 1, subject="Welcome aboard", body="Click to verify")
    rules = (
        TagRule("welcome", parse_query("subject:welcome")),
        TagRule("verify", parse_query("verify")),
        TagRule("never", parse_query("subject:invoice")),
        TagRule("flagged", parse_query("tag:vip")),  # rules see the tags decided before them
    )
    tagged = tag_stored(stored, ("vip", "welcome"), rules)
    assert tagged.summary.tags == ("vip", "welcome", "verify", "flagged")
    assert tagged.raw == stored.raw and tagged.body_text == stored.body_text
    assert tag_stored(stored, (), ()) is stored


def _arrival(raw: bytes, recipients: tuple[str, ...], user: str | None) -> Arrival:
    session = Session(
        id="s1",
        peer="127.0.0.1:1",
        started_at=utcnow(),
        auth=AuthInfo("PLAIN", user) if user else None,
    )
    envelope = Envelope("app@x", recipients=tuple(Recipient(a, 250, "OK") for a in recipients))
    return Arrival("m1", raw, envelope, session)


def test_arrival_tags_come_from_the_header_always_and_from_plus_and_auth_when_asked() -> None:
    raw = b"X-Tags: Urgent, , a,b\r\nSubject: x\r\n\r\nbody\r\n"
    arrival = _arrival(raw, ("ann+Signup@x", "bob+urgent@x"), "CI-Bot")
    assert Tagging().arrival_tags(arrival) == ("urgent", "a", "b")
    assert Tagging(from_plus=True).arrival_tags(arrival) == ("urgent", "a", "b", "signup")
    assert Tagging(from_auth=True).arrival_tags(arrival) == ("urgent", "a", "b", "ci-bot")
    plain = _arrival(b"Subject: x\r\n\r\n", ("ann@x",), None)
    assert Tagging(from_plus=True, from_auth=True).arrival_tags(plain) == ()
    # A username that is no valid tag is left out; the message still arrives.
    assert Tagging(from_auth=True).arrival_tags(_arrival(b"\r\n", (), "a,b")) == ()


def test_rules_come_from_flags_or_from_the_variable_separated_by_semicolons() -> None:
    given = build_config({"tag": ["a=from:x,y", "b=subject:z"]}, environ={})
    from_env = build_config({}, environ={"MAILTRAP_LITE_TAG": "a=from:x,y; b=subject:z"})
    assert (
        [str(rule) for rule in given.tag]
        == [str(rule) for rule in from_env.tag]
        == [
            "a=from:x,y",
            "b=subject:z",
        ]
    )
