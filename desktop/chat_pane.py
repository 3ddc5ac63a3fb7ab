"""The Chat pane: a streaming Markdown transcript, the message input, and engine-failure handling.

Also holds two small helpers the main window shares until they grow a module of their
own: :class:`BackgroundTasks` (owning references to asyncio tasks) and
:class:`MessageBar` (an inline, non-modal message with one action).

Thread: everything here runs on the Qt thread; engine calls are awaited on qasync's
asyncio loop, which is that same thread, so nothing blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QShortcut,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
    QTextOption,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.client import EngineClient
from engine.errors import EngineError
from engine.types import ChatMessage, GenerationResult, GenerationStats, SamplingParams, TokenEvent

log = logging.getLogger("desktop.chat")

#: How often streamed text is painted: once per frame at 60 Hz, never once per token.
FRAME_MS = 16
#: The longest a frame may be stretched to when rendering is slow.
MAX_FRAME_MS = 200


class BackgroundTasks:
    """Owns the asyncio tasks a widget starts.

    asyncio keeps only weak references to tasks, so a task nobody holds can vanish
    mid-flight; this keeps them until they finish. A task that fails with anything
    but cancellation goes to ``sys.excepthook`` — the app's one error handler — just
    as qasync's ``asyncSlot`` does.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` on the running (qasync) loop and keep it until it ends."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)
        return task

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            sys.excepthook(type(exc), exc, exc.__traceback__)

    def __len__(self) -> int:
        return len(self._tasks)

    def cancel_all(self) -> None:
        """Cancel every task still running (the window is going away)."""
        for task in list(self._tasks):
            task.cancel()


class MessageBar(QFrame):
    """A non-modal message shown inside a window or pane, with an optional action button.

    Signals:
        action_triggered: the action button was clicked.
    """

    action_triggered = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self._label = QLabel(self)
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._label.setTextFormat(Qt.TextFormat.PlainText)
        self._label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._action = QPushButton(self)
        self._action.clicked.connect(self._on_action_clicked)
        self._close = QToolButton(self)
        self._close.setText("✕")
        self._close.setAutoRaise(True)
        self._close.setToolTip(self.tr("Dismiss"))
        self._close.setAccessibleName(self.tr("Dismiss message"))
        self._close.clicked.connect(self._on_close_clicked)
        layout = QHBoxLayout(self)
        layout.addWidget(self._label, 1)
        layout.addWidget(self._action)
        layout.addWidget(self._close)
        self.setAccessibleName(self.tr("Message"))
        self.hide()

    def show_message(self, text: str, *, action: str = "", error: bool = True) -> None:
        """Show ``text``, with an action button labelled ``action`` if given."""
        palette = self.palette()
        if error:
            palette.setColor(QPalette.ColorRole.Window, _mix(palette, "#d9534f", 0.22))
        else:
            palette.setColor(QPalette.ColorRole.Window, _mix(palette, "#3a87ad", 0.18))
        self.setPalette(palette)
        self._label.setText(text)
        self._action.setText(action)
        self._action.setVisible(bool(action))
        self._action.setEnabled(True)
        self._close.setEnabled(True)
        self.show()

    def show_busy(self, text: str) -> None:
        """Keep the bar up with ``text`` while the action runs; the buttons are disabled."""
        self._label.setText(text)
        self._action.setEnabled(False)
        self._close.setEnabled(False)
        self.show()

    def text(self) -> str:
        """The message shown."""
        return self._label.text()

    @property
    def action_button(self) -> QPushButton:
        """The action button (for tests and accessibility tools)."""
        return self._action

    def _on_action_clicked(self) -> None:
        self.action_triggered.emit()

    def _on_close_clicked(self) -> None:
        self.hide()


def _mix(palette: QPalette, color: str, amount: float) -> QColor:
    """``color`` blended into the palette's window colour, so it reads in light and dark themes."""
    return _blend(palette.color(QPalette.ColorRole.Window), QColor(color), amount)


def _blend(base: QColor, tint: QColor, amount: float) -> QColor:
    """``amount`` of ``tint`` over ``base``."""
    return QColor(
        round(base.red() * (1 - amount) + tint.red() * amount),
        round(base.green() * (1 - amount) + tint.green() * amount),
        round(base.blue() * (1 - amount) + tint.blue() * amount),
    )


class PromptEdit(QPlainTextEdit):
    """The message input: Enter sends, Shift+Enter starts a new line.

    Signals:
        submitted: the user pressed Enter (without Shift).
    """

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        """Three lines of text tall."""
        hint = super().sizeHint()
        margins = self.contentsMargins()
        doc_margin = int(self.document().documentMargin() * 2)
        height = self.fontMetrics().lineSpacing() * 3 + doc_margin
        return QSize(hint.width(), height + margins.top() + margins.bottom())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter sends; Shift+Enter inserts a newline; everything else as usual."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class Transcript(QTextBrowser):
    """The conversation as rich text: user messages as typed, answers as Markdown.

    The answer being streamed is re-rendered in place (only its own part of the
    document), so earlier messages are never re-laid out. The view follows new text
    while it is scrolled to the bottom, and stays put when the user scrolled up.
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
            fmt.setForeground(_mix(self.palette(), "#d9534f", 0.85))
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
        """Start an answer under a ``label`` header; stream it with :meth:`stream_answer`."""
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

    def stream_answer(self, markdown: str) -> None:
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
        """Render the complete answer exactly, then a small line under it (stats or error)."""
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
        tint = _blend(
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


class ChatPane(QWidget):
    """Chat with the loaded model; the conversation lives in memory as ``list[ChatMessage]``.

    Args:
        client: the app's one engine client.
        params: sampling settings for answers (defaults to :class:`SamplingParams`).
        parent: the parent widget.

    Signals:
        generation_started: an answer started streaming.
        generation_ended: the answer ended (finished, stopped or failed).
        answer_finished(object): the answer's :class:`GenerationResult` (also when stopped).
        context_counted(int, int): tokens the conversation uses, and the context size.
        chat_cleared: a new chat was started.
        restart_requested: the user asked to restart the engine from the error bar.
    """

    generation_started = Signal()
    generation_ended = Signal()
    answer_finished = Signal(object)
    context_counted = Signal(int, int)
    chat_cleared = Signal()
    restart_requested = Signal()

    def __init__(
        self,
        client: EngineClient,
        *,
        params: SamplingParams | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self.params = params or SamplingParams()
        self._messages: list[ChatMessage] = []
        self._tasks = BackgroundTasks()
        self._generating = False
        self._model_ready = False
        self._pieces: list[str] = []
        self._dirty = False
        #: Bumped by every count and every change that makes older counts stale.
        self._count_serial = 0
        self.last_result: GenerationResult | None = None

        self._frame_timer = QTimer(self)
        self._frame_timer.setInterval(FRAME_MS)
        self._frame_timer.timeout.connect(self._on_frame_timer_timeout)

        self.error_bar = MessageBar(self)
        self.error_bar.action_triggered.connect(self._on_error_bar_action_triggered)

        title = QLabel(self.tr("Chat"), self)
        title_font = title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.25)
        title_font.setBold(True)
        title.setFont(title_font)
        self.new_chat_button = QPushButton(self.tr("New chat"), self)
        self.new_chat_button.setToolTip(self.tr("Start a new conversation (Ctrl+N)"))
        self.new_chat_button.setAccessibleName(self.tr("New chat"))
        self.new_chat_button.clicked.connect(self._on_new_chat_clicked)

        self.transcript = Transcript(self)

        self.input = PromptEdit(self)
        self.input.setPlaceholderText(
            self.tr("Message the model — Enter to send, Shift+Enter for a new line")
        )
        self.input.setAccessibleName(self.tr("Message"))
        self.input.submitted.connect(self._on_input_submitted)
        self.input.textChanged.connect(self._on_input_text_changed)

        self.send_button = QPushButton(self.tr("Send"), self)
        self.send_button.setToolTip(self.tr("Send the message (Enter)"))
        self.send_button.setAccessibleName(self.tr("Send"))
        self.send_button.clicked.connect(self._on_send_clicked)
        self.stop_button = QPushButton(self.tr("Stop"), self)
        self.stop_button.setToolTip(self.tr("Stop the answer (Esc)"))
        self.stop_button.setAccessibleName(self.tr("Stop"))
        self.stop_button.clicked.connect(self._on_stop_clicked)

        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.new_chat_button)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        composer = QHBoxLayout()
        composer.addWidget(self.input, 1)
        composer.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.error_bar)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(composer)

        stop = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        stop.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        stop.activated.connect(self._on_stop_clicked)
        new_chat = QShortcut(QKeySequence.StandardKey.New, self)
        new_chat.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        new_chat.activated.connect(self._on_new_chat_clicked)

        self._update_buttons()

    # -- state -------------------------------------------------------------------------

    @property
    def messages(self) -> list[ChatMessage]:
        """A copy of the conversation."""
        return list(self._messages)

    @property
    def model_ready(self) -> bool:
        """Whether a model is loaded and messages can be sent."""
        return self._model_ready

    @property
    def generating(self) -> bool:
        """Whether an answer is streaming."""
        return self._generating

    def shutdown(self) -> None:
        """Stop streaming and cancel the pane's background work (its window is closing)."""
        self._frame_timer.stop()
        self._tasks.cancel_all()

    @property
    def busy(self) -> bool:
        """Whether background work (an answer, a token count) is still running."""
        return len(self._tasks) > 0

    def set_model_ready(self, ready: bool) -> None:
        """Allow sending only while a model is loaded (not while one is loading)."""
        self._model_ready = ready
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_text = bool(self.input.toPlainText().strip())
        self.send_button.setEnabled(self._model_ready and not self._generating and has_text)
        self.stop_button.setEnabled(self._generating)
        self.new_chat_button.setEnabled(not self._generating)

    def show_engine_error(self, error: BaseException) -> None:
        """Show an engine failure in the pane's message bar, with a Restart button."""
        # Engine errors are written for users: what happened and what to do.
        self.error_bar.show_message(str(error), action=self.tr("Restart engine"))

    def restart_finished(self, error: BaseException | None) -> None:
        """The main window finished restarting the engine (``error`` if that failed)."""
        if error is None:
            self.error_bar.hide()
        else:
            self.show_engine_error(error)

    # -- slots -------------------------------------------------------------------------

    def _on_input_text_changed(self) -> None:
        self._update_buttons()

    def _on_input_submitted(self) -> None:
        self._on_send_clicked()

    def _on_send_clicked(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self._generating or not self._model_ready:
            return
        self.input.clear()
        self.error_bar.hide()
        self._messages.append(ChatMessage("user", text))
        self.transcript.add_user_message(self.tr("You"), text)
        self._set_generating(True)
        self._tasks.start(self._generate(), name="chat-generate")

    def _on_stop_clicked(self) -> None:
        if self._generating:
            self._tasks.start(self._client.cancel(), name="chat-cancel")

    def _on_new_chat_clicked(self) -> None:
        if self._generating:
            return
        self._messages.clear()
        self._count_serial += 1  # a count still running measures the old chat
        self.last_result = None
        self.transcript.clear_conversation()
        self.error_bar.hide()
        self.input.setFocus()
        self.chat_cleared.emit()

    def _on_error_bar_action_triggered(self) -> None:
        self.error_bar.show_busy(self.tr("Restarting the engine…"))
        self.restart_requested.emit()

    def _on_frame_timer_timeout(self) -> None:
        self._flush()

    # -- generation --------------------------------------------------------------------

    def _set_generating(self, generating: bool) -> None:
        self._generating = generating
        self._update_buttons()
        if generating:
            self.generation_started.emit()
        else:
            self.generation_ended.emit()

    def _flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        started = time.perf_counter()
        self.transcript.stream_answer("".join(self._pieces))
        # Leave the CPU to the engine when painting is slow (a huge table, say): spend
        # at most about a quarter of the time rendering.
        cost_ms = (time.perf_counter() - started) * 1000
        self._frame_timer.setInterval(max(FRAME_MS, min(MAX_FRAME_MS, round(cost_ms * 4))))

    async def _generate(self) -> None:
        """Stream one answer into the transcript (runs as a task on the Qt thread's loop)."""
        conversation = list(self._messages)
        self._pieces = []
        self._dirty = False
        self.transcript.begin_answer(self.tr("Assistant"))
        self._frame_timer.start(FRAME_MS)
        result: GenerationResult | None = None
        failure: EngineError | None = None
        try:
            # aclosing: however this loop ends, the stream's own cleanup (which cancels
            # the request in the engine) runs now, not whenever the generator is collected.
            async with contextlib.aclosing(self._client.chat(conversation, self.params)) as events:
                async for event in events:
                    if isinstance(event, TokenEvent):
                        self._pieces.append(event.text)
                        self._dirty = True
                    else:
                        result = event
        except EngineError as exc:
            log.warning("Generation failed: %s", exc)
            failure = exc
        finally:
            self._frame_timer.stop()
            if result is None and failure is None:
                # Cancelled (the window is closing) or a bug, which goes on to the
                # excepthook: either way, do not leave the pane stuck "generating".
                self._set_generating(False)
        text = result.text if result is not None else "".join(self._pieces)
        # Kept even when empty, so user and assistant turns still alternate (many chat
        # templates insist on it) and what the model sees is what the transcript shows.
        self._messages.append(ChatMessage("assistant", text))
        if result is not None:
            self.last_result = result
            self.transcript.finish_answer(text, self._stats_line(result.stats))
        else:
            self.transcript.finish_answer(
                text,
                self.tr("Interrupted: the engine stopped before the answer ended."),
                error=True,
            )
        self._set_generating(False)
        if failure is not None:
            self.show_engine_error(failure)
            return
        assert result is not None
        self.answer_finished.emit(result)
        await self.count_context()

    async def count_context(self) -> None:
        """Measure the conversation against the model's context and emit ``context_counted``."""
        self._count_serial += 1
        serial = self._count_serial
        model = self._client.model
        if model is None:
            return
        if not self._messages:
            self.context_counted.emit(0, model.n_ctx)
            return
        try:
            used, n_ctx = await self._client.count_chat_tokens(list(self._messages))
        except EngineError as exc:
            log.warning("Could not count the conversation's tokens: %s", exc)
            return
        if serial == self._count_serial:  # else a newer count or a new chat came first
            self.context_counted.emit(used, n_ctx)

    def _stats_line(self, stats: GenerationStats) -> str:
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


__all__ = ["BackgroundTasks", "ChatPane", "MessageBar", "PromptEdit", "Transcript"]
