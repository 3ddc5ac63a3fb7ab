"""Complete at cursor: fill in the middle of the editor's code, when the model can.

:class:`CodeCompletion` learns whether the loaded model's vocabulary has the
fill-in-the-middle tokens (the worker reports them), keeps the Complete at cursor
button's state and tooltip saying so, and inserts a completion at the cursor as one undoable edit.

Thread: the Qt thread; the completion is generated in the engine.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QLabel, QPushButton

from desktop.panes.base import Pane
from desktop.panes.code.editor import CodeEditor
from engine.errors import EngineError
from engine.runtime.client import EngineClient

if TYPE_CHECKING:
    from engine.tasks.code import FimSupport
    from engine.types import ModelInfo


class CodeCompletion(QObject):
    """Fill-in-the-middle completions at the editor's cursor, and the button that asks for one.

    Args:
        client: the app's one engine client.
        editor: the editor to complete in.
        button: the Complete at cursor button (its state and tooltip are kept here).
        status_label: where progress and the outcome are written.
        pane: the pane (its message bar for failures, its tasks).

    Signals:
        started: a completion started.
        ended: it ended (inserted, stopped or failed).
    """

    started = Signal()
    ended = Signal()

    def __init__(
        self,
        client: EngineClient,
        editor: CodeEditor,
        button: QPushButton,
        status_label: QLabel,
        pane: Pane,
    ) -> None:
        super().__init__(pane)
        self._client = client
        self._editor = editor
        self._button = button
        self._status_label = status_label
        self._pane = pane
        self._fim: FimSupport | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def fim(self) -> FimSupport | None:
        """Whether the loaded model can complete at the cursor (None: not known yet)."""
        return self._fim

    @property
    def running(self) -> bool:
        """Whether a completion is being generated."""
        return self._task is not None and not self._task.done()

    def check(self, model: ModelInfo) -> None:
        """Learn whether the loaded ``model`` can fill in the middle (the worker found its
        FIM tokens in the loaded vocabulary, or none)."""
        from engine.tasks.code import fim_support

        self._fim = fim_support(model)

    def forget(self) -> None:
        """No model is loaded: whether one can complete is not known."""
        self._fim = None

    def show_state(self, *, model_ready: bool, generating: bool) -> None:
        """Enable the button when the model can complete and nothing is generated; say why not."""
        from engine.tasks.code import FimReason

        fim = self._fim
        available = fim is not None and fim.available
        self._button.setEnabled(available and model_ready and not generating)
        if not model_ready or fim is None or fim.reason is FimReason.NO_MODEL:
            tip = self.tr("Load a model first.")
        elif available:
            tip = self.tr("Insert a completion at the cursor, from the code around it (Ctrl+Space)")
        else:  # FimReason.NO_FIM_TOKENS
            tip = self.tr(
                "The loaded model has no fill-in-the-middle tokens; a coder model such as "
                "Qwen2.5-Coder has them."
            )
        self._button.setToolTip(tip)
        self._button.setAccessibleDescription(tip)

    def start(self) -> asyncio.Task[None] | None:
        """Insert a completion at the cursor, if the button allows; returns its asyncio task."""
        if not self._button.isEnabled():
            return None
        cursor = QTextCursor(self._editor.textCursor())
        cursor.clearSelection()
        self._task = self._pane.start_task(self._complete(cursor), name="code-complete")
        return self._task

    def stop(self) -> None:
        """Stop the completion being generated (nothing is inserted)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _complete(self, cursor: QTextCursor) -> None:
        from engine.tasks.code import complete_at_cursor

        editor = self._editor
        position = cursor.position()
        before = editor.text_range(0, position)
        after = editor.text_range(position, editor.document().characterCount() - 1)
        self.started.emit()
        self._status_label.setText(self.tr("Completing…"))
        try:
            text = await complete_at_cursor(self._client, before, after)
        except EngineError as exc:
            self._pane.message_bar.show_message(
                self.tr("Could not complete: {reason}").format(reason=exc)
            )
            self._status_label.clear()
            return
        except asyncio.CancelledError:
            self._status_label.setText(self.tr("Completion stopped."))
            raise
        finally:
            self._task = None
            self.ended.emit()
        # The cursor followed any typing meanwhile: the text goes where it was asked for.
        inserted = editor.replace_range(cursor.position(), cursor.position(), text)
        moved = editor.textCursor()
        moved.setPosition(inserted.selectionEnd())
        editor.setTextCursor(moved)
        self._status_label.setText(
            self.tr("Completed {count} characters; Ctrl+Z undoes it.").format(count=len(text))
        )


__all__ = ["CodeCompletion"]
