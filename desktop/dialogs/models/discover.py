"""The model manager's Discover tab: models other apps downloaded, the curated catalog, and
a search of the Hugging Face hub, each with how well it fits this computer.

Thread: the Qt thread. Scanning other apps' folders, reading the catalog and every hub
request run in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.dialogs.models.helpers import badge_text, format_parameters
from desktop.i18n import resolve_language
from desktop.notices import notice_lines
from desktop.widgets import BackgroundTasks, MessageBar, read_only_table
from engine.data.config import Settings
from engine.errors import EngineError
from engine.models.catalog import CatalogEntry, entry_fit, load_catalog
from engine.models.discover import ExternalModel, discover
from engine.models.hardware import Hardware, format_bytes
from engine.models.hub import Hub, HubFile, HubRepo
from engine.models.store import ModelStore

log = logging.getLogger("desktop.models")


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
        if listing.notices():  # a capped listing says what it left out
            self.message_bar.show_message(" ".join(notice_lines(listing.notices())), error=False)
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
