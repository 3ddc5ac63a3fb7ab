"""The conversation transcript: messages rendered as rich text, answers streamed as Markdown.

An answer is painted at most once per frame, never once per token, and only its
unfinished last paragraph is re-rendered; earlier text settles and is never touched
again. Under each answer goes a small line with its stats (or why it was interrupted).

A reasoning model's thinking streams in dimmed text where the answer will be, under a
"Thinking…" header; when the answer begins it folds away into a "Thought for N s" link
on the header, which opens and closes it. Thinking is never part of the answer's text,
its copy link or its code blocks.

Thread: everything here runs on the Qt thread.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QEvent, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QFont,
    QGuiApplication,
    QPalette,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextOption,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

from desktop.highlight.blocks import style_code_blocks
from desktop.panes.transcript_markdown import (
    SPACER,
    is_code,
    renders_the_same_in_parts,
    settled_length,
)
from desktop.widgets import mix
from engine.types import GenerationStats

#: How often streamed text is painted: once per frame at 60 Hz, never once per token.
FRAME_MS = 16
#: The longest a frame may be stretched to when rendering is slow.
MAX_FRAME_MS = 200
#: How much of the thinking is shown while it streams: its latest characters.
THINKING_TAIL_CHARS = 1200


class Transcript(QTextBrowser):
    """The conversation as rich text: user messages as typed, answers as Markdown.

    Messages are numbered by their index in the conversation (0, 1, …). The answer
    being streamed is re-rendered in place (only its own part of the document), so
    earlier messages are never re-laid out. Its text arrives piece by piece through
    :meth:`append_answer` and is painted on a frame timer, at most once per frame. The
    view follows new text while it is scrolled to the bottom, and stays put when the
    user scrolled up.

    Each message carries small links, reachable with Tab and activated with Enter:
    "Edit" on a user message; "Thought for N s" on an answer with thinking (it opens and
    closes the thinking); "Copy", "good" and "bad" under an answer; "Copy code" under
    each code block. Copying and the thinking are handled here; the rest is reported.

    A message with siblings (other answers to the same question, other versions of an
    edited message) shows "‹ 2 / 3 ›" in its header, with "Delete branch"; an answer
    offers "Branch" (a new conversation up to it). Those are reported too.

    Signals:
        edit_requested(int): the user wants to edit message ``index`` and resend it.
        rating_requested(int, int): the user rated answer ``index`` (1, -1, or 0 to clear).
        text_copied(str): text was put on the clipboard (what: "answer" or "code").
        sibling_requested(int, int): show the previous (-1) or next (1) sibling of message
            ``index``.
        branch_delete_requested(int): delete message ``index`` and what follows it.
        branch_requested(int): copy the conversation up to message ``index`` into a new one.
    """

    edit_requested = Signal(int)
    rating_requested = Signal(int, int)
    text_copied = Signal(str)
    sibling_requested = Signal(int, int)
    branch_delete_requested = Signal(int)
    branch_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self.document().setDocumentMargin(self.fontMetrics().lineSpacing() * 0.6)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self._entries: list[_Entry] = []
        self._streaming = -1  # index of the answer being streamed, or -1
        self._tail_offset = 0  # where the unsettled tail starts, from the answer's header
        self._settled = 0
        self._boundaries: list[int] = []  # where the streamed answer was split to settle
        self._stream_code: list[str] = []  # code of its settled code blocks
        self._stream_header = QTextBlock()  # its header block, once found
        self._follow = True
        self._pieces: list[str] = []
        self._thinking_pieces: list[str] = []
        self._thinking_started = 0.0
        self._dirty = False
        self._frame_timer = QTimer(self)
        self._frame_timer.setInterval(FRAME_MS)
        self._frame_timer.timeout.connect(self._on_frame_timer_timeout)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scroll_value_changed)
        bar.rangeChanged.connect(self._on_scroll_range_changed)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set the translatable texts, and redraw the headers and notes already shown."""
        self.setPlaceholderText(
            self.tr("Ask anything. Everything runs on this computer; nothing leaves it.")
        )
        self.setAccessibleName(self.tr("Conversation"))
        self.setAccessibleDescription(
            self.tr("Press Tab to move between the links under each message, Enter to use one.")
        )
        for index in range(len(self._entries)):
            self._render_header(index)
            if index != self._streaming:
                self._render_note(index)

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate on a language change; re-colour on a palette change."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        elif event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._recolour()

    # -- formats ---------------------------------------------------------------------

    def _role_format(self) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setFontWeight(QFont.Weight.Bold)
        fmt.setForeground(self.palette().color(QPalette.ColorRole.Highlight))
        return fmt

    def _header_block(self, *, first: bool = False) -> QTextBlockFormat:
        fmt = QTextBlockFormat()
        if not first:
            fmt.setTopMargin(self.fontMetrics().lineSpacing() * 0.9)
        fmt.setBottomMargin(self.fontMetrics().lineSpacing() * 0.2)
        return fmt

    def _small_format(self) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
        fmt.setFontPointSize(max(self.font().pointSizeF() * 0.85, 6.0))
        return fmt

    def _note_format(self, *, error: bool) -> QTextCharFormat:
        fmt = self._small_format()
        if error:
            fmt.setForeground(mix(self.palette(), "#d9534f", 0.85))
        return fmt

    def _thinking_block(self) -> QTextBlockFormat:
        fmt = QTextBlockFormat()
        fmt.setLeftMargin(self.fontMetrics().averageCharWidth() * 2)
        fmt.setBottomMargin(self.fontMetrics().lineSpacing() * 0.4)
        return fmt

    def _thinking_format(self) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
        fmt.setFontItalic(True)
        return fmt

    def _link_format(self, href: str, tooltip: str, *, active: str = "") -> QTextCharFormat:
        fmt = self._small_format()
        fmt.setAnchor(True)
        fmt.setAnchorHref(href)
        fmt.setToolTip(tooltip)
        fmt.setForeground(self.palette().color(QPalette.ColorRole.Link))
        if active:
            fmt.setForeground(mix(self.palette(), active, 0.9))
            fmt.setFontWeight(QFont.Weight.Bold)
        return fmt

    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    # -- finding messages in the document ----------------------------------------------

    def _find_block(self, state: int) -> QTextBlock:
        """The block marked ``state`` (searching from the end: recent ones are wanted)."""
        block = self.document().lastBlock()
        while block.isValid():
            if block.userState() == state:
                return block
            block = block.previous()
        return block

    def _header(self, index: int) -> QTextBlock:
        return self._find_block(_HEADER + index)

    # -- messages --------------------------------------------------------------------

    @property
    def message_count(self) -> int:
        """How many messages are shown (the one streaming included)."""
        return len(self._entries)

    def add_user_message(self, text: str, *, siblings: tuple[int, int] = (0, 0)) -> None:
        """Append a user message, shown as typed (not as Markdown).

        ``siblings`` is its place among the versions of it: (2, 3) shows "‹ 2 / 3 ›".
        """
        index = len(self._entries)
        self._entries.append(_Entry("user", text, siblings=siblings))
        cursor = self._start_message(index)
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertText(text)
        cursor.endEditBlock()
        self._follow = True

    def _start_message(self, index: int) -> QTextCursor:
        """Open an edit block at the end with message ``index``'s header; returns the cursor."""
        cursor = self._end_cursor()
        cursor.beginEditBlock()
        first = self.document().isEmpty()
        if first:
            cursor.setBlockFormat(self._header_block(first=True))
        else:
            # Fresh formats, so a header after a list or code block does not join it.
            cursor.insertBlock(self._header_block(), QTextCharFormat())
        cursor.block().setUserState(_HEADER + index)
        self._write_header(cursor, index)
        return cursor

    def _write_header(self, cursor: QTextCursor, index: int) -> None:
        self._write_role(cursor, index)
        self._write_siblings(cursor, index)
        cursor.setCharFormat(QTextCharFormat())

    def _write_siblings(self, cursor: QTextCursor, index: int) -> None:
        """ "‹ 2 / 3 ›" and "Delete branch", on a message with siblings."""
        position, count = self._entries[index].siblings
        if count < 2:
            return
        space = QTextCharFormat()
        cursor.insertText("   ", space)
        for step, arrow, tip in (
            (-1, "‹", self.tr("Show the previous version ({number} of {count})")),
            (1, "›", self.tr("Show the next version ({number} of {count})")),
        ):
            target = position + step
            if step == 1:
                cursor.insertText(
                    " "
                    + self.tr("{position} / {count}").format(position=position, count=count)
                    + " ",
                    self._small_format(),
                )
            if 1 <= target <= count:
                href = f"{_SCHEME}:sibling/{index}/{step}"
                cursor.insertText(
                    arrow, self._link_format(href, tip.format(number=target, count=count))
                )
            else:
                cursor.insertText(arrow, self._small_format())
        cursor.insertText("   ", space)
        cursor.insertText(
            self.tr("Delete branch"),
            self._link_format(
                f"{_SCHEME}:delete/{index}",
                self.tr("Delete this version and everything after it (you can undo)"),
            ),
        )

    def _write_role(self, cursor: QTextCursor, index: int) -> None:
        entry = self._entries[index]
        if entry.role == "user":
            cursor.insertText(self.tr("You"), self._role_format())
            cursor.insertText("   ", QTextCharFormat())
            cursor.insertText(
                "✎ " + self.tr("Edit"),
                self._link_format(
                    f"{_SCHEME}:edit/{index}",
                    self.tr("Edit this message and continue the conversation from it"),
                ),
            )
        else:
            cursor.insertText(self.tr("Assistant"), self._role_format())
            if entry.thinking_live:
                cursor.insertText("   ", QTextCharFormat())
                cursor.insertText(self.tr("Thinking…"), self._note_format(error=False))
            elif entry.reasoning:
                cursor.insertText("   ", QTextCharFormat())
                label = (
                    self.tr("Thought for {seconds} s").format(
                        seconds=max(1, round(entry.thought_s))
                    )
                    if entry.thought_s > 0
                    else self.tr("Thoughts")
                )
                cursor.insertText(
                    ("▾ " if entry.show_thinking else "▸ ") + label,
                    self._link_format(
                        f"{_SCHEME}:think/{index}",
                        self.tr("Hide the model's thinking")
                        if entry.show_thinking
                        else self.tr("Show the model's thinking before this answer"),
                    ),
                )
        cursor.setCharFormat(QTextCharFormat())

    def _render_header(self, index: int) -> None:
        block = self._header(index)
        if not block.isValid():
            return
        cursor = QTextCursor(block)
        cursor.beginEditBlock()
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._write_header(cursor, index)
        cursor.endEditBlock()

    def begin_answer(self, *, siblings: tuple[int, int] = (0, 0)) -> None:
        """Start an answer; stream it with :meth:`append_answer`.

        Starts the frame timer that paints the streamed text; :meth:`finish_answer` or
        :meth:`stop_streaming` stops it. ``siblings``: its place among the other answers.
        """
        index = len(self._entries)
        self._entries.append(_Entry("assistant", "", siblings=siblings))
        cursor = self._start_message(index)
        header_position = cursor.block().position()
        cursor.insertBlock(self._spacer_block(), QTextCharFormat())
        cursor.endEditBlock()
        self._streaming = index
        self._tail_offset = cursor.position() - header_position
        self._settled = 0
        self._boundaries = []
        self._stream_code = []
        self._stream_header = QTextBlock()
        self._pieces = []
        self._thinking_pieces = []
        self._dirty = False
        self._follow = True
        self._frame_timer.start(FRAME_MS)

    def append_answer(self, text: str) -> None:
        """Add ``text`` to the answer being streamed; it is painted on the next frame."""
        self._pieces.append(text)
        self._dirty = True

    def append_reasoning(self, text: str) -> None:
        """Add ``text`` to the thinking before the answer being streamed (shown apart)."""
        if not self._thinking_pieces:
            self._thinking_started = time.monotonic()
        self._thinking_pieces.append(text)
        self._dirty = True

    @property
    def streamed_text(self) -> str:
        """The text streamed into the current (or last) answer so far."""
        return "".join(self._pieces)

    @property
    def streamed_reasoning(self) -> str:
        """The thinking streamed before the current (or last) answer so far."""
        return "".join(self._thinking_pieces)

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
        if self._streaming < 0:
            return
        header = self._stream_header
        if not header.isValid() or header.userState() != _HEADER + self._streaming:
            # Found once per answer (a block handle survives edits elsewhere), not per
            # frame: the search walks back over every block of a long answer.
            header = self._stream_header = self._header(self._streaming)
            if not header.isValid():
                return
        entry = self._entries[self._streaming]
        if self._thinking_pieces:
            live = not markdown.strip()
            if live != entry.thinking_live:
                # The header says "Thinking…" while the thinking streams, and offers it
                # folded ("Thought for N s") once the answer begins.
                entry.thinking_live = live
                if not live:
                    entry.reasoning = self.streamed_reasoning
                    entry.thought_s = time.monotonic() - self._thinking_started
                self._rewrite_stream_header(header, self._streaming)
        tail_start = header.position() + self._tail_offset
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        if entry.thinking_live:
            self._render_thinking_tail(cursor, tail_start)
            cursor.endEditBlock()
            return
        settled = settled_length(markdown, self._settled)
        if settled > self._settled:
            self._render_tail(cursor, tail_start, markdown[self._settled : settled])
            # Settled code blocks are final: their copy links go in now, a few at a
            # time, rather than all at once when the answer ends.
            self._stream_code += self._add_code_links(
                self._streaming, tail_start, first=len(self._stream_code)
            )
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertBlock(self._spacer_block(), QTextCharFormat())
            tail_start = cursor.position()
            self._tail_offset = tail_start - header.position()
            self._settled = settled
            self._boundaries.append(settled)
        self._render_tail(cursor, tail_start, markdown[self._settled :])
        cursor.endEditBlock()

    def _rewrite_stream_header(self, header: QTextBlock, index: int) -> None:
        """Redraw the streamed answer's header, keeping the tail's offset from it right."""
        before = header.length()
        self._render_header(index)
        self._tail_offset += header.length() - before

    def _render_thinking_tail(self, cursor: QTextCursor, tail_start: int) -> None:
        """Show the latest thinking, dimmed, where the answer will begin."""
        cursor.setPosition(tail_start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._reset_block(cursor, self._thinking_block())
        shown = self.streamed_reasoning.strip()
        if len(shown) > THINKING_TAIL_CHARS:
            shown = "…" + shown[-THINKING_TAIL_CHARS:]
        cursor.insertText(shown, self._thinking_format())

    def _render_tail(self, cursor: QTextCursor, tail_start: int, markdown: str) -> None:
        cursor.setPosition(tail_start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._reset_block(cursor, self._spacer_block())
        if markdown.strip():
            # A fragment's first block merges into the current one and loses its own
            # block format (a code fence would become inline code), so an invisible
            # spacer paragraph goes first and the answer's blocks keep theirs.
            cursor.insertMarkdown(SPACER + "\n\n" + markdown)
            QTextCursor(self.document().findBlock(tail_start)).setBlockFormat(self._spacer_block())
            self._style_code(tail_start)

    def finish_answer(
        self,
        markdown: str,
        stats: GenerationStats | None,
        *,
        interrupted: str = "",
        rating: int = 0,
        reasoning: str | None = None,
    ) -> None:
        """Render the streamed answer's complete text exactly, then its note line.

        Args:
            markdown: the answer's whole text.
            stats: its figures, shown under it; None when it did not finish.
            interrupted: why it did not finish (shown as an error instead of stats).
            rating: the user's rating so far (1, -1 or 0).
            reasoning: the thinking before it (None: what was streamed), shown folded.
        """
        self.stop_streaming()
        index = self._streaming
        self._streaming = -1
        if index < 0:
            return
        header = self._header(index)
        if not header.isValid():
            return
        entry = self._entries[index]
        entry.text, entry.stats, entry.interrupted, entry.rating = (
            markdown,
            stats,
            interrupted,
            rating,
        )
        thinking = self.streamed_reasoning if reasoning is None else reasoning
        if thinking != entry.reasoning or entry.thinking_live:
            if entry.thinking_live or not entry.thought_s:
                entry.thought_s = (
                    time.monotonic() - self._thinking_started if self._thinking_pieces else 0.0
                )
            entry.thinking_live = False
            entry.reasoning = thinking
            self._rewrite_stream_header(header, index)
        cursor = QTextCursor(header)
        cursor.beginEditBlock()
        if (
            self._settled
            and markdown.startswith(self.streamed_text[: self._settled])
            and renders_the_same_in_parts(markdown, self._boundaries)
        ):
            # The settled part is already rendered as it will stay (it ends at a blank
            # line before a new top-level block): render only the tail, not the whole
            # answer again, which on a long answer is the longest stall of the stream.
            tail_start = header.position() + self._tail_offset
            self._render_tail(cursor, tail_start, markdown[self._settled :])
            entry.code = self._stream_code + self._add_code_links(
                index, tail_start, first=len(self._stream_code)
            )
            self._write_note_block(cursor, index)
        else:
            cursor.movePosition(QTextCursor.MoveOperation.NextBlock)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            self._write_body(cursor, index)
        cursor.endEditBlock()

    def add_answer(
        self,
        markdown: str,
        stats: GenerationStats | None,
        *,
        interrupted: str = "",
        rating: int = 0,
        reasoning: str = "",
        siblings: tuple[int, int] = (0, 0),
    ) -> None:
        """Append a finished answer (from the history), with its note line.

        ``reasoning`` is the thinking before it, shown folded; how long it took is
        estimated from the answer's stats. ``siblings``: its place among the other answers.
        """
        entry = _Entry(
            "assistant",
            markdown,
            stats,
            interrupted,
            rating,
            reasoning=reasoning,
            siblings=siblings,
        )
        if reasoning and stats is not None and stats.tokens_per_s > 0:
            entry.thought_s = stats.reasoning_tokens / stats.tokens_per_s
        self._add_entry(entry)

    def _add_entry(self, entry: _Entry) -> None:
        index = len(self._entries)
        self._entries.append(entry)
        cursor = self._start_message(index)
        cursor.insertBlock(self._spacer_block(), QTextCharFormat())
        self._write_body(cursor, index)
        cursor.endEditBlock()

    def _write_body(self, cursor: QTextCursor, index: int) -> None:
        """Render answer ``index``'s Markdown at ``cursor`` (a fresh block after the header)."""
        entry = self._entries[index]
        if entry.show_thinking and entry.reasoning.strip():
            self._reset_block(cursor, self._thinking_block())
            cursor.insertText(entry.reasoning.strip(), self._thinking_format())
            cursor.insertBlock(self._spacer_block(), QTextCharFormat())
        start = cursor.position()
        self._reset_block(cursor, self._spacer_block())
        if entry.text.strip():
            cursor.insertMarkdown(SPACER + "\n\n" + entry.text)
            QTextCursor(self.document().findBlock(start)).setBlockFormat(self._spacer_block())
        self._style_code(start)
        entry.code = self._add_code_links(index, start)
        self._write_note_block(cursor, index)

    def _write_note_block(self, cursor: QTextCursor, index: int) -> None:
        """Append answer ``index``'s note line (stats or why it stopped, and its links)."""
        cursor.movePosition(QTextCursor.MoveOperation.End)
        note_block = QTextBlockFormat()
        note_block.setTopMargin(self.fontMetrics().lineSpacing() * 0.3)
        cursor.insertBlock(note_block, QTextCharFormat())
        cursor.block().setUserState(_NOTE + index)
        self._write_note(cursor, index)

    def _add_code_links(self, index: int, start: int, *, first: int = 0) -> list[str]:
        """Put a "Copy code" link under each code block from ``start`` on; returns their code.

        Args:
            index: the answer's message index.
            start: where to start looking.
            first: the number of the first code block found (the answer's earlier ones
                already have their links).
        """
        ends: list[int] = []
        code: list[str] = []
        lines: list[str] = []
        block = self.document().findBlock(start)
        while block.isValid():
            if is_code(block):
                lines.append(block.text())
                if not is_code(block.next()):
                    ends.append(block.position() + block.length() - 1)
                    code.append("\n".join(lines))
                    lines = []
            block = block.next()
        for number, end in reversed(list(enumerate(ends))):
            cursor = QTextCursor(self.document())
            cursor.setPosition(end)
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            cursor.insertText(
                self.tr("Copy code"),
                self._link_format(
                    f"{_SCHEME}:code/{index}/{first + number}",
                    self.tr("Copy this code block"),
                ),
            )
        return code

    def _write_note(self, cursor: QTextCursor, index: int) -> None:
        entry = self._entries[index]
        if entry.stats is not None:
            cursor.insertText(self.stats_line(entry.stats), self._note_format(error=False))
        else:
            reason = entry.interrupted or self.tr("Interrupted: the answer did not finish.")
            cursor.insertText(reason, self._note_format(error=True))
        space = QTextCharFormat()
        cursor.insertText("   ", space)
        cursor.insertText(
            self.tr("Copy"),
            self._link_format(f"{_SCHEME}:copy/{index}", self.tr("Copy the answer as Markdown")),
        )
        cursor.insertText("  ", space)
        cursor.insertText(
            "▲",
            self._link_format(
                f"{_SCHEME}:rate/{index}/{0 if entry.rating == 1 else 1}",
                self.tr("Good answer") if entry.rating != 1 else self.tr("Remove your rating"),
                active="#3c9a5f" if entry.rating == 1 else "",
            ),
        )
        cursor.insertText(" ", space)
        cursor.insertText(
            "▼",
            self._link_format(
                f"{_SCHEME}:rate/{index}/{0 if entry.rating == -1 else -1}",
                self.tr("Bad answer") if entry.rating != -1 else self.tr("Remove your rating"),
                active="#d9534f" if entry.rating == -1 else "",
            ),
        )
        cursor.insertText("   ", space)
        cursor.insertText(
            self.tr("Branch"),
            self._link_format(
                f"{_SCHEME}:branch/{index}",
                self.tr("Start a new conversation with the messages up to this answer"),
            ),
        )
        cursor.setCharFormat(QTextCharFormat())

    def _render_note(self, index: int) -> None:
        if self._entries[index].role != "assistant":
            return
        block = self._find_block(_NOTE + index)
        if not block.isValid():
            return
        cursor = QTextCursor(block)
        cursor.beginEditBlock()
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._write_note(cursor, index)
        cursor.endEditBlock()

    def set_rating(self, index: int, rating: int) -> None:
        """Show answer ``index`` as rated ``rating`` (1, -1 or 0)."""
        if 0 <= index < len(self._entries) and self._entries[index].role == "assistant":
            self._entries[index].rating = rating
            if index != self._streaming:
                self._render_note(index)

    def set_siblings(self, index: int, siblings: tuple[int, int]) -> None:
        """Show message ``index`` as version ``siblings[0]`` of ``siblings[1]``."""
        if 0 <= index < len(self._entries) and index != self._streaming:
            self._entries[index].siblings = siblings
            self._render_header(index)

    def siblings(self, index: int) -> tuple[int, int]:
        """Message ``index``'s place among its versions: (position, count); (0, 0) if unknown."""
        return self._entries[index].siblings

    def focus_link(self, href: str) -> bool:
        """Put the keyboard on the link to ``href`` (as Tab would), after a redraw."""
        block = self.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                if fragment.charFormat().anchorHref() == href:
                    cursor = QTextCursor(self.document())
                    cursor.setPosition(fragment.position())
                    cursor.setPosition(
                        fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor
                    )
                    self.setTextCursor(cursor)
                    return True
                it += 1
            block = block.next()
        return False

    def keep_scroll(self, value: int) -> None:
        """Scroll back to ``value`` after a redraw (following the end only if it is there)."""
        bar = self.verticalScrollBar()
        self._follow = False
        bar.setValue(value)
        self._follow = bar.value() >= bar.maximum() - self.fontMetrics().lineSpacing() // 2

    def find_text(self, text: str) -> bool:
        """Select the first occurrence of ``text`` (any case) and scroll to it."""
        self.moveCursor(QTextCursor.MoveOperation.Start)
        found = self.find(text)
        if found:
            self._follow = False
        return found

    def answer_text(self, index: int) -> str:
        """The text of message ``index``."""
        return self._entries[index].text

    def truncate(self, index: int) -> None:
        """Remove message ``index`` and every later one (to regenerate or edit from there)."""
        if index >= len(self._entries):
            return
        self.stop_streaming()
        self._streaming = -1
        header = self._header(index)
        del self._entries[index:]
        if not header.isValid():
            return
        cursor = QTextCursor(header)
        if index > 0:
            # Remove the separator before the header too, so no empty block is left.
            cursor.movePosition(QTextCursor.MoveOperation.PreviousCharacter)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        if index == 0:
            self.clear_conversation()

    def _style_code(self, start: int) -> None:
        """Highlight code blocks and tint inline code from ``start`` on.

        Qt's Markdown import marks them (a code-language property on the block, a
        fixed-pitch font on inline code) but paints them like body text.
        """
        style_code_blocks(self.document(), start, self.palette())

    def _recolour(self) -> None:
        """Re-apply theme colours to everything rendered (the palette changed)."""
        if self._streaming >= 0 or not self._entries:
            return
        self.show_messages(list(self._entries))

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
        self.stop_streaming()
        self._streaming = -1
        self._entries = []
        self.clear()
        self._follow = True

    def show_messages(self, messages: Sequence[_Entry]) -> None:
        """Replace the transcript with finished messages (a conversation from the history)."""
        self.clear_conversation()
        for message in messages:
            if message.role == "user":
                self.add_user_message(message.text)
            else:
                self._add_entry(replace(message, code=[], thinking_live=False))

    def toggle_thinking(self, index: int) -> None:
        """Open or close the thinking before answer ``index`` (not while one streams)."""
        if (
            self._streaming >= 0
            or not 0 <= index < len(self._entries)
            or not self._entries[index].reasoning
        ):
            return
        self._entries[index].show_thinking = not self._entries[index].show_thinking
        value = self.verticalScrollBar().value()
        self.show_messages(list(self._entries))
        self.keep_scroll(value)

    def is_thinking_open(self, index: int) -> bool:
        """Whether the thinking before answer ``index`` is shown."""
        return self._entries[index].show_thinking

    def reasoning_text(self, index: int) -> str:
        """The thinking before answer ``index`` ("" if none)."""
        return self._entries[index].reasoning

    def stats_line(self, stats: GenerationStats) -> str:
        """The line shown under a finished answer: speed, length and why it stopped.

        Args:
            stats: the answer's generation stats.

        Returns:
            The stats, joined with middle dots.
        """
        reasons = {
            "eos": self.tr("finished"),
            "length": self.tr("reached the token limit"),
            "stop_string": self.tr("stop string"),
            "cancelled": self.tr("stopped"),
            "context": self.tr("context full"),
        }
        parts = [
            self.tr("TTFT {seconds:.2f} s").format(seconds=stats.ttft_s),
            self.tr("{rate:.1f} tokens/s").format(rate=stats.tokens_per_s),
            self.tr("{count} tokens").format(count=stats.generated_tokens),
        ]
        if stats.reasoning_tokens:
            parts.append(self.tr("{count} of them thinking").format(count=stats.reasoning_tokens))
        if stats.acceptance is not None:
            parts.append(
                self.tr("{share:.0%} of drafted tokens kept").format(share=stats.acceptance)
            )
        parts += [
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

    # -- links -------------------------------------------------------------------------

    def _on_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() == _SCHEME:
            self._run_link(url.path())
        elif url.scheme() in ("http", "https", "mailto"):
            # Never navigate the transcript itself away; web links open in the browser.
            QDesktopServices.openUrl(url)

    def _run_link(self, path: str) -> None:
        action, *numbers = path.split("/")
        try:
            args = [int(n) for n in numbers]
        except ValueError:
            return
        if not args or not 0 <= args[0] < len(self._entries):
            return
        index = args[0]
        if action == "edit":
            self.edit_requested.emit(index)
        elif action == "rate" and len(args) == 2 and args[1] in (-1, 0, 1):
            self.rating_requested.emit(index, args[1])
        elif action == "think":
            self.toggle_thinking(index)
        elif action == "sibling" and len(args) == 2 and args[1] in (-1, 1):
            self.sibling_requested.emit(index, args[1])
        elif action == "delete":
            self.branch_delete_requested.emit(index)
        elif action == "branch":
            self.branch_requested.emit(index)
        elif action == "copy":
            QGuiApplication.clipboard().setText(self._entries[index].text)
            self.text_copied.emit("answer")
        elif action == "code" and len(args) == 2 and 0 <= args[1] < len(self._entries[index].code):
            QGuiApplication.clipboard().setText(self._entries[index].code[args[1]])
            self.text_copied.emit("code")

    # -- following the end -------------------------------------------------------------

    def _on_scroll_value_changed(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - self.fontMetrics().lineSpacing() // 2

    def _on_scroll_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)


@dataclass
class _Entry:
    """What the transcript knows of one message, to redraw it."""

    role: str
    text: str
    stats: GenerationStats | None = None
    interrupted: str = ""
    rating: int = 0
    code: list[str] = field(default_factory=list)
    reasoning: str = ""
    thought_s: float = 0.0
    show_thinking: bool = False
    thinking_live: bool = False
    #: (position, count) among the message's versions; (0, 0) when it has none.
    siblings: tuple[int, int] = (0, 0)


#: Links in the transcript use this URL scheme (``hearth:edit/3``).
_SCHEME = "hearth"
#: Block user states marking message headers and answer notes (plus the message index).
_HEADER = 1 << 20
_NOTE = 1 << 21


__all__ = ["FRAME_MS", "MAX_FRAME_MS", "Transcript"]
