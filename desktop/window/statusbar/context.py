"""The status bar's context meter: how much of the model's context the chat uses."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QProgressBar, QWidget


class ContextMeter(QProgressBar):
    """Tokens the conversation takes out of the context (hidden while no model is loaded)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._counts: tuple[int, int] | None = None
        self.setRange(0, 1)
        self.setValue(0)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 12)
        self.setVisible(False)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setAccessibleName(self.tr("Context used"))
        self.setToolTip(self.tr("How much of the model's context the chat uses"))
        if self._counts is not None:
            used, n_ctx = self._counts
            self.setFormat(self.tr("{used} / {n_ctx} tokens").format(used=used, n_ctx=n_ctx))
        else:
            self.setFormat(self.tr("%v / %m tokens"))

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def show_counts(self, used: int, n_ctx: int) -> None:
        """Show that the chat takes ``used`` of ``n_ctx`` tokens."""
        self.setMaximum(max(n_ctx, 1))
        self.setValue(min(used, n_ctx))
        self._counts = (used, n_ctx)
        self.retranslate_ui()
        self.setVisible(True)

    def show_context(self, n_ctx: int | None) -> None:
        """A model with ``n_ctx`` tokens of context was loaded; None: no model is."""
        if n_ctx is None:
            self.setVisible(False)
            return
        self.setMaximum(n_ctx)
        self.setVisible(True)
