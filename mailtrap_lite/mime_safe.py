"""Never-raising building blocks for ``message.py``: parse policies, charset and RFC 2047 decoding,
HTML-to-text, and the warnings collector.

Two policies, because ``policy.default`` is both slow and fragile as a *parser*: it re-parses Content-Type
on every access (four times per part inside the feed parser alone) and its header classes raise
``IndexError`` on common malformed addresses. ``READ_POLICY`` parses with compat32's plain string headers;
``policy.default``'s header registry decodes the values that hold RFC 2047 encoded words, behind a try
that falls back to a lenient linear decoder. ``SAFE_DEFAULT`` is ``policy.default`` for
callers who want ``EmailMessage`` objects, except that a header it cannot parse reads as unstructured text.
"""

from __future__ import annotations

import binascii
import html
import re
from collections.abc import Iterable
from email.headerregistry import BaseHeader, HeaderRegistry
from email.policy import Compat32, EmailPolicy

from mailtrap_lite.model import INFORMATIONAL_WARNINGS, MessageWarning

MAX_DEFECT_WARNINGS = 20
_DEFECTS_DROPPED = f"more parse defects than the {MAX_DEFECT_WARNINGS} listed"
# Longer values skip policy.default's header parser, which is super-linear in the value's length.
MAX_PARSED_HEADER = 16_384

_LINESEP = re.compile(r"\r\n?|\n")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*\s]+)(?:\*[^?\s]*)?\?[bBqQ]\?")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_HIDDEN_HTML = re.compile(
    r"<(script|style)\b.*?(?:</\1\s*>|\Z)|<title\b[^>]*>[^<]{0,4000}</title\s*>|<!--.*?(?:-->|\Z)",
    re.S | re.I,
)
# `>?` keeps an unclosed `<tag` linear: it swallows the rest instead of being retried at every `<`.
_HTML_TAG = re.compile(r"<[a-zA-Z/!?][^>]*>?")
_INVISIBLE = re.compile("[\u00ad\u034f\u200b-\u200f\u2060\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")

# Labels seen in real mail that Python's codec registry does not know, mapped to what they mean.
_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-mac-roman": "mac_roman",
    "x-sjis": "shift_jis",
    "unicode-1-1-utf-7": "utf-7",
    "ansi_x3.4-1968": "ascii",
    "x-user-defined": "latin-1",
    # Mail clients read these labels as their supersets (WHATWG Encoding Standard).
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
}
# Labels that promise nothing about 8-bit bytes: guess quietly instead of reporting an unknown charset.
_NO_CHARSET = frozenset({"", "us-ascii", "ascii", "unknown-8bit", "8bit", "binary"})

_HEADERS = HeaderRegistry()
_UNSTRUCTURED = HeaderRegistry(use_default_map=False)


def _warning_key(code: str, message: str) -> tuple[str, str]:
    # One header-error per header: the summary and the full parse may describe the same failure differently.
    if code == "header-error":
        return code, message.partition(":")[0].lower()
    return code, message


class Warnings:
    """An ordered, de-duplicated collection of MessageWarning; parse defects are capped."""

    __slots__ = ("_defects", "_items")

    def __init__(self, initial: Iterable[MessageWarning] = ()) -> None:
        self._items: dict[tuple[str, str], MessageWarning] = {}
        self._defects = 0
        for warning in initial:
            self._items.setdefault(_warning_key(warning.code, warning.message), warning)
            self._defects += warning.code == "parse-defect" and warning.message != _DEFECTS_DROPPED

    def add(self, code: str, message: str) -> None:
        key = _warning_key(code, message)
        if key in self._items:
            return
        if code == "parse-defect":
            if self._defects >= MAX_DEFECT_WARNINGS:
                # A fixed text, so that the full parse re-finding the dropped defects adds no second line.
                key, message = ("parse-defect", _DEFECTS_DROPPED), _DEFECTS_DROPPED
                self._items.setdefault(key, MessageWarning(code, message))
                return
            self._defects += 1
        self._items[key] = MessageWarning(
            code, message, "info" if code in INFORMATIONAL_WARNINGS else "warning"
        )

    def result(self) -> tuple[MessageWarning, ...]:
        return tuple(self._items.values())


def unescape_8bit(text: str) -> str:
    """Undo the parser's surrogateescape: raw 8-bit bytes become UTF-8 text, else Latin-1."""
    if text.isascii():
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class ReadPolicy(Compat32):
    """compat32 parsing whose header reads are always plain, unfolded ``str`` (never ``Header``)."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        if "\n" in value or "\r" in value:
            value = _LINESEP.sub("", value)
        return unescape_8bit(value)


class SafeEmailPolicy(EmailPolicy):
    """``policy.default``, except that a header its registry cannot parse reads as unstructured text."""

    def header_fetch_parse(self, name: str, value: str) -> BaseHeader | str:
        try:
            header: BaseHeader = super().header_fetch_parse(name, value)
            return header
        except Exception:
            try:
                return _UNSTRUCTURED(name, unescape_8bit(_LINESEP.sub("", value)))
            except Exception:
                return unescape_8bit(_LINESEP.sub("", value))


READ_POLICY = ReadPolicy(max_line_length=None, linesep="\r\n")
SAFE_DEFAULT = SafeEmailPolicy()


def charset_known(charset: str) -> bool:
    name = charset.strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    if name in _NO_CHARSET:
        return True
    try:
        b"a".decode(name)  # not b"": CPython decodes empty bytes without looking the codec up
    except UnicodeError:
        return True
    except Exception:  # LookupError for unknown and non-text codecs; odd names raise other errors
        return False
    return True


def _decode_declared(data: bytes, name: str) -> str | None:
    """Decode with a declared charset; None when Python has no such text codec."""
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        pass
    except Exception:  # LookupError for unknown and non-text codecs; odd names raise other errors
        return None
    try:
        return data.decode("utf-8")  # mislabelled UTF-8 is the usual reason a declared charset fails
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(name, "replace")
    except Exception:
        return None


def decode_bytes(data: bytes, charset: str | None, where: str, warnings: Warnings) -> str:
    """Decode with the declared charset (errors replaced); unknown or absent: UTF-8, else Latin-1."""
    name = (charset or "").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    text = None if name in _NO_CHARSET else _decode_declared(data, name)
    if text is None and name not in _NO_CHARSET:
        warnings.add("charset-unknown", f"{where}: unknown charset {charset!r:.60}, read as UTF-8 or Latin-1")
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    # Some codecs (utf-7) can yield lone surrogates, which no JSON encoder or SQLite driver accepts.
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _decode_word(kind: str, text: str) -> bytes | None:
    try:
        if kind in "bB":
            return binascii.a2b_base64(text + "=" * (-len(text) % 4))
        return binascii.a2b_qp(text.encode("utf-8", "surrogateescape"), header=True)
    except (binascii.Error, ValueError):
        return None


def _decode_lenient(value: str, where: str, warnings: Warnings) -> str:
    """RFC 2047 decoding in one linear pass (compat32's ``decode_header`` is quadratic in the word count)."""
    out: list[str] = []
    end = 0
    after_word = False
    for match in _ENCODED_WORD.finditer(value):
        gap = value[end : match.start()]
        data = _decode_word(match.group(2), match.group(3))
        if data is None:  # not decodable: keep the word as written
            out.append(gap + match.group(0))
            after_word = False
        else:
            if not (after_word and gap.isspace()):  # RFC 2047 §6.2: space between encoded words is dropped
                out.append(gap)
            out.append(decode_bytes(data, match.group(1).partition("*")[0], where, warnings))
            after_word = True
        end = match.end()
    out.append(value[end:])
    return "".join(out)


def decode_header_text(where: str, value: str, warnings: Warnings, *, structured: bool = False) -> str:
    """Decode a header value (RFC 2047, RFC 6532) as ``policy.default`` would, never raising.

    ``where`` names the header (or the part and parameter) in any warning; ``structured`` uses the
    header's own class (address lists, dates) instead of reading the value as unstructured text.
    """
    if "=?" not in value:  # nothing encoded: 8-bit text was decoded when the header was read
        return value
    # policy.default's parser is super-linear on long values, and knows neither our charset aliases
    # nor our fallbacks for unknown charsets.
    if len(value) > MAX_PARSED_HEADER or any(
        cs.lower() in _CHARSET_ALIASES or not charset_known(cs) for cs in _ENCODED_WORD_CHARSET.findall(value)
    ):
        return _decode_lenient(value, where, warnings)
    registry = _HEADERS if structured else _UNSTRUCTURED
    try:
        return str(registry(where, value))
    except Exception as exc:
        warnings.add("header-error", f"{where}: {type(exc).__name__} in the header parser; decoded leniently")
        return _decode_lenient(value, where, warnings)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body: no scripts, styles, comments or tags; entities unescaped."""
    text = html.unescape(_HTML_TAG.sub(" ", _HIDDEN_HTML.sub(" ", markup)))
    return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


def printable(text: str) -> str:
    """Control characters out (they break terminals and full-text tokenizers), newlines and tabs kept;
    an undecodable byte's lone surrogate becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", text))


def collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()
