"""The main window's status bar: one small widget per item, assembled by :class:`StatusBar`."""

from desktop.window.statusbar.bar import StatusBar

__all__ = ["StatusBar"]
