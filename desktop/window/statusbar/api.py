"""The status bar's API item: whether the window serves the API, where, and whether it is
answering a request now; a click opens the API server panel."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QToolButton, QWidget


class ApiStatusButton(QToolButton):
    """The API server's state: "API: off", "API: http://127.0.0.1:8080", or answering.

    Clicking it (``clicked``) opens the API server panel.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoRaise(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._address = ""
        self._active = 0
        self._error = ""
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setAccessibleName(self.tr("API server"))
        if not self._address:
            self.setText(self.tr("API: off"))
        elif self._active:
            self.setText(
                self.tr("API: {address} · answering {count}").format(
                    address=self._address, count=self._active
                )
            )
        else:
            self.setText(self.tr("API: {address}").format(address=self._address))
        tip = self.tr("The OpenAI-compatible API server: click to turn it on or off")
        if self._error:
            tip = f"{self._error}\n{tip}"
        self.setToolTip(tip)

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def show_state(self, address: str, active: int, error: str = "") -> None:
        """Show the server at ``address`` ("": off) answering ``active`` requests, and why
        it could not start (``error``), if it could not."""
        self._address, self._active, self._error = address, active, error
        self.retranslate_ui()
