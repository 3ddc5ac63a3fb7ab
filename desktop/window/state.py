"""The main window's purely visual state between runs: geometry, splitter, pane, and the like.

Kept in an INI file by ``QSettings`` (the settings proper are Hearth's JSON file).
Thread: the Qt thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

from engine.data.jsonfile import set_aside_if_larger

#: The largest window-state file read: it holds a few geometry values (under 1 KB).
MAX_UI_STATE_BYTES = 1024 * 1024


class WindowState:
    """The visual state in ``path``: read when the window opens, written when it closes.

    Args:
        path: the INI file (in Hearth's config folder).
    """

    def __init__(self, path: Path) -> None:
        # QSettings reads its file whole, here on the Qt thread: a grown one goes aside.
        set_aside_if_larger(path, MAX_UI_STATE_BYTES)
        self._settings = QSettings(str(path), QSettings.Format.IniFormat)

    def restore_layout(self, window: QMainWindow, splitter: QSplitter) -> None:
        """Give ``window`` its last geometry (a first run: a size that fits the screen) and
        ``splitter`` its last sizes."""
        geometry = self._settings.value("main_window/geometry")
        if geometry is None or not window.restoreGeometry(geometry):
            # First run: about 110 characters wide, within three quarters of the screen.
            width = window.fontMetrics().horizontalAdvance("M") * 110
            height = width * 5 // 8
            screen = window.screen()
            if screen is not None:
                available = screen.availableGeometry()
                width = min(width, available.width() * 3 // 4)
                height = min(height, available.height() * 3 // 4)
            window.resize(width, height)
        sizes = self._settings.value("main_window/splitter")
        if sizes is not None:
            splitter.restoreState(sizes)

    def _int(self, key: str, default: int) -> int:
        value = self._settings.value(key, default, type=int)
        return value if isinstance(value, int) else default

    def pane(self, default: int) -> int:
        """The pane shown last."""
        return self._int("main_window/pane", default)

    def conversation(self) -> int:
        """The conversation open last (0: none)."""
        return self._int("chat/conversation", 0)

    def options_visible(self) -> bool:
        """Whether the chat options were shown."""
        return bool(self._settings.value("chat/options_visible", False, type=bool))

    def save(
        self,
        window: QMainWindow,
        splitter: QSplitter,
        *,
        pane: int,
        conversation: int,
        options_visible: bool,
    ) -> None:
        """Write the state now."""
        self._settings.setValue("main_window/geometry", window.saveGeometry())
        self._settings.setValue("main_window/splitter", splitter.saveState())
        self._settings.setValue("main_window/pane", pane)
        self._settings.setValue("chat/conversation", conversation)
        self._settings.setValue("chat/options_visible", options_visible)
        self._settings.sync()
