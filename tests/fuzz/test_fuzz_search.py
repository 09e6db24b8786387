"""Random queries: a parse error of the documented type, or the same answer from both stores.

The memory store evaluates a query in Python and the SQLite store in SQL behind a full-text pre-filter;
both must agree with each other and with ``search.compile`` run over the same rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailtrap_lite.config import Config
from mailtrap_lite.errors import BadRequest
from mailtrap_lite.model import Arrival, Envelope, Recipient, Session, StoredMessage, utcnow
from mailtrap_lite.search import FIELDS, Query, QueryError, compile, matches, parse_query, sql_row_values
from mailtrap_lite.store import MemoryStore, Store, create_store
from tests.fuzz.budget import examples

T = TypeVar("T")

_MESSAGES = [
    ("Your order #42 is on its way", "Shop <shop@example.com>", "ann@example.com", "Thanks for your order."),
    ("Re: Invoice 2026-11", "billing@shop.example", "Bob Lee <bob@example.org>", "See the invoice attached."),
    ("=?utf-8?q?Caf=C3=A9_=C3=A9cole?=", "cafe@xn--caf-dma.example", "zoë@exämple.com", "Crème brûlée, 5€"),
    ("Welcome", "App <app@example.com>", "ann@example.com", 'Verify: https://x.example/a?b=1&c="d"'),
    ("", "", "undisclosed-recipients:;", "no subject, no sender\r\n-- \r\nsig"),
    ("news: weekly", "News <news@junk.example>", "carl@example.net", "ORDER now!!! 50% off\ttoday"),
]
_ATTACHMENT = (
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n'
    "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\n"
    "%PDF\r\n--b--\r\n"
)


def _arrival(number: int, session: Session) -> Arrival:
    subject, sender, to, body = _MESSAGES[number % len(_MESSAGES)]
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
    if number % 2:
        head += "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m@example.com>\r\n"
    if number == 7:
        raw = (head + "MIME-Version: 1.0\r\n" + _ATTACHMENT).encode()
    else:
        raw = (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()
    recipients = (Recipient(to.split("<")[-1].strip(">"), 250, "2.1.5 Ok"), Recipient("x@y", 550, "no"))
    envelope = Envelope(sender.split("<")[-1].strip(">"), ("BODY=8BITMIME",), recipients)
    return Arrival(f"m{number:04d}", raw, envelope, session)


class Stores:
    """Both stores on one event loop, filled with the same messages, for the whole module."""

    def __init__(self, directory: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.stores: list[Store] = [MemoryStore(), create_store(Config(db=directory / "fuzz.db"))]
        # Per store: each message's search row, newest first, as search.sql_row_values computes it.
        self.rows: dict[str, list[dict[str, object]]] = {}
        self.bodies: dict[str, dict[str, StoredMessage]] = {}

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, 60))

    def fill(self) -> None:
        for store in self.stores:
            self.run(store.open())
            session = Session(id="s1", peer="127.0.0.1:1", started_at=utcnow())
            stored = {}
            for number in range(9):
                message = self.run(store.ingest(_arrival(number, session)))
                stored[message.summary.id] = message
            self.run(store.update("m0002", read=True, tags=("Signup", "école")))
            self.run(store.update("m0005", tags=("news",)))
            self.run(store.update("m0006", read=True))
            summaries = self.run(store.list_messages(limit=1000)).messages
            assert len(summaries) == 9
            self.rows[store.kind] = [sql_row_values(s, stored[s.id].body_text) for s in summaries]
            self.bodies[store.kind] = stored
        self.run(self._indexed(self.stores[1]))

    @staticmethod
    async def _indexed(store: Store) -> None:
        # Searched through the full-text index, not the scan of unindexed messages.
        while (await store.stats()).unindexed:
            await asyncio.sleep(0.05)

    def close(self) -> None:
        for store in self.stores:
            self.run(store.close())
        self.loop.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    both = Stores(tmp_path_factory.mktemp("search"))
    try:
        both.fill()
        yield both
    finally:
        both.close()


# ---- queries --------------------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    ["order", "ORDER", "invoice", "ann", "example.com", "@example", "école", "Crème", "5€", "50%", "a?b=1",
     "shop", "x", "-", "--", "12:30", "http://x.example/a", "a1:b", "zoë", "\\", "'", "news", "sig"]
)  # fmt: skip
_KNOWN = st.sampled_from(sorted(FIELDS))
_FIELD = _KNOWN | st.sampled_from(["From", "SUBJECT", "body", "x-y", "foo", "has", "is", "http", "tags"])
_VALUES = st.sampled_from(
    ["attachment", "attachments", "warning", "read", "unread", "2026-11-26", "2020-01-01T10:00",
     "2031-02-03T04:05:06.5+02:00", "2026-13-45", "7d", "2h", "1w", "10k", "2mb", "1gb", "500", "0", "1.5k",
     "default", "signup", "missing-date", "bare-lf", "", "@", "ann@example.com", "junk.example"]
)  # fmt: skip
_UNICODE = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


def _quoted(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A phrase, closed or not, with its quotes and backslashes escaped or not."""

    def render(inner: str, escaped: bool, closed: bool) -> str:
        if escaped:
            inner = inner.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{inner}"' if closed else f'"{inner}'

    return st.builds(render, inner, st.booleans(), st.booleans())


_VALUE = _VALUES | _WORDS | _UNICODE | _quoted(_WORDS | _VALUES | _UNICODE)
_TYPED = st.sampled_from(
    ["has:attachment", "has:warning", "is:read", "is:unread", "tag:signup", "tag:news", "mailbox:default",
     "larger:500", "smaller:1k", "after:2026-11-26", "before:2030-01-01", "after:1h", "before:2w",
     "warning:missing-date", "warning:8bit", "rcpt:x@y", "mail-from:shop", "to:ann", "cc:", "subject:re"]
)  # fmt: skip
_FIELD_TERM = st.one_of(
    _TYPED, st.tuples(_KNOWN, _WORDS | _quoted(_WORDS)).map(":".join), st.tuples(_FIELD, _VALUE).map(":".join)
)
_TERM = st.tuples(
    st.sampled_from(["", "", "-"]),
    st.one_of(_WORDS, _FIELD_TERM, _FIELD_TERM, _quoted(_WORDS), _UNICODE),
).map("".join)
_TERMS = st.lists(_TERM, max_size=4).map(" ".join)
_MANY_TERMS = st.tuples(_TERM, st.integers(1, 1500)).map(lambda t: " ".join([t[0] or "x"] * t[1]))
_LONG_WORD = st.integers(1, 20_000).map(lambda n: "é" * n)
QUERIES = st.one_of(_TERMS, _TERMS, _TERMS, _TERMS, st.text(max_size=400), _MANY_TERMS, _LONG_WORD)


# ---- properties -----------------------------------------------------------------------------------------


@examples(400)
@given(st.text() | QUERIES)
def test_a_query_parses_or_is_a_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert isinstance(error, BadRequest)  # what the API answers 400
        assert str(error)
        return
    assert isinstance(query, Query)
    assert query.text == text


def _parsed(text: str) -> Query | None:
    try:
        return parse_query(text)
    except QueryError:
        return None


@examples(250)
@given(QUERIES)
def test_both_stores_answer_a_query_alike(stores: Stores, text: str) -> None:
    query = _parsed(text)
    if query is None:
        return
    predicate = compile(query)
    answers = []
    for store in stores.stores:
        page = stores.run(store.list_messages(query, limit=1000))
        found = [summary.id for summary in page.messages]
        expected = [str(row["id"]) for row in stores.rows[store.kind] if predicate(row)]
        assert found == expected, store.kind
        assert page.total == len(found)
        for summary in page.messages:
            stored = stores.bodies[store.kind][summary.id]
            assert matches(query, summary, stored.body_text)
        answers.append((found, page.unread))
    assert answers[0] == answers[1]
