"""The status bar's speed item: how fast the last answer was generated."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QWidget

from engine.types import GenerationResult


class SpeedLabel(QLabel):
    """Tokens per second of the last answer (empty before the first)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rate: float | None = None
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setAccessibleName(self.tr("Speed of the last answer"))
        if self._rate is not None:
            self.setText(self.tr("{rate:.1f} tokens/s").format(rate=self._rate))

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def show_result(self, result: GenerationResult) -> None:
        """Show the speed of the answer that just finished."""
        self._rate = result.stats.tokens_per_s
        self.retranslate_ui()
