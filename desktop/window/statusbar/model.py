"""The status bar's loaded-model item: the model's short name, its file as tooltip."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QWidget

from engine.types import ModelInfo


def short_name(model_id: str) -> str:
    """The file part of a store id (``publisher/repo/file``), or the file name of a path."""
    return model_id.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".gguf")


class ModelLabel(QLabel):
    """The loaded model's name (empty while none is loaded)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setAccessibleName(self.tr("Loaded model"))

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def show_model(self, info: ModelInfo | None) -> None:
        """Show ``info``'s name, or nothing."""
        self.setText(short_name(info.model_id) if info is not None else "")
        self.setToolTip(info.path if info is not None else "")
