"""Visible text of HTML, read as a stream of parser events: memory follows the text kept.

lxml's HTML parser (libxml2) calls :class:`HtmlText` for each start tag, end tag and
run of text, and never builds a tree: 50 MB of nested ``<div>`` took BeautifulSoup
over 2.7 GB and more than a minute, and take this 255 MB (the file's bytes and its
decoded text included) and 7 s of CPU. libxml2
closes every element it opens, in order, so the extractor needs no stack of its own,
only a depth counter; structure deeper than :data:`MAX_DEPTH` is read as plain text.

Thread: any one thread per instance; the caller feeds it.
"""

from __future__ import annotations

import re
from typing import Final, Protocol

__all__ = ["MAX_DEPTH", "HtmlText", "SectionSink", "TextBuffer"]

#: Elements nested deeper than this are read as inline text: their paragraphs, rows and
#: headings are not told apart. Real pages nest a few dozen levels; a thousand is a file
#: built to exhaust a parser, and its text still comes through.
MAX_DEPTH: Final = 1000

#: Elements whose content is not visible text.
DROPPED: Final = frozenset(
    {"script", "style", "noscript", "template", "head", "svg", "math", "canvas", "iframe",
     "object", "embed", "audio", "video", "select", "button", "title"}
)  # fmt: skip
HEADINGS: Final = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BLOCKS: Final = frozenset(
    {"p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "ul",
     "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "blockquote",
     "pre", "figure", "figcaption", "address", "details", "summary", "form", "fieldset",
     "hr", "caption", "body", "html", "center"}
)  # fmt: skip
CELLS: Final = frozenset({"td", "th"})
#: Tags that change anything when they open, and when they close.
_OPENING: Final = DROPPED | HEADINGS | BLOCKS | {"pre", "br"}
_OPENING_DEEP: Final = DROPPED | {"br"}  # past MAX_DEPTH
_CLOSING: Final = BLOCKS | CELLS
_SPACES: Final = re.compile(r"[ \t\f\v\r\n\u00a0\u3000]+")


class SectionSink(Protocol):
    """Where the text goes: headings start sections, paragraphs fill them."""

    def heading(self, title: str) -> None:
        """A heading's text, spaces collapsed."""

    def paragraph(self, text: str, *, keep_spaces: bool = False) -> None:
        """A paragraph (a table: its rows, one per line); ``keep_spaces`` for ``<pre>``."""


class TextBuffer:
    """Text gathered in pieces, joined as it grows so that memory follows the characters.

    A list of a million one-character pieces (``<br>`` after ``<br>``) costs 8 bytes a
    character in pointers alone; here every :data:`_PIECES` pieces become one string.
    """

    _PIECES: Final = 4096

    def __init__(self) -> None:
        self._joined: list[str] = []
        self._pieces: list[str] = []

    def append(self, piece: str) -> None:
        """Add text at the end."""
        self._pieces.append(piece)
        if len(self._pieces) >= self._PIECES:
            self._joined.append("".join(self._pieces))
            self._pieces.clear()

    def text(self) -> str:
        """All the text so far."""
        return "".join(self._joined) + "".join(self._pieces)

    def clear(self) -> None:
        """Forget the text."""
        self._joined.clear()
        self._pieces.clear()


class HtmlText:
    """An lxml parser target turning HTML events into headings and paragraphs.

    Text inside dropped elements (scripts, styles, ...) is skipped; headings become
    section titles; ``<pre>`` keeps its spaces; table rows become " | "-joined cells.

    Args:
        sink: receives the headings and paragraphs, in document order.
    """

    def __init__(self, sink: SectionSink) -> None:
        self._sink = sink
        self._depth = 0
        # The element that put the reader in a mode, by depth (0: none), and the mode:
        # text is skipped inside a dropped element, gathered whole in a heading or <pre>.
        self._mode_at = 0
        self._mode = ""
        self._gathered = TextBuffer()  # a heading's or a <pre>'s text
        self._line = TextBuffer()  # the text of the paragraph being read
        self._cells: list[str] = []  # the cells of the table row being read
        self._tables: list[list[str]] = []  # the rows of each open table, innermost last

    # -- the lxml target interface ---------------------------------------------------
    #
    # start and end run once per element, 20 million times for 50 MB of <div>: they
    # do the least they can before returning (libxml2 gives tag names in lower case).

    def start(self, tag: str, attrib: object) -> None:
        """An element opens."""
        self._depth += 1
        if self._mode_at:
            if self._mode == "heading":
                # Text on either side of a tag is two strings, kept apart by a space
                # (BeautifulSoup's get_text(" ")); one string may come in several calls.
                self._gathered.append(" ")
        elif tag in _OPENING and (self._depth <= MAX_DEPTH or tag in _OPENING_DEEP):
            self._open(tag)

    def end(self, tag: str) -> None:
        """An element closes (libxml2 closes each one it opened, innermost first)."""
        depth = self._depth
        self._depth = depth - 1
        if self._mode_at:
            if depth == self._mode_at:
                self._end_mode()
            elif self._mode == "heading":
                self._gathered.append(" ")
        elif depth <= MAX_DEPTH and tag in _CLOSING:
            self._close(tag)

    def data(self, text: str) -> None:
        """A run of text (entities already decoded)."""
        if not self._mode_at:
            self._line.append(_SPACES.sub(" ", text))
        elif self._mode != "dropped":
            self._gathered.append(text)

    def close(self) -> None:
        """The end of the document."""
        self._flush()

    # -- structure ---------------------------------------------------------------------

    def _open(self, name: str) -> None:
        if name in DROPPED:
            self._mode_at, self._mode = self._depth, "dropped"
        elif name == "br":
            self._line.append("\n")
        elif self._depth > MAX_DEPTH:
            return
        elif name in HEADINGS or name == "pre":
            self._flush()
            self._mode_at, self._mode = self._depth, "heading" if name in HEADINGS else "pre"
        else:
            self._flush()
            if name == "table":
                self._tables.append([])

    def _end_mode(self) -> None:
        mode, self._mode_at, self._mode = self._mode, 0, ""
        if mode == "heading":
            self._sink.heading(_SPACES.sub(" ", self._gathered.text()).strip())
        elif mode == "pre":
            text = self._gathered.text().replace("\r\n", "\n").replace("\r", "\n")
            self._sink.paragraph(text.strip("\n"), keep_spaces=True)
        self._gathered.clear()

    def _close(self, name: str) -> None:
        if name in CELLS:
            self._cells.append(_SPACES.sub(" ", self._line.text()).strip())
            self._line.clear()
        elif name == "tr":
            self._line.clear()
            if any(self._cells):
                row = " | ".join(self._cells)
                if self._tables:
                    self._tables[-1].append(row)
                else:
                    self._sink.paragraph(row)
            self._cells.clear()
        elif name == "table":
            self._flush()
            if self._tables:
                self._sink.paragraph("\n".join(self._tables.pop()))
        elif name in BLOCKS:
            self._flush()

    def _flush(self) -> None:
        joined = self._line.text()
        self._line.clear()
        for paragraph in joined.split("\n\n"):
            self._sink.paragraph(paragraph)
