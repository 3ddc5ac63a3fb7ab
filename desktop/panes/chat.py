"""The Chat pane: a conversation with the loaded model, stored as it happens.

It keeps the open conversation, sends it, streams the answer into a
:class:`~desktop.panes.transcript.Transcript`, stops, regenerates, edits and resends, rates
answers, offers an engine restart when the engine fails, counts how much of the
model's context the conversation uses, and writes everything to the history database
as it happens: the user's message when sent, the answer while it streams (at least
every :data:`FLUSH_S` seconds) and its stats when it ends.

Thread: everything here runs on the Qt thread; engine and database calls are awaited
on qasync's asyncio loop, which is that same thread, and run elsewhere (the engine
process, the history thread), so nothing blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.panes.chat_branches import ChatBranches, Turn
from desktop.panes.chat_options import ChatOptionsPanel
from desktop.panes.transcript import Transcript
from desktop.widgets import MessageBar, PromptEdit
from engine.data.history import AsyncHistory, Conversation, ConversationTree, History
from engine.data.history_tree import conversation_title
from engine.data.presets import ChatOptions
from engine.errors import EngineError
from engine.runtime.client import EngineClient
from engine.types import (
    ChatMessage,
    GenerationResult,
    SamplingParams,
    TokenEvent,
)

log = logging.getLogger("desktop.chat")

#: The streamed answer is written to the database at least this often (seconds).
FLUSH_S = 0.5


#: A conversation title from its first message (the command line titles its own alike).
title_for = conversation_title


class ChatPane(ChatBranches):
    """Chat with the loaded model.

    Args:
        client: the app's one engine client.
        history: the history database (opened by the caller), or None to keep nothing.
        options: the system prompt presets and sampling settings to start from.
        params: fixed sampling settings that override the options panel (benchmarks).
        parent: the parent widget.

    Signals:
        generation_started: an answer started streaming.
        generation_ended: the answer ended (finished, stopped or failed).
        answer_finished(object): the answer's :class:`GenerationResult` (also when stopped).
        context_counted(int, int): tokens the conversation uses, and the context size.
        chat_cleared: a new, empty chat was started.
        conversation_opened(int): the conversation with this id is shown (0: a new chat).
        conversations_changed: a conversation was created or changed (the list is stale).
        restart_requested: the user asked to restart the engine from the error bar.
        options_changed(object): the user edited the presets or sampling settings.
        status_reported(str): a short, passing message for the status bar.
        busy_changed(bool): background work started (True), or the last of it ended (False).
    """

    generation_started = Signal()
    generation_ended = Signal()
    answer_finished = Signal(object)
    context_counted = Signal(int, int)
    chat_cleared = Signal()
    restart_requested = Signal()
    options_changed = Signal(object)

    def __init__(
        self,
        client: EngineClient,
        *,
        history: AsyncHistory | None = None,
        options: ChatOptions | None = None,
        params: SamplingParams | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(client, history=history, parent=parent)
        self.params = params
        self._turns: list[Turn] = []
        self._children = {}
        self._deleted_branch = None
        self._conversation_id = 0
        self._editing = -1
        #: The options panel's state before a stored conversation's own prompt was shown.
        self._options_before_open: ChatOptions | None = None
        self._generating = False
        #: Bumped by every count and every change that makes older counts stale.
        self._count_serial = 0
        self.last_result: GenerationResult | None = None

        self.message_bar.action_triggered.connect(self._on_message_bar_action_triggered)

        self.title_label = self._title_label()
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.new_chat_button = QPushButton(self)
        self.new_chat_button.clicked.connect(self._on_new_chat_clicked)
        self.options_button = QPushButton(self)
        self.options_button.setCheckable(True)
        self.options_button.toggled.connect(self._on_options_button_toggled)

        self.transcript = Transcript(self)
        self.transcript.edit_requested.connect(self._on_transcript_edit_requested)
        self.transcript.rating_requested.connect(self._on_transcript_rating_requested)
        self.transcript.text_copied.connect(self._on_transcript_text_copied)
        self.transcript.sibling_requested.connect(self._on_transcript_sibling_requested)
        self.transcript.branch_delete_requested.connect(self._on_transcript_branch_delete_requested)
        self.transcript.branch_requested.connect(self._on_transcript_branch_requested)
        self.options_panel = ChatOptionsPanel(options or ChatOptions(), self)
        self.options_panel.options_changed.connect(self._on_options_panel_options_changed)
        self.options_panel.setVisible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.transcript)
        self.splitter.addWidget(self.options_panel)
        self.splitter.setStretchFactor(0, 1)

        self.undo_bar = MessageBar(self)
        self.undo_bar.action_triggered.connect(self._on_undo_bar_action_triggered)
        self.edit_banner = MessageBar(self)
        self.edit_banner.action_triggered.connect(self._on_edit_banner_action_triggered)
        self.input = PromptEdit(self)
        self.input.submitted.connect(self._on_input_submitted)
        self.input.textChanged.connect(self._on_input_text_changed)
        self.input.text_refused.connect(self._on_input_text_refused)
        self.send_button = QPushButton(self)
        self.send_button.clicked.connect(self._on_send_clicked)
        self.stop_button = QPushButton(self)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.regenerate_button = QPushButton(self)
        self.regenerate_button.clicked.connect(self._on_regenerate_clicked)
        #: Shown for a reasoning model whose template can turn its thinking off.
        self.think_check = QCheckBox(self)
        self.think_check.setChecked(True)
        self.think_check.setVisible(False)

        header = QHBoxLayout()
        header.addWidget(self.title_label, 1)
        header.addWidget(self.options_button)
        header.addWidget(self.new_chat_button)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.regenerate_button)
        buttons.addWidget(self.think_check)
        buttons.addStretch(1)
        composer = QHBoxLayout()
        composer.addWidget(self.input, 1)
        composer.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.undo_bar)
        layout.addWidget(self.edit_banner)
        layout.addLayout(composer)
        self.setTabOrder(self.input, self.send_button)
        self.setTabOrder(self.send_button, self.stop_button)
        self.setTabOrder(self.stop_button, self.regenerate_button)
        self.setTabOrder(self.regenerate_button, self.think_check)
        self.setTabOrder(self.think_check, self.transcript)
        self.setTabOrder(self.transcript, self.options_button)
        self.setTabOrder(self.options_button, self.new_chat_button)

        stop = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        stop.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        stop.activated.connect(self._on_escape_activated)
        regenerate = QShortcut(QKeySequence("Ctrl+R"), self)
        regenerate.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        regenerate.activated.connect(self._on_regenerate_clicked)
        self.input.recall_requested.connect(self._on_input_recall_requested)

        self.retranslate_ui()
        self._update_buttons()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self._show_title()
        self.new_chat_button.setText(self.tr("New chat"))
        self.new_chat_button.setToolTip(self.tr("Start a new conversation (Ctrl+N)"))
        self.new_chat_button.setAccessibleName(self.tr("New chat"))
        self.options_button.setText(self.tr("Options"))
        self.options_button.setToolTip(
            self.tr("Show or hide the system prompt and sampling settings")
        )
        self.options_button.setAccessibleName(self.tr("Chat options"))
        self.input.setPlaceholderText(
            self.tr(
                "Message the model — Enter to send, Shift+Enter for a new line, "
                "Up to edit your last message"
            )
        )
        self.input.setAccessibleName(self.tr("Message"))
        self.send_button.setText(self.tr("Send"))
        self.send_button.setToolTip(self.tr("Send the message (Enter)"))
        self.send_button.setAccessibleName(self.tr("Send"))
        self.stop_button.setText(self.tr("Stop"))
        self.stop_button.setToolTip(self.tr("Stop the answer (Esc)"))
        self.stop_button.setAccessibleName(self.tr("Stop"))
        self.regenerate_button.setText(self.tr("Regenerate"))
        self.regenerate_button.setToolTip(self.tr("Answer the last message again (Ctrl+R)"))
        self.regenerate_button.setAccessibleName(self.tr("Regenerate"))
        self.think_check.setText(self.tr("Think first"))
        self.think_check.setToolTip(
            self.tr(
                "Let the model think before it answers: slower, often better on hard "
                "questions. The thinking is shown folded above the answer."
            )
        )
        self.splitter.setAccessibleName(self.tr("Conversation and options"))
        if self._editing >= 0:
            self._show_edit_banner()

    def _conversation_title(self) -> str:
        return str(self.title_label.property("conversationTitle") or "")

    def _show_title(self, title: str | None = None) -> None:
        if title is None:
            title = self.title_label.property("conversationTitle") or ""
        self.title_label.setProperty("conversationTitle", title)
        self.title_label.setText(title or self.tr("New chat"))
        self.title_label.setToolTip(title)

    # -- state -------------------------------------------------------------------------

    @property
    def messages(self) -> list[ChatMessage]:
        """A copy of the conversation (without the system prompt)."""
        return [ChatMessage(turn.role, turn.content) for turn in self._turns]

    @property
    def turns(self) -> list[Turn]:
        """A copy of the conversation's turns, with their database ids and ratings."""
        return [replace(turn) for turn in self._turns]

    @property
    def conversation_id(self) -> int:
        """The open conversation's id in the history database (0: not stored yet)."""
        return self._conversation_id

    @property
    def generating(self) -> bool:
        """Whether an answer is streaming."""
        return self._generating

    @property
    def editing(self) -> int:
        """The index of the message being edited, or -1."""
        return self._editing

    @property
    def error_bar(self) -> MessageBar:
        """The pane's message bar: engine failures, with a Restart button, and refusals."""
        return self.message_bar

    def shutdown(self) -> None:
        """Stop streaming and cancel the pane's background work (its window is closing)."""
        self.transcript.stop_streaming()
        super().shutdown()

    def _update_buttons(self) -> None:
        has_text = bool(self.input.toPlainText().strip())
        idle = self._model_ready and not self._generating
        self.send_button.setEnabled(idle and has_text)
        self.stop_button.setEnabled(self._generating)
        self.regenerate_button.setEnabled(idle and self._last_user_index() >= 0)
        self.new_chat_button.setEnabled(not self._generating)

    def _last_user_index(self) -> int:
        for index in range(len(self._turns) - 1, -1, -1):
            if self._turns[index].role == "user":
                return index
        return -1

    def show_engine_error(self, error: BaseException) -> None:
        """Show an engine failure in the pane's message bar, with a Restart button."""
        # Engine errors are written for users: what happened and what to do.
        self.message_bar.show_message(str(error), action=self.tr("Restart engine"))

    def restart_finished(self, error: BaseException | None) -> None:
        """The main window finished restarting the engine (``error`` if that failed)."""
        if error is None:
            self.message_bar.hide()
        else:
            self.show_engine_error(error)

    def _model_ready_changed(self, ready: bool) -> None:
        model = self._client.model
        self.think_check.setVisible(ready and model is not None and model.thinking_switch)

    def thinking(self) -> bool | None:
        """Whether the next answer thinks first (None: the model's template decides)."""
        model = self._client.model
        if model is None or not model.thinking_switch:
            return None
        return self.think_check.isChecked()

    def sampling(self) -> SamplingParams:
        """The sampling settings the next answer uses."""
        return self.params if self.params is not None else self.options_panel.params()

    # -- the history database ----------------------------------------------------------

    def _show_history_failure(self, error: Exception) -> None:
        """Tell the user that a history call failed, in the status bar.

        Not in the message bar: that holds an engine failure and its Restart button,
        which a lost record of one message must not replace.
        """
        self.status_reported.emit(self._history_failure_text(error))

    async def open_conversation(self, conversation_id: int, *, message_id: int = 0) -> bool:
        """Show a stored conversation and continue it.

        Args:
            conversation_id: the conversation.
            message_id: a message to show (a search hit): its branch is shown when the
                branch on screen does not hold it.

        Returns:
            False when it could not be opened (an answer is streaming, or it is gone).
        """
        if self._generating:
            return False

        def load(h: History) -> tuple[Conversation, ConversationTree]:
            conversation, tree = h.conversation(conversation_id), h.tree(conversation_id)
            if message_id in tree and all(m.id != message_id for m in tree.branch()):
                h.show_branch(conversation_id, message_id)
                tree = h.tree(conversation_id)
            return conversation, tree

        loaded = await self.history_call(load)
        if loaded is None or self._generating:
            return False
        conversation, tree = loaded
        self._show_conversation(conversation.id, tree)
        if self._options_before_open is None:
            self._options_before_open = self.options_panel.options()
        self.options_panel.set_system_prompt(conversation.system_prompt)
        self._show_title(conversation.title)
        self.message_bar.hide()
        self._update_buttons()
        self.conversation_opened.emit(conversation.id)
        await self.count_context()
        return True

    def _show_conversation(self, conversation_id: int, tree: ConversationTree) -> None:
        """Show ``tree``'s branch on screen as the open conversation."""
        self._cancel_edit()
        self._forget_deleted_branch()
        self._conversation_id = conversation_id
        self._take_tree(tree)
        self.last_result = None
        self._count_serial += 1
        self._render_turns()

    def _forget_deleted_branch(self) -> None:
        self._deleted_branch = None
        self.undo_bar.hide()

    def new_chat(self) -> None:
        """Start a new, empty conversation (nothing is stored until the first message)."""
        if self._generating:
            return
        self._cancel_edit()
        self._forget_deleted_branch()
        self._turns.clear()
        self._children = {}
        self._conversation_id = 0
        if self._options_before_open is not None:
            # A new chat starts from the user's own preset, not an old conversation's.
            self.options_panel.set_options(self._options_before_open)
            self._options_before_open = None
        self._count_serial += 1  # a count still running measures the old chat
        self.last_result = None
        self.transcript.clear_conversation()
        self._show_title("")
        self.message_bar.hide()
        self.input.setFocus()
        self._update_buttons()
        self.conversation_opened.emit(0)
        self.chat_cleared.emit()

    def start_with_context(self, title: str, text: str) -> None:
        """Start a new chat about ``text`` (a document's summary): it becomes the system prompt.

        The conversation stores that prompt, so reopening it keeps the context.
        """
        if self._generating:
            return
        self.new_chat()
        if self._options_before_open is None:
            self._options_before_open = self.options_panel.options()
        # For the model, not the interface: small models follow English instructions best.
        self.options_panel.set_system_prompt(
            f"You answer questions about the document “{title}”. Its summary:\n\n{text}\n\n"
            "Answer from the summary; say so when it does not contain the answer."
        )
        self._show_title(self.tr("About {title}").format(title=title))
        self.input.setFocus()

    def conversation_renamed(self, conversation_id: int, title: str) -> None:
        """The conversation was renamed elsewhere (the sidebar): show the new title."""
        if conversation_id == self._conversation_id:
            self._show_title(title)

    # -- slots -------------------------------------------------------------------------

    def _on_input_text_changed(self) -> None:
        self._update_buttons()

    def _on_input_text_refused(self, size: int) -> None:
        self.message_bar.show_message(
            self.tr(
                "The pasted text has {size} characters; a message holds at most {limit}. "
                "Paste a part of it, or summarize the whole text as a file in Summarize."
            ).format(size=f"{size:,}", limit=f"{self.input.max_chars:,}")
        )

    def _on_input_submitted(self) -> None:
        self._on_send_clicked()

    def _on_send_clicked(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self._generating or not self._model_ready:
            return
        self.input.clear()
        self.message_bar.hide()
        editing, self._editing = self._editing, -1
        self.edit_banner.hide()
        self._set_generating(True)
        self.start_task(self._send(text, editing), name="chat-send")

    def _on_stop_clicked(self) -> None:
        if self._generating:
            self.start_task(self._client.cancel(), name="chat-cancel")

    def _on_escape_activated(self) -> None:
        if self._generating:
            self._on_stop_clicked()
        elif self._editing >= 0:
            self._cancel_edit()
            self.input.clear()

    def _on_new_chat_clicked(self) -> None:
        self.new_chat()

    def _on_regenerate_clicked(self) -> None:
        if self._generating or not self._model_ready:
            return
        last_user = self._last_user_index()
        if last_user < 0:
            return
        self._cancel_edit()
        self.message_bar.hide()
        self._set_generating(True)
        self.start_task(self._regenerate(last_user), name="chat-regenerate")

    def _on_input_recall_requested(self) -> None:
        if not self.input.toPlainText() and not self._generating:
            last_user = self._last_user_index()
            if last_user >= 0:
                self.edit_message(last_user)

    def _on_transcript_edit_requested(self, index: int) -> None:
        self.edit_message(index)

    def edit_message(self, index: int) -> None:
        """Put user message ``index`` in the input; sending it continues from there."""
        if self._generating or not 0 <= index < len(self._turns):
            return
        if self._turns[index].role != "user":
            return
        self._editing = index
        self.input.setPlainText(self._turns[index].content)
        self.input.moveCursor(self.input.textCursor().MoveOperation.End)
        self._show_edit_banner()
        self.input.setFocus()

    def _show_edit_banner(self) -> None:
        later = len(self._turns) - self._editing - 1
        self.edit_banner.show_message(
            self.tr(
                "Editing message {number}. Sending it starts a new branch here; the current "
                "one, with the {later} messages after it, is kept (‹ › switches). Esc cancels."
            ).format(number=self._editing + 1, later=later),
            action=self.tr("Cancel editing"),
            error=False,
        )

    def _cancel_edit(self) -> None:
        if self._editing >= 0:
            self._editing = -1
            self.edit_banner.hide()

    def _on_edit_banner_action_triggered(self) -> None:
        self._cancel_edit()
        self.input.clear()
        self.input.setFocus()

    def _on_transcript_rating_requested(self, index: int, rating: int) -> None:
        if not 0 <= index < len(self._turns) or self._turns[index].role != "assistant":
            return
        turn = self._turns[index]
        turn.rating = rating
        self.transcript.set_rating(index, rating)
        if turn.message_id:
            message_id = turn.message_id
            self.history_call_later(lambda h: h.rate_message(message_id, rating), name="chat-rate")

    def _on_transcript_text_copied(self, what: str) -> None:
        if what == "code":
            self.status_reported.emit(self.tr("Code copied to the clipboard"))
        else:
            self.status_reported.emit(self.tr("Answer copied to the clipboard"))

    def _on_message_bar_action_triggered(self) -> None:
        self.message_bar.show_busy(self.tr("Restarting the engine…"))
        self.restart_requested.emit()

    def _on_options_button_toggled(self, checked: bool) -> None:
        self.options_panel.setVisible(checked)

    def _on_options_panel_options_changed(self, options: ChatOptions) -> None:
        self._options_before_open = None  # the user's edit is now their own setting
        self.options_changed.emit(options)

    # -- generation --------------------------------------------------------------------

    def _set_generating(self, generating: bool) -> None:
        self._generating = generating
        self._update_buttons()
        if generating:
            self.generation_started.emit()
        else:
            self.generation_ended.emit()

    async def _send(self, text: str, editing: int) -> None:
        """Store and show the user's message (a new branch at ``editing``), then answer it."""
        try:
            if editing >= 0:
                self._leave_branch(editing)
            parent_id = self._parent_for(len(self._turns))
            system_prompt = self.options_panel.system_prompt()
            model = self._client.model
            model_id = model.model_id if model is not None else ""
            if not self._conversation_id:
                title = title_for(text)
                created = await self.history_call(
                    lambda h: h.create_conversation(
                        title, model_id=model_id, system_prompt=system_prompt
                    )
                )
                if created:
                    self._conversation_id = created
                    self._show_title(title)
                    self.conversations_changed.emit()
            else:
                conversation_id = self._conversation_id

                def save_settings(h: History) -> None:
                    h.set_system_prompt(conversation_id, system_prompt)
                    h.set_model(conversation_id, model_id)

                self.history_call_later(save_settings, name="chat-conversation-settings")
            turn = Turn("user", text)
            self._turns.append(turn)
            self.transcript.add_user_message(text)
            if self._conversation_id:
                conversation_id = self._conversation_id
                turn.message_id = (
                    await self.history_call(
                        lambda h: h.add_message(conversation_id, "user", text, parent_id=parent_id)
                    )
                    or 0
                )
                if turn.message_id:
                    self._adopt(turn, parent_id)
                    self.transcript.set_siblings(len(self._turns) - 1, self._siblings_of(-1))
        except BaseException:
            self._set_generating(False)
            raise
        await self._generate()

    async def _regenerate(self, last_user: int) -> None:
        # The answers so far stay in the database as siblings of the new one.
        self._leave_branch(last_user + 1)
        await self._generate()

    def _leave_branch(self, index: int) -> None:
        """Take message ``index`` and what follows off the screen (the database keeps them:
        the next message stored starts a sibling branch)."""
        if index >= len(self._turns):
            return
        del self._turns[index:]
        self.transcript.truncate(index)
        self._count_serial += 1

    def _conversation(self) -> list[ChatMessage]:
        system_prompt = self.options_panel.system_prompt().strip()
        messages = [ChatMessage(turn.role, turn.content) for turn in self._turns]
        if system_prompt:
            messages.insert(0, ChatMessage("system", system_prompt))
        return messages

    async def _generate(self) -> None:
        """Stream one answer into the transcript and the database (a task on the Qt loop)."""
        conversation = self._conversation()
        parent_id = self._parent_for(len(self._turns))
        turn = Turn("assistant", "")
        self._turns.append(turn)
        conversation_id = self._conversation_id
        answer_id = 0
        if conversation_id:
            answer_id = (
                await self.history_call(
                    lambda h: h.add_message(conversation_id, "assistant", "", parent_id=parent_id)
                )
                or 0
            )
            turn.message_id = answer_id
            if answer_id:
                self._adopt(turn, parent_id)
        self.transcript.begin_answer(siblings=self._siblings_of(len(self._turns) - 1))
        result: GenerationResult | None = None
        failure: EngineError | None = None
        flushing: asyncio.Task[Any] | None = None
        last_flush = time.monotonic()
        try:
            # aclosing: however this loop ends, the stream's own cleanup (which cancels
            # the request in the engine) runs now, not whenever the generator is collected.
            async with contextlib.aclosing(
                self._client.chat(conversation, self.sampling(), thinking=self.thinking())
            ) as events:
                async for event in events:
                    if isinstance(event, TokenEvent):
                        if event.reasoning:
                            self.transcript.append_reasoning(event.text)
                        else:
                            self.transcript.append_answer(event.text)
                        now = time.monotonic()
                        if (
                            answer_id
                            and now - last_flush >= FLUSH_S
                            and (flushing is None or flushing.done())
                        ):
                            last_flush = now
                            partial = self.transcript.streamed_text
                            thought = self.transcript.streamed_reasoning

                            def flush(h: History, text: str = partial, r: str = thought) -> None:
                                h.update_message(answer_id, text, reasoning=r)

                            flushing = self.start_task(self.history_call(flush), name="chat-flush")
                    else:
                        result = event
        except EngineError as exc:
            log.warning("Generation failed: %s", exc)
            failure = exc
        finally:
            self.transcript.stop_streaming()
            if result is None and failure is None:
                # Cancelled (the window is closing) or a bug, which goes on to the
                # excepthook: either way, do not leave the pane stuck "generating",
                # and keep what streamed so far.
                if answer_id:
                    partial = self.transcript.streamed_text
                    thought = self.transcript.streamed_reasoning
                    self.history_call_later(
                        lambda h: h.update_message(answer_id, partial, reasoning=thought),
                        name="chat-flush",
                    )
                self._set_generating(False)
        text = result.text if result is not None else self.transcript.streamed_text
        reasoning = result.reasoning if result is not None else self.transcript.streamed_reasoning
        # Kept even when empty, so user and assistant turns still alternate (many chat
        # templates insist on it) and what the model sees is what the transcript shows.
        # The thinking is not: it is stored and shown, never sent back to the model.
        turn.content = text
        turn.reasoning = reasoning
        if result is not None:
            turn.stats = result.stats
            self.last_result = result
            self.transcript.finish_answer(text, result.stats, reasoning=reasoning)
        else:
            self.transcript.finish_answer(
                text,
                None,
                interrupted=self.tr("Interrupted: the engine stopped before the answer ended."),
                reasoning=reasoning,
            )
        if answer_id:
            stats = asdict(result.stats) if result is not None else None
            await self.history_call(
                lambda h: h.update_message(answer_id, text, stats=stats, reasoning=reasoning)
            )
        self._set_generating(False)
        if failure is not None:
            self.show_engine_error(failure)
            return
        assert result is not None
        if conversation_id:
            self.conversations_changed.emit()
        self.answer_finished.emit(result)
        await self.count_context()

    async def count_context(self) -> None:
        """Measure the conversation against the model's context and emit ``context_counted``."""
        self._count_serial += 1
        serial = self._count_serial
        model = self._client.model
        if model is None:
            return
        if not self._turns:
            self.context_counted.emit(0, model.n_ctx)
            return
        try:
            used, n_ctx = await self._client.count_chat_tokens(self._conversation())
        except EngineError as exc:
            log.warning("Could not count the conversation's tokens: %s", exc)
            return
        if serial == self._count_serial:  # else a newer count or a new chat came first
            self.context_counted.emit(used, n_ctx)


__all__ = ["FLUSH_S", "ChatPane", "Turn", "title_for"]
