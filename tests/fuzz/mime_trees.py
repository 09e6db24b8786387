"""Hypothesis strategies for MIME messages: random trees, rendered to bytes, with plenty wrong in them."""

from __future__ import annotations

import base64
import quopri

from hypothesis import strategies as st

_CHARSETS = st.sampled_from(
    [None, "utf-8", "UTF-8", "iso-8859-1", "us-ascii", "utf-16", "utf-7", "cp1252", "gb2312", "iso-2022-jp",
     "x-unknown", "", "utf8\"", "unicode-1-1-utf-7", "idna", "rot13", "base64", "../../etc", "\u00e9\u00e9"]
)  # fmt: skip
_ENCODINGS = st.sampled_from(
    [None, "7bit", "8bit", "binary", "base64", "BASE64", "quoted-printable", "x-uuencode", "bogus", ""]
)
_LEAF_TYPES = st.sampled_from(
    ["text/plain", "text/html", "text/calendar", "application/octet-stream", "application/pdf", "image/png",
     "message/delivery-status", "text", "/", "x/y; name=\"a\"", "image/svg+xml"]
)  # fmt: skip
_MULTI_TYPES = st.sampled_from(["mixed", "alternative", "related", "digest", "report", "signed", "x-weird"])
_TEXT = st.text(max_size=40)
_HEADER_BYTES = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_FILENAMES = st.sampled_from(
    ["a.pdf", "", "\u00e9t\u00e9 \u2603.txt", "../../x", "=?utf-8?b?w6k=?=", 'a"b.txt', "x" * 300]
)
_BODY = st.binary(max_size=300) | _TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))


def _encode(body: bytes, encoding: str | None, broken: bool) -> bytes:
    if broken:
        return {"base64": b"YWJj=ZZZ!!\r\n====", "quoted-printable": b"=ZZ=\r\n=E9=\r\nend="}.get(
            (encoding or "").lower(), body
        )
    if (encoding or "").lower() == "base64":
        return base64.encodebytes(body).replace(b"\n", b"\r\n")
    if encoding == "quoted-printable":
        return quopri.encodestring(body).replace(b"\n", b"\r\n")
    return body


@st.composite
def _leaf(draw: st.DrawFn) -> bytes:
    head = [b"Content-Type: " + draw(_LEAF_TYPES).encode()]
    charset = draw(_CHARSETS)
    if charset is not None:
        head[0] += b'; charset="' + charset.encode() + b'"'
    encoding = draw(_ENCODINGS)
    if encoding is not None:
        head.append(b"Content-Transfer-Encoding: " + encoding.encode())
    disposition = draw(st.sampled_from([None, "inline", "attachment", "attachment; filename*=utf-8''%E9%ZZ"]))
    if disposition is not None:
        if draw(st.booleans()):
            disposition += '; filename="' + draw(_FILENAMES) + '"'
        head.append(b"Content-Disposition: " + disposition.encode("utf-8", "surrogatepass"))
    if draw(st.booleans()):
        head.append(b"Content-ID: <" + draw(st.sampled_from([b"a@x", b"b@x", b"", b"<<>>"])) + b">")
    if draw(st.booleans()):
        head.append(b"X-Random: " + draw(_HEADER_BYTES))
    body = _encode(draw(_BODY), encoding, draw(st.booleans()))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _multipart(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        boundary = draw(st.sampled_from([b"b1", b"=_x", b"a b", b"", b"--", b"b1"]))
        parts = draw(st.lists(children, max_size=4))
        declared = draw(st.sampled_from([boundary, boundary, b"other", None]))
        head = b"Content-Type: multipart/" + draw(_MULTI_TYPES).encode()
        if declared is not None:
            head += b'; boundary="' + declared + b'"'
        out = head + b"\r\n\r\n" + draw(st.sampled_from([b"", b"preamble\r\n"]))
        for part in parts:
            out += b"--" + boundary + b"\r\n" + part + b"\r\n"
        if draw(st.booleans()):
            out += b"--" + boundary + b"--\r\n" + draw(st.sampled_from([b"", b"epilogue\r\n"]))
        return out

    return build()


def _embedded(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.tuples(children, _ENCODINGS).map(
        lambda t: (
            b"Content-Type: message/rfc822\r\n"
            + (b"Content-Transfer-Encoding: " + t[1].encode() + b"\r\n" if t[1] else b"")
            + b"\r\nSubject: inner\r\n"
            + t[0]
        )
    )


MIME_BODIES = st.recursive(_leaf(), lambda children: _multipart(children) | _embedded(children), max_leaves=8)

_SUBJECTS = st.sampled_from(
    [b"Hello", b"=?utf-8?q?caf=C3=A9?=", b"=?x-bogus?q?abc?=", b"=?utf-8?b?!!!?=", b"\xff\xfe 8-bit", b""]
)
_ADDRESSES = st.sampled_from(
    [b"Ann <ann@example.com>", b"undisclosed-recipients:;", b"<>", b'"a\\" <b@c>', b"a@b, , c@", b"@@@",
     b"=?utf-8?q?Z=C3=B6e?= <z@x>", b"\xe9@\xe9"]
)  # fmt: skip


_DATES = st.sampled_from([b"Thu, 26 Nov 2026 10:00:00 +0000", b"yesterday", b""])
_JUNK_HEADERS = _HEADER_BYTES.map(lambda b: b"X-" + b.replace(b":", b"") + b": v")


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A whole message: top-level headers (some missing, some broken) over a random MIME body."""
    head = []
    for name, values in ((b"From", _ADDRESSES), (b"To", _ADDRESSES), (b"Subject", _SUBJECTS)):
        if draw(st.booleans()):
            head.append(name + b": " + draw(values))
    if draw(st.booleans()):
        head.append(b"Date: " + draw(_DATES))
    head.append(b"MIME-Version: 1.0")
    head.extend(draw(st.lists(_JUNK_HEADERS, max_size=2)))
    raw = b"\r\n".join(head) + b"\r\n" + draw(MIME_BODIES)
    if draw(st.booleans()):
        raw = raw.replace(b"\r\n", b"\n")
    return raw
