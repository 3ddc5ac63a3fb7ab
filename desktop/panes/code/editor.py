"""The code editor: a plain-text editor with line numbers, a current-line highlight,
syntax colouring and code-friendly keys (Tab indents, Enter keeps the indentation), and
the reading and writing of the source files it edits.

It follows Qt's "Code Editor" example for the line-number gutter. Colouring is
:class:`desktop.highlight.highlighter.CodeHighlighter`'s. Edits made on the user's behalf (an
applied fix, a completion) go through :meth:`CodeEditor.replace_range`, one edit block
each, so one Ctrl+Z undoes them.

Thread: everything here runs on the Qt thread.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QMimeData, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QFontDatabase,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from desktop.highlight.highlighter import CodeHighlighter
from desktop.widgets import blend
from engine.data.atomicfile import write_atomic

#: The largest file the editor opens: code files are small; anything bigger is data.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Spaces one Tab inserts, and the width a tab character is drawn with.
INDENT = 4
#: Languages whose code is indented with tab characters by convention (Go's gofmt,
#: Makefiles); plain text keeps the Tab key's own character too. Every other language
#: gets spaces, as PEP 8 and most style guides ask.
TAB_LANGUAGES = frozenset({"go", "text", "makefile"})


class LineNumberArea(QWidget):
    """The gutter left of the text: one number per line (painted by the editor)."""

    def __init__(self, editor: CodeEditor) -> None:
        super().__init__(editor)
        self._editor = editor

    def sizeHint(self) -> QSize:
        """As wide as the editor's largest line number."""
        return QSize(self._editor.line_number_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Let the editor paint the numbers of the visible lines."""
        self._editor.paint_line_numbers(event)


class CodeEditor(QPlainTextEdit):
    """A code editor: line numbers, current-line highlight, monospace font, colouring.

    Args:
        parent: the parent widget.

    Tab inserts four spaces (a tab character in Go and plain text); with several lines
    selected, Tab indents them and Shift+Tab takes one level off. Enter keeps the
    current line's indentation. Ctrl+Tab moves the keyboard focus on, since Tab itself
    is for code. Dropped files are left to the parent (the pane opens them).

    Signals:
        text_pasted_into_empty(str): text was pasted (or dropped) into an empty editor.
    """

    text_pasted_into_empty = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * INDENT)
        self._gutter = LineNumberArea(self)
        self.highlighter = CodeHighlighter(self, "text")
        self.blockCountChanged.connect(self._on_block_count_changed)
        self.updateRequest.connect(self._on_update_request)
        self.cursorPositionChanged.connect(self._on_cursor_position_changed)
        self._on_block_count_changed(0)
        self._on_cursor_position_changed()

    # -- language --------------------------------------------------------------------

    def language(self) -> str:
        """The canonical name of the language the code is coloured as."""
        return self.highlighter.language()

    def set_language(self, language: str) -> None:
        """Colour (and indent) the code as ``language`` (a canonical name)."""
        self.highlighter.set_language(language)

    @property
    def indent_text(self) -> str:
        """What one level of indentation is in the current language."""
        return "\t" if self.language() in TAB_LANGUAGES else " " * INDENT

    # -- edits on the user's behalf --------------------------------------------------

    def replace_range(self, start: int, end: int, text: str) -> QTextCursor:
        """Replace the characters from ``start`` to ``end`` with ``text`` as one undoable edit.

        Args:
            start: the first document position replaced.
            end: the position after the last one replaced (``start`` to insert).
            text: the new text ("\\n" for line breaks).

        Returns:
            A cursor selecting the new text.
        """
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(text)
        cursor.endEditBlock()
        cursor.setPosition(start, QTextCursor.MoveMode.KeepAnchor)
        return cursor

    def text_range(self, start: int, end: int) -> str:
        """The text from ``start`` to ``end``, with "\\n" line breaks."""
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        return plain_text(cursor)

    # -- the gutter ------------------------------------------------------------------

    def line_number_width(self) -> int:
        """Width of the gutter: the largest line number, plus a little room."""
        digits = len(str(max(1, self.blockCount())))
        return self.fontMetrics().horizontalAdvance("9") * (digits + 1) + 6

    def _on_block_count_changed(self, _count: int) -> None:
        self.setViewportMargins(self.line_number_width(), 0, 0, 0)

    def _on_update_request(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())
        if rect.contains(self.viewport().rect()):
            self._on_block_count_changed(0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the gutter as tall as the editor."""
        super().resizeEvent(event)
        contents = self.contentsRect()
        self._gutter.setGeometry(
            QRect(contents.left(), contents.top(), self.line_number_width(), contents.height())
        )

    def paint_line_numbers(self, event: QPaintEvent) -> None:
        """Paint the gutter's numbers for the lines in ``event``'s rectangle."""
        painter = QPainter(self._gutter)
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        painter.fillRect(event.rect(), blend(base, text, 0.05))
        current = self.textCursor().blockNumber()
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                shade = 0.85 if number == current else 0.45
                painter.setPen(blend(base, text, shade))
                painter.drawText(
                    0,
                    top,
                    self._gutter.width() - 4,
                    height,
                    Qt.AlignmentFlag.AlignRight,
                    str(number + 1),
                )
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1
        painter.end()

    # -- current line ----------------------------------------------------------------

    def _on_cursor_position_changed(self) -> None:
        selection = QTextEdit.ExtraSelection()
        palette = self.palette()
        color = blend(
            palette.color(QPalette.ColorRole.Base),
            palette.color(QPalette.ColorRole.Highlight),
            0.12,
        )
        selection.format.setBackground(QColor(color))
        selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        cursor = self.textCursor()
        cursor.clearSelection()
        selection.cursor = cursor
        self.setExtraSelections([selection])
        self._gutter.update()

    # -- keys ------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Tab indents, Shift+Tab dedents, Enter keeps the indentation, Ctrl+Tab moves on."""
        key, modifiers = event.key(), event.modifiers()
        ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and ctrl:
            backwards = key == Qt.Key.Key_Backtab or bool(
                modifiers & Qt.KeyboardModifier.ShiftModifier
            )
            self.focusNextPrevChild(not backwards)
            event.accept()
            return
        if key == Qt.Key.Key_Backtab:
            self._dedent()
            event.accept()
            return
        if key == Qt.Key.Key_Tab and not modifiers:
            cursor = self.textCursor()
            if cursor.hasSelection() and "\u2029" in cursor.selectedText():
                self._indent()
            else:
                cursor.insertText(self.indent_text)
            event.accept()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not modifiers:
            cursor = self.textCursor()
            line = cursor.block().text()
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            cursor.insertText("\n" + indent[: cursor.positionInBlock()])
            self.ensureCursorVisible()
            event.accept()
            return
        super().keyPressEvent(event)

    def _selected_blocks(self) -> tuple[int, int]:
        cursor = self.textCursor()
        document = self.document()
        first = document.findBlock(cursor.selectionStart()).blockNumber()
        end = cursor.selectionEnd()
        last_block = document.findBlock(end)
        last = last_block.blockNumber()
        if last > first and end == last_block.position():
            last -= 1  # a selection ending at a line's start leaves that line alone
        return first, last

    def _indent(self) -> None:
        first, last = self._selected_blocks()
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        for number in range(first, last + 1):
            cursor.setPosition(self.document().findBlockByNumber(number).position())
            cursor.insertText(self.indent_text)
        cursor.endEditBlock()

    def _dedent(self) -> None:
        first, last = self._selected_blocks()
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        for number in range(first, last + 1):
            block = self.document().findBlockByNumber(number)
            text = block.text()
            spaces = len(text) - len(text.lstrip(" "))
            width = 1 if text.startswith("\t") else min(spaces, INDENT)
            if width:
                cursor.setPosition(block.position())
                cursor.setPosition(block.position() + width, QTextCursor.MoveMode.KeepAnchor)
                cursor.removeSelectedText()
        cursor.endEditBlock()

    # -- pasting and dropping --------------------------------------------------------

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        """Text only: dropped files go on to the pane, which opens them."""
        return not source.hasUrls() and super().canInsertFromMimeData(source)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Let file drags pass to the pane."""
        if event.mimeData().hasUrls():
            event.ignore()
            return
        super().dragEnterEvent(event)

    def insertFromMimeData(self, source: QMimeData) -> None:
        """Paste as plain text; report text pasted into an empty editor (to pick its language)."""
        was_empty = self.document().isEmpty()
        super().insertFromMimeData(source)
        if was_empty and source.hasText() and source.text().strip():
            self.text_pasted_into_empty.emit(source.text())


class SourceFileError(Exception):
    """A file the editor will not open, with the reason as a short English phrase.

    Attributes:
        reason: "too_big", "binary" or "unreadable" (the pane words the message).
        detail: the operating system's message for "unreadable".
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def read_source(path: Path) -> str:
    """Read a source file for the editor (blocking: call it from a worker thread).

    Args:
        path: the file.

    Returns:
        Its text, with "\n" line breaks (Windows and old Mac ones converted).

    Raises:
        SourceFileError: the file is over :data:`MAX_FILE_BYTES`, is not UTF-8 text
            (a NUL byte, or bytes that do not decode), or cannot be read.
    """
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            raise SourceFileError("too_big")
        data = path.read_bytes()
    except OSError as exc:
        raise SourceFileError("unreadable", exc.strerror or str(exc)) from exc
    if b"\0" in data[:8192]:
        raise SourceFileError("binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceFileError("binary") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def write_source(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically (blocking: call it from a worker thread).

    A failed write (a full disk) leaves any older file at ``path`` intact; the temporary
    file has an unpredictable name (:func:`engine.data.atomicfile.write_atomic`).

    Raises:
        OSError: the file could not be written.
    """
    write_atomic(path, text)


def plain_text(cursor: QTextCursor) -> str:
    """A cursor's selected text with "\\n" line breaks (Qt gives U+2029 between paragraphs)."""
    return cursor.selectedText().replace("\u2029", "\n").replace("\u2028", "\n")


__all__ = [
    "INDENT",
    "MAX_FILE_BYTES",
    "TAB_LANGUAGES",
    "CodeEditor",
    "LineNumberArea",
    "SourceFileError",
    "plain_text",
    "read_source",
    "write_source",
]
