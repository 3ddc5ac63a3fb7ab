"""The status bar's memory item: what Hearth and its engine process take, kept up to date.

Thread: the Qt thread; the processes are measured on a worker thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import psutil
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from desktop.widgets import BackgroundTasks
from engine.models.hardware import format_bytes

#: How often the memory figure is refreshed (milliseconds).
MEMORY_INTERVAL_MS = 2000


def memory_of(pids: list[int]) -> list[int]:
    """Resident memory in bytes of each process (0 for one that is gone)."""
    sizes = []
    for pid in pids:
        try:
            sizes.append(psutil.Process(pid).memory_info().rss)
        except (psutil.Error, OSError):
            sizes.append(0)
    return sizes


class MemoryLabel(QLabel):
    """Memory of this process and the engine's, refreshed every :data:`MEMORY_INTERVAL_MS`.

    Args:
        worker_pid: gives the engine process's id, or None while none runs.
        parent: the parent widget.
    """

    def __init__(self, worker_pid: Callable[[], int | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker_pid = worker_pid
        self._sizes: tuple[int, int] | None = None
        self._tasks = BackgroundTasks()
        self._timer = QTimer(self)
        self._timer.setInterval(MEMORY_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setAccessibleName(self.tr("Memory used"))
        if self._sizes is None:
            self.setToolTip(self.tr("Memory used by Hearth and its engine"))
            return
        app, engine = self._sizes
        self.setText(self.tr("Memory {total}").format(total=format_bytes(app + engine)))
        self.setToolTip(
            self.tr("Hearth {app} · engine {engine}").format(
                app=format_bytes(app), engine=format_bytes(engine)
            )
        )

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    @property
    def busy(self) -> bool:
        """Whether a measurement is still running."""
        return len(self._tasks) > 0

    def start(self) -> None:
        """Refresh the figure from now on."""
        self._timer.start()

    def shutdown(self) -> None:
        """Stop refreshing (the window is closing)."""
        self._timer.stop()
        self._tasks.cancel_all()

    def _on_timer_timeout(self) -> None:
        if not self.busy:
            self._tasks.start(self.refresh(), name="status-memory")

    async def refresh(self) -> None:
        """Measure both processes now and show the figure."""
        worker = self._worker_pid()
        pids = [os.getpid()] + ([worker] if worker else [])
        sizes = await asyncio.to_thread(memory_of, pids)
        self._sizes = (sizes[0], sum(sizes[1:]))
        self.retranslate_ui()
