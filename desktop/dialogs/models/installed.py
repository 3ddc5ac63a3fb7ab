"""The model manager's Installed tab: the installed models, to load, remove or import.

Thread: the Qt thread. Listing the models folder reads every model's header, so it runs
in a worker thread; removing files does too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.dialogs.models.helpers import format_parameters
from desktop.widgets import BackgroundTasks, MessageBar, read_only_table
from engine.errors import EngineError
from engine.models.hardware import format_bytes
from engine.models.store import InstalledModel, ModelStore, download_sidecars, split_parts

#: Installed table columns.
NAME, ARCHITECTURE, PARAMETERS, QUANTIZATION, SIZE, CONTEXT, LOCATION = range(7)


class InstalledTab(QWidget):
    """The installed models, with Load, Remove and Show in folder.

    Signals:
        load_requested(str): the user wants this model loaded.
        models_changed: a model was removed (the main window's list is stale).
    """

    load_requested = Signal(str)
    models_changed = Signal()

    def __init__(self, store: ModelStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._tasks = BackgroundTasks()
        self._models: list[InstalledModel] = []
        self.table = read_only_table(7, self)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_table_item_selection_changed)
        self.table.itemActivated.connect(self._on_table_item_activated)
        self.load_button = QPushButton(self)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.remove_button = QPushButton(self)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.folder_button = QPushButton(self)
        self.folder_button.clicked.connect(self._on_folder_clicked)
        self.import_button = QPushButton(self)
        self.import_button.clicked.connect(self._on_import_clicked)
        self.message_bar = MessageBar(self)
        self.folder_label = QLabel(self)
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.folder_label)
        self.retranslate_ui()
        self._update_buttons()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.table.setHorizontalHeaderLabels(
            [
                self.tr("Name"),
                self.tr("Architecture"),
                self.tr("Parameters"),
                self.tr("Quantization"),
                self.tr("Size"),
                self.tr("Context"),
                self.tr("Location"),
            ]
        )
        self.table.setAccessibleName(self.tr("Installed models"))
        self.load_button.setText(self.tr("&Load"))
        self.load_button.setToolTip(self.tr("Load the selected model (Enter)"))
        self.remove_button.setText(self.tr("&Remove…"))
        self.remove_button.setToolTip(
            self.tr("Delete a downloaded model, or forget an imported one (its file stays)")
        )
        self.folder_button.setText(self.tr("Show in &folder"))
        self.import_button.setText(self.tr("&Import a GGUF file…"))
        self.import_button.setToolTip(self.tr("Use a .gguf file where it is, without copying it"))
        self.folder_label.setText(
            self.tr("Models folder: {folder}").format(folder=str(self._store.models_dir))
        )

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    @property
    def busy(self) -> bool:
        """Whether a listing or removal is still running."""
        return len(self._tasks) > 0

    def refresh(self) -> None:
        """List the models folder again, in the background."""
        self._tasks.start(self.reload(), name="models-installed-reload")

    async def reload(self) -> None:
        """List the models folder again."""
        self._models = await asyncio.to_thread(self._store.list)
        self.table.setRowCount(len(self._models))
        for row, model in enumerate(self._models):
            info = model.info
            name = model.id.rsplit("/", 1)[-1]
            cells = [
                name,
                info.architecture if info else "",
                format_parameters(info.parameter_count) if info else "",
                info.quantization if info else "",
                format_bytes(model.size),
                f"{info.context_length:,}" if info and info.context_length else "",
                str(model.path),
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, model.id)
                tip = model.error or str(model.path)
                if model.source == "imported":
                    tip = self.tr("Imported (linked, not copied): {path}").format(
                        path=str(model.path)
                    )
                item.setToolTip(tip)
                if model.error and column == NAME:
                    item.setText(self.tr("{name} (damaged)").format(name=name))
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def model_ids(self) -> list[str]:
        """The ids listed, top to bottom."""
        return [m.id for m in self._models]

    def select(self, model_id: str) -> None:
        """Select the row of ``model_id``."""
        if model_id in self.model_ids():
            self.table.selectRow(self.model_ids().index(model_id))

    def _selected(self) -> InstalledModel | None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        return self._models[rows.pop()] if len(rows) == 1 else None

    def _update_buttons(self) -> None:
        model = self._selected()
        self.load_button.setEnabled(model is not None and model.error is None)
        self.remove_button.setEnabled(model is not None and model.source != "starter")
        self.folder_button.setEnabled(True)

    def _on_table_item_selection_changed(self) -> None:
        self._update_buttons()

    def _on_table_item_activated(self, _item: QTableWidgetItem) -> None:
        self._on_load_clicked()

    def _on_load_clicked(self) -> None:
        model = self._selected()
        if model is not None and model.error is None:
            self.load_requested.emit(model.id)

    def _on_folder_clicked(self) -> None:
        model = self._selected()
        folder = model.path.parent if model is not None else self._store.models_dir
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _on_import_clicked(self) -> None:
        dialog = QFileDialog(self, self.tr("Import a GGUF model"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter(self.tr("GGUF models (*.gguf)"))
        dialog.fileSelected.connect(
            lambda path: self._tasks.start(self.import_file(Path(path)), name="models-import")
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    async def import_file(self, path: Path) -> bool:
        """Import ``path`` by link (no copy); reports failures inline."""
        try:
            model = await asyncio.to_thread(self._store.import_model, path)
        except (EngineError, OSError) as exc:
            self.message_bar.show_message(
                self.tr("Could not import {path}: {reason}").format(path=str(path), reason=exc)
            )
            return False
        self.message_bar.show_message(
            self.tr("Imported {name}; the file stays where it is.").format(name=model.id),
            error=False,
        )
        await self.reload()
        self.select(model.id)
        self.models_changed.emit()
        return True

    def _on_remove_clicked(self) -> None:
        model = self._selected()
        if model is None:
            return
        delete_files = False
        if model.source == "imported":
            text = self.tr("Forget {name}? The file stays where it is: {path}").format(
                name=model.id, path=str(model.path)
            )
        elif not download_sidecars(split_parts(model.path)[0]):
            delete_files = True
            text = self.tr(
                "{name} was not downloaded by Hearth (it was put in the models folder). "
                "Delete the file {path}?"
            ).format(name=model.id, path=str(model.path))
        else:
            text = self.tr("Delete {name} ({size}) from this computer?").format(
                name=model.id, size=format_bytes(model.size)
            )
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Remove model"),
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.finished.connect(
            lambda result, m=model, d=delete_files: self._on_remove_answered(result, m, d)
        )
        box.finished.connect(box.deleteLater)
        box.open()

    def _on_remove_answered(self, result: int, model: InstalledModel, delete_files: bool) -> None:
        if result == QMessageBox.StandardButton.Yes:
            self._tasks.start(
                self.remove(model.id, delete_files=delete_files), name="models-remove"
            )

    async def remove(self, model_id: str, *, delete_files: bool = False) -> bool:
        """Remove a model (delete a download, forget an import); reports failures inline.

        Args:
            model_id: the model.
            delete_files: also delete a file the user put in the models folder.
        """
        try:
            await asyncio.to_thread(self._store.remove, model_id, delete_files=delete_files)
        except (EngineError, OSError) as exc:
            self.message_bar.show_message(
                self.tr("Could not remove {name}: {reason}").format(name=model_id, reason=exc)
            )
            return False
        self.message_bar.hide()
        await self.reload()
        self.models_changed.emit()
        return True
