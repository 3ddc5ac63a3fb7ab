"""The Code pane: an editor and a local code model — generate, explain, fix, test, review.

The editor (:class:`~desktop.panes.code_editor.CodeEditor`) holds the code: opened, dropped
or pasted, its language picked from the file name or the content and overridable. A
task runs on the selection, or on the whole editor, through ``engine.tasks.code.run_task``;
the answer streams in as Markdown with highlighted code blocks, each with Copy, Save…
and Apply to editor. A fix is shown as a diff (:class:`~desktop.panes.diff_view.DiffView`)
and applied only when accepted, as one undoable edit. "Complete at cursor" fills in
the middle when the loaded model's GGUF declares the tokens for it. When the model is
a general chat model, a quiet banner names a code model that fits this computer.
Every run is stored in the history database and listed in the sidebar.

Thread: the Qt thread; files are read and written, GGUF headers and the catalog read,
in worker threads; generation runs in the engine.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPalette,
    QShortcut,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.highlight import (
    LANGUAGES,
    code_blocks,
    language_display_name,
    language_for,
    style_code_blocks,
)
from desktop.panes.code_editor import (
    CodeEditor,
    SourceFileError,
    plain_text,
    read_source,
    write_source,
)
from desktop.panes.diff_view import DiffView
from desktop.widgets import BackgroundTasks, MessageBar
from engine.data.history import AsyncHistory, History
from engine.errors import EngineError
from engine.runtime.client import EngineClient

if TYPE_CHECKING:
    from engine.data.history import StoredCodeTask
    from engine.models.catalog import CatalogEntry
    from engine.models.hardware import Hardware
    from engine.tasks.code import CodeRequest, CodeResult, FimSupport
    from engine.types import ModelInfo, SamplingParams

log = logging.getLogger("desktop.code")

T = TypeVar("T")

#: The tasks, in button order (``engine.tasks.code.TASKS``).
TASKS = ("generate", "explain", "fix", "tests", "review")
#: Tasks whose answer proposes code for the editor.
CODE_TASKS = frozenset({"generate", "fix", "tests"})
#: The streamed answer is re-rendered at most this often (milliseconds).
RENDER_MS = 50
#: Links under code blocks use this URL scheme (``code:apply/2``).
_SCHEME = "code"


class CodePane(QWidget):
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
        models_requested: the user wants the model manager (to get a code model).
        generation_started: a task or completion started.
        generation_ended: it ended (finished, stopped or failed).
        answer_finished(object): a task finished (its ``engine.tasks.code.CodeResult``).
    """

    code_tasks_changed = Signal()
    status_reported = Signal(str)
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
        super().__init__(parent)
        self._client = client
        self._history = history
        self._hardware = hardware
        self._tasks = BackgroundTasks()
        self._model_ready = False
        self._checked_model = ""  # path of the model the FIM check and advice were for
        self._fim: FimSupport | None = None
        self._advice: CatalogEntry | None = None
        self._path: Path | None = None
        self._filename = ""  # the editor's file name (also for stored tasks without a path)
        self._language_manual = False
        self._run: asyncio.Task[None] | None = None
        self._completion: asyncio.Task[None] | None = None
        self._streamed: list[str] = []
        self._answer = ""
        self._answer_task = ""
        self._answer_language = "text"
        self._proposed: str | None = None
        self._target: QTextCursor | None = None  # the selection a task ran on (None: all)
        self._block_code: list[str] = []
        self._discard_box: QMessageBox | None = None
        #: Sampling parameters for tasks (None: the engine's defaults).
        self.params: SamplingParams | None = None
        self.setAcceptDrops(True)

        self.title_label = QLabel(self)
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title_label.setFont(font)
        self.message_bar = MessageBar(self)
        self.advice_bar = MessageBar(self)
        self.advice_bar.action_triggered.connect(self._on_advice_bar_action_triggered)

        self.task_group = QButtonGroup(self)
        self.task_group.setExclusive(True)
        self.task_buttons: dict[str, QPushButton] = {}
        for number, task in enumerate(TASKS):
            button = QPushButton(self)
            button.setCheckable(True)
            self.task_group.addButton(button, number)
            self.task_buttons[task] = button
        self.task_buttons["generate"].setChecked(True)
        self.task_group.idToggled.connect(self._on_task_group_id_toggled)
        self.language_label, self.language_combo = QLabel(self), QComboBox(self)
        self.language_label.setBuddy(self.language_combo)
        self.language_combo.activated.connect(self._on_language_combo_activated)
        self.instruction_label, self.instruction_edit = QLabel(self), QLineEdit(self)
        self.instruction_label.setBuddy(self.instruction_edit)
        self.instruction_edit.setClearButtonEnabled(True)
        self.instruction_edit.returnPressed.connect(self._on_instruction_return_pressed)
        self.error_label, self.error_edit = QLabel(self), QPlainTextEdit(self)
        self.error_label.setBuddy(self.error_edit)
        self.error_edit.setTabChangesFocus(True)
        self.error_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 5)
        self.run_button = QPushButton(self)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.stop_button = QPushButton(self)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.complete_button = QPushButton(self)
        self.complete_button.clicked.connect(self._on_complete_clicked)

        self.open_button = QPushButton(self)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.save_button = QPushButton(self)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.save_as_button = QPushButton(self)
        self.save_as_button.clicked.connect(self._on_save_as_clicked)
        self.editor = CodeEditor(self)
        self.editor.document().modificationChanged.connect(self._on_modification_changed)
        self.editor.text_pasted_into_empty.connect(self._on_editor_text_pasted_into_empty)
        self.editor.selectionChanged.connect(self._on_editor_selection_changed)

        self.output = QTextBrowser(self)
        self.output.setOpenLinks(False)
        self.output.anchorClicked.connect(self._on_output_anchor_clicked)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.diff_view = DiffView(self)
        self.diff_view.hide()
        self.diff_view.accepted.connect(self._on_diff_view_accepted)
        self.diff_view.rejected.connect(self._on_diff_view_rejected)
        self.apply_button = QPushButton(self)
        self.apply_button.clicked.connect(self._on_apply_clicked)
        self.copy_button = QPushButton(self)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.save_code_button = QPushButton(self)
        self.save_code_button.clicked.connect(self._on_save_code_clicked)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_MS)
        self._render_timer.timeout.connect(self._on_render_timer_timeout)

        def shortcut(keys: QKeySequence | str, slot: Callable[[], None]) -> QShortcut:
            made = QShortcut(QKeySequence(keys), self)
            made.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            made.activated.connect(slot)
            return made

        self.shortcuts = [
            shortcut("Ctrl+Return", self._on_run_clicked),
            shortcut("Ctrl+Enter", self._on_run_clicked),
            shortcut(QKeySequence(Qt.Key.Key_Escape), self._on_stop_clicked),
            shortcut("Ctrl+O", self._on_open_clicked),
            shortcut("Ctrl+S", self._on_save_clicked),
            shortcut("Ctrl+Shift+S", self._on_save_as_clicked),
            shortcut("Ctrl+Space", self._on_complete_clicked),
        ]

        tasks = QHBoxLayout()
        for button in self.task_buttons.values():
            tasks.addWidget(button)
        tasks.addStretch(1)
        # The language sits with the request, not the task buttons: a short row of
        # buttons keeps the window's least width small.
        request = QHBoxLayout()
        request.addWidget(self.instruction_label)
        request.addWidget(self.instruction_edit, 1)
        request.addWidget(self.language_label)
        request.addWidget(self.language_combo)
        request.addWidget(self.run_button)
        request.addWidget(self.stop_button)
        error = QHBoxLayout()
        error.addWidget(self.error_label)
        error.addWidget(self.error_edit, 1)
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
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.output_splitter = QSplitter(Qt.Orientation.Vertical, right)
        self.output_splitter.addWidget(self.output)
        self.output_splitter.addWidget(self.diff_view)
        self.output_splitter.setChildrenCollapsible(False)
        right_layout.addWidget(self.output_splitter, 1)
        right_layout.addWidget(self.status_label)
        actions = QHBoxLayout()
        actions.addWidget(self.apply_button)
        actions.addWidget(self.copy_button)
        actions.addWidget(self.save_code_button)
        actions.addStretch(1)
        right_layout.addLayout(actions)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.advice_bar)
        layout.addLayout(tasks)
        layout.addLayout(request)
        layout.addLayout(error)
        layout.addWidget(self.splitter, 1)
        self._fill_languages()
        self.retranslate_ui()
        self._on_task_group_id_toggled(0, True)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        names = {
            "generate": (self.tr("&Generate"), self.tr("Write code from a description")),
            "explain": (self.tr("E&xplain"), self.tr("Explain the selection or the whole code")),
            "fix": (self.tr("F&ix"), self.tr("Fix the code, optionally given an error message")),
            "tests": (self.tr("Write &tests"), self.tr("Write unit tests for the code")),
            "review": (self.tr("&Review"), self.tr("Review the code: problems, with line numbers")),
        }
        for task, (name, tip) in names.items():
            self.task_buttons[task].setText(name)
            self.task_buttons[task].setToolTip(tip)
            self.task_buttons[task].setAccessibleDescription(tip)
        self.language_label.setText(self.tr("&Language:"))
        self.language_combo.setAccessibleName(self.tr("Code language"))
        self.language_combo.setToolTip(
            self.tr("Picked from the file name or the code; choose another to override it")
        )
        for index in range(self.language_combo.count()):
            self.language_combo.setItemText(
                index, language_display_name(str(self.language_combo.itemData(index)))
            )
        self.instruction_label.setText(self.tr("Req&uest:"))
        self.instruction_edit.setAccessibleName(self.tr("Request"))
        self._show_instruction_hint()
        self.error_label.setText(self.tr("&Error:"))
        self.error_edit.setAccessibleName(self.tr("Error message or traceback"))
        self.error_edit.setPlaceholderText(
            self.tr("Optional: paste the error message or traceback here")
        )
        self.run_button.setText(self.tr("Run"))
        self.run_button.setToolTip(self.tr("Run the task (Ctrl+Enter)"))
        self.stop_button.setText(self.tr("Stop"))
        self.stop_button.setToolTip(self.tr("Stop the answer; what is written so far stays (Esc)"))
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
        self.output.setAccessibleName(self.tr("Answer"))
        self.output.setAccessibleDescription(
            self.tr("Press Tab to move between the links under each code block, Enter to use one.")
        )
        self.output.setPlaceholderText(
            self.tr(
                "Pick a task and press Run. The model works on the selection, or on the whole "
                "code when nothing is selected, on this computer."
            )
        )
        self.apply_button.setText(self.tr("A&pply to editor"))
        self.apply_button.setToolTip(
            self.tr("Replace the code the task ran on with the answer's code")
        )
        self.copy_button.setText(self.tr("Cop&y code"))
        self.save_code_button.setText(self.tr("Save co&de…"))
        for button in (
            *self.task_buttons.values(),
            self.run_button,
            self.stop_button,
            self.complete_button,
            self.open_button,
            self.save_button,
            self.save_as_button,
            self.apply_button,
            self.copy_button,
            self.save_code_button,
        ):
            button.setAccessibleName(_without_mnemonic(button.text()))
        self._show_title()
        self._show_complete_state()
        if self.advice_bar.isVisibleTo(self):
            self._show_advice()
        self._show_answer(final=self._run is None)

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    # -- state -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a task, a completion or file work is running."""
        return len(self._tasks) > 0

    @property
    def generating(self) -> bool:
        """Whether a task or a completion is being generated."""
        return any(t is not None and not t.done() for t in (self._run, self._completion))

    @property
    def task(self) -> str:
        """The task picked: one of :data:`TASKS`."""
        return TASKS[max(self.task_group.checkedId(), 0)]

    def set_task(self, task: str) -> None:
        """Pick ``task`` (one of :data:`TASKS`)."""
        self.task_buttons[task].setChecked(True)

    @property
    def language(self) -> str:
        """The language the code is treated as (a canonical name)."""
        return str(self.language_combo.currentData() or "text")

    @property
    def path(self) -> Path | None:
        """The file in the editor, or None when it has not been saved."""
        return self._path

    @property
    def answer(self) -> str:
        """The last answer (streamed so far, or whole)."""
        return self._answer

    @property
    def proposed_code(self) -> str | None:
        """The code the last answer proposes for the editor, if any."""
        return self._proposed

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
        return self._fim

    def set_model_ready(self, ready: bool) -> None:
        """Tasks run only while a model is loaded; a new model is checked for FIM and advice."""
        self._model_ready = ready
        model = self._client.model if ready else None
        if model is None:
            self._fim = None
        elif model.path != self._checked_model:
            self._tasks.start(self.check_model(model), name="code-check-model")
        self._update_buttons()

    def detach_history(self) -> None:
        """Go on without the history database (it could not be opened)."""
        self._history = None

    def shutdown(self) -> None:
        """Stop and cancel the pane's background work (its window is closing)."""
        self._render_timer.stop()
        self._tasks.cancel_all()

    def _update_buttons(self) -> None:
        generating = self.generating
        self.run_button.setEnabled(self._model_ready and not generating)
        self.stop_button.setEnabled(generating)
        has_code = self._proposed is not None and not generating
        for button in (self.apply_button, self.copy_button, self.save_code_button):
            button.setEnabled(has_code)
        self._show_complete_state()

    def _show_complete_state(self) -> None:
        from engine.tasks.code import FimReason

        fim = self._fim
        available = fim is not None and fim.available
        self.complete_button.setEnabled(available and self._model_ready and not self.generating)
        if not self._model_ready or fim is None or fim.reason is FimReason.NO_MODEL:
            tip = self.tr("Load a model first.")
        elif available:
            tip = self.tr("Insert a completion at the cursor, from the code around it (Ctrl+Space)")
        else:  # FimReason.NO_FIM_TOKENS
            tip = self.tr(
                "The loaded model has no fill-in-the-middle tokens; a coder model such as "
                "Qwen2.5-Coder has them."
            )
        self.complete_button.setToolTip(tip)
        self.complete_button.setAccessibleDescription(tip)

    async def check_model(self, model: ModelInfo) -> None:
        """Learn whether ``model`` can fill in the middle, and whether to suggest a code model.

        The worker found the FIM tokens, or none, in the model's loaded vocabulary; the
        catalog is read in a worker thread.
        """
        from engine.tasks.code import fim_support

        self._checked_model = model.path
        self._fim = fim_support(model)
        self._show_complete_state()
        self._update_buttons()
        await self._advise(model)

    async def _advise(self, model: ModelInfo) -> None:
        if self._hardware is None:
            return
        from engine.models.catalog import load_catalog
        from engine.tasks.code import code_model_advice

        try:
            hardware = await self._hardware()
            entries = await asyncio.to_thread(load_catalog)
        except (EngineError, OSError) as exc:
            log.warning("No code model advice: %s", exc)
            return
        self._advice = code_model_advice(model, entries, hardware, model.n_ctx)
        self._show_advice()

    @property
    def advice(self) -> CatalogEntry | None:
        """The code model suggested for this computer (None: no advice shown)."""
        return self._advice

    def _show_advice(self) -> None:
        entry = self._advice
        if entry is None:
            self.advice_bar.hide()
            return
        self.advice_bar.show_message(
            self.tr(
                "The loaded model is a general chat model. For code, {name} fits this computer "
                "and does better."
            ).format(name=entry.name),
            action=self.tr("Open the model ma&nager…"),
            error=False,
        )

    # -- languages ---------------------------------------------------------------------

    def _fill_languages(self) -> None:
        for name in LANGUAGES:
            self.language_combo.addItem(language_display_name(name), name)

    def set_language(self, language: str, *, manual: bool = False) -> None:
        """Treat the code as ``language``; ``manual`` keeps it until another file is opened."""
        index = self.language_combo.findData(language)
        if index < 0:
            self.language_combo.addItem(language_display_name(language), language)
            index = self.language_combo.count() - 1
        self.language_combo.setCurrentIndex(index)
        self.editor.set_language(language)
        self._language_manual = manual

    def _detect_language(self, text: str) -> None:
        self.set_language(language_for(filename=self._filename or None, text=text))

    def _on_language_combo_activated(self, index: int) -> None:
        self.set_language(str(self.language_combo.itemData(index)), manual=True)

    def _on_editor_text_pasted_into_empty(self, text: str) -> None:
        if not self._language_manual:
            self._detect_language(text)

    # -- files -------------------------------------------------------------------------

    def _show_title(self) -> None:
        name = self._filename or self.tr("Untitled")
        if self.editor.document().isModified():
            name += " •"
        self.title_label.setText(name)
        self.title_label.setToolTip(str(self._path) if self._path else "")

    def _on_modification_changed(self, _modified: bool) -> None:
        self._show_title()

    def confirm_discard(self, then: Callable[[], object]) -> None:
        """Run ``then`` once unsaved changes are saved or discarded (asking the user if any)."""
        if not self.editor.document().isModified() or not self.editor.toPlainText().strip():
            then()
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Unsaved changes"))
        box.setText(
            self.tr("{name} has changes that are not saved.").format(
                name=self._filename or self.tr("The code")
            )
        )
        box.setInformativeText(self.tr("Save them first?"))
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)

        def on_finished(_result: int) -> None:
            clicked = box.standardButton(box.clickedButton())
            self._discard_box = None
            box.deleteLater()
            if clicked == QMessageBox.StandardButton.Discard:
                then()
            elif clicked == QMessageBox.StandardButton.Save:
                self._tasks.start(self._save_then(then), name="code-save")

        box.finished.connect(on_finished)
        self._discard_box = box
        box.open()

    @property
    def discard_box(self) -> QMessageBox | None:
        """The "unsaved changes" question, while it is asked (for tests and tools)."""
        return self._discard_box

    async def _save_then(self, then: Callable[[], object]) -> None:
        if self._path is None:
            self._ask_save_path(then)
        elif await self.save(self._path):
            then()

    def open_path(self, path: Path) -> None:
        """Open ``path`` in the editor, after asking about unsaved changes."""
        self.confirm_discard(lambda: self._tasks.start(self.load_file(path), name="code-open"))

    async def load_file(self, path: Path) -> bool:
        """Read ``path`` into the editor now (unsaved changes are dropped; see :meth:`open_path`).

        Returns:
            Whether it was opened; a file too big, binary or unreadable is refused with a
            message and the editor is left as it was.
        """
        try:
            text = await asyncio.to_thread(read_source, path)
        except SourceFileError as exc:
            reasons = {
                "too_big": self.tr("it is over 4 MB, too big for the code editor"),
                "binary": self.tr("it is not a text file (binary, or not UTF-8)"),
            }
            reason = reasons.get(exc.reason, exc.detail or exc.reason)
            self.message_bar.show_message(
                self.tr("Could not open {name}: {reason}.").format(name=path.name, reason=reason)
            )
            return False
        self._path = path
        self._filename = path.name
        self._target = None
        self.message_bar.hide()
        self.editor.setPlainText(text)  # also empties the undo stack: another file
        self.editor.document().setModified(False)
        self._detect_language(text)
        self._show_title()
        self.status_reported.emit(self.tr("Opened {path}").format(path=str(path)))
        return True

    async def save(self, path: Path) -> bool:
        """Write the editor's code to ``path``; it becomes the editor's file.

        Returns:
            Whether it was written (a failure is shown in the pane).
        """
        text = self.editor.toPlainText()
        if text and not text.endswith("\n"):
            text += "\n"
        try:
            await asyncio.to_thread(write_source, path, text)
        except OSError as exc:
            self.message_bar.show_message(
                self.tr("Could not save {path}: {reason}").format(
                    path=str(path), reason=exc.strerror or str(exc)
                )
            )
            return False
        renamed = path != self._path
        self._path = path
        self._filename = path.name
        self.editor.document().setModified(False)
        if renamed and not self._language_manual:
            self._detect_language(self.editor.toPlainText())
        self._show_title()
        self.status_reported.emit(self.tr("Saved {path}").format(path=str(path)))
        return True

    def _ask_save_path(self, then: Callable[[], object] | None = None) -> None:
        dialog = QFileDialog(self, self.tr("Save the code"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.selectFile(str(self._path) if self._path else self._filename or "untitled.txt")

        async def save_then(path: Path) -> None:
            if await self.save(path) and then is not None:
                then()

        dialog.fileSelected.connect(
            lambda path: self._tasks.start(save_then(Path(path)), name="code-save")
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_open_clicked(self) -> None:
        dialog = QFileDialog(self, self.tr("Open a source file"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        if self._path is not None:
            dialog.setDirectory(str(self._path.parent))
        dialog.fileSelected.connect(lambda path: self.open_path(Path(path)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_save_clicked(self) -> None:
        if self._path is None:
            self._ask_save_path()
        else:
            self._tasks.start(self.save(self._path), name="code-save")

    def _on_save_as_clicked(self) -> None:
        self._ask_save_path()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept files dragged from the file manager."""
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Open the dropped file (the first, when several are dropped)."""
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        files = [p for p in paths if p.is_file()]
        if files:
            self.open_path(files[0])
            event.acceptProposedAction()
        elif paths:
            self.message_bar.show_message(self.tr("Drop a file here, not a folder."))
            event.acceptProposedAction()

    # -- running a task ----------------------------------------------------------------

    def _on_task_group_id_toggled(self, number: int, checked: bool) -> None:
        if not checked:
            return
        fix = TASKS[number] == "fix"
        self.error_label.setVisible(fix)
        self.error_edit.setVisible(fix)
        self._show_instruction_hint()

    def _on_editor_selection_changed(self) -> None:
        self._show_instruction_hint()

    def _show_instruction_hint(self) -> None:
        if self.task == "generate":
            hint = self.tr("Describe the code to write, e.g. “a function that parses ISO dates”")
        else:
            scope = (
                self.tr("the selection")
                if self.editor.textCursor().hasSelection()
                else self.tr("the whole code")
            )
            hint = self.tr("Optional: anything more to ask about {scope}").format(scope=scope)
        self.instruction_edit.setPlaceholderText(hint)

    def _on_instruction_return_pressed(self) -> None:
        self.run()

    def _on_run_clicked(self) -> None:
        self.run()

    def _on_stop_clicked(self) -> None:
        self.stop()

    def request(self) -> CodeRequest:
        """The request the pane would run now: the task, the selection or all the code.

        Raises:
            ValueError: it is incomplete (no code to work on, no description).
        """
        from engine.tasks.code import CodeRequest

        task = self.task
        cursor = self.editor.textCursor()
        if cursor.hasSelection():
            code = plain_text(cursor)
            # So that a review of a selection points at the editor's line numbers.
            first_line = self.editor.document().findBlock(cursor.selectionStart()).blockNumber() + 1
        else:
            code, first_line = self.editor.toPlainText(), 1
        return CodeRequest(
            task=task,
            language=self.language,
            code="" if task == "generate" else code,
            instruction=self.instruction_edit.text().strip(),
            error=self.error_edit.toPlainText().strip() if task == "fix" else "",
            filename=self._filename,
            first_line=first_line,
        )

    def run(self) -> asyncio.Task[None] | None:
        """Run the task picked, if a model is ready and nothing runs; returns its asyncio task."""
        if not self._model_ready or self.generating:
            return None
        try:
            request = self.request()
        except ValueError:
            if self.task == "generate":
                text = self.tr("Describe the code to write first.")
                self.instruction_edit.setFocus()
            else:
                text = self.tr("There is no code to work on: type, paste or open some first.")
                self.editor.setFocus()
            self.message_bar.show_message(text, error=False)
            return None
        cursor = self.editor.textCursor()
        self._target = QTextCursor(cursor) if cursor.hasSelection() else None
        self._run = self._tasks.start(self._run_request(request), name="code-run")
        self._update_buttons()
        return self._run

    def stop(self) -> None:
        """Stop the task or completion being generated; the answer so far stays."""
        for task in (self._run, self._completion):
            if task is not None and not task.done():
                task.cancel()

    async def _db(self, call: Callable[[History], T]) -> T | None:
        if self._history is None:
            return None
        return await self._history.attempt(call)

    async def _run_request(self, request: CodeRequest) -> None:
        from engine.tasks.code import run_task

        self.message_bar.hide()
        self.diff_view.hide()
        self._streamed = []
        self._answer = ""
        self._answer_task, self._answer_language = request.task, request.language
        self._proposed = None
        self._show_answer(final=False)
        self.status_label.setText(self.tr("Writing…"))
        self.generation_started.emit()
        model = self._client.model
        task_id = 0

        def on_token(text: str) -> None:
            self._streamed.append(text)
            if not self._render_timer.isActive():
                self._render_timer.start()

        try:
            task_id = (
                await self._db(
                    lambda h: h.add_code_task(
                        request.task,
                        language=request.language,
                        filename=request.filename,
                        code=request.code,
                        instruction=request.instruction,
                        error=request.error,
                        model_id=model.model_id if model else "",
                    )
                )
                or 0
            )
            self.code_tasks_changed.emit()
            result = await run_task(self._client, request, on_token=on_token, params=self.params)
        except asyncio.CancelledError:
            self._render_timer.stop()
            self._show_partial(self.tr("Stopped; the answer so far is kept."))
            await self._store(task_id, "cancelled")
            raise
        except EngineError as exc:
            self._render_timer.stop()
            self._show_partial(self.tr("The task failed."))
            self.message_bar.show_message(self.tr("The task failed: {reason}").format(reason=exc))
            await self._store(task_id, "failed")
            return
        finally:
            self._run = None
            self._update_buttons()
            self.generation_ended.emit()
        self.show_result(result)
        await self._store(task_id, "done")
        self.answer_finished.emit(result)

    def _show_partial(self, note: str) -> None:
        from engine.tasks.code import answer_code

        self._answer = "".join(self._streamed)
        code = answer_code(self._answer, self._answer_language)
        self._proposed = code if self._answer_task in CODE_TASKS else None
        self._show_answer(final=True)
        self.status_label.setText(note)

    async def _store(self, task_id: int, status: str) -> None:
        if not task_id:
            return
        answer = self._answer
        await self._db(lambda h: h.update_code_task(task_id, answer=answer, status=status))
        self.code_tasks_changed.emit()

    def show_result(self, result: CodeResult) -> None:
        """Show a finished task's answer; for a fix that changes the code, its diff."""
        from engine.tasks.code import diff_lines

        self._render_timer.stop()
        self._answer = result.text
        self._answer_task = result.request.task
        self._answer_language = result.request.language
        self._proposed = result.code
        self._show_answer(final=True)
        stats = result.stats
        line = self.tr("{rate:.1f} tokens/s · {count} tokens").format(
            rate=stats.tokens_per_s, count=stats.generated_tokens
        )
        if result.stop_reason == "repetition":
            line += " · " + self.tr("stopped where the model began repeating itself")
        elif result.stop_reason == "length":
            line += " · " + self.tr("cut at the answer length limit")
        self.status_label.setText(line)
        if result.request.task == "fix":
            if result.code is not None and result.diff:
                self._show_diff(diff_lines(result.request.code, result.code))
            else:
                self.diff_view.hide()
                self.message_bar.show_message(
                    self.tr("The answer proposes no change to the code."), error=False
                )
        self._update_buttons()

    def _show_diff(self, lines: list[tuple[str, str]]) -> None:
        self.diff_view.show_diff(lines)
        self.diff_view.show()
        # The answer's explanation above, the change below, both in view.
        height = max(self.output_splitter.height(), 2)
        self.output_splitter.setSizes([height * 2 // 5, height - height * 2 // 5])
        self.diff_view.accept_button.setFocus()

    def _on_render_timer_timeout(self) -> None:
        self._answer = "".join(self._streamed)
        self._show_answer(final=False)

    # -- the answer --------------------------------------------------------------------

    def _show_answer(self, *, final: bool) -> None:
        """Render the answer as Markdown; when ``final``, with links under each code block."""
        bar = self.output.verticalScrollBar()
        position = bar.value()
        # Follow the text as it streams, unless the user scrolled up to read.
        follow = not final and position >= bar.maximum() - 4
        self.output.setMarkdown(self._answer)
        document = self.output.document()
        style_code_blocks(document, 0, self.output.palette())
        self._block_code = []
        if final and self._answer:
            self._add_block_links()
        # setMarkdown scrolls back to the top; keep the reader's place.
        bar.setValue(bar.maximum() if follow else position)

    def _add_block_links(self) -> None:
        from engine.tasks.code import extract_code_blocks

        document = self.output.document()
        blocks = code_blocks(document)
        fenced = extract_code_blocks(self._answer)
        if len(fenced) == len(blocks):
            # The answer's own text: Qt's Markdown import turns indenting tabs into spaces.
            self._block_code = [block.code for block in fenced]
        else:
            self._block_code = [block.text for block in blocks]
        palette = self.output.palette()
        link = QTextCharFormat()
        link.setAnchor(True)
        link.setForeground(palette.color(QPalette.ColorRole.Link))
        link.setFontPointSize(max(self.output.font().pointSizeF() * 0.85, 6.0))
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        for number in reversed(range(len(blocks))):
            last = document.findBlock(blocks[number].last_position)
            cursor.setPosition(last.position() + last.length() - 1)
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            for index, (action, text, tip) in enumerate(
                (
                    ("copy", self.tr("Copy"), self.tr("Copy this code block")),
                    ("save", self.tr("Save…"), self.tr("Save this code block to a file")),
                    (
                        "apply",
                        self.tr("Apply to editor"),
                        self.tr("Replace the code the task ran on with this block"),
                    ),
                )
            ):
                if index:
                    cursor.insertText("  ·  ", QTextCharFormat())
                link.setAnchorHref(f"{_SCHEME}:{action}/{number}")
                link.setToolTip(tip)
                cursor.insertText(text, link)
        cursor.endEditBlock()

    def block_code(self) -> list[str]:
        """The code of each code block of the answer shown (for its Copy/Save/Apply links)."""
        return list(self._block_code)

    def _on_output_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() != _SCHEME:
            return
        action, _, number = url.path().partition("/")
        if not number.isdigit() or int(number) >= len(self._block_code):
            return
        code = self._block_code[int(number)]
        if action == "copy":
            self._copy(code)
        elif action == "save":
            self._ask_save_code(code)
        elif action == "apply":
            self.apply_code(code)

    def _copy(self, code: str) -> None:
        QGuiApplication.clipboard().setText(code)
        self.status_reported.emit(self.tr("Code copied to the clipboard"))

    def _ask_save_code(self, code: str) -> None:
        dialog = QFileDialog(self, self.tr("Save the code"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        suffix = Path(self._filename).suffix if self._filename else ".txt"
        dialog.selectFile(("tests" if self._answer_task == "tests" else "code") + suffix)
        dialog.fileSelected.connect(
            lambda path: self._tasks.start(self.save_code(Path(path), code), name="code-save")
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    async def save_code(self, path: Path, code: str) -> bool:
        """Write a code block to ``path`` (the editor keeps its own file)."""
        try:
            await asyncio.to_thread(
                write_source, path, code if code.endswith("\n") else code + "\n"
            )
        except OSError as exc:
            self.message_bar.show_message(
                self.tr("Could not save {path}: {reason}").format(
                    path=str(path), reason=exc.strerror or str(exc)
                )
            )
            return False
        self.status_reported.emit(self.tr("Saved {path}").format(path=str(path)))
        return True

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

    def _on_diff_view_accepted(self) -> None:
        if self._proposed is not None:
            self.apply_code(self._proposed)
        self.diff_view.hide()
        self.editor.setFocus()

    def _on_diff_view_rejected(self) -> None:
        self.diff_view.hide()
        self.editor.setFocus()

    def _on_apply_clicked(self) -> None:
        if self._proposed is not None:
            self.apply_code(self._proposed)
            self.diff_view.hide()

    def _on_copy_clicked(self) -> None:
        if self._proposed is not None:
            self._copy(self._proposed)

    def _on_save_code_clicked(self) -> None:
        if self._proposed is not None:
            self._ask_save_code(self._proposed)

    # -- completion --------------------------------------------------------------------

    def _on_complete_clicked(self) -> None:
        self.complete()

    def complete(self) -> asyncio.Task[None] | None:
        """Insert a fill-in-the-middle completion at the cursor; returns its asyncio task."""
        if not self.complete_button.isEnabled():
            return None
        cursor = QTextCursor(self.editor.textCursor())
        cursor.clearSelection()
        self._completion = self._tasks.start(self._complete(cursor), name="code-complete")
        self._update_buttons()
        return self._completion

    async def _complete(self, cursor: QTextCursor) -> None:
        from engine.tasks.code import complete_at_cursor

        position = cursor.position()
        before = self.editor.text_range(0, position)
        after = self.editor.text_range(position, self.editor.document().characterCount() - 1)
        self.generation_started.emit()
        self.status_label.setText(self.tr("Completing…"))
        try:
            text = await complete_at_cursor(self._client, before, after)
        except EngineError as exc:
            self.message_bar.show_message(
                self.tr("Could not complete: {reason}").format(reason=exc)
            )
            self.status_label.clear()
            return
        except asyncio.CancelledError:
            self.status_label.setText(self.tr("Completion stopped."))
            raise
        finally:
            self._completion = None
            self._update_buttons()
            self.generation_ended.emit()
        # The cursor followed any typing meanwhile: the text goes where it was asked for.
        inserted = self.editor.replace_range(cursor.position(), cursor.position(), text)
        moved = self.editor.textCursor()
        moved.setPosition(inserted.selectionEnd())
        self.editor.setTextCursor(moved)
        self.status_label.setText(
            self.tr("Completed {count} characters; Ctrl+Z undoes it.").format(count=len(text))
        )

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
        self.confirm_discard(lambda: self.show_stored(stored))
        return True

    def show_stored(self, stored: StoredCodeTask) -> None:
        """Restore a stored task: editor content, language, task, request and answer."""
        from engine.tasks.code import answer_code, diff_lines

        self._path = None
        self._filename = stored.filename
        self._target = None
        self.editor.setPlainText(stored.code)
        self.editor.document().setModified(False)
        self.set_language(stored.language or "text")
        self.set_task(stored.task if stored.task in TASKS else "generate")
        self.instruction_edit.setText(stored.instruction)
        self.error_edit.setPlainText(stored.error)
        self._answer, self._answer_task = stored.answer, stored.task
        self._answer_language = stored.language or "text"
        code = answer_code(stored.answer, self._answer_language) if stored.answer else None
        self._proposed = code if stored.task in CODE_TASKS else None
        self.output.verticalScrollBar().setValue(0)  # another answer: from its start
        self._show_answer(final=True)
        statuses = {
            "running": self.tr("This task did not finish."),
            "cancelled": self.tr("This task was stopped early."),
            "failed": self.tr("This task failed."),
        }
        self.status_label.setText(statuses.get(stored.status, ""))
        self.message_bar.hide()
        if stored.task == "fix" and code is not None and code != stored.code and stored.code:
            self._show_diff(diff_lines(stored.code, code))
        else:
            self.diff_view.hide()
        self._show_title()
        self._update_buttons()

    # -- advice ------------------------------------------------------------------------

    def _on_advice_bar_action_triggered(self) -> None:
        self.models_requested.emit()


_MNEMONIC = re.compile(r"\(&\w\)|&(?=\w)")


def _without_mnemonic(text: str) -> str:
    """A button's text without its keyboard mnemonic ("&Save" → "Save", "保存(&S)" → "保存")."""
    return _MNEMONIC.sub("", text).rstrip("…").strip()


__all__ = ["CODE_TASKS", "TASKS", "CodePane"]
