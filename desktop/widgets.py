"""Small widgets and helpers shared by the panes and the main window.

:class:`BackgroundTasks` owns references to asyncio tasks, :class:`MessageBar` is an
inline, non-modal message with one action, :class:`BoundedTextEdit` is a text input that
refuses a paste past its size, :class:`PromptEdit` is the message input, and
:func:`mix` / :func:`blend` tint colours so they read in light and dark themes.

Thread: everything here runs on the Qt thread (tasks run on qasync's asyncio loop, which
is that same thread).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QToolButton,
    QWidget,
)


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

    def names(self) -> set[str]:
        """The names of the tasks still running."""
        return {task.get_name() for task in self._tasks}

    def cancel_all(self) -> None:
        """Cancel every task still running (the window is going away)."""
        for task in list(self._tasks):
            task.cancel()


def read_only_table(columns: int, parent: QWidget) -> QTableWidget:
    """A table of rows to pick one from: whole rows selected, not editable, no row numbers.

    The last column stretches; change the header's resize modes for another layout.
    """
    table = QTableWidget(0, columns, parent)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


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
        self._error = True
        self._tinting = False
        self.setAccessibleName(self.tr("Message"))
        self.hide()

    def show_message(self, text: str, *, action: str = "", error: bool = True) -> None:
        """Show ``text``, with an action button labelled ``action`` if given."""
        self._error = error
        self._tint()
        self._label.setText(text)
        self._action.setText(action)
        self._action.setVisible(bool(action))
        self._action.setEnabled(True)
        self._close.setEnabled(True)
        self.show()

    def _tint(self) -> None:
        # From the application's palette, not our own tinted one, so tints never stack.
        palette = QApplication.palette(self)
        tint = ("#d9534f", 0.22) if self._error else ("#3a87ad", 0.18)
        color = mix(palette, *tint)
        palette.setColor(QPalette.ColorRole.Window, color)
        self._tinting = True
        self.setPalette(palette)
        self._tinting = False

    def changeEvent(self, event: QEvent) -> None:
        """Tint again from the new palette when the theme changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange and not self._tinting:
            self._tint()

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


def mix(palette: QPalette, color: str, amount: float) -> QColor:
    """``color`` blended into the palette's window colour, so it reads in light and dark themes.

    Args:
        palette: the palette whose window colour is the base.
        color: the tint, as a colour name or ``#rrggbb``.
        amount: how much of the tint, from 0 (none) to 1 (only the tint).

    Returns:
        The blended colour.
    """
    return blend(palette.color(QPalette.ColorRole.Window), QColor(color), amount)


def blend(base: QColor, tint: QColor, amount: float) -> QColor:
    """``amount`` of ``tint`` over ``base``.

    Args:
        base: the colour underneath.
        tint: the colour laid over it.
        amount: how much of ``tint``, from 0 (only ``base``) to 1 (only ``tint``).

    Returns:
        The blended colour.
    """
    return QColor(
        round(base.red() * (1 - amount) + tint.red() * amount),
        round(base.green() * (1 - amount) + tint.green() * amount),
        round(base.blue() * (1 - amount) + tint.blue() * amount),
    )


#: Characters a chat message may hold, as the command line's 4 MB text cap: a million
#: tokens, more than a local model's context, and Qt lays it out in about 30 MB.
MAX_MESSAGE_CHARS = 4 * 1024 * 1024


class BoundedTextEdit(QPlainTextEdit):
    """A plain text input that refuses a paste or drop that would take it past a size.

    Qt lays out all the text it holds (about 8 bytes a character): 600 MB pasted into an
    input would cost gigabytes and a minute before anything could refuse it on send.

    Signals:
        text_refused(int): a paste or drop was refused; its length in characters.
    """

    text_refused = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, max_chars: int) -> None:
        super().__init__(parent)
        self.max_chars = max_chars

    def insertFromMimeData(self, source: QMimeData) -> None:
        """Insert the text if the input then holds at most ``max_chars``, else refuse it."""
        size = len(source.text()) if source.hasText() else 0
        held = self.document().characterCount() - 1  # the count includes a final separator
        replaced = len(self.textCursor().selectedText())
        if held - replaced + size > self.max_chars:
            self.text_refused.emit(size)
            return
        super().insertFromMimeData(source)


class PromptEdit(BoundedTextEdit):
    """The message input: Enter sends, Shift+Enter starts a new line.

    Pasted text is refused past :data:`MAX_MESSAGE_CHARS` (``text_refused``).

    Signals:
        submitted: the user pressed Enter (without Shift).
        recall_requested: the user pressed Up in the empty input (to edit the last message).
    """

    submitted = Signal()
    recall_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, max_chars=MAX_MESSAGE_CHARS)
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        """Three lines of text tall."""
        hint = super().sizeHint()
        margins = self.contentsMargins()
        doc_margin = int(self.document().documentMargin() * 2)
        height = self.fontMetrics().lineSpacing() * 3 + doc_margin
        return QSize(hint.width(), height + margins.top() + margins.bottom())

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        """Text only: dropped files go on to the window (which summarizes them)."""
        return not source.hasUrls() and super().canInsertFromMimeData(source)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Let file drags pass to the window."""
        if event.mimeData().hasUrls():
            event.ignore()
            return
        super().dragEnterEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter sends; Shift+Enter inserts a newline; Up when empty recalls; else as usual."""
        if event.key() == Qt.Key.Key_Up and not self.toPlainText():
            self.recall_requested.emit()
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            event.accept()
            return
        super().keyPressEvent(event)


__all__ = [
    "MAX_MESSAGE_CHARS",
    "BackgroundTasks",
    "BoundedTextEdit",
    "MessageBar",
    "PromptEdit",
    "blend",
    "mix",
    "read_only_table",
]
