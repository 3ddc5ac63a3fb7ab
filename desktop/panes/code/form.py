"""What the Code pane is asked to do: the task, the code's language, the request, an error.

:class:`TaskForm` holds the task buttons (generate, explain, fix, tests, review), the
language (picked from the file name or the code, or chosen by the user), the request
line, a fix's error message, and Run and Stop; it turns them, with the editor's
selection or whole code, into an ``engine.tasks.code.CodeRequest``.

Thread: the Qt thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.highlight.languages import language_display_name
from desktop.panes.base import name_buttons
from desktop.panes.code.editor import CodeEditor, plain_text
from engine.tasks.programming_languages import LANGUAGES, language_for

if TYPE_CHECKING:
    from engine.tasks.code import CodeRequest

#: The tasks, in button order (``engine.tasks.code.TASKS``).
TASKS = ("generate", "explain", "fix", "tests", "review")


class TaskForm(QWidget):
    """The task to run on the editor's code, and how: three rows above the editor.

    Args:
        editor: the editor whose code (or selection) a task runs on.
        parent: the parent widget.

    Signals:
        run_requested: Run was clicked, or Enter pressed in the request line.
        stop_requested: Stop was clicked.
    """

    run_requested = Signal()
    stop_requested = Signal()

    def __init__(self, editor: CodeEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._editor = editor
        self._language_manual = False

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
        for name in LANGUAGES:
            self.language_combo.addItem(language_display_name(name), name)
        self.instruction_label, self.instruction_edit = QLabel(self), QLineEdit(self)
        self.instruction_label.setBuddy(self.instruction_edit)
        self.instruction_edit.setClearButtonEnabled(True)
        self.instruction_edit.returnPressed.connect(self._on_instruction_edit_return_pressed)
        self.error_label, self.error_edit = QLabel(self), QPlainTextEdit(self)
        self.error_label.setBuddy(self.error_edit)
        self.error_edit.setTabChangesFocus(True)
        self.error_edit.setMaximumHeight(self.fontMetrics().lineSpacing() * 5)
        self.run_button = QPushButton(self)
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.stop_button = QPushButton(self)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        editor.selectionChanged.connect(self._on_editor_selection_changed)

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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tasks)
        layout.addLayout(request)
        layout.addLayout(error)
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
        name_buttons((*self.task_buttons.values(), self.run_button, self.stop_button))

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def update_buttons(self, *, model_ready: bool, generating: bool) -> None:
        """Run while a model is ready and nothing is generated; Stop while something is."""
        self.run_button.setEnabled(model_ready and not generating)
        self.stop_button.setEnabled(generating)

    # -- the task ----------------------------------------------------------------------

    @property
    def task(self) -> str:
        """The task picked: one of :data:`TASKS`."""
        return TASKS[max(self.task_group.checkedId(), 0)]

    def set_task(self, task: str) -> None:
        """Pick ``task`` (one of :data:`TASKS`)."""
        self.task_buttons[task].setChecked(True)

    def request(self, filename: str) -> CodeRequest:
        """The request to run now: the task, on the selection or all of the editor's code.

        Args:
            filename: the name of the editor's file ("" for none), for the model.

        Raises:
            ValueError: it is incomplete (no code to work on, no description).
        """
        from engine.tasks.code import CodeRequest

        task = self.task
        cursor = self._editor.textCursor()
        if cursor.hasSelection():
            code = plain_text(cursor)
            # So that a review of a selection points at the editor's line numbers.
            block = self._editor.document().findBlock(cursor.selectionStart())
            first_line = block.blockNumber() + 1
        else:
            code, first_line = self._editor.toPlainText(), 1
        return CodeRequest(
            task=task,
            language=self.language,
            code="" if task == "generate" else code,
            instruction=self.instruction_edit.text().strip(),
            error=self.error_edit.toPlainText().strip() if task == "fix" else "",
            filename=filename,
            first_line=first_line,
        )

    def _show_instruction_hint(self) -> None:
        if self.task == "generate":
            hint = self.tr("Describe the code to write, e.g. “a function that parses ISO dates”")
        else:
            scope = (
                self.tr("the selection")
                if self._editor.textCursor().hasSelection()
                else self.tr("the whole code")
            )
            hint = self.tr("Optional: anything more to ask about {scope}").format(scope=scope)
        self.instruction_edit.setPlaceholderText(hint)

    # -- the language ------------------------------------------------------------------

    @property
    def language(self) -> str:
        """The language the code is treated as (a canonical name)."""
        return str(self.language_combo.currentData() or "text")

    @property
    def language_manual(self) -> bool:
        """Whether the user chose the language (it stays until another file is opened)."""
        return self._language_manual

    def set_language(self, language: str, *, manual: bool = False) -> None:
        """Treat the code as ``language``; ``manual`` keeps it until another file is opened."""
        index = self.language_combo.findData(language)
        if index < 0:
            self.language_combo.addItem(language_display_name(language), language)
            index = self.language_combo.count() - 1
        self.language_combo.setCurrentIndex(index)
        self._editor.set_language(language)
        self._language_manual = manual

    def detect_language(self, filename: str, text: str) -> None:
        """Pick the language from the file name, else from the code itself."""
        self.set_language(language_for(filename=filename or None, text=text))

    # -- slots -------------------------------------------------------------------------

    def _on_task_group_id_toggled(self, number: int, checked: bool) -> None:
        if not checked:
            return
        fix = TASKS[number] == "fix"
        self.error_label.setVisible(fix)
        self.error_edit.setVisible(fix)
        self._show_instruction_hint()

    def _on_language_combo_activated(self, index: int) -> None:
        self.set_language(str(self.language_combo.itemData(index)), manual=True)

    def _on_editor_selection_changed(self) -> None:
        self._show_instruction_hint()

    def _on_instruction_edit_return_pressed(self) -> None:
        self.run_requested.emit()

    def _on_run_button_clicked(self) -> None:
        self.run_requested.emit()

    def _on_stop_button_clicked(self) -> None:
        self.stop_requested.emit()


__all__ = ["TASKS", "TaskForm"]
