"""The HTML body as the preview shows it: ``cid:`` references pointed at part URLs, remote images and
stylesheets neutralised and counted, and the Content-Security-Policy that actually enforces all of this.

The CSP (with the ``sandbox`` directive, and the ``<iframe sandbox>`` the UI embeds it in) is the real
guard: it stops scripts and every remote fetch whatever this module misses. The rewriting exists so the UI
can say how many remote items were held back, and so ``cid:`` images show up at all. Tags are found by a
scanner that tokenises as ``html.parser`` does (quoted ``>``, comments, raw-text ``<script>``/``<style>``,
unfinished constructs), in compiled patterns rather than Python per character; a tag that needs no change
is copied byte for byte.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

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
    def __init__(self, cids: Mapping[str, str], allow_remote: bool) -> None:
        self.cids = cids
        self.allow_remote = allow_remote
        self.remote = 0
        self.blocked = 0

    def cid_url(self, url: str) -> str | None:
        stripped = _URL_JUNK.sub("", url)
        if stripped[:4].lower() != "cid:":
            return None
        part_id = self.cids.get(_normal_cid(stripped[4:]))
        # Relative to the preview's own URL (…/messages/{id}/html), so that --base-path needs no rewrite.
        return f"parts/{part_id}" if part_id else None

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


_START_TAG_END = re.compile(
    r"""<[a-zA-Z][^\t\n\r\f />\x00]*(?:[\s/]*(?:(?<=['"\s/])[^\s/>][^\s/=>]*"""
    r"""(?:\s*=+\s*(?:'[^']*'|"[^"]*"|(?!['"])[^>\s]*)\s*)?(?:\s|/(?!>))*)*)?\s*"""
)
_TAG_NAME = re.compile(r"([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|/(?!>))*")
_ATTRIBUTE = re.compile(
    r"""((?<=['"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|"[^"]*"|(?![\'"])[^>\s]*))?(?:\s|/(?!>))*"""
)
_END_TAG = re.compile(r"</\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>")
_COMMENT_END = re.compile(r"--\s*>")
_SECTION_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*\s*")
_SECTION_END = re.compile(r"]\s*]\s*>")
_MS_SECTION_END = re.compile(r"]\s*>")
# A start tag other than <meta> can only change when one of its attribute names contains one of these, and
# its text holds a character reference or what could become "cid:", "http:", "https:", "//" once the
# characters browsers strip from URLs are gone: every rewrite starts from a cid: or remote URL.
_RELEVANT_NAME = re.compile(r"src|href|style|background|poster", re.I)
_MAY_CHANGE = re.compile(
    r"&|c[\x00-\x20]*i[\x00-\x20]*d[\x00-\x20]*:|[ps][\x00-\x20]*:|[/\\][\x00-\x20]*[/\\]", re.I
)
_FULLY_READ_TAGS = frozenset(("head", "html", "style", "script", "meta"))
# Elsewhere than on these tags, a remote URL only matters in a style or background attribute.
_REMOTE_URL_TAGS = frozenset((*_IMAGE_ATTRIBUTES, *_SRCSET_TAGS, "link"))
_CID_OR_REFERENCE = re.compile(r"&|c[\x00-\x20]*i[\x00-\x20]*d[\x00-\x20]*:", re.I)
_CSS_OR_BACKGROUND = re.compile(r"style|background", re.I)
_RAW_TEXT_END = {name: re.compile(rf"</\s*{name}\s*>", re.I) for name in ("script", "style")}
_INCOMPLETE_TAG_NEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ=/")


# The tokeniser follows html.parser's grammar (tag names, tolerant attribute lists, where a start tag ends,
# comments, declarations, raw-text <script>/<style>), but is driven by compiled patterns: text and tags
# with nothing to rewrite are skipped over inside the search, never decoded. A start tag is skipped there
# only when it is written in a strict subset of that grammar (a plain name, then name="value" pairs), in
# which html.parser ends it at the same ">", and when it passes, as a pattern, one of the tests that
# ``_TagFinder._start_tag`` makes; anything else is looked at in Python.
def _strict_tag(name: str, stop: str, special: str, banned_name: str = "(?!)") -> str:
    """A start tag whose name passes the lookahead ``name``, with plain attribute names, none of which (nor
    the tag's) matches ``banned_name``, and values made of characters other than those in the class
    ``stop``, or of ``special`` (an alternation matching one of them). Runs are possessive: the search
    tries this at every "<", so it must not backtrack. The tag holds no "<": the search resumes right after
    the skipped "<", so a later one inside the tag would be found."""
    sep = r"[\t\n\r\f ]"
    value = (
        rf"""(?:"(?:[^"<{stop}]++|{special})*+"|'(?:[^'<{stop}]++|{special})*+'"""
        rf"""|(?:[^\s"'<>=`{stop}]++|{special})++)"""
    )
    attribute = rf"(?!{banned_name})[a-zA-Z_][-a-zA-Z0-9_.]*+(?:{sep}*+={sep}*+{value})?+"
    return rf"{name}(?!{banned_name})[a-zA-Z][a-zA-Z0-9]*+(?:{sep}++{attribute})*+{sep}*+/?>"


def _tag_names(names: Iterable[str]) -> str:
    return "|".join(sorted(names))


# Test 1: no "&", no ":" after p/s/d (or U+017F, long s, which IGNORECASE folds to "s") or a control
# character, no "\\" and no "/" before another: _MAY_CHANGE cannot match.
_NOTHING_MAY_CHANGE = _strict_tag(
    rf"(?!(?i:{_tag_names(_FULLY_READ_TAGS)})[\t\n\r\f />])",
    r"&:/\\",
    r"(?<![psdPSD\u017f\x00-\x20]):|/(?![\x00-\x20]*[/\\])",
)
# Test 2: a tag where remote URLs do not matter, with no "&", no "cid:" and no "style" or "background".
_NO_REFERENCE_OR_CSS = _strict_tag(
    rf"(?!(?i:{_tag_names(_FULLY_READ_TAGS | _REMOTE_URL_TAGS)})[\t\n\r\f />])",
    r"&:sSbB\u017f",
    r"(?<![dD\x00-\x20]):|(?!(?i:style|background))[sSbB\u017f]",
    r"[-a-zA-Z0-9_.]*?(?i:style|background)",
)
_MARKUP = re.compile(
    rf"""<(?!
        /\s*[a-zA-Z][-.a-zA-Z0-9:_]*\s*>  # an end tag, unless it closes raw text, has no effect here
        # A start tag without quotes ends at its first ">"; without "&", ":", "/", "\\" nothing in it changes.
      | (?!(?i:head|html|style|script|meta)[\t\n\r\f >\x00])[a-zA-Z][^<>"'&:/\\]*>
      | {_NOTHING_MAY_CHANGE}
      | {_NO_REFERENCE_OR_CSS}
    )[a-zA-Z/!?]""",  # ASCII letters only, as html.parser: no IGNORECASE, which would also take "K" (Kelvin)
    re.X,
)


class _TagFinder:
    """Collects (start, end, replacement) edits for the tags and style blocks that need rewriting."""

    def __init__(self, source: str, rewriter: _Rewriter) -> None:
        self.rewriter = rewriter
        self.edits: list[tuple[int, int, str]] = []
        # Where <base> may go without pushing the document into quirks mode: after <head>, <html> or doctype.
        self.insert_at: dict[str, int] = {}
        self._source = source

    def run(self) -> None:
        source, n = self._source, len(self._source)
        position = 0
        while True:
            found = _MARKUP.search(source, position)
            if found is None:
                return
            i = found.start()
            second = source[i + 1]
            if second == "/":
                end = self._end_tag(i)
            elif second == "!":
                end = self._declaration(i)
            elif second == "?":
                end = self._until_gt(i + 2)
            else:
                end, raw_text = self._start_tag(i)
                if raw_text is not None:
                    closing = _RAW_TEXT_END[raw_text].search(source, end)
                    close_at = n if closing is None else closing.start()
                    if raw_text == "style":
                        self._style(end, close_at)
                    if closing is None:
                        return
                    end = closing.end()
            # A construct that never ends is text up to the next ">" (or "<"), as html.parser treats it.
            position = end if end >= 0 else self._after_unfinished(i)

    def _after_unfinished(self, i: int) -> int:
        gt = self._source.find(">", i + 1)
        if gt >= 0:
            return gt + 1
        lt = self._source.find("<", i + 1)
        return lt if lt >= 0 else i + 1

    def _until_gt(self, start: int) -> int:
        gt = self._source.find(">", start)
        return -1 if gt < 0 else gt + 1

    def _end_tag(self, i: int) -> int:
        source = self._source
        if source.find(">", i + 1) < 0:
            return -1
        match = _END_TAG.match(source, i)
        if match is not None:
            return match.end()
        name = _TAG_NAME.match(source, i + 2)
        if name is None:
            return i + 3 if source.startswith("</>", i) else self._until_gt(i + 2)
        return source.find(">", name.end()) + 1

    def _declaration(self, i: int) -> int:
        source = self._source
        if source.startswith("<!--", i):
            match = _COMMENT_END.search(source, i + 4)
            return -1 if match is None else match.end()
        if source.startswith("<![", i):
            return self._marked_section(i)
        if source[i + 2 : i + 9].lower() == "doctype":
            end = self._until_gt(i + 9)
            if end >= 0:
                self.insert_at.setdefault("doctype", end)
            return end
        return self._until_gt(i + 2)

    def _marked_section(self, i: int) -> int:
        source = self._source
        name = _SECTION_NAME.match(source, i + 3)
        if name is None or name.end() == len(source):
            # html.parser gives up on these; a browser reads them as a bogus comment up to the next ">".
            return -1 if name is not None else self._until_gt(i + 2)
        keyword = name.group().strip().lower()
        if keyword in ("temp", "cdata", "ignore", "include", "rcdata"):
            match = _SECTION_END.search(source, i + 3)
        elif keyword in ("if", "else", "endif"):
            match = _MS_SECTION_END.search(source, i + 3)
        else:
            return self._until_gt(i + 2)
        return -1 if match is None else match.end()

    def _start_tag(self, i: int) -> tuple[int, str | None]:
        """Where the start tag at ``i`` ends (-1: unfinished), and the raw-text element it opens, if any."""
        source = self._source
        located = _START_TAG_END.match(source, i)
        assert located is not None  # the pattern matches any "<" + letter
        j = located.end()
        following = source[j : j + 1]
        if following == ">":
            end = j + 1
        elif source.startswith("/>", j):
            end = j + 2
        elif following == "" or following in _INCOMPLETE_TAG_NEXT:
            return -1, None
        else:
            return j, None  # no ">" where the tag should end: text, not a tag
        name = _TAG_NAME.match(source, i + 1)
        assert name is not None
        tag = name.group(1).lower()
        if tag not in _FULLY_READ_TAGS and (
            _MAY_CHANGE.search(source, i, end) is None
            or _RELEVANT_NAME.search(source, i, end) is None
            or (
                tag not in _REMOTE_URL_TAGS
                and _CID_OR_REFERENCE.search(source, i, end) is None
                and _CSS_OR_BACKGROUND.search(source, i, end) is None
            )
        ):
            return end, None  # tag or text, nothing in it changes
        k = name.end()
        attrs: list[tuple[str, str | None]] = []
        while k < end:
            match = _ATTRIBUTE.match(source, k)
            if match is None:
                break
            attribute, rest, value = match.group(1, 2, 3)
            if not rest:
                value = None
            elif value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
                value = value[1:-1]
            attrs.append((attribute.lower(), html.unescape(value) if value else value))
            k = match.end()
        ending = source[k:end].strip()
        if ending not in (">", "/>"):
            return end, None
        self_closing = ending == "/>"
        if tag in ("head", "html"):
            self.insert_at.setdefault(tag, end)
        rewritten = self.rewriter.attributes(tag, attrs)
        if rewritten is not None:
            self.edits.append((i, end, _serialise(tag, rewritten, self_closing)))
        return end, (tag if tag in ("script", "style") and not self_closing else None)

    def _style(self, start: int, end: int) -> None:
        css = self._source[start:end]
        rewritten = self.rewriter.css(css)
        if rewritten != css:
            self.edits.append((start, end, rewritten))

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


def render(source: str, *, cids: Mapping[str, str], allow_remote: bool = False) -> Preview:
    """Rewrite an HTML body for its message's preview, served at ``/api/messages/{id}/html`` (see the module
    docstring); ``cids`` maps Content-IDs to the message's part ids."""
    rewriter = _Rewriter(cids, allow_remote)
    finder = _TagFinder(source, rewriter)
    finder.run()
    edits = [*finder.edits, (finder.base_offset, finder.base_offset, _LINK_TARGET)]
    return Preview("".join(_apply(source, edits)), rewriter.blocked, rewriter.remote)
