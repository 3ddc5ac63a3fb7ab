"""The status bar's first item: what the engine is doing, or the loaded model's backend plan."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QWidget

from desktop.notices import notice_lines, notice_text
from engine.notices import Notice


class PlanLabel(QLabel):
    """The engine's state ("Loading…") or the backend plan's reason, its warnings as tooltip.

    It keeps what it shows as a function of the language, so a language change
    re-translates the reason too.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text: Callable[[], str] = lambda: self.tr("Starting the engine…")
        self._tip: Callable[[], str] = str
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setAccessibleName(self.tr("Backend"))
        self.setText(self._text())
        self.setToolTip(self._tip())

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def _show(self, text: Callable[[], str], tip: Callable[[], str] = str) -> None:
        self._text, self._tip = text, tip
        self.retranslate_ui()

    def show_plan(self, reason: Notice, warnings: tuple[Notice, ...]) -> None:
        """Show the loaded model's plan; its warnings are the tooltip."""
        self._show(lambda: notice_text(reason), lambda: "\n".join(notice_lines(warnings)))

    def show_loading(self, name: str) -> None:
        """Say that model ``name`` is loading."""
        self._show(lambda: self.tr("Loading {name}…").format(name=name))

    def show_restarting(self) -> None:
        """Say that the engine is restarting."""
        self._show(lambda: self.tr("Restarting the engine…"))

    def show_no_model_loaded(self) -> None:
        """Say that no model is loaded."""
        self._show(lambda: self.tr("No model loaded"))

    def show_no_model_installed(self) -> None:
        """Say that there is no model to load."""
        self._show(lambda: self.tr("No model"))
