"""The main window's side of the model manager: the dialog, one at a time, and the app's
downloads, which outlive it.

Thread: the Qt thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop.window.statusbar.downloads import DownloadMeter
from engine.data.config import Paths, Settings
from engine.models.hardware import Hardware

if TYPE_CHECKING:
    from desktop.dialogs.models import ModelsDialog
    from desktop.downloads import Downloads
    from engine.models.downloads import DownloadProgress


class ModelManagerHost(QObject):
    """Opens the model manager (non-modal, one at a time) and owns the downloads.

    Both are made on first use: they load the hub client and the catalog, which the
    window does not need to appear.

    Args:
        paths: Hearth's folders.
        settings: gives the settings in effect (the models folder, offline mode...).
        hardware: gives this computer's hardware (for the fit badges).
        meter: the status bar's download meter, which follows the downloads.
        window: the main window, the dialog's parent.

    Signals:
        load_requested(str): the user asked for this model to be loaded.
        models_changed: models were added or removed.
        download_finished(object): a download finished and verified (its progress).
    """

    load_requested = Signal(str)
    models_changed = Signal()
    download_finished = Signal(object)

    def __init__(
        self,
        paths: Paths,
        settings: Callable[[], Settings],
        hardware: Callable[[], Awaitable[Hardware]],
        meter: DownloadMeter,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self._paths = paths
        self._settings = settings
        self._hardware = hardware
        self._meter = meter
        self._window = window
        self._dialog: ModelsDialog | None = None
        self._downloads: Downloads | None = None

    def open(self) -> ModelsDialog:
        """Open the model manager, or raise the one already open."""
        from desktop.dialogs.models import ModelsDialog  # loaded when first needed

        if self._dialog is None:
            dialog = ModelsDialog(
                self._paths, self._settings(), self._hardware, self.downloads(), self._window
            )
            dialog.load_requested.connect(self.load_requested)
            dialog.models_changed.connect(self.models_changed)
            dialog.finished.connect(self._on_dialog_finished)
            self._dialog = dialog
        if self._dialog.isVisible():
            self._dialog.raise_()
        else:
            self._dialog.show()
        return self._dialog

    def downloads(self) -> Downloads:
        """The app's downloads (made on first use)."""
        if self._downloads is None:
            from desktop.downloads import Downloads  # loads the hub client when needed

            self._downloads = Downloads(self._paths, self._settings(), self)
            self._downloads.finished.connect(self._on_downloads_finished)
            self._meter.watch(self._downloads)
        return self._downloads

    async def aclose(self) -> None:
        """Pause the downloads (they resume next time)."""
        if self._downloads is not None:
            await self._downloads.aclose()

    def _on_downloads_finished(self, progress: DownloadProgress) -> None:
        self.download_finished.emit(progress)

    def _on_dialog_finished(self, _result: int) -> None:
        # A dialog still listing or removing is kept for its tasks; open() shows it again.
        if self._dialog is not None and not self._dialog.busy:
            self._dialog.deleteLater()
            self._dialog = None
