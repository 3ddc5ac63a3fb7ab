"""The conversation transcript: messages rendered as rich text, answers streamed as Markdown.

An answer is painted at most once per frame, never once per token, and only its
unfinished last paragraph is re-rendered; earlier text settles and is never touched
again. Under each answer goes a small line with its stats (or why it was interrupted).

Thread: everything here runs on the Qt thread.
"""

from __future__ import annotations

import re
import time

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import (
    QDesktopServices,
    QFont,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
    QTextOption,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop.widgets import blend, mix
from engine.types import GenerationStats

#: How often streamed text is painted: once per frame at 60 Hz, never once per token.
FRAME_MS = 16
#: The longest a frame may be stretched to when rendering is slow.
MAX_FRAME_MS = 200


class Transcript(QTextBrowser):
    """The conversation as rich text: user messages as typed, answers as Markdown.

    The answer being streamed is re-rendered in place (only its own part of the
    document), so earlier messages are never re-laid out. Its text arrives piece by
    piece through :meth:`append_answer` and is painted on a frame timer, at most once
    per frame. The view follows new text while it is scrolled to the bottom, and stays
    put when the user scrolled up.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self.setPlaceholderText(
            self.tr("Ask anything. Everything runs on this computer; nothing leaves it.")
        )
        self.setAccessibleName(self.tr("Conversation"))
        self.document().setDocumentMargin(self.fontMetrics().lineSpacing() * 0.6)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self._answer_start = -1
        self._answer_label = ""
        self._tail_start = -1
        self._settled = 0
        self._follow = True
        self._pieces: list[str] = []
        self._dirty = False
        self._frame_timer = QTimer(self)
        self._frame_timer.setInterval(FRAME_MS)
        self._frame_timer.timeout.connect(self._on_frame_timer_timeout)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scroll_value_changed)
        bar.rangeChanged.connect(self._on_scroll_range_changed)

    # -- formats ---------------------------------------------------------------------

    def _role_format(self) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setFontWeight(QFont.Weight.Bold)
        fmt.setForeground(self.palette().color(QPalette.ColorRole.Highlight))
        return fmt

    def _header_block(self) -> QTextBlockFormat:
        fmt = QTextBlockFormat()
        if not self.document().isEmpty():
            fmt.setTopMargin(self.fontMetrics().lineSpacing() * 0.9)
        fmt.setBottomMargin(self.fontMetrics().lineSpacing() * 0.2)
        return fmt

    def _note_format(self, *, error: bool) -> QTextCharFormat:
        fmt = QTextCharFormat()
        role = QPalette.ColorRole.PlaceholderText
        fmt.setForeground(self.palette().color(role))
        if error:
            fmt.setForeground(mix(self.palette(), "#d9534f", 0.85))
        font = self.font()
        fmt.setFontPointSize(max(font.pointSizeF() * 0.85, 6.0))
        return fmt

    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _new_block(
        self, cursor: QTextCursor, block: QTextBlockFormat, char: QTextCharFormat
    ) -> None:
        # Fresh formats, so a block after a list or code block does not join it.
        if self.document().isEmpty():
            cursor.setBlockFormat(block)
            cursor.setCharFormat(char)
        else:
            cursor.insertBlock(block, char)

    # -- messages --------------------------------------------------------------------

    def add_user_message(self, label: str, text: str) -> None:
        """Append a user message, shown as typed (not as Markdown)."""
        cursor = self._end_cursor()
        cursor.beginEditBlock()
        self._new_block(cursor, self._header_block(), self._role_format())
        cursor.insertText(label)
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertText(text)
        cursor.endEditBlock()
        self._follow = True

    def begin_answer(self, label: str) -> None:
        """Start an answer under a ``label`` header; stream it with :meth:`append_answer`.

        Starts the frame timer that paints the streamed text; :meth:`finish_answer` or
        :meth:`stop_streaming` stops it.
        """
        cursor = self._end_cursor()
        cursor.beginEditBlock()
        self._new_block(cursor, self._header_block(), self._role_format())
        self._answer_start = cursor.block().position()
        self._answer_label = label
        cursor.insertText(label)
        cursor.insertBlock(self._spacer_block(), QTextCharFormat())
        cursor.endEditBlock()
        self._tail_start = cursor.position()
        self._settled = 0
        self._pieces = []
        self._dirty = False
        self._frame_timer.start(FRAME_MS)

    def append_answer(self, text: str) -> None:
        """Add ``text`` to the answer being streamed; it is painted on the next frame."""
        self._pieces.append(text)
        self._dirty = True

    @property
    def streamed_text(self) -> str:
        """The text streamed into the current (or last) answer so far."""
        return "".join(self._pieces)

    def stop_streaming(self) -> None:
        """Stop painting the streamed answer (the stream ended, or the window is closing)."""
        self._frame_timer.stop()

    def _on_frame_timer_timeout(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        started = time.perf_counter()
        self._stream_answer("".join(self._pieces))
        # Leave the CPU to the engine when painting is slow (a huge table, say): spend
        # at most about a quarter of the time rendering.
        cost_ms = (time.perf_counter() - started) * 1000
        self._frame_timer.setInterval(max(FRAME_MS, min(MAX_FRAME_MS, round(cost_ms * 4))))

    def _stream_answer(self, markdown: str) -> None:
        """Show the answer so far (its whole text), re-rendering only its unsettled tail.

        Text before the last blank line that starts a new top-level block (outside a
        code fence) is settled: it is rendered once and never touched again, so a
        frame costs the length of the last paragraph, not of the whole answer.
        :meth:`finish_answer` renders the complete text once more, exactly.
        """
        if self._answer_start < 0:
            return
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        settled = _settled_length(markdown, self._settled)
        if settled > self._settled:
            self._render_tail(cursor, markdown[self._settled : settled])
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertBlock(self._spacer_block(), QTextCharFormat())
            self._tail_start = cursor.position()
            self._settled = settled
        self._render_tail(cursor, markdown[self._settled :])
        cursor.endEditBlock()

    def _render_tail(self, cursor: QTextCursor, markdown: str) -> None:
        cursor.setPosition(self._tail_start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._reset_block(cursor, self._spacer_block())
        if markdown.strip():
            # A fragment's first block merges into the current one and loses its own
            # block format (a code fence would become inline code), so an invisible
            # spacer paragraph goes first and the answer's blocks keep theirs.
            cursor.insertMarkdown(_SPACER + "\n\n" + markdown)
            QTextCursor(self.document().findBlock(self._tail_start)).setBlockFormat(
                self._spacer_block()
            )
            self._style_code(self._tail_start)

    def finish_answer(self, markdown: str, note: str, *, error: bool = False) -> None:
        """Render the complete answer exactly, then a small line under it (stats or error).

        Args:
            markdown: the answer's whole text.
            note: the line under it, such as :meth:`stats_line` gives.
            error: show ``note`` as an error.
        """
        self.stop_streaming()
        if self._answer_start < 0:
            return
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        cursor.setPosition(self._answer_start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._reset_block(cursor, self._header_block())
        # The header is the paragraph the fragment's first block merges into.
        cursor.insertMarkdown(_escape_md(self._answer_label) + "\n\n" + markdown)
        header = QTextCursor(self.document())
        header.setPosition(self._answer_start)
        header.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        header.setCharFormat(self._role_format())
        header.setBlockFormat(self._header_block())
        self._style_code(self._answer_start)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        note_block = QTextBlockFormat()
        note_block.setTopMargin(self.fontMetrics().lineSpacing() * 0.3)
        cursor.insertBlock(note_block, self._note_format(error=error))
        cursor.insertText(note)
        cursor.endEditBlock()
        self._answer_start = -1

    def _style_code(self, start: int) -> None:
        """Give code blocks and inline code from ``start`` on a tinted background.

        Qt's Markdown import marks them (a code-language property on the block, a
        fixed-pitch font on inline code) but paints them like body text.
        """
        palette = self.palette()
        tint = blend(
            palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.07
        )
        block = self.document().findBlock(start)
        inline: list[tuple[int, int]] = []
        while block.isValid():
            fmt = block.blockFormat()
            if fmt.hasProperty(QTextFormat.Property.BlockCodeLanguage) or fmt.hasProperty(
                QTextFormat.Property.BlockCodeFence
            ):
                fmt.setBackground(tint)
                # Wrap long code lines: one wide line would otherwise scroll the whole
                # conversation sideways.
                fmt.setNonBreakableLines(False)
                QTextCursor(block).setBlockFormat(fmt)
            else:
                pieces = block.begin()
                while not pieces.atEnd():
                    fragment = pieces.fragment()
                    if fragment.charFormat().fontFixedPitch():
                        inline.append((fragment.position(), fragment.length()))
                    pieces += 1
            block = block.next()
        code = QTextCharFormat()
        code.setBackground(tint)
        for position, length in inline:
            cursor = QTextCursor(self.document())
            cursor.setPosition(position)
            cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(code)

    @staticmethod
    def _reset_block(cursor: QTextCursor, block: QTextBlockFormat) -> None:
        current = cursor.currentList()
        if current is not None:
            current.remove(cursor.block())
        cursor.setBlockFormat(block)
        cursor.setCharFormat(QTextCharFormat())

    @staticmethod
    def _spacer_block() -> QTextBlockFormat:
        fmt = QTextBlockFormat()
        fmt.setLineHeight(0, QTextBlockFormat.LineHeightTypes.FixedHeight.value)
        fmt.setTopMargin(0)
        fmt.setBottomMargin(0)
        return fmt

    def clear_conversation(self) -> None:
        """Empty the transcript."""
        self._answer_start = -1
        self.clear()
        self._follow = True

    def stats_line(self, stats: GenerationStats) -> str:
        """The line shown under a finished answer: speed, length and why it stopped.

        Args:
            stats: the answer's generation stats.

        Returns:
            The stats, joined with middle dots, ready for :meth:`finish_answer`.
        """
        reasons = {
            "eos": self.tr("finished"),
            "length": self.tr("reached the token limit"),
            "stop_string": self.tr("stop string"),
            "cancelled": self.tr("cancelled"),
            "context": self.tr("context full"),
        }
        parts = [
            self.tr("TTFT {seconds:.2f} s").format(seconds=stats.ttft_s),
            self.tr("{rate:.1f} tokens/s").format(rate=stats.tokens_per_s),
            self.tr("{count} tokens").format(count=stats.generated_tokens),
            reasons.get(stats.stop_reason, stats.stop_reason),
        ]
        if stats.dropped_messages:
            parts.append(
                self.tr("{count} oldest messages left out to fit the context").format(
                    count=stats.dropped_messages
                )
            )
        elif stats.truncated:
            parts.append(self.tr("a message was shortened to fit the context"))
        return " · ".join(parts)

    # -- following the end -------------------------------------------------------------

    def _on_scroll_value_changed(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - self.fontMetrics().lineSpacing() // 2

    def _on_scroll_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def _on_anchor_clicked(self, url: QUrl) -> None:
        # Never navigate the transcript itself away; web links open in the browser.
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)


#: An invisible paragraph (zero-width space) that streamed fragments merge into.
_SPACER = "\u200b"
_BLANK_LINE_THEN_BLOCK = re.compile(r"\n[ \t]*\n(?=\S)")
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def _settled_length(markdown: str, start: int) -> int:
    """Length of the prefix of ``markdown`` whose rendering can no longer change.

    That is up to the last blank line, after ``start``, that is followed by an
    unindented line (an indented one may continue a list item) and is not inside a
    code fence. Returns ``start`` when there is no such line.
    """
    for match in reversed(list(_BLANK_LINE_THEN_BLOCK.finditer(markdown, start))):
        if len(_FENCE.findall(markdown, 0, match.start())) % 2 == 0:
            return match.end()
    return start


def _escape_md(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>" else ch for ch in text)


__all__ = ["FRAME_MS", "MAX_FRAME_MS", "Transcript"]
