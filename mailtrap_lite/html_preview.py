"""The HTML body as the preview shows it: ``cid:`` references pointed at part URLs, remote images and
stylesheets neutralised and counted, and the Content-Security-Policy that actually enforces all of this.

The CSP (with the ``sandbox`` directive, and the ``<iframe sandbox>`` the UI embeds it in) is the real
guard: it stops scripts and every remote fetch whatever this module misses. The rewriting exists so the UI
can say how many remote items were held back, and so ``cid:`` images show up at all. Tags are found with
``html.parser``, which tokenises like a browser far more faithfully than a regex; a tag that needs no
change is copied byte for byte.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote, unquote

from mailtrap_lite.model import Part

__all__ = ["Preview", "content_ids", "content_security_policy", "render"]

_BASE_POLICY = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
_STRICT_POLICY = _BASE_POLICY + "img-src 'self' data:; style-src 'unsafe-inline'; font-src data:"
_REMOTE_POLICY = (
    _BASE_POLICY + "img-src 'self' data: https: http:; style-src 'unsafe-inline' https: http:; font-src data:"
)

# Attributes whose value is one URL that the browser fetches as an image (or, for link, a stylesheet).
_IMAGE_ATTRIBUTES = {
    "img": ("src", "lowsrc", "dynsrc"),
    "input": ("src",),
    "video": ("poster",),
    "image": ("href", "xlink:href"),
}
_SRCSET_TAGS = ("img", "source")
_CID_ATTRIBUTES = ("src", "href", "background", "poster", "lowsrc", "dynsrc", "xlink:href")
_BLOCKED_PREFIX = "data-remote-"
_INERT_URL = "data:,"

_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_CSS_IMPORT_STRING = re.compile(r"""@import\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_REMOTE = re.compile(r"(?:https?:|[/\\]{2})", re.I)
_URL_JUNK = re.compile(r"[\x00-\x20]+")  # browsers strip these from URLs before resolving them


@dataclass(frozen=True, slots=True)
class Preview:
    html: str
    # Remote images and stylesheets held back (0 when remote content was allowed).
    blocked: int
    # Remote images and stylesheets the HTML references, blocked or not.
    remote: int


def content_security_policy(*, allow_remote: bool) -> str:
    return _REMOTE_POLICY if allow_remote else _STRICT_POLICY


def _normal_cid(value: str) -> str:
    return unquote(value).strip().strip("<>").strip().lower()


def content_ids(root: Part) -> dict[str, str]:
    """Content-ID (without angle brackets, lower case) → part_id, over the whole MIME tree."""
    found: dict[str, str] = {}
    stack = [root]
    while stack:
        part = stack.pop()
        if part.content_id:
            found.setdefault(_normal_cid(part.content_id), part.part_id)
        stack.extend(reversed(part.children))
    return found


def is_remote(url: str) -> bool:
    return bool(_REMOTE.match(_URL_JUNK.sub("", url)))


class _Rewriter:
    def __init__(self, message_id: str, cids: Mapping[str, str], allow_remote: bool) -> None:
        self.message_id = quote(message_id, safe="")
        self.cids = cids
        self.allow_remote = allow_remote
        self.remote = 0
        self.blocked = 0

    def cid_url(self, url: str) -> str | None:
        stripped = _URL_JUNK.sub("", url)
        if stripped[:4].lower() != "cid:":
            return None
        part_id = self.cids.get(_normal_cid(stripped[4:]))
        return f"/api/messages/{self.message_id}/parts/{part_id}" if part_id else None

    def fetched(self, url: str) -> str | None:
        """What a fetched URL becomes: a part URL, an inert one when blocked, or None to keep it."""
        cid = self.cid_url(url)
        if cid is not None:
            return cid
        if is_remote(url):
            self.remote += 1
            if not self.allow_remote:
                self.blocked += 1
                return _INERT_URL
        return None

    def css(self, text: str) -> str:
        def url(match: re.Match[str]) -> str:
            value = next(group for group in match.groups() if group is not None)
            replaced = self.fetched(html.unescape(value))
            return match.group(0) if replaced is None else f'url("{replaced}")'

        def import_string(match: re.Match[str]) -> str:
            value = next(group for group in match.groups() if group is not None)
            replaced = self.fetched(value)
            return match.group(0) if replaced is None else f'@import "{replaced}"'

        return _CSS_IMPORT_STRING.sub(import_string, _CSS_URL.sub(url, text))

    def srcset(self, value: str) -> str | None:
        candidates = [c.strip() for c in value.split(",") if c.strip()]
        changed = False
        kept: list[str] = []
        for candidate in candidates:
            url, _, descriptor = candidate.partition(" ")
            replaced = self.fetched(url)
            if replaced == _INERT_URL:
                changed = True
                continue
            if replaced is not None:
                changed = True
                url = replaced
            kept.append(f"{url} {descriptor}".strip())
        return ", ".join(kept) if changed else None

    def attributes(
        self, tag: str, attrs: list[tuple[str, str | None]]
    ) -> list[tuple[str, str | None]] | None:
        """The tag's attributes rewritten, or None when nothing changes."""
        out: list[tuple[str, str | None]] = []
        changed = False
        is_stylesheet = tag == "link" and any(
            name == "rel" and "stylesheet" in (value or "").lower().split() for name, value in attrs
        )
        # Chromium fetches <link rel=prefetch> (and connects for preconnect) despite default-src 'none':
        # no other kind of link is of any use in a preview, so it never keeps a remote href.
        is_other_link = tag == "link" and not is_stylesheet
        for name, value in attrs:
            new_name, new_value = name, value
            if value is None:
                pass
            elif name == "style":
                new_value = self.css(value)
            elif name == "srcset" and tag in _SRCSET_TAGS:
                rewritten = self.srcset(value)
                new_value = value if rewritten is None else rewritten
            elif (
                name == "background"
                or name in _IMAGE_ATTRIBUTES.get(tag, ())
                or (is_stylesheet and name == "href")
            ):
                replaced = self.fetched(value)
                if replaced == _INERT_URL:
                    new_name = _BLOCKED_PREFIX + name.replace(":", "-")
                elif replaced is not None:
                    new_value = replaced
            elif is_other_link and name == "href" and is_remote(value):
                new_name = _BLOCKED_PREFIX + name
            elif name in _CID_ATTRIBUTES:
                new_value = self.cid_url(value) or value
            elif tag == "meta" and name == "http-equiv" and value.strip().lower() == "refresh":
                new_name = "data-blocked-http-equiv"  # a refresh would navigate the preview elsewhere
            changed = changed or (new_name, new_value) != (name, value)
            out.append((new_name, new_value))
        return out if changed else None


def _serialise(tag: str, attrs: list[tuple[str, str | None]], self_closing: bool) -> str:
    text = "".join(
        f" {name}" if value is None else f' {name}="{html.escape(value, quote=True)}"'
        for name, value in attrs
    )
    return f"<{tag}{text}{' /' if self_closing else ''}>"


class _TagFinder(HTMLParser):
    """Collects (start, end, replacement) edits for the tags and style blocks that need rewriting."""

    def __init__(self, source: str, rewriter: _Rewriter) -> None:
        super().__init__(convert_charrefs=False)
        self.rewriter = rewriter
        self.edits: list[tuple[int, int, str]] = []
        # Where <base> may go without pushing the document into quirks mode: after <head>, <html> or doctype.
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
        self._end_style(len(self._source))  # an unterminated <style> runs to the end of the document

    @property
    def base_offset(self) -> int:
        return next((self.insert_at[k] for k in ("head", "html", "doctype") if k in self.insert_at), 0)


def _apply(source: str, edits: list[tuple[int, int, str]]) -> Iterator[str]:
    position = 0
    for start, end, replacement in sorted(edits):
        if start < position:  # overlapping edits cannot happen with a sane tokeniser; keep the source
            continue
        yield source[position:start]
        yield replacement
        position = end
    yield source[position:]


# Links open in a new tab (allowed out of the sandbox) rather than replacing the preview inside its frame.
_LINK_TARGET = '<base target="_blank">'


def render(source: str, *, message_id: str, cids: Mapping[str, str], allow_remote: bool = False) -> Preview:
    """Rewrite an HTML body for the preview of message ``message_id`` (see the module docstring)."""
    rewriter = _Rewriter(message_id, cids, allow_remote)
    finder = _TagFinder(source, rewriter)
    finder.feed(source)
    finder.close()
    edits = [*finder.edits, (finder.base_offset, finder.base_offset, _LINK_TARGET)]
    return Preview("".join(_apply(source, edits)), rewriter.blocked, rewriter.remote)
