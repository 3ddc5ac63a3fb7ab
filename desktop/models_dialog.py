"""The model manager dialog: installed models (load, remove, show in folder), and more tabs.

Thread: the Qt thread. Listing the models folder reads every model's header, so it runs
in a worker thread; removing files does too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.i18n import resolve_language
from desktop.widgets import BackgroundTasks, MessageBar
from engine.catalog import CatalogEntry, entry_fit, load_catalog
from engine.config import Paths, Settings
from engine.discover import ExternalModel, discover
from engine.errors import EngineError
from engine.hardware import Hardware, format_bytes
from engine.plan import DEFAULT_CONTEXT
from engine.store import InstalledModel, ModelStore, download_sidecars, split_parts

log = logging.getLogger("desktop.models")

#: Installed table columns.
NAME, ARCHITECTURE, PARAMETERS, QUANTIZATION, SIZE, CONTEXT, LOCATION = range(7)


def format_parameters(count: int) -> str:
    """A parameter count as people say it: 135M, 1.5B, 14B."""
    if count <= 0:
        return "?"
    if count >= 1e9:
        value = count / 1e9
        return f"{value:.1f}B" if value < 10 else f"{value:.0f}B"
    return f"{count / 1e6:.0f}M"


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
        self.table = QTableWidget(0, 7, self)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
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
            lambda result, m=model, d=delete_files: self._on_remove_answered(result, m, d)  # type: ignore[misc]
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


def badge_text(badge: str) -> str:
    """A fit badge ("gpu", "ram", "too_large") as the user reads it, translated."""
    texts = {
        "gpu": QCoreApplication.translate("ModelsDialog", "Fits on GPU"),
        "ram": QCoreApplication.translate("ModelsDialog", "Fits in memory"),
        "too_large": QCoreApplication.translate("ModelsDialog", "Too large"),
    }
    return texts.get(badge, badge)


class DiscoverTab(QWidget):
    """Models to get: GGUF files other apps already downloaded, and the curated catalog.

    Args:
        store: where imports are recorded.
        hardware: gives this computer's hardware (for the fit badges), awaited once.
        n_ctx: the context size the badges assume.
        language: the interface language setting (for the descriptions).
        parent: the parent widget.

    Signals:
        models_changed: a model was imported.
    """

    models_changed = Signal()

    def __init__(
        self,
        store: ModelStore,
        hardware: Callable[[], Awaitable[Hardware]],
        n_ctx: int,
        language: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._hardware = hardware
        self._n_ctx = n_ctx
        self._language = language
        self._tasks = BackgroundTasks()
        self._found: list[ExternalModel] = []
        self._catalog: list[CatalogEntry] = []
        self.message_bar = MessageBar(self)
        self.local_label = QLabel(self)
        self.local_table = QTableWidget(0, 3, self)
        self.import_button = QPushButton(self)
        self.import_button.clicked.connect(self._on_import_clicked)
        self.catalog_label = QLabel(self)
        self.catalog_table = QTableWidget(0, 5, self)
        for table in (self.local_table, self.catalog_table):
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.verticalHeader().setVisible(False)
            table.horizontalHeader().setStretchLastSection(True)
        self.local_table.itemSelectionChanged.connect(self._on_local_table_item_selection_changed)
        self.local_label.setBuddy(self.local_table)
        self.catalog_label.setBuddy(self.catalog_table)
        local_buttons = QHBoxLayout()
        local_buttons.addStretch(1)
        local_buttons.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.local_label)
        layout.addWidget(self.local_table, 1)
        layout.addLayout(local_buttons)
        layout.addWidget(self.catalog_label)
        layout.addWidget(self.catalog_table, 2)
        self.retranslate_ui()
        self.import_button.setEnabled(False)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.local_label.setText(self.tr("&Already on this computer (other apps)"))
        self.local_table.setHorizontalHeaderLabels(
            [self.tr("Name"), self.tr("Found in"), self.tr("Size")]
        )
        self.local_table.setAccessibleName(self.tr("Models found on this computer"))
        self.import_button.setText(self.tr("Use &without copying"))
        self.import_button.setToolTip(
            self.tr("Add the selected model to Hearth; its file stays where it is")
        )
        self.catalog_label.setText(
            self.tr("&Recommended models (fit for a {n_ctx}-token context)").format(
                n_ctx=f"{self._n_ctx:,}"
            )
        )
        self.catalog_table.setHorizontalHeaderLabels(
            [
                self.tr("Model"),
                self.tr("Parameters"),
                self.tr("Good for"),
                self.tr("Fit"),
                self.tr("About"),
            ]
        )
        self.catalog_table.setAccessibleName(self.tr("Recommended models"))
        if self._catalog:
            self._tasks.start(self._fill_catalog(), name="models-catalog")

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    @property
    def busy(self) -> bool:
        """Whether a scan or an import is still running."""
        return len(self._tasks) > 0

    def refresh(self) -> None:
        """Scan other apps' folders and load the catalog, in the background."""
        self._tasks.start(self.reload(), name="models-discover")

    async def reload(self) -> None:
        """Scan other apps' folders and load the catalog."""
        store = self._store
        found, catalog = await asyncio.gather(
            asyncio.to_thread(lambda: discover(store=store)),
            asyncio.to_thread(load_catalog),
            return_exceptions=True,
        )
        if isinstance(found, BaseException):
            log.warning("Scanning for models failed: %s", found)
            found = []
        if isinstance(catalog, BaseException):
            self.message_bar.show_message(str(catalog))
            catalog = []
        self._found = [m for m in found if not m.already_imported]
        self.local_table.setRowCount(len(self._found))
        sources = {
            "huggingface": "Hugging Face",
            "lmstudio": "LM Studio",
            "gpt4all": "GPT4All",
            "jan": "Jan",
            "ollama": "Ollama",
        }
        for row, model in enumerate(self._found):
            for column, text in enumerate(
                [model.name, sources.get(model.source, model.source), format_bytes(model.size)]
            ):
                item = QTableWidgetItem(text)
                item.setToolTip(str(model.path))
                self.local_table.setItem(row, column, item)
        self.local_table.resizeColumnsToContents()
        self._catalog = list(catalog)
        await self._fill_catalog()

    async def _fill_catalog(self) -> None:
        try:
            hardware = await self._hardware()
        except EngineError as exc:
            log.warning("No hardware probe for the fit badges: %s", exc)
            hardware = None
        language = resolve_language(self._language)
        tasks = {
            "chat": self.tr("chat"),
            "summarize": self.tr("summaries"),
            "code": self.tr("code"),
        }
        self.catalog_table.setRowCount(len(self._catalog))
        for row, entry in enumerate(self._catalog):
            badge = entry_fit(entry, hardware, self._n_ctx) if hardware is not None else ""
            cells = [
                entry.name,
                format_parameters(int(entry.parameters)),
                ", ".join(tasks.get(t, t) for t in entry.tasks),
                badge_text(badge) if badge else "",
                entry.description_for(language),
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{entry.repo_id} · {entry.license}")
                item.setData(Qt.ItemDataRole.UserRole, entry.repo_id)
                self.catalog_table.setItem(row, column, item)
        self.catalog_table.resizeColumnsToContents()

    def found(self) -> list[ExternalModel]:
        """The models found in other apps' folders and not yet imported."""
        return list(self._found)

    def _on_local_table_item_selection_changed(self) -> None:
        self.import_button.setEnabled(bool(self.local_table.selectedIndexes()))

    def _on_import_clicked(self) -> None:
        rows = {index.row() for index in self.local_table.selectedIndexes()}
        if len(rows) == 1:
            model = self._found[rows.pop()]
            self._tasks.start(self.import_found(model), name="models-import-found")

    async def import_found(self, model: ExternalModel) -> bool:
        """Import a model found in another app's folder, by link."""
        name = model.name.replace("/", "-")
        try:
            installed = await asyncio.to_thread(self._store.import_model, model.path, name=name)
        except (EngineError, OSError) as exc:
            self.message_bar.show_message(
                self.tr("Could not import {path}: {reason}").format(
                    path=str(model.path), reason=exc
                )
            )
            return False
        self.message_bar.show_message(
            self.tr("{name} is ready to use; its file stays where it is.").format(
                name=installed.id
            ),
            error=False,
        )
        self.models_changed.emit()
        await self.reload()
        return True


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
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        folder = settings.models_dir.strip()
        self._store = ModelStore(paths, Path(folder).expanduser() if folder else None)
        self.tabs = QTabWidget(self)
        self.installed = InstalledTab(self._store, self)
        self.installed.load_requested.connect(self.load_requested)
        self.installed.models_changed.connect(self.models_changed)
        self.discover = DiscoverTab(
            self._store, hardware, settings.context_size or DEFAULT_CONTEXT, settings.language, self
        )
        self.discover.models_changed.connect(self._on_discover_models_changed)
        self.tabs.addTab(self.installed, "")
        self.tabs.addTab(self.discover, "")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)
        self.resize(
            self.fontMetrics().horizontalAdvance("M") * 90, self.fontMetrics().height() * 32
        )
        self.retranslate_ui()
        self.installed.refresh()
        self.discover.refresh()

    def _on_discover_models_changed(self) -> None:
        self.installed.refresh()
        self.models_changed.emit()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setWindowTitle(self.tr("Models"))
        self.tabs.setTabText(self.tabs.indexOf(self.installed), self.tr("&Installed"))
        self.tabs.setTabText(self.tabs.indexOf(self.discover), self.tr("&Discover"))

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    @property
    def busy(self) -> bool:
        """Whether background work started by the dialog is still running."""
        return self.installed.busy or self.discover.busy


__all__ = ["DiscoverTab", "InstalledTab", "ModelsDialog", "badge_text", "format_parameters"]
