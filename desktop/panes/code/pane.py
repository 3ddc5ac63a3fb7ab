"""The Code pane: an editor and a local code model — generate, explain, fix, test, review.

The editor (:class:`~desktop.panes.code.editor.CodeEditor`) holds the code: opened,
dropped or pasted (:class:`~desktop.panes.code.files.EditorFile`), its language picked
from the file name or the content and overridable. A task
(:class:`~desktop.panes.code.form.TaskForm`) runs on the selection, or on the whole
editor (:class:`~desktop.panes.code.runs.TaskRunner`); the answer streams in as Markdown
with highlighted code blocks, each with Copy, Save… and Apply to editor
(:class:`~desktop.panes.code.answer.AnswerView`). A fix is shown as a diff and applied
only when accepted, as one undoable edit. "Complete at cursor"
(:class:`~desktop.panes.code.completion.CodeCompletion`) fills in the middle when the
loaded model's GGUF declares the tokens for it. When the model is a general chat model,
a quiet banner names a code model that fits this computer. Every run is stored in the
history database and listed in the sidebar.

Thread: the Qt thread; files are read and written, GGUF headers and the catalog read,
in worker threads; generation runs in the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
    QTextCursor,
)
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSplitter, QVBoxLayout, QWidget

from desktop.panes.advice import CodeModelAdvice
from desktop.panes.base import Pane, name_buttons
from desktop.panes.code.answer import AnswerView
from desktop.panes.code.completion import CodeCompletion
from desktop.panes.code.editor import CodeEditor
from desktop.panes.code.files import EditorFile
from desktop.panes.code.form import TASKS, TaskForm
from desktop.panes.code.runs import TaskRunner
from engine.data.history import AsyncHistory
from engine.errors import EngineError
from engine.runtime.client import EngineClient

if TYPE_CHECKING:
    from engine.data.history import StoredCodeTask
    from engine.models.hardware import Hardware
    from engine.tasks.code import CodeRequest, CodeResult, FimSupport
    from engine.types import ModelInfo, SamplingParams


class CodePane(Pane):
    """Work on code with the local model.

    Args:
        client: the app's one engine client.
        history: the history database, or None to keep nothing.
        hardware: how to learn this computer's hardware (the main window's
            ``hardware``), for the model advice; None shows no advice.
        parent: the parent widget.

    Signals:
        code_tasks_changed: a task was stored or changed (the sidebar list is stale).
        status_reported(str): a short, passing message for the status bar.
        busy_changed(bool): background work started (True), or the last of it ended (False).
        models_requested: the user wants the model manager (to get a code model).
        generation_started: a task or completion started.
        generation_ended: it ended (finished, stopped or failed).
        answer_finished(object): a task finished (its ``engine.tasks.code.CodeResult``).
    """

    code_tasks_changed = Signal()
    models_requested = Signal()
    generation_started = Signal()
    generation_ended = Signal()
    answer_finished = Signal(object)

    def __init__(
        self,
        client: EngineClient,
        *,
        history: AsyncHistory | None = None,
        hardware: Callable[[], Awaitable[Hardware]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(client, history=history, parent=parent)
        self._checked_model = ""  # path of the model the FIM check and advice were for
        self._target: QTextCursor | None = None  # the selection a task ran on (None: all)
        #: Sampling parameters for tasks (None: the engine's defaults).
        self.params: SamplingParams | None = None
        self.setAcceptDrops(True)

        self.title_label = self._title_label()
        self.model_advice = CodeModelAdvice(hardware, self)
        self.model_advice.models_requested.connect(self.models_requested)
        self.editor = CodeEditor(self)
        self.form = TaskForm(self.editor, self)
        self.form.run_requested.connect(self._on_form_run_requested)
        self.form.stop_requested.connect(self._on_form_stop_requested)
        self.complete_button = QPushButton(self)
        self.complete_button.clicked.connect(self._on_complete_clicked)
        self.open_button = QPushButton(self)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.save_button = QPushButton(self)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.save_as_button = QPushButton(self)
        self.save_as_button.clicked.connect(self._on_save_as_clicked)
        # Created before the form (which works on it), reached after the file's buttons.
        QWidget.setTabOrder(self.save_as_button, self.editor)
        self.answer_view = AnswerView(self.message_bar, self)
        self.file = EditorFile(self.editor, self)
        self.runner = TaskRunner(client, self.answer_view, self)
        self.completion = CodeCompletion(
            client, self.editor, self.complete_button, self.answer_view.status_label, self
        )
        self._connect_parts()
        self.shortcuts = [
            self._shortcut("Ctrl+Return", self._on_form_run_requested),
            self._shortcut("Ctrl+Enter", self._on_form_run_requested),
            self._shortcut(QKeySequence(Qt.Key.Key_Escape), self._on_form_stop_requested),
            self._shortcut("Ctrl+O", self._on_open_clicked),
            self._shortcut("Ctrl+S", self._on_save_clicked),
            self._shortcut("Ctrl+Shift+S", self._on_save_as_clicked),
            self._shortcut("Ctrl+Space", self._on_complete_clicked),
        ]
        self._lay_out()
        self.retranslate_ui()

    def _connect_parts(self) -> None:
        self.editor.document().modificationChanged.connect(self._on_modification_changed)
        self.editor.text_pasted_into_empty.connect(self._on_editor_text_pasted_into_empty)
        self.answer_view.apply_requested.connect(self._on_answer_view_apply_requested)
        self.answer_view.copy_requested.connect(self._on_answer_view_copy_requested)
        self.answer_view.save_requested.connect(self._on_answer_view_save_requested)
        self.answer_view.diff_closed.connect(self._on_answer_view_diff_closed)
        self.answer_view.answer_shown.connect(self._on_answer_view_answer_shown)
        self.file.loaded.connect(self._on_file_loaded)
        self.file.saved.connect(self._on_file_saved)
        self.runner.started.connect(self.generation_started)
        self.runner.ended.connect(self._on_runner_ended)
        self.runner.finished.connect(self.answer_finished)
        self.runner.stored.connect(self.code_tasks_changed)
        self.completion.started.connect(self.generation_started)
        self.completion.ended.connect(self._on_completion_ended)

    def _shortcut(self, keys: QKeySequence | str, slot: Callable[[], None]) -> QShortcut:
        made = QShortcut(QKeySequence(keys), self)
        made.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        made.activated.connect(slot)
        return made

    def _lay_out(self) -> None:
        files = QHBoxLayout()
        files.addWidget(self.open_button)
        files.addWidget(self.save_button)
        files.addWidget(self.save_as_button)
        files.addStretch(1)
        files.addWidget(self.complete_button)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(files)
        left_layout.addWidget(self.editor, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.answer_view)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([1 << 16, 1 << 16])  # the code and the answer equally wide
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.model_advice.bar)
        layout.addWidget(self.form)
        layout.addWidget(self.splitter, 1)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.complete_button.setText(self.tr("Complete at &cursor"))
        self.open_button.setText(self.tr("&Open…"))
        self.open_button.setToolTip(self.tr("Open a source file (Ctrl+O), or drop one here"))
        self.save_button.setText(self.tr("&Save"))
        self.save_button.setToolTip(self.tr("Save the code (Ctrl+S)"))
        self.save_as_button.setText(self.tr("Save as…"))
        self.save_as_button.setToolTip(self.tr("Save the code under another name (Ctrl+Shift+S)"))
        self.editor.setAccessibleName(self.tr("Code editor"))
        self.editor.setAccessibleDescription(
            self.tr("Tab indents; Ctrl+Tab moves the keyboard focus on.")
        )
        self.editor.setPlaceholderText(
            self.tr("Type or paste code, open a file, or drop one here.")
        )
        name_buttons(
            (self.complete_button, self.open_button, self.save_button, self.save_as_button)
        )
        self._show_title()
        self.completion.show_state(model_ready=self.model_ready, generating=self.generating)
        self.model_advice.retranslate_ui()

    # -- state -------------------------------------------------------------------------

    @property
    def generating(self) -> bool:
        """Whether a task or a completion is being generated."""
        return self.runner.running or self.completion.running

    @property
    def task(self) -> str:
        """The task picked: one of :data:`~desktop.panes.code.form.TASKS`."""
        return self.form.task

    def set_task(self, task: str) -> None:
        """Pick ``task`` (one of :data:`~desktop.panes.code.form.TASKS`)."""
        self.form.set_task(task)

    @property
    def language(self) -> str:
        """The language the code is treated as (a canonical name)."""
        return self.form.language

    def set_language(self, language: str, *, manual: bool = False) -> None:
        """Treat the code as ``language``; ``manual`` keeps it until another file is opened."""
        self.form.set_language(language, manual=manual)

    @property
    def path(self) -> Path | None:
        """The file in the editor, or None when it has not been saved."""
        return self.file.path

    @property
    def target(self) -> QTextCursor | None:
        """What Apply replaces: a cursor selecting the code the task ran on (None: all).

        A task run on a selection sets it; the cursor follows edits made meanwhile.
        """
        return self._target

    @target.setter
    def target(self, cursor: QTextCursor | None) -> None:
        self._target = QTextCursor(cursor) if cursor is not None else None

    @property
    def fim(self) -> FimSupport | None:
        """Whether the loaded model can complete at the cursor (None: not known yet)."""
        return self.completion.fim

    def shutdown(self) -> None:
        """Stop and cancel the pane's background work (its window is closing)."""
        self.answer_view.stop_rendering()
        super().shutdown()

    def _update_buttons(self) -> None:
        generating = self.generating
        self.form.update_buttons(model_ready=self.model_ready, generating=generating)
        self.answer_view.update_actions(generating=generating)
        self.completion.show_state(model_ready=self.model_ready, generating=generating)

    def _show_title(self) -> None:
        name = self.file.filename or self.tr("Untitled")
        if self.editor.document().isModified():
            name += " •"
        self.title_label.setText(name)
        path = self.file.path
        self.title_label.setToolTip(str(path) if path else "")

    # -- the model ---------------------------------------------------------------------

    def _model_ready_changed(self, ready: bool) -> None:
        """A new model is checked for FIM tokens and for advice."""
        model = self._client.model if ready else None
        if model is None:
            self.completion.forget()
        elif model.path != self._checked_model:
            self.start_task(self.check_model(model), name="code-check-model")

    async def check_model(self, model: ModelInfo) -> None:
        """Learn whether ``model`` can fill in the middle, and whether to suggest a code model.

        The worker found the FIM tokens, or none, in the model's loaded vocabulary; the
        catalog is read in a worker thread.
        """
        self._checked_model = model.path
        self.completion.check(model)
        self._update_buttons()
        await self.model_advice.advise(model)

    # -- files -------------------------------------------------------------------------

    async def save(self, path: Path) -> bool:
        """Write the editor's code to ``path``; it becomes the editor's file."""
        return await self.file.save(path)

    async def save_code(self, path: Path, code: str) -> bool:
        """Write a code block to ``path`` (the editor keeps its own file)."""
        return await self.file.save_code(path, code)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept files dragged from the file manager."""
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Open the dropped file (the first, when several are dropped)."""
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if self.file.open_dropped(paths):
            event.acceptProposedAction()

    # -- running -----------------------------------------------------------------------

    def request(self) -> CodeRequest:
        """The request the pane would run now: the task, the selection or all the code.

        Raises:
            ValueError: it is incomplete (no code to work on, no description).
        """
        return self.form.request(self.file.filename)

    def run(self) -> asyncio.Task[None] | None:
        """Run the task picked, if a model is ready and nothing runs; returns its asyncio task."""
        if not self.model_ready or self.generating:
            return None
        try:
            request = self.request()
        except ValueError:
            if self.task == "generate":
                text = self.tr("Describe the code to write first.")
                self.form.instruction_edit.setFocus()
            else:
                text = self.tr("There is no code to work on: type, paste or open some first.")
                self.editor.setFocus()
            self.message_bar.show_message(text, error=False)
            return None
        cursor = self.editor.textCursor()
        self._target = QTextCursor(cursor) if cursor.hasSelection() else None
        task = self.runner.start(request, self.params)
        self._update_buttons()
        return task

    def stop(self) -> None:
        """Stop the task or completion being generated; the answer so far stays."""
        self.runner.stop()
        self.completion.stop()

    def complete(self) -> asyncio.Task[None] | None:
        """Insert a fill-in-the-middle completion at the cursor; returns its asyncio task."""
        task = self.completion.start()
        if task is not None:
            self._update_buttons()
        return task

    def show_result(self, result: CodeResult) -> None:
        """Show a finished task's answer; for a fix that changes the code, its diff."""
        self.answer_view.show_result(result)

    def apply_code(self, code: str) -> None:
        """Replace the code the task ran on (its selection, or all) with ``code``, undoably.

        One edit block: one Ctrl+Z in the editor puts the old code back.
        """
        target = self._target
        if target is not None and target.hasSelection():
            start, end = target.selectionStart(), target.selectionEnd()
        else:
            start, end = 0, self.editor.document().characterCount() - 1
        if self.editor.text_range(start, end).endswith("\n") and not code.endswith("\n"):
            code += "\n"
        applied = self.editor.replace_range(start, end, code)
        if target is not None:
            self._target = applied  # applying again replaces the same code
        cursor = self.editor.textCursor()
        cursor.setPosition(applied.selectionEnd())
        self.editor.setTextCursor(cursor)
        self.status_reported.emit(self.tr("Applied; Ctrl+Z in the editor undoes it"))

    # -- stored tasks ------------------------------------------------------------------

    async def open_task(self, task_id: int) -> bool:
        """Show a stored task (picked in the sidebar): its code, request and answer.

        Returns:
            Whether it was found (a failure is reported in the status bar).
        """
        if self._history is None:
            return False
        try:
            stored = await self._history.run(lambda h: h.code_task(task_id))
        except (EngineError, RuntimeError) as exc:
            self.status_reported.emit(str(exc))
            return False
        if self.generating:
            self.status_reported.emit(self.tr("Stop the task first, then open another."))
            return False
        self.file.confirm_discard(lambda: self.show_stored(stored))
        return True

    def show_stored(self, stored: StoredCodeTask) -> None:
        """Restore a stored task: editor content, language, task, request and answer."""
        self.file.forget(stored.filename)
        self._target = None
        self.editor.setPlainText(stored.code)
        self.editor.document().setModified(False)
        self.set_language(stored.language or "text")
        self.set_task(stored.task if stored.task in TASKS else "generate")
        self.form.instruction_edit.setText(stored.instruction)
        self.form.error_edit.setPlainText(stored.error)
        self.answer_view.show_stored(stored)
        self.message_bar.hide()
        self._show_title()
        self._update_buttons()

    # -- slots -------------------------------------------------------------------------

    def _on_form_run_requested(self) -> None:
        self.run()

    def _on_form_stop_requested(self) -> None:
        self.stop()

    def _on_complete_clicked(self) -> None:
        self.complete()

    def _on_open_clicked(self) -> None:
        self.file.ask_open()

    def _on_save_clicked(self) -> None:
        self.file.save_or_ask()

    def _on_save_as_clicked(self) -> None:
        self.file.ask_save_path()

    def _on_modification_changed(self, _modified: bool) -> None:
        self._show_title()

    def _on_editor_text_pasted_into_empty(self, text: str) -> None:
        if not self.form.language_manual:
            self.form.detect_language(self.file.filename, text)

    def _on_file_loaded(self, text: str) -> None:
        self._target = None
        self.form.detect_language(self.file.filename, text)
        self._show_title()

    def _on_file_saved(self, renamed: bool) -> None:
        if renamed and not self.form.language_manual:
            self.form.detect_language(self.file.filename, self.editor.toPlainText())
        self._show_title()

    def _on_answer_view_apply_requested(self, code: str) -> None:
        self.apply_code(code)

    def _on_answer_view_copy_requested(self, code: str) -> None:
        QGuiApplication.clipboard().setText(code)
        self.status_reported.emit(self.tr("Code copied to the clipboard"))

    def _on_answer_view_save_requested(self, code: str) -> None:
        self.file.ask_save_code(code, "tests" if self.answer_view.task == "tests" else "code")

    def _on_answer_view_diff_closed(self) -> None:
        self.editor.setFocus()

    def _on_answer_view_answer_shown(self) -> None:
        self._update_buttons()

    def _on_runner_ended(self) -> None:
        self._update_buttons()
        self.generation_ended.emit()

    def _on_completion_ended(self) -> None:
        self._update_buttons()
        self.generation_ended.emit()


__all__ = ["CodePane"]
