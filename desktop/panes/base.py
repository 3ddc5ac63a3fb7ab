"""What the Chat, Summarize and Code panes share: their tasks, history, busy and model state.

:class:`Pane` owns the asyncio tasks a pane starts (kept until they end, failures to
the app's excepthook, all cancelled by :meth:`Pane.shutdown`), its access to the
history database (a failed call is shown to the user, never only logged), whether it
is busy (with a signal when that changes), whether a model is ready, and re-translation
on ``LanguageChange``.

Thread: everything here runs on the Qt thread; tasks run on qasync's asyncio loop,
which is that same thread, and history calls on the history thread.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from desktop.widgets import BackgroundTasks, MessageBar
from engine.data.history import AsyncHistory, History
from engine.runtime.client import EngineClient

T = TypeVar("T")

#: A keyboard mnemonic in a button's text: "&Save", or "保存(&S)" in Chinese.
_MNEMONIC = re.compile(r"\(&\w\)|&(?=\w)")


def name_buttons(buttons: Iterable[QAbstractButton]) -> None:
    """Give each button its text, without the mnemonic and ellipsis, as its accessible name.

    A screen reader then says "Save", not "ampersand Save" ("&Save" → "Save",
    "保存(&S)" → "保存", "Open…" → "Open").
    """
    for button in buttons:
        button.setAccessibleName(_MNEMONIC.sub("", button.text()).rstrip("…").strip())


class Pane(QWidget):
    """The base of the app's panes.

    A subclass lays out its widgets (its :attr:`message_bar` among them), sets its texts
    in :meth:`retranslate_ui` (which it calls at the end of ``__init__``), enables its
    controls in :meth:`_update_buttons`, and starts its work with :meth:`start_task`.

    Args:
        client: the app's one engine client.
        history: the history database, or None to keep nothing.
        parent: the parent widget.

    Signals:
        status_reported(str): a short, passing message for the status bar.
        busy_changed(bool): background work started (True), or the last of it ended (False).
    """

    status_reported = Signal(str)
    busy_changed = Signal(bool)

    def __init__(
        self,
        client: EngineClient,
        *,
        history: AsyncHistory | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._history = history
        self._tasks = BackgroundTasks()
        self._busy = False
        self._model_ready = False
        #: Failures and notices shown inside the pane.
        self.message_bar = MessageBar(self)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        raise NotImplementedError

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def _title_label(self) -> QLabel:
        """A label for the pane's title: its text a quarter larger, and bold."""
        label = QLabel(self)
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        label.setFont(font)
        return label

    # -- tasks -------------------------------------------------------------------------

    def start_task(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run ``coro`` on the Qt thread's asyncio loop as this pane's work.

        The pane keeps it until it ends (a failure other than cancellation goes to the
        app's excepthook) and counts it in :attr:`busy`; :meth:`shutdown` cancels it.
        """
        task: asyncio.Task[T] = self._tasks.start(coro, name=name)
        # After BackgroundTasks' own callback, which forgets the task first.
        task.add_done_callback(self._on_task_done)
        self._show_busy()
        return task

    def _on_task_done(self, _task: asyncio.Task[Any]) -> None:
        self._show_busy()

    def _show_busy(self) -> None:
        busy = self.busy
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    @property
    def busy(self) -> bool:
        """Whether work the pane started (an answer, a file read or write…) is still running."""
        return len(self._tasks) > 0

    def shutdown(self) -> None:
        """Cancel the pane's background work (its window is closing).

        Subclasses that stream stop their timers first, then call this.
        """
        self._tasks.cancel_all()

    # -- the model ---------------------------------------------------------------------

    @property
    def model_ready(self) -> bool:
        """Whether a model is loaded (not loading) and the pane's work can use it."""
        return self._model_ready

    def set_model_ready(self, ready: bool) -> None:
        """A model was loaded (``ready``) or is going: the pane's work follows."""
        self._model_ready = ready
        self._model_ready_changed(ready)
        self._update_buttons()

    def _model_ready_changed(self, ready: bool) -> None:
        """What the pane does when a model becomes ready or goes (nothing, here)."""

    def _update_buttons(self) -> None:
        """Enable the pane's controls for its state (each pane has its own)."""
        raise NotImplementedError

    # -- the history database ----------------------------------------------------------

    def detach_history(self) -> None:
        """Go on without the history database (it could not be opened)."""
        self._history = None

    async def history_call(self, call: Callable[[History], T]) -> T | None:
        """Run ``call`` on the history thread; a failure is shown, never raised.

        The pane goes on without the database: losing the record of a message, a
        summary or a task must not lose what is on screen.

        Returns:
            What ``call`` returned; None without a database or when it failed.
        """
        if self._history is None:
            return None
        return await self._history.attempt(call, self._show_history_failure)

    def history_call_later(self, call: Callable[[History], Any], *, name: str) -> None:
        """:meth:`history_call` as a task of the pane's, for writes nothing waits on."""
        if self._history is not None:
            self.start_task(self.history_call(call), name=name)

    def _show_history_failure(self, error: Exception) -> None:
        """Tell the user that a history call failed, in the pane's message bar."""
        self.message_bar.show_message(self._history_failure_text(error))

    def _history_failure_text(self, error: Exception) -> str:
        return self.tr("Could not save to the history database: {reason}").format(reason=error)


__all__ = ["Pane", "name_buttons"]
