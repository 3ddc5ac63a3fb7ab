"""The main window's menus: File, View, Models and Help, with their shortcuts.

Thread: the Qt thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

#: The built-in guides, in the Help menu's order.
GUIDES = ("models", "gpu", "troubleshooting")


class MainMenus(QObject):
    """The menus of ``window``'s menu bar; each command is a signal the window acts on.

    Args:
        window: the main window; its menu bar gets the menus, and it owns the actions
            (so their shortcuts work wherever the focus is in it).

    Signals:
        new_chat_triggered: File › New chat (Ctrl+N).
        settings_triggered: File › Settings… (Ctrl+,).
        quit_triggered: File › Quit.
        pane_triggered(int): View › Chat, Summarize or Code (Ctrl+1..3): the pane number.
        search_triggered: View › Search conversations (Ctrl+F).
        options_triggered: View › Chat options (Ctrl+Shift+O).
        models_triggered: Models › Models… (Ctrl+M).
        models_folder_triggered: Models › Open models folder.
        api_server_triggered: Models › API server….
        guide_triggered(str): Help › a guide: "models", "gpu" or "troubleshooting".
        about_triggered: Help › About Hearth.
    """

    new_chat_triggered = Signal()
    settings_triggered = Signal()
    quit_triggered = Signal()
    pane_triggered = Signal(int)
    search_triggered = Signal()
    options_triggered = Signal()
    models_triggered = Signal()
    models_folder_triggered = Signal()
    api_server_triggered = Signal()
    guide_triggered = Signal(str)
    about_triggered = Signal()

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        bar = window.menuBar()
        self.file_menu = QMenu(window)
        self.view_menu = QMenu(window)
        self.models_menu = QMenu(window)
        self.help_menu = QMenu(window)
        for menu in (self.file_menu, self.view_menu, self.models_menu, self.help_menu):
            bar.addMenu(menu)

        self.new_chat_action = self._action(self.file_menu, QKeySequence.StandardKey.New)
        self.new_chat_action.triggered.connect(self.new_chat_triggered)
        self.file_menu.addSeparator()
        self.settings_action = self._action(self.file_menu, "Ctrl+,")
        self.settings_action.triggered.connect(self.settings_triggered)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.file_menu.addSeparator()
        self.quit_action = self._action(self.file_menu, QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.quit_triggered)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)

        self.pane_actions = [self._action(self.view_menu, f"Ctrl+{n + 1}") for n in range(3)]
        for number, act in enumerate(self.pane_actions):
            act.triggered.connect(lambda _=False, n=number: self.pane_triggered.emit(n))
        self.view_menu.addSeparator()
        self.search_action = self._action(self.view_menu, QKeySequence.StandardKey.Find)
        self.search_action.triggered.connect(self.search_triggered)
        self.options_action = self._action(self.view_menu, "Ctrl+Shift+O")
        self.options_action.triggered.connect(self.options_triggered)

        self.models_action = self._action(self.models_menu, "Ctrl+M")
        self.models_action.triggered.connect(self.models_triggered)
        self.open_models_folder_action = self._action(self.models_menu, None)
        self.open_models_folder_action.triggered.connect(self.models_folder_triggered)
        self.models_menu.addSeparator()
        self.api_server_action = self._action(self.models_menu, None)
        self.api_server_action.triggered.connect(self.api_server_triggered)

        self.guide_actions = {guide: self._action(self.help_menu, None) for guide in GUIDES}
        for guide, act in self.guide_actions.items():
            act.triggered.connect(lambda _=False, g=guide: self.guide_triggered.emit(g))
        self.guide_actions["models"].setShortcut(
            QKeySequence(QKeySequence.StandardKey.HelpContents)
        )
        self.help_menu.addSeparator()
        self.about_action = self._action(self.help_menu, None)
        self.about_action.triggered.connect(self.about_triggered)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.retranslate_ui()

    def _action(
        self, menu: QMenu, shortcut: QKeySequence | QKeySequence.StandardKey | str | None
    ) -> QAction:
        act = QAction(self._window)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        menu.addAction(act)
        return act

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start, and from the window's ``retranslate_ui``
        when the language changes: a QObject gets no LanguageChange event of its own)."""
        self.file_menu.setTitle(self.tr("&File"))
        self.view_menu.setTitle(self.tr("&View"))
        self.models_menu.setTitle(self.tr("&Models"))
        self.help_menu.setTitle(self.tr("&Help"))
        self.new_chat_action.setText(self.tr("&New chat"))
        self.settings_action.setText(self.tr("&Settings…"))
        self.quit_action.setText(self.tr("&Quit"))
        for act, name in zip(
            self.pane_actions,
            (self.tr("&Chat"), self.tr("&Summarize"), self.tr("C&ode")),
            strict=True,
        ):
            act.setText(name)
        self.search_action.setText(self.tr("Search &conversations"))
        self.options_action.setText(self.tr("Chat &options"))
        self.models_action.setText(self.tr("&Models…"))
        self.open_models_folder_action.setText(self.tr("Open models &folder"))
        self.api_server_action.setText(self.tr("&API server…"))
        self.guide_actions["models"].setText(self.tr("Choosing a &model"))
        self.guide_actions["gpu"].setText(self.tr("Using the &GPU"))
        self.guide_actions["troubleshooting"].setText(self.tr("&Troubleshooting"))
        self.about_action.setText(self.tr("&About Hearth"))
