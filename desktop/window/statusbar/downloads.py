"""The status bar's downloads item: one meter for every download under way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QProgressBar, QWidget

if TYPE_CHECKING:
    from desktop.downloads import Downloads
    from engine.models.downloads import DownloadProgress


class DownloadMeter(QProgressBar):
    """How far the active downloads are, together (hidden while none is active)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._downloads: Downloads | None = None
        self.setRange(0, 1000)
        self.setMaximumWidth(self.fontMetrics().horizontalAdvance("M") * 16)
        self.setVisible(False)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setAccessibleName(self.tr("Downloads"))
        self._show()

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def watch(self, downloads: Downloads) -> None:
        """Follow ``downloads`` from now on."""
        self._downloads = downloads
        downloads.progressed.connect(self._on_downloads_progressed)

    def _on_downloads_progressed(self, _progress: DownloadProgress) -> None:
        self._show()

    def _show(self) -> None:
        # Imported here: desktop.downloads loads the hub client, which the window does
        # not need before the first download.
        from desktop.downloads import describe

        active = self._downloads.active() if self._downloads is not None else []
        if not active:
            self.setVisible(False)
            return
        done = sum(p.done_bytes for p in active)
        total = max(sum(p.total_bytes for p in active), 1)
        self.setValue(int(1000 * min(done, total) / total))
        self.setFormat(self.tr("Downloading {count}: %p%").format(count=len(active)))
        self.setToolTip("\n".join(describe(p) for p in active))
        self.setVisible(True)
