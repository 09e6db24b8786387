"""The links in a message's bodies, in order and each once: what ``mailtrap-lite links`` prints for sign-up
and password-reset flows."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

# A URL in plain text ends at whitespace, a quote or an angle bracket; trailing punctuation is the
# sentence's, not the link's.
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bmailto:[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_LINK_ATTRIBUTES = {"a": "href", "area": "href"}


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = _LINK_ATTRIBUTES.get(tag)
        for name, value in attrs:
            if name == wanted and value and not value.lstrip().startswith(("#", "javascript:", "data:")):
                self.links.append(value.strip())

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def text_links(text: str) -> list[str]:
    found = []
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and url[-1] in _TRAILING:
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        found.append(url)
    return found


def html_links(html: str) -> list[str]:
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    return parser.links + text_links(unescape("".join(parser.text)))


def links_in(text: str | None, html: str | None) -> list[str]:
    """Every link of the text body, then of the HTML body (anchors, then URLs in its text), each once."""
    found = (text_links(text) if text else []) + (html_links(html) if html else [])
    return list(dict.fromkeys(found))
