"""The Chat pane: wiring the transcript and the message input to the engine, stop and restart.

It keeps the conversation (``list[ChatMessage]``), sends it, streams the answer into a
:class:`~desktop.transcript.Transcript`, stops it, offers an engine restart when the
engine fails, and counts how much of the model's context the conversation uses.

Thread: everything here runs on the Qt thread; engine calls are awaited on qasync's
asyncio loop, which is that same thread, so nothing blocks it.
"""

from __future__ import annotations

import contextlib
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.transcript import Transcript
from desktop.widgets import BackgroundTasks, MessageBar, PromptEdit
from engine.client import EngineClient
from engine.errors import EngineError
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

log = logging.getLogger("desktop.chat")


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
        #: Bumped by every count and every change that makes older counts stale.
        self._count_serial = 0
        self.last_result: GenerationResult | None = None

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
        self.transcript.stop_streaming()
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

    # -- generation --------------------------------------------------------------------

    def _set_generating(self, generating: bool) -> None:
        self._generating = generating
        self._update_buttons()
        if generating:
            self.generation_started.emit()
        else:
            self.generation_ended.emit()

    async def _generate(self) -> None:
        """Stream one answer into the transcript (runs as a task on the Qt thread's loop)."""
        conversation = list(self._messages)
        self.transcript.begin_answer(self.tr("Assistant"))
        result: GenerationResult | None = None
        failure: EngineError | None = None
        try:
            # aclosing: however this loop ends, the stream's own cleanup (which cancels
            # the request in the engine) runs now, not whenever the generator is collected.
            async with contextlib.aclosing(self._client.chat(conversation, self.params)) as events:
                async for event in events:
                    if isinstance(event, TokenEvent):
                        self.transcript.append_answer(event.text)
                    else:
                        result = event
        except EngineError as exc:
            log.warning("Generation failed: %s", exc)
            failure = exc
        finally:
            self.transcript.stop_streaming()
            if result is None and failure is None:
                # Cancelled (the window is closing) or a bug, which goes on to the
                # excepthook: either way, do not leave the pane stuck "generating".
                self._set_generating(False)
        text = result.text if result is not None else self.transcript.streamed_text
        # Kept even when empty, so user and assistant turns still alternate (many chat
        # templates insist on it) and what the model sees is what the transcript shows.
        self._messages.append(ChatMessage("assistant", text))
        if result is not None:
            self.last_result = result
            self.transcript.finish_answer(text, self.transcript.stats_line(result.stats))
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


__all__ = ["ChatPane"]
