"""The model manager dialog: the Installed, Discover and Downloads tabs, assembled.

Thread: the Qt thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QVBoxLayout, QWidget

from desktop.dialogs.models.discover import DiscoverTab
from desktop.dialogs.models.downloads import DownloadsTab
from desktop.dialogs.models.installed import InstalledTab
from desktop.downloads import Downloads
from desktop.widgets import BackgroundTasks
from engine.data.config import Paths, Settings
from engine.errors import EngineError
from engine.models.downloads import DownloadProgress
from engine.models.hardware import Hardware
from engine.models.hub import HubFile
from engine.models.plan import DEFAULT_CONTEXT
from engine.models.store import ModelStore


class ModelsDialog(QDialog):
    """Models…: the model manager (installed models; discovery and downloads).

    Args:
        paths: Hearth's folders.
        settings: the settings in effect (models folder, offline mode, context size).
        parent: the main window.

    Signals:
        load_requested(str): load this model.
        models_changed: models were added or removed.
    """

    load_requested = Signal(str)
    models_changed = Signal()

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        hardware: Callable[[], Awaitable[Hardware]],
        downloads: Downloads,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._downloads = downloads
        folder = settings.models_dir.strip()
        self._store = ModelStore(paths, Path(folder).expanduser() if folder else None)
        self.tabs = QTabWidget(self)
        self.installed = InstalledTab(self._store, self)
        self.installed.load_requested.connect(self.load_requested)
        self.installed.models_changed.connect(self.models_changed)
        self.discover = DiscoverTab(
            self._store, hardware, settings.context_size or DEFAULT_CONTEXT, settings, self
        )
        self.discover.models_changed.connect(self._on_discover_models_changed)
        self.discover.download_requested.connect(self._on_discover_download_requested)
        self.downloads = DownloadsTab(downloads, self)
        downloads.finished.connect(self._on_downloads_finished)
        self.tabs.addTab(self.installed, "")
        self.tabs.addTab(self.discover, "")
        self.tabs.addTab(self.downloads, "")
        self._tasks = BackgroundTasks()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)
        self.resize(
            self.fontMetrics().horizontalAdvance("M") * 90, self.fontMetrics().height() * 40
        )
        self.retranslate_ui()
        self.installed.refresh()
        self.discover.refresh()

    def _on_discover_download_requested(self, file: HubFile) -> None:
        self._tasks.start(self.download(file), name="models-download")

    async def download(self, file: HubFile) -> str:
        """Start downloading ``file`` and show the Downloads tab; "" if it was refused."""
        try:
            download_id = await self._downloads.start(file)
        except EngineError as exc:
            self.discover.message_bar.show_message(str(exc))
            return ""
        self.tabs.setCurrentWidget(self.downloads)
        return download_id

    def _on_downloads_finished(self, _progress: DownloadProgress) -> None:
        self.installed.refresh()

    def _on_discover_models_changed(self) -> None:
        self.installed.refresh()
        self.models_changed.emit()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setWindowTitle(self.tr("Models"))
        self.tabs.setTabText(self.tabs.indexOf(self.installed), self.tr("&Installed"))
        self.tabs.setTabText(self.tabs.indexOf(self.discover), self.tr("&Discover"))
        self.tabs.setTabText(self.tabs.indexOf(self.downloads), self.tr("Do&wnloads"))

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    @property
    def busy(self) -> bool:
        """Whether background work started by the dialog is still running."""
        return (
            self.installed.busy or self.discover.busy or self.downloads.busy or len(self._tasks) > 0
        )
