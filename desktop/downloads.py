"""Model downloads for the GUI: the engine's DownloadManager, its progress on the Qt thread.

The manager's worker threads report progress through a callback; this hands each report
to the Qt thread with ``loop.call_soon_threadsafe`` (docs/ARCHITECTURE.md) and re-emits it as a
signal. Downloads outlive the model manager dialog: the main window owns one controller.

Thread: the Qt thread, except the callback noted below.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, Signal

from engine.data.config import Paths, Settings
from engine.models.downloads import DownloadManager, DownloadProgress
from engine.models.hub import HubFile
from engine.models.time_left import format_time_left

log = logging.getLogger("desktop.downloads")


class Downloads(QObject):
    """The app's downloads.

    Args:
        paths: Hearth's folders.
        settings: the settings in effect (models folder, offline mode).
        parent: the owner (the main window).

    Signals:
        progressed(object): a :class:`DownloadProgress` for one download.
        finished(object): a download reached "done" (its :class:`DownloadProgress`).
    """

    progressed = Signal(object)
    finished = Signal(object)

    def __init__(self, paths: Paths, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loop = asyncio.get_running_loop()
        self._latest: dict[str, DownloadProgress] = {}
        self._manager = DownloadManager(paths, settings, on_progress=self._on_manager_progress)

    def _on_manager_progress(self, progress: DownloadProgress) -> None:
        """Called on a download thread: pass the report to the Qt thread."""
        self._loop.call_soon_threadsafe(self._deliver, progress)

    def _deliver(self, progress: DownloadProgress) -> None:
        previous = self._latest.get(progress.id)
        self._latest[progress.id] = progress
        self.progressed.emit(progress)
        if progress.state == "done" and (previous is None or previous.state != "done"):
            self.finished.emit(progress)

    async def restore(self) -> list[DownloadProgress]:
        """Bring back the downloads left unfinished last time (paused)."""
        restored = await asyncio.to_thread(self._manager.restore)
        for progress in restored:
            self._deliver(progress)
        return restored

    async def start(self, file: HubFile) -> str:
        """Start downloading ``file``.

        Raises:
            DownloadError: refused (offline, not enough disk, an unsafe name).
        """
        return await asyncio.to_thread(self._manager.start, file)

    async def resume(self, download_id: str) -> None:
        """Resume a paused or failed download (checks the free disk space again)."""
        await asyncio.to_thread(self._manager.resume, download_id)

    def pause(self, download_id: str) -> None:
        """Pause a download; what is on disk is kept for :meth:`resume`."""
        self._manager.pause(download_id)

    def cancel(self, download_id: str) -> None:
        """Cancel a download and delete its partial file."""
        self._manager.cancel(download_id)

    def current(self) -> list[DownloadProgress]:
        """The latest report of every download known in this session."""
        return list(self._latest.values())

    def active(self) -> list[DownloadProgress]:
        """Downloads still moving (queued, downloading, verifying)."""
        moving = ("queued", "downloading", "verifying")
        return [p for p in self._latest.values() if p.state in moving]

    async def aclose(self) -> None:
        """Pause running downloads so they resume on the next start."""
        await asyncio.to_thread(self._manager.close)


def describe(progress: DownloadProgress) -> str:
    """One line for a status bar: name, percent, speed and time left."""
    percent = 100 * progress.done_bytes / progress.total_bytes if progress.total_bytes else 0
    parts = [progress.name, f"{percent:.0f}%"]
    if progress.state == "downloading" and progress.speed_bps > 0:
        parts.append(f"{progress.speed_bps / 1e6:.1f} MB/s")
        if progress.eta_s >= 0:
            parts.append(format_time_left(progress.eta_s))
    return " · ".join(parts)


__all__ = ["Downloads", "describe"]
