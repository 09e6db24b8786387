"""The preview's tag scanner against html.parser, which the preview used to tokenise with.

The oracle below is that former finder, kept here only: on generated HTML-ish input (tags with the
attributes the preview rewrites, quoted values holding ">", comments, declarations, CDATA and MS Office
marked sections, raw-text <script>/<style>, unfinished constructs) both must find the same edits and the
same place for ``<base>``. Two html.parser behaviours are left out of the comparison, on purpose:
``&#`` not starting a character reference makes it treat the whole rest of the document as text, and
``<![`` followed by an unknown keyword makes it raise; the scanner reads on in both cases, as a browser does.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import assume, given
from hypothesis import strategies as st

from mailtrap_lite.html_preview import _Rewriter, _serialise, _TagFinder
from tests.fuzz.budget import examples


class _HtmlParserFinder(HTMLParser):
    def __init__(self, source: str, rewriter: _Rewriter) -> None:
        super().__init__(convert_charrefs=False)
        self.rewriter = rewriter
        self.edits: list[tuple[int, int, str]] = []
        self.insert_at: dict[str, int] = {}
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self._style_start: int | None = None
        self._source = source

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> None:
        raw = self.get_starttag_text() or ""
        start = self._offset()
        end = start + len(raw)
        if tag in ("head", "html"):
            self.insert_at.setdefault(tag, end)
        if tag == "style" and not self_closing:
            self._style_start = end
        rewritten = self.rewriter.attributes(tag, attrs)
        if rewritten is not None:
            self.edits.append((start, end, _serialise(tag, rewritten, self_closing)))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=True)

    def handle_decl(self, decl: str) -> None:
        start = self._offset()
        self.insert_at.setdefault("doctype", self._source.find(">", start) + 1 or len(self._source))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._end_style(self._offset())

    def _end_style(self, end: int) -> None:
        if self._style_start is None:
            return
        start, self._style_start = self._style_start, None
        css = self._source[start:end]
        rewritten = self.rewriter.css(css)
        if rewritten != css:
            self.edits.append((start, end, rewritten))

    def close(self) -> None:
        super().close()
        self._end_style(len(self._source))


_TAGS = ["img", "IMG", "a", "link", "style", "script", "head", "html", "meta", "source", "video", "image"]
_TAGS += ["input", "td", "div", "Style", "SCRIPT", "p", "textarea", "title"]
_NAMES = ["src", "SRC", "href", "xlink:href", "style", "srcset", "background", "poster", "lowsrc", "dynsrc"]
_NAMES += ["rel", "http-equiv", "alt", "data-src", "class", "a", "/", "'", '"']
_VALUES = [
    "cid:logo@x",
    "CID:<Logo@X>",
    " cid:logo@x ",
    "cid:missing",
    "https://x.example/a.png",
    "//x.example",
]
_VALUES += [
    "http://x.example/?a=1&amp;b=2",
    "stylesheet",
    "prefetch",
    "refresh",
    "a>b",
    "a.png 2x, https://x/b 1x",
]
_VALUES += ["color:red;background:url(https://x/bg)", "url('cid:logo@x')", "", "x y", "&quot;"]
_VALUES += ["c\tid:logo@x", "ht\ntps:x.example", "/\n/x", "\\\\x", "&#99;id:logo@x", "url&#40;https://x)"]
_VALUES += ["top:0", "https\t:x.example", "0; url=https://x/", "Refresh", "@import url(//x/s.css)"]
_FRAGMENTS = ["<", ">", "/>", "/", "</", "=", '"', "'", " ", "\n", "\t", "text", "&amp;", "&", "#", ";"]
_FRAGMENTS += [
    "<!--",
    "-->",
    "-- >",
    "<!doctype html>",
    "<!DOCTYPE",
    "<![CDATA[",
    "]]>",
    "<![if !mso]>",
    "<![endif]>",
]
_FRAGMENTS += ["<?xml version='1.0'?>", "<!x>", "</>", "</ style >", "</script>", "</style>", "</a b>", "<!"]
_FRAGMENTS += ["@import 'https://x/s.css';", "url(https://x/y.png)", 'url( "cid:logo@x" )', "]>", "]"]

# Unquoted start tags: the scanner skips those without quotes or URL characters in one pattern.
_FRAGMENTS += ["<img src=cid:logo@x>", "<meta http-equiv=refresh content=0>", "<td background=https\t:x>"]
_FRAGMENTS += [
    "<p style=background:url(cid:logo@x)>",
    "<IMG SRC=&#99;id:logo@x>",
    "<td>",
    "<style >",
    "<script\n>",
]
_FRAGMENTS += [
    "<\u212a",
    "<\u017ftyle>",
    "</\u212a>",
    "<image href=\\\\x>",
    "<link rel=stylesheet href=//x>",
    "<head\x00>",
    "<html lang=en>",
]


@st.composite
def _tags(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_TAGS))
    parts = [f"<{name}"]
    for _ in range(draw(st.integers(0, 4))):
        attribute = draw(st.sampled_from(_NAMES))
        value = draw(st.sampled_from(_VALUES))
        quote = draw(st.sampled_from(['"', "'", "", None]))
        separator = draw(st.sampled_from([" ", "\n", "/", "  ", ""]))
        if quote is None:
            parts.append(f"{separator}{attribute}")
        else:
            equals = draw(st.sampled_from(["=", " = ", "=="]))
            parts.append(f"{separator}{attribute}{equals}{quote}{value}{quote}")
    parts.append(draw(st.sampled_from([">", "/>", " >", " />", "", "/"])))
    return "".join(parts)


_PIECES = st.one_of(_tags(), st.sampled_from(_FRAGMENTS), st.sampled_from(_VALUES))
# Constructs that hide tags from the scanner until they end, with near-miss endings.
_WRAPPERS = [
    ("<!--", ["-->", "-- >", "--\n>", "--!>", "->", ""]),
    ("<style>", ["</style>", "</STYLE >", "</ style>", "</styles>", "</style", ""]),
    ("<script type=x>", ["</script>", "</Script\t>", "</scrip>", ""]),
    ("<![CDATA[", ["]]>", "] ]>", "]>", ""]),
    ("<![if !mso]>", ["<![endif]>", "]>", ""]),
    ("<!doctype", [">", ""]),
    ("<?php", ["?>", ""]),
]


@st.composite
def _wrapped(draw: st.DrawFn) -> str:
    opener, closers = draw(st.sampled_from(_WRAPPERS))
    inner = draw(st.lists(_PIECES, max_size=4))
    return opener + "".join(inner) + draw(st.sampled_from(closers))


_DOCUMENTS = st.lists(st.one_of(_PIECES, _wrapped()), max_size=30)


def _scanned(source: str) -> tuple[list[tuple[int, int, str]], int, int, int]:
    rewriter = _Rewriter({"logo@x": "2"}, allow_remote=False)
    finder = _TagFinder(source, rewriter)
    finder.run()
    return sorted(finder.edits), finder.base_offset, rewriter.remote, rewriter.blocked


def _parsed(source: str) -> tuple[list[tuple[int, int, str]], int, int, int]:
    rewriter = _Rewriter({"logo@x": "2"}, allow_remote=False)
    finder = _HtmlParserFinder(source, rewriter)
    finder.feed(source)
    finder.close()
    base = next((finder.insert_at[k] for k in ("head", "html", "doctype") if k in finder.insert_at), 0)
    return sorted(finder.edits), base, rewriter.remote, rewriter.blocked


_BAD_CHARACTER_REFERENCE = re.compile(r"&#(?![0-9]+[^0-9a-fA-F]|[xX][0-9a-fA-F]+[^0-9a-fA-F])")


@examples(1000)
@given(_DOCUMENTS)
def test_the_scanner_finds_what_html_parser_finds(pieces: list[str]) -> None:
    source = "".join(pieces)
    assume(_BAD_CHARACTER_REFERENCE.search(source) is None)
    try:
        expected = _parsed(source)
    except AssertionError:  # html.parser on "<![" with an unknown keyword
        assume(False)
        raise
    assert _scanned(source) == expected
