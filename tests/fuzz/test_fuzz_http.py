"""The HTTP API's inputs at random: paths, query parameters and bodies.

Sent as a non-browser client sends them (``Content-Type: application/json``, no ``Origin``). Every answer
is below 500, and every 4xx carries a JSON body ``{"error": "<text>"}``; the connection is never dropped.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailtrap_lite.app import MailServer
from tests.conftest import free_config
from tests.fuzz.budget import examples

MESSAGES = [
    b"Subject: plain\r\nFrom: a@example.com\r\n\r\nHello\r\n",
    b"Subject: mixed\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    b"Content-Type: text/html\r\n\r\n<p>hi <img src=cid:x></p>\r\n--b\r\nContent-Type: image/png\r\n"
    b"Content-ID: <x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n",
]


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, list[str]]]:
    db = tmp_path_factory.mktemp("http") / "fuzz.db" if request.param == "sqlite" else None
    server = MailServer(free_config(db=db))
    addresses = server.start()
    try:
        with smtplib.SMTP(addresses.smtp.host, addresses.smtp.port, timeout=30) as smtp:
            for raw in MESSAGES * 2:
                smtp.sendmail("app@example.com", ["ann@example.com"], raw)
        headers = {"Content-Type": "application/json"}
        with httpx.Client(base_url=addresses.url, timeout=30, headers=headers) as client:
            ids = [m["id"] for m in client.get("/api/messages").json()["messages"]]
            assert len(ids) == 4
            yield client, ids
    finally:
        server.stop()


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"].startswith("application/json"), response.headers
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body
        assert body["error"]
    elif response.headers.get("content-type", "").startswith("application/json"):
        response.json()


_SEGMENTS = st.sampled_from(
    ["messages", "sessions", "faults", "stats", "wait", "latest", "raw", "parts", "session", "html", "0", "1",
     "1.2", "0.1", "99999999", "01", "..", ".", "%00", "%ff", "%2F", "é", "ws", "openapi.json", "f1", ""]
)  # fmt: skip
_TEXT = st.text(max_size=30)


_TEMPLATES = st.sampled_from(
    ["/api/messages", "/api/messages/wait", "/api/messages/{id}", "/api/messages/{id}/raw",
     "/api/messages/{id}/html", "/api/messages/{id}/parts/{part}", "/api/messages/{id}/session",
     "/api/sessions", "/api/sessions/{id}", "/api/faults", "/api/faults/{id}", "/api/stats",
     "/api/openapi.json",
     "/api/ws", "/livez", "/readyz", "/metrics"]
)  # fmt: skip
_PARTS = st.sampled_from(["0", "1", "2", "1.1", "2.1", "3", "0.0", "01", "-1", "1..2", "9" * 40, "x"])


@st.composite
def paths(draw: st.DrawFn, ids: list[str]) -> str:
    """Mostly the API's own routes with ids real and not; sometimes random segments under /api/."""
    segment = _SEGMENTS | st.sampled_from(ids) | _TEXT.map(lambda text: quote(text, safe=""))
    if draw(st.integers(0, 3)) == 0:
        return "/api/" + "/".join(draw(st.lists(segment, max_size=5)))
    return draw(_TEMPLATES).format(id=draw(st.sampled_from(ids) | segment), part=draw(_PARTS | segment))


_NUMBERS = st.sampled_from(
    ["", "0", "1", "-1", "50", "1000", "1001", "2147483648", "99999999999999999999", "1e3", "0x10", " 7",
     "nan", "inf", "١٢", "0.5", "abc", "\x00"]
)  # fmt: skip
_TIMEOUTS = st.sampled_from(["", "0", "0.01", "0.05", "-1", "nan", "inf", "1e400", "301", "x"])
_QUERY = st.text(max_size=60) | st.sampled_from(
    ['"', "from:", "-", "is:maybe", "before:2026-13-01", "x" * 5000, "plain " * 1200, "-zz " * 65]
)


@st.composite
def params(draw: st.DrawFn) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for name, values in (("q", _QUERY), ("limit", _NUMBERS), ("offset", _NUMBERS), ("count", _NUMBERS),
                         ("timeout", _TIMEOUTS), ("mailbox", _TEXT), ("remote", _NUMBERS)):  # fmt: skip
        if draw(st.booleans()):
            chosen[name] = draw(values)
    # The long poll: only the tiny timeouts above, so that a wait never lasts.
    if "timeout" not in chosen or chosen["timeout"] in ("", "301"):
        chosen["timeout"] = "0.01"
    return chosen


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=10,
    )


_FAULT_VALUES: st.SearchStrategy[object] = st.sampled_from(
    ["rcpt", "nope", "reply", "disconnect", "delay", 451, 200, 600, -1, 0, 10**30, 1.5, None, True, "*", "",
     "4.7.1", "x" * 300, [], {}]
)  # fmt: skip


def _mostly(valid: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(valid, valid, valid, _FAULT_VALUES)


_FAULTS = st.fixed_dictionaries(
    {"stage": st.sampled_from(["connect", "helo", "auth", "mail", "rcpt", "data", "RCPT", "nope"])},
    optional={
        "code": _mostly(st.sampled_from([421, 451, 452, 534, 550, 599, 400, 399, 600, "550", 550.0])),
        "match": _mostly(st.sampled_from(["*@x.example", "bounce@*", "[", "?", ""])),
        "message": _mostly(st.text(max_size=40)),
        "enhanced": _mostly(st.sampled_from(["5.1.1", "4.7.0", "9.9.9", "5.1", ""])),
        "times": _mostly(st.integers(-2, 5)),
        "delay_ms": _mostly(st.integers(-1, 10)),
        "action": _mostly(st.sampled_from(["reply", "disconnect", "delay"])),
    },
).map(json.dumps)
_BAD_BODIES = [b"", b"{", b"\xff\xfe", b'{"read": tru', b"[" * 5000, b'"\\ud800"', b'{"tags": ["\\udfff"]}',
               b"{}" + b" " * 70000, b"NaN", b'{"read": NaN}']  # fmt: skip
_BODIES = st.one_of(
    _json_values().map(json.dumps),
    st.fixed_dictionaries({}, optional={"read": _json_values(), "tags": _json_values()}).map(json.dumps),
    st.fixed_dictionaries(
        {}, optional={"read": st.booleans(), "tags": st.lists(st.text(max_size=8), max_size=3)}
    ).map(json.dumps),
    _FAULTS,
    st.binary(max_size=100),
    st.sampled_from(_BAD_BODIES),
)


@examples(250)
@given(st.data(), st.sampled_from(["GET", "GET", "POST", "PATCH", "PUT", "OPTIONS"]), params(), _BODIES)
def test_random_requests(
    api: tuple[httpx.Client, list[str]], data: st.DataObject, method: str, query: dict[str, str], body: Any
) -> None:
    client, ids = api
    path = data.draw(paths(ids))
    content = body.encode() if isinstance(body, str) else body
    check(client.request(method, path, params=query, content=content if method != "GET" else None))


@examples(80)
@given(st.data(), _BODIES)
def test_patch_a_message(api: tuple[httpx.Client, list[str]], data: st.DataObject, body: Any) -> None:
    client, ids = api
    target = data.draw(st.sampled_from([*ids, "latest", "nope", "%ff"]))
    content = body.encode() if isinstance(body, str) else body
    response = client.patch(f"/api/messages/{target}", content=content)
    check(response)
    if response.status_code == 200:
        assert isinstance(response.json()["read"], bool)


@examples(80)
@given(_BODIES)
def test_add_a_fault_rule(api: tuple[httpx.Client, list[str]], body: Any) -> None:
    client, _ids = api
    content = body.encode() if isinstance(body, str) else body
    response = client.post("/api/faults", content=content)
    check(response)
    if response.status_code == 201:
        rule = response.json()
        check(client.delete(f"/api/faults/{rule['id']}"))
        assert rule["stage"] in ("connect", "helo", "auth", "mail", "rcpt", "data")


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/messages"), ("GET", "/api/messages/wait")])
def test_a_query_of_many_terms(api: tuple[httpx.Client, list[str]], method: str, path: str) -> None:
    """More terms than SQLite's expression depth (1000) allows in one WHERE clause."""
    client, _ids = api
    check(client.request(method, path, params={"q": "zz " * 1200, "timeout": "0.01"}))


# Last: it deletes the messages the other tests read.
@examples(60)
@given(st.data(), params())
def test_random_deletes(
    api: tuple[httpx.Client, list[str]], data: st.DataObject, query: dict[str, str]
) -> None:
    client, ids = api
    path = data.draw(paths(ids) | st.sampled_from(["/api/messages", "/api/faults", "/api/messages/latest"]))
    check(client.delete(path, params=query))
