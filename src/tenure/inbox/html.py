"""Untrusted HTML from customers: sanitised with nh3 for display, flattened to text when there is no text part."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

# Tags whose text is never shown to a reader, so never part of the plain-text version.
_INVISIBLE = frozenset({"script", "style", "head", "title", "template", "noscript"})
_BLOCK = frozenset(
    {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "hr"}
)
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_OPEN_QUOTE, _CLOSE_QUOTE = "\x00QUOTE\x00", "\x00/QUOTE\x00"


def sanitize_html(raw: str) -> str:
    """Safe to render: no scripts, event handlers, javascript: links, forms or remote-content tricks."""
    return nh3.clean(
        raw,
        url_schemes={"http", "https", "mailto", "tel", "cid"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "blockquote":
            self.parts.append(_OPEN_QUOTE)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "blockquote":
            self.parts.append(_CLOSE_QUOTE)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(_SPACES.sub(" ", data))


def _quote_blocks(text: str) -> str:
    """Turn blockquote markers into "> " prefixes so quoted history is stripped like in plain text."""
    out: list[str] = []
    depth = 0
    for piece in re.split(r"(\x00/?QUOTE\x00)", text):
        if piece == _OPEN_QUOTE:
            depth += 1
        elif piece == _CLOSE_QUOTE:
            depth = max(0, depth - 1)
        elif depth:
            out.append("\n".join("> " + line if line.strip() else line for line in piece.split("\n")))
        else:
            out.append(piece)
    return "".join(out)


def html_to_text(raw: str) -> str:
    collector = _TextCollector()
    collector.feed(raw)
    collector.close()
    text = _quote_blocks("".join(collector.parts))
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
