"""The model picker: a fixed tool bar with the installed models, to choose the one that answers.

Thread: the Qt thread; the models folder is listed on a worker thread.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QToolBar, QWidget

from desktop.window.statusbar.model import short_name
from engine.models.store import InstalledModel, ModelStore
from engine.runtime.remote import RemoteModel


class ModelPicker(QToolBar):
    """The installed models in a list, then the remote endpoint's; choosing one asks for
    it to be loaded.

    Signals:
        model_chosen(str): the user chose this model (it may be the one loaded).
    """

    model_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._models: list[InstalledModel] = []
        self._remote: list[RemoteModel] = []
        self._remote_host = ""
        self.setObjectName("modelToolBar")
        self.setMovable(False)
        self.setFloatable(False)
        self.toggleViewAction().setEnabled(False)
        self.title = QLabel(self)
        self.combo = QComboBox(self)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setMinimumContentsLength(24)
        self.combo.setEnabled(False)
        self.combo.activated.connect(self._on_combo_activated)
        self.title.setBuddy(self.combo)
        self.addWidget(self.title)
        self.addWidget(self.combo)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setWindowTitle(self.tr("Model"))
        self.title.setText(self.tr("&Model:"))
        self.combo.setAccessibleName(self.tr("Model"))
        self.combo.setToolTip(self.tr("The model that answers"))
        for index, model in enumerate(self._models):
            self.combo.setItemText(index, self._label(model))
        for offset, remote in enumerate(self._remote):
            self.combo.setItemText(len(self._models) + offset, self._remote_label(remote))

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def _label(self, model: InstalledModel) -> str:
        label = short_name(model.id)
        if model.source == "starter":
            return self.tr("{name} (starter)").format(name=label)
        if model.error:
            return self.tr("{name} (damaged)").format(name=label)
        return label

    def _remote_label(self, model: RemoteModel) -> str:
        return self.tr("{name} (remote)").format(name=short_name(model.name))

    async def reload(self, store: ModelStore) -> list[InstalledModel]:
        """List ``store``'s models again (off the Qt thread) and show them; returns them.

        The remote models shown stay, after the installed ones."""
        models = await asyncio.to_thread(store.list)
        self._models = list(models)
        self._show_items()
        return models

    def set_remote(self, models: list[RemoteModel], host: str) -> None:
        """Show ``models``, served by ``host``, after the installed ones (none: no remote)."""
        self._remote = list(models)
        self._remote_host = host
        self._show_items()

    @property
    def remote_models(self) -> list[RemoteModel]:
        """The remote models shown."""
        return list(self._remote)

    def _show_items(self) -> None:
        current = self.current_model_id()
        self.combo.clear()
        for index, model in enumerate(self._models):
            self.combo.addItem(self._label(model), model.id)
            tip = model.error or str(model.path)
            self.combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        for remote in self._remote:
            self.combo.addItem(self._remote_label(remote), remote.model_id)
            tip = self.tr("Served by {host}").format(host=self._remote_host)
            self.combo.setItemData(self.combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.select(current)

    def select(self, model_id: str | None) -> None:
        """Show ``model_id`` as the current model (None or an unknown id: none)."""
        self.combo.setCurrentIndex(self.combo.findData(model_id) if model_id else -1)

    def current_model_id(self) -> str | None:
        """The model shown as current, if any."""
        data = self.combo.currentData()
        return str(data) if data else None

    def set_choosable(self, choosable: bool) -> None:
        """Let the user choose (not while a model loads or an answer streams)."""
        self.combo.setEnabled(choosable and self.combo.count() > 0)

    def _on_combo_activated(self, index: int) -> None:
        model_id = self.combo.itemData(index)
        if model_id:
            self.model_chosen.emit(str(model_id))
