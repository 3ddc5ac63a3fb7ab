"""The chat options between runs: read when the window starts, written as they change.

Thread: the Qt thread; the file is read and written on worker threads.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, Signal

from desktop.widgets import BackgroundTasks
from engine.data.config import Paths
from engine.data.presets import ChatOptions, ChatOptionsStore

log = logging.getLogger("desktop.window")


class ChatOptionsSaver(QObject):
    """Writes the chat options as they change: the newest last, one write at a time.

    Args:
        paths: Hearth's folders (the options file is in the config folder).
        parent: the main window.

    Signals:
        save_failed(str): the options could not be written; the reason.
    """

    save_failed = Signal(str)

    def __init__(self, paths: Paths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = ChatOptionsStore.for_paths(paths)
        self._tasks = BackgroundTasks()
        self._pending: ChatOptions | None = None
        self._writer: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """Whether a write is under way."""
        return len(self._tasks) > 0

    def shutdown(self) -> None:
        """Stop writing (the window is closing)."""
        self._tasks.cancel_all()

    async def load(self) -> ChatOptions:
        """The options saved last (the defaults when there are none; never raises)."""
        return await asyncio.to_thread(self._store.load)

    def save(self, options: ChatOptions) -> None:
        """Write ``options`` soon, after any write already under way."""
        self._pending = options
        if self._writer is None or self._writer.done():
            self._writer = self._tasks.start(self._write(), name="window-save-chat-options")

    async def _write(self) -> None:
        # The newest options only, one write at a time, so an older one never lands last.
        while self._pending is not None:
            options, self._pending = self._pending, None
            try:
                await asyncio.to_thread(self._store.save, options)
            except OSError as exc:
                log.warning("Could not save the chat options: %s", exc)
                self.save_failed.emit(exc.strerror or str(exc))
