"""The model manager's Downloads tab: each download's progress, with Pause, Resume, Cancel.

Thread: the Qt thread; the downloads themselves run on the app's download pool.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.downloads import Downloads
from desktop.widgets import BackgroundTasks, MessageBar, read_only_table
from engine.errors import EngineError
from engine.models.downloads import DownloadProgress
from engine.models.hardware import format_bytes
from engine.models.time_left import format_time_left


class DownloadsTab(QWidget):
    """Downloads: progress of each, with Pause, Resume and Cancel.

    Args:
        downloads: the app's downloads.
        parent: the parent widget.
    """

    def __init__(self, downloads: Downloads, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._downloads = downloads
        self._tasks = BackgroundTasks()
        self._rows: dict[str, int] = {}
        self._progress: dict[str, DownloadProgress] = {}
        self.message_bar = MessageBar(self)
        self.table = read_only_table(3, self)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.empty_label = QLabel(self)
        self.pause_button = QPushButton(self)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.resume_button = QPushButton(self)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.cancel_button = QPushButton(self)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.pause_button, self.resume_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        downloads.progressed.connect(self._on_downloads_progressed)
        self.retranslate_ui()
        for progress in downloads.current():
            self._on_downloads_progressed(progress)
        self._update_buttons()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.table.setHorizontalHeaderLabels(
            [self.tr("Model"), self.tr("Progress"), self.tr("Status")]
        )
        self.table.setAccessibleName(self.tr("Downloads"))
        self.empty_label.setText(
            self.tr("Nothing is downloading. Find a model in the Discover tab.")
        )
        self.pause_button.setText(self.tr("&Pause"))
        self.resume_button.setText(self.tr("Res&ume"))
        self.cancel_button.setText(self.tr("&Cancel download"))
        self.cancel_button.setToolTip(self.tr("Stop and delete what was downloaded"))
        for progress in self._progress.values():
            self._show(progress)

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    @property
    def busy(self) -> bool:
        """Whether a resume is still being started."""
        return len(self._tasks) > 0

    def _status(self, progress: DownloadProgress) -> str:
        states = {
            "queued": self.tr("waiting"),
            "downloading": self.tr("downloading"),
            "paused": self.tr("paused"),
            "verifying": self.tr("checking the sha256"),
            "done": self.tr("done"),
            "failed": self.tr("failed"),
            "cancelled": self.tr("cancelled"),
        }
        parts = [states.get(progress.state, progress.state)]
        parts.append(
            self.tr("{done} of {total}").format(
                done=format_bytes(progress.done_bytes), total=format_bytes(progress.total_bytes)
            )
        )
        if progress.state == "downloading" and progress.speed_bps > 0:
            parts.append(self.tr("{speed}/s").format(speed=format_bytes(int(progress.speed_bps))))
            if progress.eta_s >= 0:
                left = format_time_left(progress.eta_s)
                parts.append(self.tr("{time} left").format(time=left))
        if progress.error:
            parts.append(progress.error)
        return " · ".join(parts)

    def _on_downloads_progressed(self, progress: DownloadProgress) -> None:
        self._progress[progress.id] = progress
        self._show(progress)
        self._update_buttons()

    def _show(self, progress: DownloadProgress) -> None:
        row = self._rows.get(progress.id)
        if row is None:
            row = self.table.rowCount()
            self._rows[progress.id] = row
            self.table.insertRow(row)
            name = QTableWidgetItem(f"{progress.repo_id}/{progress.name}")
            name.setData(Qt.ItemDataRole.UserRole, progress.id)
            self.table.setItem(row, 0, name)
            new_bar = QProgressBar(self.table)
            new_bar.setRange(0, 1000)
            self.table.setCellWidget(row, 1, new_bar)
            self.table.setItem(row, 2, QTableWidgetItem())
        bar = self.table.cellWidget(row, 1)
        if isinstance(bar, QProgressBar):
            total = max(progress.total_bytes, 1)
            bar.setValue(int(1000 * min(progress.done_bytes, total) / total))
            bar.setAccessibleName(self.tr("Progress of {name}").format(name=progress.name))
        status = self.table.item(row, 2)
        if status is not None:
            status.setText(self._status(progress))
            status.setToolTip(progress.error or progress.path)
        self.empty_label.setVisible(self.table.rowCount() == 0)
        self.table.setVisible(self.table.rowCount() > 0)

    def progress(self, download_id: str) -> DownloadProgress | None:
        """The latest report of one download."""
        return self._progress.get(download_id)

    def _selected(self) -> DownloadProgress | None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        item = self.table.item(rows.pop(), 0)
        return self._progress.get(str(item.data(Qt.ItemDataRole.UserRole))) if item else None

    def _update_buttons(self) -> None:
        progress = self._selected()
        state = progress.state if progress is not None else ""
        self.pause_button.setEnabled(state in ("queued", "downloading"))
        self.resume_button.setEnabled(state in ("paused", "failed"))
        self.cancel_button.setEnabled(state in ("queued", "downloading", "paused", "failed"))
        self.empty_label.setVisible(self.table.rowCount() == 0)
        self.table.setVisible(self.table.rowCount() > 0)

    def _on_pause_clicked(self) -> None:
        progress = self._selected()
        if progress is not None:
            self._downloads.pause(progress.id)

    def _on_resume_clicked(self) -> None:
        progress = self._selected()
        if progress is not None:
            self._tasks.start(self._resume(progress.id), name="models-resume")

    async def _resume(self, download_id: str) -> None:
        try:
            await self._downloads.resume(download_id)
        except EngineError as exc:
            self.message_bar.show_message(str(exc))

    def _on_cancel_clicked(self) -> None:
        progress = self._selected()
        if progress is not None:
            self._downloads.cancel(progress.id)
