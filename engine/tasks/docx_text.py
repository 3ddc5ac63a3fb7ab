"""Text of a Word document's XML, read as a stream of parser events: memory follows the text.

python-docx parses ``word/document.xml`` into one lxml tree and wraps every paragraph
in a Python object: a 60 MB ``.docx`` holding 150 MB of ordinary paragraphs (it
passes the zip-bomb checks) took over 1.2 GB and more than 90 seconds. Here lxml's
parser calls :class:`DocxText` for each start tag, end tag and run of text, with no
tree at all, and the text comes out as python-docx would give it: a paragraph is the
text of its runs and hyperlinks (tabs, line breaks and no-break hyphens included);
headings are paragraphs whose style is "Heading N" or "Title"; a table's rows are its
cells joined by " | ", a cell merged across columns or down rows read once per row.

libxml2 refuses elements nested over 256 deep and text nodes over 10 MB unless told
otherwise, so the parser's own state is bounded too.

Thread: any one thread per instance; the caller feeds it.
"""

from __future__ import annotations

import re
from typing import Final

from engine.tasks.html_text import SectionSink, TextBuffer

__all__ = ["MAX_STYLES", "DocxStyles", "DocxText"]

_W: Final = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCUMENT, _BODY, _P, _R, _T = (f"{_W}{n}" for n in ("document", "body", "p", "r", "t"))
_HYPERLINK, _TBL, _TR, _TC = (f"{_W}{n}" for n in ("hyperlink", "tbl", "tr", "tc"))
_PPR, _PSTYLE, _TCPR, _TRPR = (f"{_W}{n}" for n in ("pPr", "pStyle", "tcPr", "trPr"))
_GRID_SPAN, _V_MERGE, _GRID_BEFORE = (f"{_W}{n}" for n in ("gridSpan", "vMerge", "gridBefore"))
_BR, _VAL, _TYPE = f"{_W}br", f"{_W}val", f"{_W}type"
#: Run content that stands for a character, as python-docx's ``Run.text`` reads it.
_RUN_CHARACTERS: Final = {
    f"{_W}tab": "\t",
    f"{_W}ptab": "\t",
    f"{_W}cr": "\n",
    f"{_W}noBreakHyphen": "-",
}
#: Where a paragraph is read: in the body, or in a cell of a table in the body.
_BODY_PARAGRAPH: Final = (_DOCUMENT, _BODY, _P)
_CELL_PARAGRAPH: Final = (_DOCUMENT, _BODY, _TBL, _TR, _TC, _P)
#: Word tables have at most 63 columns; a larger span or offset is a crafted file.
_MAX_COLUMNS: Final = 63
#: Paragraph styles remembered at most. Word's own documents define a few hundred; a
#: styles part with more is built to fill memory, and headings past it read as text.
MAX_STYLES: Final = 10_000
_HEADING_NAME: Final = re.compile(r"Heading.*|heading [1-9]|Title")
_SPACES: Final = re.compile(r"[ \t\f\v\r\n\u00a0\u3000]+")


class DocxStyles:
    """An lxml parser target for ``word/styles.xml``: which paragraph styles are headings.

    Attributes:
        headings: ids of paragraph styles named "Heading ..." or "Title".
        default_is_heading: whether the default paragraph style is one (python-docx
            gives a paragraph with an unknown style the default one).
    """

    def __init__(self) -> None:
        self.headings: set[str] = set()
        self.default_is_heading = False
        self._paragraph_styles = 0
        self._style: dict[str, str] | None = None  # the w:style being read: its fields

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        """An element opens."""
        if tag == f"{_W}style":
            self._style = {
                "type": attrib.get(_TYPE, ""),
                "id": attrib.get(f"{_W}styleId", ""),
                "default": attrib.get(f"{_W}default", ""),
            }
        elif tag == f"{_W}name" and self._style is not None:
            self._style["name"] = attrib.get(_VAL, "")

    def end(self, tag: str) -> None:
        """An element closes."""
        style, self._style = (self._style, None) if tag == f"{_W}style" else (None, self._style)
        if style is None or style["type"] != "paragraph":
            return
        self._paragraph_styles += 1
        if self._paragraph_styles > MAX_STYLES:
            return
        heading = bool(_HEADING_NAME.fullmatch(style.get("name", "")))
        if heading:
            self.headings.add(style["id"])
        if style["default"] in ("1", "true", "on"):
            self.default_is_heading = heading

    def data(self, text: str) -> None:
        """Text between tags (none matters here)."""

    def close(self) -> None:
        """The end of the part."""


class _Cell:
    """The table cell being read."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.span = 1
        self.continues = False  # a vertically merged cell below its first row


class DocxText:
    """An lxml parser target for ``word/document.xml``: headings, paragraphs and tables.

    Args:
        sink: receives the headings and paragraphs, in document order.
        styles: which paragraph styles are headings.
    """

    def __init__(self, sink: SectionSink, styles: DocxStyles) -> None:
        self._sink = sink
        self._styles = styles
        self._stack: list[str] = []  # the open elements' tags (libxml2 caps the depth)
        self._paragraph: TextBuffer | None = None  # the text of the paragraph being read
        self._paragraph_at = -1  # its index in the stack
        self._style: str | None = None  # its style id
        self._in_text = False  # inside a w:t of that paragraph
        self._rows: list[str] = []  # the rows of the table being read
        self._cell: _Cell | None = None  # the cell being read
        self._texts: list[str] = []  # the texts of the row's cells read so far
        self._column = 0  # the grid column of the next cell in the row
        # The cell at each grid column of the row being read and of the previous one, as
        # (id, text): a cell merged down from the one above reads as that one.
        self._grid: dict[int, tuple[int, str]] = {}
        self._above: dict[int, tuple[int, str]] = {}
        self._cell_ids = 0
        self._last_id = 0  # the id of the row's last cell read

    # -- the lxml target interface -----------------------------------------------------

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        """An element opens."""
        stack = self._stack
        stack.append(tag)
        depth = len(stack)
        if depth == 3 and tag == _TBL and stack[1] == _BODY:
            self._rows, self._above = [], {}
        elif depth == 4 and tag == _TR and stack[2] == _TBL:
            self._texts, self._grid, self._column = [], {}, 0
        elif depth == 5 and tag == _TC and stack[3] == _TR:
            self._cell = _Cell()
        elif tag == _P and tuple(stack) in (_BODY_PARAGRAPH, _CELL_PARAGRAPH):
            self._paragraph, self._paragraph_at, self._style = TextBuffer(), depth - 1, None
        elif self._paragraph is not None:
            self._in_paragraph(tag, attrib, depth)
        elif depth == 7 and stack[4] == _TC and stack[5] == _TCPR and self._cell is not None:
            self._cell_property(self._cell, tag, attrib)
        elif depth == 6 and tag == _GRID_BEFORE and stack[4] == _TRPR:
            self._column = _number(attrib.get(_VAL), 0)

    def end(self, tag: str) -> None:
        """An element closes."""
        stack = self._stack
        depth = len(stack)
        stack.pop()
        if tag == _T:
            self._in_text = False
        elif tag == _P and depth - 1 == self._paragraph_at:
            self._end_paragraph(depth)
        elif depth == 5 and tag == _TC and self._cell is not None:
            self._end_cell(self._cell)
            self._cell = None
        elif depth == 4 and tag == _TR and stack[-1] == _TBL:
            self._end_row()
        elif depth == 3 and tag == _TBL:
            self._sink.paragraph("\n".join(self._rows))
            self._rows = []

    def data(self, text: str) -> None:
        """A run of text."""
        if self._in_text and self._paragraph is not None:
            self._paragraph.append(text)

    def close(self) -> None:
        """The end of the part."""

    # -- paragraphs --------------------------------------------------------------------

    def _in_paragraph(self, tag: str, attrib: dict[str, str], depth: int) -> None:
        assert self._paragraph is not None
        at = self._paragraph_at
        stack = self._stack
        parent = stack[-2]
        if depth == at + 3 and parent == _PPR and tag == _PSTYLE:
            self._style = attrib.get(_VAL)
            return
        # Run content counts in a run of the paragraph, or of a hyperlink in it.
        in_run = parent == _R and (
            depth == at + 3 or (depth == at + 4 and stack[at + 1] == _HYPERLINK)
        )
        if not in_run:
            return
        if tag == _T:
            self._in_text = True
        elif tag == _BR:
            if attrib.get(_TYPE, "textWrapping") == "textWrapping":
                self._paragraph.append("\n")  # page and column breaks are no text
        elif tag in _RUN_CHARACTERS:
            self._paragraph.append(_RUN_CHARACTERS[tag])

    def _end_paragraph(self, depth: int) -> None:
        assert self._paragraph is not None
        text = self._paragraph.text()
        self._paragraph, self._paragraph_at, self._in_text = None, -1, False
        if depth == len(_CELL_PARAGRAPH):
            if self._cell is not None:
                self._cell.paragraphs.append(text)
            return
        text = text.strip()
        if not text:
            return
        if self._is_heading():
            self._sink.heading(_SPACES.sub(" ", text))
        else:
            self._sink.paragraph(text)

    def _is_heading(self) -> bool:
        styles = self._styles
        if self._style is not None and self._style in styles.headings:
            return True
        return styles.default_is_heading and self._style is None

    # -- tables ------------------------------------------------------------------------

    def _cell_property(self, cell: _Cell, tag: str, attrib: dict[str, str]) -> None:
        if tag == _GRID_SPAN:
            cell.span = max(1, _number(attrib.get(_VAL), 1))
        elif tag == _V_MERGE:
            cell.continues = attrib.get(_VAL, "continue") == "continue"

    def _end_cell(self, cell: _Cell) -> None:
        """Place a cell on the row's grid; a cell spanning columns or rows appears once."""
        for offset in range(cell.span):
            column = self._column + offset
            if cell.continues and column in self._above:
                entry = self._above[column]
            else:
                if offset == 0:
                    self._cell_ids += 1
                text = _SPACES.sub(" ", "\n".join(cell.paragraphs)).strip()
                entry = (self._cell_ids, text)
            if column < _MAX_COLUMNS:
                self._grid[column] = entry
            elif not entry[1]:
                continue  # past any real table's last column: only text is kept
            if not self._texts or entry[0] != self._last_id:
                self._texts.append(entry[1])
                self._last_id = entry[0]
        self._column += cell.span

    def _end_row(self) -> None:
        """One row as " | "-joined cells."""
        self._above = self._grid
        if any(self._texts):
            self._rows.append(" | ".join(self._texts))
        self._texts, self._grid = [], {}


def _number(value: str | None, default: int) -> int:
    """A small count from an attribute, within what a Word table can hold."""
    try:
        return max(0, min(int(value or default), _MAX_COLUMNS))
    except ValueError:
        return default
