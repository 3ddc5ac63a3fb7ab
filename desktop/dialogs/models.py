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
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.downloads import Downloads
from desktop.i18n import resolve_language
from desktop.widgets import BackgroundTasks, MessageBar, read_only_table
from engine.data.config import Paths, Settings
from engine.errors import EngineError
from engine.models.catalog import CatalogEntry, entry_fit, load_catalog
from engine.models.discover import ExternalModel, discover
from engine.models.downloads import DownloadProgress
from engine.models.hardware import Hardware, format_bytes
from engine.models.hub import Hub, HubFile, HubRepo
from engine.models.plan import DEFAULT_CONTEXT
from engine.models.store import InstalledModel, ModelStore, download_sidecars, split_parts
from engine.models.time_left import format_time_left

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
        settings: the settings in effect (offline mode, language).
        parent: the parent widget.

    Signals:
        models_changed: a model was imported.
        download_requested(object): download this :class:`HubFile`.
    """

    models_changed = Signal()
    download_requested = Signal(object)

    def __init__(
        self,
        store: ModelStore,
        hardware: Callable[[], Awaitable[Hardware]],
        n_ctx: int,
        settings: Settings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        language = settings.language
        self._store = store
        self._hardware = hardware
        self._n_ctx = n_ctx
        self._language = language
        self._tasks = BackgroundTasks()
        self._found: list[ExternalModel] = []
        self._catalog: list[CatalogEntry] = []
        self.message_bar = MessageBar(self)
        self.local_label = QLabel(self)
        self.local_table = read_only_table(3, self)
        self.import_button = QPushButton(self)
        self.import_button.clicked.connect(self._on_import_clicked)
        self.catalog_label = QLabel(self)
        self.catalog_table = read_only_table(5, self)
        self.local_table.itemSelectionChanged.connect(self._on_local_table_item_selection_changed)
        self.local_label.setBuddy(self.local_table)
        self.catalog_label.setBuddy(self.catalog_table)
        local_buttons = QHBoxLayout()
        local_buttons.addStretch(1)
        local_buttons.addWidget(self.import_button)
        self.catalog_table.itemActivated.connect(self._on_catalog_table_item_activated)

        # Search the hub, list a repository's files with their fit, download one.
        self.search_label = QLabel(self)
        self.search_edit = QLineEdit(self)
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.returnPressed.connect(self._on_search_clicked)
        self.search_label.setBuddy(self.search_edit)
        self.sort_combo = QComboBox(self)
        self.search_button = QPushButton(self)
        self.search_button.clicked.connect(self._on_search_clicked)
        self.repo_list = QListWidget(self)
        self.repo_list.currentRowChanged.connect(self._on_repo_list_current_row_changed)
        self.files_table = read_only_table(4, self)
        self.files_table.itemSelectionChanged.connect(self._on_files_table_item_selection_changed)
        self.files_table.itemActivated.connect(self._on_download_clicked)
        self.download_button = QPushButton(self)
        self.download_button.clicked.connect(self._on_download_clicked)
        self.download_button.setEnabled(False)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search_label)
        search_row.addWidget(self.search_edit, 1)
        search_row.addWidget(self.sort_combo)
        search_row.addWidget(self.search_button)
        results = QHBoxLayout()
        results.addWidget(self.repo_list, 1)
        results.addWidget(self.files_table, 2)
        download_row = QHBoxLayout()
        download_row.addStretch(1)
        download_row.addWidget(self.download_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.local_label)
        layout.addWidget(self.local_table, 1)
        layout.addLayout(local_buttons)
        layout.addWidget(self.catalog_label)
        layout.addWidget(self.catalog_table, 2)
        layout.addLayout(search_row)
        layout.addLayout(results, 2)
        layout.addLayout(download_row)
        self._repos: list[HubRepo] = []
        self._files: list[HubFile] = []
        self._listing_serial = 0
        self.retranslate_ui()
        self.import_button.setEnabled(False)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self._show_local_label()
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
        self.catalog_table.setToolTip(self.tr("Enter or double-click lists the model's files"))
        self.search_label.setText(self.tr("&Search Hugging Face:"))
        self.search_edit.setPlaceholderText(self.tr("e.g. qwen2.5 coder"))
        self.search_edit.setAccessibleName(self.tr("Search Hugging Face"))
        sort = self.sort_combo.currentIndex()
        self.sort_combo.clear()
        self.sort_combo.addItem(self.tr("Most downloaded"), "downloads")
        self.sort_combo.addItem(self.tr("Most liked"), "likes")
        self.sort_combo.addItem(self.tr("Newest"), "recent")
        self.sort_combo.setCurrentIndex(max(sort, 0))
        self.sort_combo.setAccessibleName(self.tr("Sort by"))
        self.search_button.setText(self.tr("Search"))
        self.repo_list.setAccessibleName(self.tr("Repositories found"))
        self.files_table.setHorizontalHeaderLabels(
            [self.tr("File"), self.tr("Quantization"), self.tr("Size"), self.tr("Fit")]
        )
        self.files_table.setAccessibleName(self.tr("Files of the repository"))
        self.download_button.setText(self.tr("Do&wnload"))
        self.download_button.setToolTip(
            self.tr("Download the selected file; it is checked against the hub's sha256")
        )
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
        # Nothing found: one line instead of an empty table, the room goes to the catalog.
        self.local_table.setVisible(bool(self._found))
        self.import_button.setVisible(bool(self._found))
        self._show_local_label()
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

    # -- the hub -------------------------------------------------------------------------

    def _hub(self) -> Hub:
        return Hub(self._settings)

    def _on_search_clicked(self) -> None:
        query = self.search_edit.text().strip()
        if query:
            sort = str(self.sort_combo.currentData())
            self._tasks.start(self.search(query, sort=sort), name="models-hub-search")

    async def search(self, query: str, *, sort: str = "downloads") -> bool:
        """Search the hub for GGUF repositories; shows them, or why it could not."""
        self.search_button.setEnabled(False)
        try:
            repos = await asyncio.to_thread(lambda: self._hub().search(query, sort=sort))
        except EngineError as exc:
            self.message_bar.show_message(str(exc))
            return False
        finally:
            self.search_button.setEnabled(True)
        self.message_bar.hide()
        self._repos = repos
        self.repo_list.clear()
        for repo in repos:
            item = QListWidgetItem(
                self.tr("{repo} · {downloads} downloads · {likes} likes").format(
                    repo=repo.repo_id, downloads=f"{repo.downloads:,}", likes=repo.likes
                )
            )
            item.setData(Qt.ItemDataRole.UserRole, repo.repo_id)
            self.repo_list.addItem(item)
        if not repos:
            self.message_bar.show_message(self.tr("No GGUF models found."), error=False)
        return True

    def _on_repo_list_current_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._repos):
            self._tasks.start(self.list_files(self._repos[row].repo_id), name="models-hub-files")

    def _on_catalog_table_item_activated(self, item: QTableWidgetItem) -> None:
        repo_id = item.data(Qt.ItemDataRole.UserRole)
        if repo_id:
            self._tasks.start(self.list_files(str(repo_id)), name="models-hub-files")

    async def list_files(self, repo_id: str) -> bool:
        """List a repository's GGUF files, then read each header remotely for its fit."""
        self._listing_serial += 1
        serial = self._listing_serial
        hub = self._hub()
        try:
            listing = await asyncio.to_thread(hub.listing, repo_id)
        except EngineError as exc:
            self.message_bar.show_message(str(exc))
            return False
        if serial != self._listing_serial:
            return False
        files = list(listing.files)
        if listing.note():  # a capped listing says what it left out
            self.message_bar.show_message(listing.note(), error=False)
        else:
            self.message_bar.hide()
        self._files = files
        self.files_table.setRowCount(len(files))
        for row, file in enumerate(files):
            name = (
                file.name
                if len(file.parts) == 1
                else self.tr("{name} ({count} parts)").format(name=file.name, count=len(file.parts))
            )
            for column, text in enumerate([name, file.quant, format_bytes(file.size), "…"]):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{file.repo_id}/{file.name}")
                self.files_table.setItem(row, column, item)
        self.files_table.resizeColumnsToContents()
        self._update_download_button()
        try:
            hardware = await self._hardware()
        except EngineError:
            return True
        for row, file in enumerate(files):
            try:
                info = await asyncio.to_thread(hub.header, file)
                badge = badge_text(hub.fit(info, hardware, self._n_ctx))
            except EngineError as exc:
                badge = self.tr("unknown ({reason})").format(reason=exc)
            if serial != self._listing_serial:
                return False
            cell = self.files_table.item(row, 3)
            if cell is not None:
                cell.setText(badge)
        return True

    def hub_files(self) -> list[HubFile]:
        """The files listed for the selected repository."""
        return list(self._files)

    def _selected_file(self) -> HubFile | None:
        rows = {index.row() for index in self.files_table.selectedIndexes()}
        return self._files[rows.pop()] if len(rows) == 1 else None

    def _update_download_button(self) -> None:
        self.download_button.setEnabled(self._selected_file() is not None)

    def _on_files_table_item_selection_changed(self) -> None:
        self._update_download_button()

    def _on_download_clicked(self) -> None:
        file = self._selected_file()
        if file is not None:
            self.download_requested.emit(file)

    def _show_local_label(self) -> None:
        if self.local_table.isHidden() and not self._found:
            self.local_label.setText(
                self.tr(
                    "No models from other apps (LM Studio, Ollama, GPT4All, Jan, Hugging Face) "
                    "found on this computer."
                )
            )
        else:
            self.local_label.setText(self.tr("&Already on this computer (other apps)"))

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


__all__ = [
    "DiscoverTab",
    "DownloadsTab",
    "InstalledTab",
    "ModelsDialog",
    "badge_text",
    "format_parameters",
]
