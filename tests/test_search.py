from __future__ import annotations

import random
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.model import Address, Envelope, MessageSummary, MessageWarning, Recipient
from mailtrap_lite.search import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    SEARCH_COLUMNS_DDL,
    Query,
    QueryError,
    Term,
    compile,
    flag_row_values,
    matches,
    parse_query,
    required_tags,
    sql_row_values,
    to_sql,
    with_mailbox,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DAY = datetime(2026, 11, 26, tzinfo=UTC)
SENDER = Address("Sender", "sender@example.com")
ANN = Address("Ann", "ann@example.com")


def summary(
    *,
    id_: str = "m1",
    mailbox: str = "default",
    received_at: datetime = NOW,
    size: int = 1000,
    mail_from: str = "sender@example.com",
    rcpts: tuple[str, ...] = ("ann@example.com",),
    rejected: tuple[str, ...] = (),
    subject: str = "Hello",
    from_: Address | None = SENDER,
    to: tuple[Address, ...] = (ANN,),
    cc: tuple[Address, ...] = (),
    bcc: tuple[Address, ...] = (),
    attachments: int = 0,
    warnings: tuple[str, ...] = (),
    read: bool = False,
    tags: tuple[str, ...] = (),
) -> MessageSummary:
    recipients = tuple(Recipient(a, 250, "OK") for a in rcpts)
    recipients += tuple(Recipient(a, 550, "no such user") for a in rejected)
    return MessageSummary(
        id=id_,
        session_id="s1",
        mailbox=mailbox,
        received_at=received_at,
        size=size,
        envelope=Envelope(mail_from=mail_from, recipients=recipients),
        subject=subject,
        from_=from_,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=(),
        date=None,
        message_id=None,
        snippet="the snippet is not searched",
        attachments=attachments,
        warnings=tuple(MessageWarning(code, code) for code in warnings),
        read=read,
        tags=tags,
    )


def q(text: str) -> Query:
    return parse_query(text, now=NOW)


def hit(text: str, message: MessageSummary, body: str = "") -> bool:
    return matches(q(text), message, body)


# ---- parsing ------------------------------------------------------------------------------------------


def test_empty_queries_have_no_terms_and_keep_their_text() -> None:
    assert not parse_query(None)
    assert parse_query(None).text == ""
    blank = parse_query("  \t ")
    assert not blank
    assert blank.text == "  \t "
    assert q("x")
    assert q("x").text == "x"


def test_free_words_and_phrases_are_lowercased_with_whitespace_collapsed() -> None:
    assert q('Hello "Your   Order"  World').terms == (
        Term(None, "hello"),
        Term(None, "your order"),
        Term(None, "world"),
    )


@pytest.mark.parametrize(
    "field", ["from", "to", "cc", "subject", "rcpt", "mail-from", "mailbox", "tag", "warning"]
)
def test_text_fields_parse_to_their_canonical_name(field: str) -> None:
    assert q(f"{field}:Ann").terms == (Term(field, "ann"),)
    assert q(f'{field.upper()}:"Big  Deal"').terms == (Term(field, "big deal"),)


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("has:attachment", Term("has", "attachment")),
        ("has:Attachments", Term("has", "attachment")),
        ("has:warning", Term("has", "warning")),
        ("is:read", Term("is", "read")),
        ("-is:UNREAD", Term("is", "unread", negated=True)),
        ('has:"attachment"', Term("has", "attachment")),
    ],
)
def test_has_and_is_values_are_canonical(text: str, term: Term) -> None:
    assert q(text).terms == (term,)


def test_negation_applies_to_words_phrases_and_fields() -> None:
    assert q('-spam -"two words" -from:Bob').terms == (
        Term(None, "spam", negated=True),
        Term(None, "two words", negated=True),
        Term("from", "bob", negated=True),
    )


def test_lone_and_double_dashes() -> None:
    assert q("a - b").terms == (Term(None, "a"), Term(None, "-"), Term(None, "b"))
    assert q("--x").terms == (Term(None, "-x", negated=True),)


def test_quotes_support_escapes_and_always_open_a_phrase() -> None:
    assert q(r'"say \"hi\" \\o/"').terms == (Term(None, 'say "hi" \\o/'),)
    assert q('foo"Bar Baz"').terms == (Term(None, "foo"), Term(None, "bar baz"))
    assert q('"a"b').terms == (Term(None, "a"), Term(None, "b"))


@pytest.mark.parametrize("word", ["http://x.com/a", "12:30", "a1:b", ":x", "re2:y", "Mailto://A"])
def test_words_with_a_colon_that_are_not_fields_are_free_words(word: str) -> None:
    assert q(word).terms == (Term(None, word.lower()),)


def test_field_values_may_contain_colons() -> None:
    assert q("subject:re:hello").terms == (Term("subject", "re:hello"),)


# ---- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x foo:bar", "unknown field 'foo' at position 2 (known: after, before, cc, from, has, is, "),
        ("-Re:hello", "unknown field 'Re' at position 0"),
        ("x-y:z", "unknown field 'x-y' at position 0"),
        ("Re:", "unknown field 'Re' at position 0"),
        ('"abc', "unterminated quote at position 0"),
        ('ok subject:"abc', "unterminated quote at position 11"),
        ('a"b', "unterminated quote at position 1"),
        ("from:", "empty value for 'from:' at position 0"),
        ('x -to:"  "', "empty value for 'to:' at position 2"),
        ('a ""', "empty phrase at position 2"),
        ("before:yesterday", "bad date 'yesterday' for 'before:' at position 0 (expected YYYY-MM-DD"),
        ("after:2026-13-01", "bad date '2026-13-01' for 'after:'"),
        ("after:2026-11-26T25:00Z", "bad date '2026-11-26t25:00z' for 'after:'"),
        ("before:5y", "bad date '5y' for 'before:'"),
        ("before:99999999999999w", "bad date '99999999999999w'"),
        ("larger:10x", "bad size '10x' for 'larger:' at position 0 (expected bytes or a unit"),
        ("smaller:-5", "bad size '-5' for 'smaller:'"),
        ("larger:k", "bad size 'k'"),
        ("has:foo", "unknown value 'foo' for 'has:' at position 0 (known: attachment, warning)"),
        (
            "a is:Starred",
            "unknown value 'Starred' for 'is:' at position 2 (known: read, tagged, unread, untagged)",
        ),
    ],
)
def test_malformed_queries_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        q(text)


def test_query_error_is_a_value_error_and_a_bad_request() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        q("foo:bar")
    assert issubclass(QueryError, BadRequest)


# ---- dates and sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26", DAY),
        ("2026-11-26T10:00:00+02:00", datetime(2026, 11, 26, 8, 0, tzinfo=UTC)),
        ("2026-11-26t10:00:00.5z", datetime(2026, 11, 26, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-26T10:00", datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
        ('"2026-11-26 10:00Z"', datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),
        ("2h", NOW - timedelta(hours=2)),
        ("2H", NOW - timedelta(hours=2)),
        ("30m", NOW - timedelta(minutes=30)),
        ("45s", NOW - timedelta(seconds=45)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(weeks=1)),
        ("1.5h", NOW - timedelta(minutes=90)),
    ],
)
def test_dates_parse_to_timestamps(value: str, expected: datetime) -> None:
    (term,) = q(f"before:{value}").terms
    assert term.field == "before"
    assert term.number == expected.timestamp()


def test_a_naive_now_is_utc() -> None:
    naive = parse_query("after:2h", now=NOW.replace(tzinfo=None))
    assert naive == q("after:2h")


def test_relative_dates_default_to_the_current_time() -> None:
    before = datetime.now(UTC).timestamp()
    (term,) = parse_query("after:1h").terms
    after = datetime.now(UTC).timestamp()
    assert term.number is not None
    assert before - 3600 <= term.number <= after - 3600  # read during the call, however long it took


def test_before_is_strict_and_after_includes_the_whole_day() -> None:
    at = {
        "eve": summary(received_at=DAY - timedelta(seconds=1)),
        "midnight": summary(received_at=DAY),
        "late": summary(received_at=DAY + timedelta(hours=23, minutes=59)),
        "next": summary(received_at=DAY + timedelta(days=1)),
    }

    def found(text: str) -> set[str]:
        return {name for name, message in at.items() if hit(text, message)}

    assert found("before:2026-11-26") == {"eve"}
    assert found("after:2026-11-26") == {"midnight", "late", "next"}
    assert found("after:2026-11-26 before:2026-11-27") == {"midnight", "late"}


def test_relative_dates_mean_that_long_ago() -> None:
    an_hour_ago = summary(received_at=NOW - timedelta(hours=1))
    assert hit("after:2h", an_hour_ago)
    assert not hit("before:2h", an_hour_ago)
    assert hit("before:30m", an_hour_ago)
    assert not hit("after:30m", an_hour_ago)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("500", 500),
        ("7b", 7),
        ("10k", 10240),
        ("10KB", 10240),
        ("2mb", 2 * 1024**2),
        ("1.5k", 1536),
        ("3M", 3 * 1024**2),
        ("1g", 1024**3),
        ("1GB", 1024**3),
    ],
)
def test_sizes_parse_to_bytes(value: str, size: int) -> None:
    assert q(f"larger:{value}").terms == (Term("larger", value.lower(), number=float(size)),)


def test_larger_and_smaller_are_strict() -> None:
    exactly = summary(size=10240)
    assert not hit("larger:10k", exactly)
    assert not hit("smaller:10k", exactly)
    assert hit("larger:10239", exactly)
    assert hit("smaller:10241", exactly)


# ---- matching -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({"subject": "Needle in the subject"}, ""),
        ({"from_": Address("Needle Person", "x@y.z")}, ""),
        ({"from_": Address("", "needle@y.z")}, ""),
        ({"to": (Address("", "needle@to.example"),)}, ""),
        ({"cc": (Address("Needle", "c@c.example"),)}, ""),
        ({"bcc": (Address("", "needle@bcc.example"),)}, ""),
        ({"mail_from": "needle@bounce.example"}, ""),
        ({"rcpts": ("needle@rcpt.example",)}, ""),
        ({}, "a NEEDLE in the body"),
    ],
)
def test_free_words_search_subject_addresses_and_body(kwargs: dict[str, Any], body: str) -> None:
    assert hit("needle", summary(**kwargs), body)
    assert not hit("needle", summary(), "no match here")


def test_free_words_do_not_search_snippet_mailbox_tags_or_warnings() -> None:
    message = summary(mailbox="needle", tags=("needle",), warnings=("needle",))
    assert not hit("snippet", message)
    assert not hit("needle", message)


def test_header_fields_match_their_own_header_only() -> None:
    message = summary(
        to=(Address("Ann", "ann@to.example"),),
        cc=(Address("Cid", "cid@cc.example"),),
        bcc=(Address("", "bob@bcc.example"),),
    )
    assert hit("to:ann@to", message)
    assert hit("to:ANN", message)
    assert not hit("to:cid", message)
    assert hit("cc:cc.example", message)
    assert not hit("cc:ann", message)
    assert hit("from:sender", message)
    assert not hit("from:ann", message)
    assert not hit("to:bob", message)


def test_rcpt_and_mail_from_use_the_envelope() -> None:
    message = summary(rcpts=("ann@example.com", "hidden@bcc.example"), rejected=("bounce@example.com",))
    assert hit("rcpt:hidden@bcc", message)
    assert hit("rcpt:ann", message)
    assert not hit("rcpt:bounce", message)
    assert hit("mail-from:sender@", message)
    assert not hit("mail-from:ann", message)


def test_phrases_span_line_breaks_in_the_body_but_not_two_addresses() -> None:
    message = summary(to=(Address("", "a@x.com"), Address("", "b@y.com")))
    assert hit('"your order"', message, "Thanks for\n   YOUR\r\norder!")
    assert not hit('"your order"', message, "yours, order your\nstuff")
    assert hit("to:<a@x.com>", message)
    assert not hit('to:"x.com> <b"', message)


def test_matching_folds_non_ascii_case() -> None:
    assert hit("école", summary(subject="ÉCOLE NATIONALE"))
    assert hit('"straße"', summary(), "In der STRASSE? nein, in der STRAßE")


def test_mailbox_and_tag_match_exactly_ignoring_case() -> None:
    message = summary(mailbox="Alpha", tags=("Urgent", "billing"))
    assert hit("mailbox:alpha", message)
    assert not hit("mailbox:alp", message)
    assert not hit("mailbox:alphabet", message)
    assert hit("tag:urgent", message)
    assert hit("tag:BILLING", message)
    assert not hit("tag:urg", message)
    assert not hit("tag:not-urgent", summary(tags=("urgent",)))
    assert hit("-tag:urgent", summary())


def test_is_tagged_and_untagged() -> None:
    assert q("is:Tagged").terms == (Term("is", "tagged"),)
    assert hit("is:tagged", summary(tags=("urgent",)))
    assert not hit("is:tagged", summary())
    assert hit("is:untagged", summary())
    assert hit("-is:tagged", summary())
    assert not hit("is:untagged", summary(tags=("x",)))
    # A tag that is only whitespace is no tag, for the search as for the stores.
    assert hit("is:untagged", summary(tags=("  ",)))


def test_flag_row_values_are_the_row_values_that_change_after_ingest() -> None:
    for message in (summary(), summary(read=True, tags=("Urgent", " x  y "))):
        row = sql_row_values(message, "body")
        assert flag_row_values(message) == {"read": row["read"], "tags_text": row["tags_text"]}


def test_required_tags_are_the_positive_tag_terms() -> None:
    assert required_tags(q('tag:A -tag:b is:tagged tag:"x  y" hello')) == ["a", "x y"]
    assert required_tags(q("-tag:a")) == []


def test_warnings_match_by_substring_and_has_warning() -> None:
    message = summary(warnings=("bare-lf", "line-too-long"))
    assert hit("warning:bare-lf", message)
    assert hit("warning:long", message)
    assert not hit("warning:8bit", message)
    assert hit("has:warning", message)
    assert not hit("has:warning", summary())


def test_has_attachment_and_read_state() -> None:
    assert hit("has:attachment", summary(attachments=2))
    assert not hit("has:attachment", summary())
    assert hit("-has:attachment", summary())
    assert hit("is:read", summary(read=True))
    assert not hit("is:unread", summary(read=True))
    assert hit("is:unread", summary())
    assert not hit("-is:unread", summary())


def test_terms_are_anded_and_negation_inverts() -> None:
    message = summary(subject="Invoice 42", from_=Address("Billing", "billing@shop.example"))
    assert hit("invoice from:billing", message)
    assert not hit("invoice from:support", message)
    assert hit("invoice -from:support", message)
    assert not hit('-"invoice 42"', message)


def test_empty_query_matches_everything() -> None:
    assert matches(Query(), summary(), "")
    assert matches(q(""), summary(subject=""), "")


def test_compile_is_cached_and_agrees_with_matches() -> None:
    query = q("hello -is:read")
    assert compile(query) is compile(query)
    row = sql_row_values(summary(subject="Hello"), "")
    assert compile(query)(row) is True
    assert compile(q("-hello"))(row) is False


# ---- with_mailbox -------------------------------------------------------------------------------------


def test_with_mailbox_ands_an_exact_mailbox_term() -> None:
    assert with_mailbox(None, None) is None
    assert with_mailbox(q("x"), "") == q("x")
    assert with_mailbox(None, "Ops Team") == Query((Term("mailbox", "ops team"),))
    combined = with_mailbox(q("invoice"), "Alpha")
    assert combined == Query((Term(None, "invoice"), Term("mailbox", "alpha")), "invoice")
    assert matches(combined, summary(mailbox="alpha", subject="Invoice"), "")
    assert not matches(combined, summary(mailbox="alphabet", subject="Invoice"), "")
    quoted = with_mailbox(None, 'we"ird')
    assert quoted is not None
    assert matches(quoted, summary(mailbox='We"ird'), "")


# ---- SQL ----------------------------------------------------------------------------------------------


def test_empty_query_sql_is_true() -> None:
    assert to_sql(Query()) == ("(1=1)", [])


def test_a_hand_built_term_that_cannot_be_evaluated_is_refused() -> None:
    with pytest.raises(QueryError, match="cannot evaluate the term before:'x'"):
        to_sql(Query((Term("before", "x"),)))
    with pytest.raises(QueryError, match="cannot evaluate the term is:'starred'"):
        compile(Query((Term("is", "starred"),)))


def test_sql_binds_values_as_parameters() -> None:
    sql, params = to_sql(q('subject:"o\'brien" -larger:1k'))
    assert sql == "(instr(subject, ?) > 0 AND NOT (size > ?))"
    assert params == ["o'brien", 1024.0]


def test_row_values_are_normalised() -> None:
    message = summary(
        subject="  Big\tNEWS ",
        to=(Address("Ann  Lee", "Ann@Example.com"), Address("", "b@x")),
        mail_from="Sender@Example.com",
        rcpts=("Ann@Example.com",),
        rejected=("gone@example.com",),
        tags=("Urgent", " "),
        warnings=("bare-lf", "8bit"),
        read=True,
    )
    row = sql_row_values(message, "Body\n\nText")
    assert row == {
        "id": "m1",
        "mailbox": "default",
        "received_at": NOW.timestamp(),
        "size": 1000,
        "read": 1,
        "subject": "big news",
        "from_text": "sender <sender@example.com>",
        "to_text": "ann lee <ann@example.com>\n<b@x>",
        "cc_text": "",
        "bcc_text": "",
        "mail_from": "sender@example.com",
        "rcpt_text": "ann@example.com",
        "attachments": 0,
        "tags_text": "\nurgent\n",
        "warnings_text": "bare-lf\n8bit",
        "body_text": "body text",
    }
    ddl_columns = [part.split()[0] for part in SEARCH_COLUMNS_DDL.split(", ")]
    assert ddl_columns == list(row)
    assert sql_row_values(summary(from_=None, tags=()), "")["from_text"] == ""
    assert sql_row_values(summary(tags=()), "")["tags_text"] == ""


def _corpus() -> list[tuple[MessageSummary, str]]:
    rng = random.Random(20261126)
    people = [
        Address("Ann Lee", "ann@example.com"),
        Address("", "bob@shop.example"),
        Address("Cid Ö", "cid@ÉCOLE.fr"),
        Address("Billing", "billing@shop.example"),
        Address("Spam King", "spam@junk.example"),
    ]
    subjects = ["Your order #42", "Invoice 42", "Welcome!", "", "Re: your  ORDER", "École news"]
    bodies = ["", "Thanks for your\norder.", "see http://x.example/a?b=1 at 12:30", "straße", "a\x00b"]
    hour, sec = timedelta(hours=1), timedelta(seconds=1)
    # Exactly on the bounds of the date queries below, where < and <= part ways.
    edges = [timedelta(0), timedelta(days=1), 5 * hour, -12 * hour, -24 * hour]
    out: list[tuple[MessageSummary, str]] = []
    for i in range(30):
        to = tuple(rng.sample(people, rng.randint(0, 2)))
        message = summary(
            id_=f"m{i:02d}",
            mailbox=rng.choice(["default", "Alpha", "alphabet"]),
            received_at=DAY
            + rng.choice([rng.randint(-72, 30) * hour + rng.choice([0, 1, -1]) * sec, *edges]),
            size=rng.choice([100, 1023, 1024, 1025, 10240, 2 * 1024**2 + 1]),
            mail_from=rng.choice(["", "bounce@shop.example", "Spam@Junk.example"]),
            rcpts=tuple(p.address for p in rng.sample(people, rng.randint(0, 3))),
            rejected=rng.choice([(), ("reject@example.com",)]),
            subject=rng.choice(subjects),
            from_=rng.choice([None, *people]),
            to=to,
            cc=tuple(rng.sample(people, rng.randint(0, 1))),
            bcc=tuple(rng.sample(people, rng.randint(0, 1))),
            attachments=rng.choice([0, 0, 1, 3]),
            warnings=rng.choice([(), ("bare-lf",), ("8bit-without-8bitmime", "line-too-long")]),
            read=rng.random() < 0.5,
            tags=rng.choice([(), ("urgent",), ("Not-Urgent", "billing"), ("URGENT", "x y")]),
        )
        out.append((message, rng.choice(bodies)))
    return out


EQUIVALENCE_QUERIES = [
    "",
    "order",
    '"your order"',
    "-order",
    "42 invoice",
    "ann",
    "ÉCOLE",
    "straße",
    "12:30",
    "http://x.example/a",
    "a\x00b",
    "from:billing",
    "-from:spam",
    'from:"ann lee"',
    "to:ann",
    "cc:shop",
    "subject:order",
    'subject:"re: your"',
    "rcpt:reject",
    "rcpt:ann@",
    "mail-from:shop",
    "-mail-from:spam",
    "mailbox:alpha",
    "-mailbox:Alpha",
    "has:attachment",
    "-has:attachment",
    "has:warning",
    "warning:bare",
    "-warning:8bit",
    "is:read",
    "is:unread",
    "tag:urgent",
    "-tag:urgent",
    "tag:x y",
    'tag:"x y"',
    "before:2026-11-26",
    "after:2026-11-26",
    "after:2026-11-25 before:2026-11-27",
    "after:1d",
    "before:2026-11-26T06:00:00+01:00",
    "larger:1k",
    "smaller:1k",
    "-larger:10k",
    "larger:2mb",
    "ann -is:read has:attachment",
    "is:tagged",
    "-is:tagged",
    "is:untagged",
    "is:untagged -is:tagged",
    "is:tagged -tag:urgent",
    "tag:URGENT tag:x y",
]


def test_sql_and_matches_select_the_same_messages() -> None:
    corpus = _corpus()
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE messages ({SEARCH_COLUMNS_DDL})")
    for message, body in corpus:
        row = sql_row_values(message, body)
        db.execute(
            f"INSERT INTO messages ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    queries: list[Query] = [q(text) for text in EQUIVALENCE_QUERIES]
    queries += [with_mailbox(q("order"), "Alpha") or Query(), with_mailbox(None, "alphabet") or Query()]
    sizes = set()
    for query in queries:
        sql, params = to_sql(query)
        from_sql = {r[0] for r in db.execute(f"SELECT id FROM messages WHERE {sql}", params)}
        from_python = {message.id for message, body in corpus if matches(query, message, body)}
        compiled = compile(query)
        from_rows = {message.id for message, body in corpus if compiled(sql_row_values(message, body))}
        assert from_sql == from_python == from_rows, query.text
        sizes.add(len(from_python))
    # The corpus must exercise the queries: results of many different sizes, not all-or-nothing.
    assert len(sizes) >= 10


def test_query_length_and_term_count_are_capped() -> None:
    mixed = ["-word", "subject:x", '"a b"', "from:ann", "larger:1k", "after:2h", "has:attachment", "w"]
    assert len(parse_query(" ".join(mixed * (MAX_QUERY_TERMS // len(mixed)))).terms) == MAX_QUERY_TERMS
    # The largest query allowed (free words are the widest) is still a WHERE clause SQLite accepts.
    database = sqlite3.connect(":memory:")
    database.execute(f"CREATE TABLE messages ({SEARCH_COLUMNS_DDL})")
    sql, params = to_sql(
        with_mailbox(parse_query(" ".join(["word"] * MAX_QUERY_TERMS)), "default") or Query()
    )
    assert database.execute(f"SELECT count(*) FROM messages WHERE {sql}", params).fetchone() == (0,)
    with pytest.raises(QueryError, match=f"over {MAX_QUERY_TERMS}"):
        parse_query(" ".join(["word"] * (MAX_QUERY_TERMS + 1)))
    with pytest.raises(QueryError, match=f"at most {MAX_QUERY_CHARS}"):
        parse_query("x" * (MAX_QUERY_CHARS + 1))
    assert parse_query("x" * MAX_QUERY_CHARS).terms[0].value == "x" * MAX_QUERY_CHARS
