"""The main window: menus, the sidebar, the panes, the model picker and the status bar.

Thread: the Qt thread. Disk reads and writes (the models folder, settings, the history
database) run in worker threads; the model loads in the engine process.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop import highlight
from desktop.dialogs.help import AboutDialog, HelpDialog
from desktop.dialogs.settings import EDITED_FIELDS, SettingsDialog
from desktop.i18n import Translations, resolve_language
from desktop.panes.chat import ChatPane
from desktop.panes.code import CodePane
from desktop.panes.summarize import SummarizePane
from desktop.theme import apply_theme
from desktop.widgets import BackgroundTasks, MessageBar
from desktop.window.sidebar import Sidebar

if TYPE_CHECKING:
    from desktop.dialogs.models import ModelsDialog
    from desktop.downloads import Downloads
    from engine.models.downloads import DownloadProgress
from engine.data.config import Paths, Settings, load_settings, save_settings
from engine.data.history import AsyncHistory
from engine.data.jsonfile import set_aside_if_larger
from engine.data.presets import ChatOptions, ChatOptionsStore
from engine.errors import EngineError
from engine.models.hardware import Hardware, format_bytes
from engine.models.store import InstalledModel, ModelStore
from engine.runtime.client import EngineClient
from engine.types import GenerationResult, ModelInfo

log = logging.getLogger("desktop.window")

#: File (in Hearth's config folder) for purely visual state such as the window geometry.
UI_STATE_FILE = "window-state.ini"
#: The largest window-state file read: it holds a few geometry values (under 1 KB).
MAX_UI_STATE_BYTES = 1024 * 1024
#: How often the status bar's memory figure is refreshed (milliseconds).
MEMORY_INTERVAL_MS = 2000
#: Pane numbers, in sidebar order.
CHAT, SUMMARIZE, CODE = range(3)
#: What the sidebar lists while each pane is shown.
SIDEBAR_MODES = {CHAT: "conversations", SUMMARIZE: "summaries", CODE: "code"}


def _short_name(model_id: str) -> str:
    """The file part of a store id (``publisher/repo/file``), or the file name of a path."""
    return model_id.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".gguf")


def _warm_up() -> None:
    """Work done ahead on a worker thread, so the window does not pause for it later.

    Compiles the syntax highlighter's lexers and imports the model manager's engine
    modules (about 100 ms; pure Python, no Qt objects are made here).
    """
    highlight.warm_up()
    for module in ("engine.models.catalog", "engine.models.discover", "engine.models.downloads"):
        importlib.import_module(module)


def _memory_of(pids: list[int]) -> list[int]:
    """Resident memory in bytes of each process (0 for one that is gone)."""
    sizes = []
    for pid in pids:
        try:
            sizes.append(psutil.Process(pid).memory_info().rss)
        except (psutil.Error, OSError):
            sizes.append(0)
    return sizes


class MainWindow(QMainWindow):
    """Hearth's main window.

    Args:
        client: the app's one engine client (the window does not own or close it).
        paths: Hearth's folders (models, settings, history, window state).
        settings: the settings as read at start-up (read by :meth:`start` if not given).
        translations: the application's translators, switched when the language setting
            changes (one is made if not given).
        parent: the parent widget.

    Call :meth:`start` after ``show()``: it opens the history, lists the installed models
    and loads one in the background, so the window appears before any model is loaded.

    Signals:
        model_loaded(object): a model finished loading (its :class:`ModelInfo`).
        model_load_failed(str): loading a model failed; the argument is the reason.
        settings_changed(object): new settings were saved and applied.
    """

    model_loaded = Signal(object)
    model_load_failed = Signal(str)
    settings_changed = Signal(object)

    def __init__(
        self,
        client: EngineClient,
        paths: Paths,
        *,
        settings: Settings | None = None,
        settings_notice: str = "",
        translations: Translations | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        #: What was repaired in the settings file at start (SettingsRead.message): shown
        #: with the first load's warnings, which would otherwise replace it.
        self._settings_notice = settings_notice
        self._history_problem = ""  # why conversations are not being saved, if they are not
        self._client = client
        self._paths = paths
        self._translations = translations
        self._tasks = BackgroundTasks()
        self._loading = False
        #: Until start() has read the settings file, or the caller passed what it read.
        self._settings = settings if settings is not None else Settings()
        self._settings_known = settings is not None
        self._history = AsyncHistory(paths.database)
        self._history_open = False
        self._options_store = ChatOptionsStore.for_paths(paths)
        self._pending_chat_options: ChatOptions | None = None
        self._chat_options_saver: asyncio.Task[None] | None = None
        self._settings_dialog: SettingsDialog | None = None
        self._help_dialog: HelpDialog | None = None
        self._models_dialog: ModelsDialog | None = None
        self._hardware: Hardware | None = None
        self._downloads: Downloads | None = None
        ui_state = paths.config_dir / UI_STATE_FILE
        # QSettings reads its file whole, here on the Qt thread: a grown one goes aside.
        set_aside_if_larger(ui_state, MAX_UI_STATE_BYTES)
        self._ui_state = QSettings(str(ui_state), QSettings.Format.IniFormat)
        # Model picker, in a fixed tool bar.
        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("modelToolBar")
        self.toolbar.setMovable(False)
        self.toolbar.setFloatable(False)
        self.toolbar.toggleViewAction().setEnabled(False)
        self.model_title = QLabel(self.toolbar)
        self.model_combo = QComboBox(self.toolbar)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.setMinimumContentsLength(24)
        self.model_combo.setEnabled(False)
        self.model_combo.activated.connect(self._on_model_combo_activated)
        self.model_title.setBuddy(self.model_combo)
        self.toolbar.addWidget(self.model_title)
        self.toolbar.addWidget(self.model_combo)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

        # Sidebar and panes.
        self.sidebar = Sidebar(self._history, self)
        self.sidebar.pane_selected.connect(self._on_sidebar_pane_selected)
        self.sidebar.conversation_activated.connect(self._on_sidebar_conversation_activated)
        self.sidebar.conversation_renamed.connect(self._on_sidebar_conversation_renamed)
        self.sidebar.conversation_deleted.connect(self._on_sidebar_conversation_deleted)
        self.sidebar.status_reported.connect(self._on_status_reported)
        self.sidebar.summary_activated.connect(self._on_sidebar_summary_activated)
        self.sidebar.code_task_activated.connect(self._on_sidebar_code_task_activated)
        self.chat_pane = ChatPane(client, history=self._history, parent=self)
        self.summarize_pane = SummarizePane(client, history=self._history, parent=self)
        self.summarize_pane.open_in_chat_requested.connect(
            self._on_summarize_open_in_chat_requested
        )
        self.summarize_pane.summaries_changed.connect(self._on_summarize_summaries_changed)
        self.summarize_pane.status_reported.connect(self._on_status_reported)
        self.code_page = CodePane(
            client, history=self._history, hardware=self.hardware, parent=self
        )
        self.code_page.code_tasks_changed.connect(self._on_code_tasks_changed)
        self.code_page.status_reported.connect(self._on_status_reported)
        self.code_page.models_requested.connect(self._on_code_models_requested)
        self.code_page.generation_started.connect(self._on_chat_generation_started)
        self.code_page.generation_ended.connect(self._on_chat_generation_ended)
        self.code_page.answer_finished.connect(self._on_chat_answer_finished)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.chat_pane)
        self.stack.addWidget(self.summarize_pane)
        self.stack.addWidget(self.code_page)

        self.message_bar = MessageBar(self)
        self.message_bar.action_triggered.connect(self._on_message_bar_action_triggered)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([self.fontMetrics().horizontalAdvance("M") * 16, 1000])
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.addWidget(self.message_bar)
        outer.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        # Status bar: backend plan, model, speed, context meter, memory.
        self.plan_label = QLabel(self)
        self.model_label = QLabel(self)
        self.speed_label = QLabel(self)
        self.memory_label = QLabel(self)
        self.context_meter = QProgressBar(self)
        self.context_meter.setRange(0, 1)
        self.context_meter.setValue(0)
        self.context_meter.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 12)
        self.context_meter.setVisible(False)
        status = self.statusBar()
        status.addWidget(self.plan_label, 1)
        status.addPermanentWidget(self.model_label)
        status.addPermanentWidget(self.speed_label)
        status.addPermanentWidget(self.context_meter)
        status.addPermanentWidget(self.memory_label)
        self.download_meter = QProgressBar(self)
        self.download_meter.setRange(0, 1000)
        self.download_meter.setMaximumWidth(self.fontMetrics().horizontalAdvance("M") * 16)
        self.download_meter.setVisible(False)
        status.addPermanentWidget(self.download_meter)
        self._memory_timer = QTimer(self)
        self._memory_timer.setInterval(MEMORY_INTERVAL_MS)
        self._memory_timer.timeout.connect(self._on_memory_timer_timeout)

        self.chat_pane.generation_started.connect(self._on_chat_generation_started)
        self.chat_pane.generation_ended.connect(self._on_chat_generation_ended)
        self.chat_pane.answer_finished.connect(self._on_chat_answer_finished)
        self.chat_pane.context_counted.connect(self._on_chat_context_counted)
        self.chat_pane.chat_cleared.connect(self._on_chat_chat_cleared)
        self.chat_pane.restart_requested.connect(self._on_chat_restart_requested)
        self.chat_pane.conversation_opened.connect(self._on_chat_conversation_opened)
        self.chat_pane.conversations_changed.connect(self._on_chat_conversations_changed)
        self.chat_pane.options_changed.connect(self._on_chat_options_changed)
        self.chat_pane.status_reported.connect(self._on_status_reported)

        self.setAcceptDrops(True)
        self._build_menus()
        self.retranslate_ui()
        self._restore_state()
        self.chat_pane.input.setFocus()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = QMenu(self)
        self.view_menu = QMenu(self)
        self.models_menu = QMenu(self)
        self.help_menu = QMenu(self)
        for menu in (self.file_menu, self.view_menu, self.models_menu, self.help_menu):
            bar.addMenu(menu)

        def action(
            menu: QMenu,
            shortcut: QKeySequence | QKeySequence.StandardKey | str | None,
            slot: object,
        ) -> QAction:
            act = QAction(self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        self.new_chat_action = action(
            self.file_menu, QKeySequence.StandardKey.New, self._on_new_chat_action_triggered
        )
        self.file_menu.addSeparator()
        self.settings_action = action(self.file_menu, "Ctrl+,", self._on_settings_action_triggered)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.file_menu.addSeparator()
        self.quit_action = action(
            self.file_menu, QKeySequence.StandardKey.Quit, self._on_quit_action_triggered
        )
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)

        self.pane_actions = [
            action(self.view_menu, f"Ctrl+{n + 1}", lambda _=False, n=n: self.show_pane(n))
            for n in range(3)
        ]
        self.view_menu.addSeparator()
        self.search_action = action(
            self.view_menu, QKeySequence.StandardKey.Find, self._on_search_action_triggered
        )
        self.options_action = action(
            self.view_menu, "Ctrl+Shift+O", self._on_options_action_triggered
        )

        self.models_action = action(self.models_menu, "Ctrl+M", self._on_models_action_triggered)
        self.open_models_folder_action = action(
            self.models_menu, None, self._on_open_models_folder_action_triggered
        )

        self.guide_actions = {
            guide: action(self.help_menu, None, lambda _=False, g=guide: self.show_help(g))
            for guide in ("models", "gpu", "troubleshooting")
        }
        self.guide_actions["models"].setShortcut(
            QKeySequence(QKeySequence.StandardKey.HelpContents)
        )
        self.help_menu.addSeparator()
        self.about_action = action(self.help_menu, None, self._on_about_action_triggered)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setWindowTitle(self.tr("Hearth"))
        self.toolbar.setWindowTitle(self.tr("Model"))
        self.model_title.setText(self.tr("&Model:"))
        self.model_combo.setAccessibleName(self.tr("Model"))
        self.model_combo.setToolTip(self.tr("The model that answers"))
        self.plan_label.setAccessibleName(self.tr("Backend"))
        self.model_label.setAccessibleName(self.tr("Loaded model"))
        self.speed_label.setAccessibleName(self.tr("Speed of the last answer"))
        self.memory_label.setAccessibleName(self.tr("Memory used"))
        self.download_meter.setAccessibleName(self.tr("Downloads"))
        self.memory_label.setToolTip(self.tr("Memory used by Hearth and its engine"))
        self.context_meter.setAccessibleName(self.tr("Context used"))
        self.context_meter.setToolTip(self.tr("How much of the model's context the chat uses"))
        self._show_context_format()
        self._show_model(self._client.model, keep_plan_text=self._client.model is None)
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
        self.guide_actions["models"].setText(self.tr("Choosing a &model"))
        self.guide_actions["gpu"].setText(self.tr("Using the &GPU"))
        self.guide_actions["troubleshooting"].setText(self.tr("&Troubleshooting"))
        self.about_action.setText(self.tr("&About Hearth"))
        if not self.plan_label.text():
            self.plan_label.setText(self.tr("Starting the engine…"))

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    # -- state -------------------------------------------------------------------------

    def _restore_state(self) -> None:
        geometry = self._ui_state.value("main_window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            # First run: about 110 characters wide, within three quarters of the screen.
            width = self.fontMetrics().horizontalAdvance("M") * 110
            height = width * 5 // 8
            screen = self.screen()
            if screen is not None:
                available = screen.availableGeometry()
                width = min(width, available.width() * 3 // 4)
                height = min(height, available.height() * 3 // 4)
            self.resize(width, height)
        splitter = self._ui_state.value("main_window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        options_visible = self._ui_state.value("chat/options_visible", False, type=bool)
        self.chat_pane.options_button.setChecked(bool(options_visible))
        pane = self._ui_state.value("main_window/pane", CHAT, type=int)
        self.show_pane(pane if pane in (CHAT, SUMMARIZE, CODE) else CHAT)

    def _save_state(self) -> None:
        self._ui_state.setValue("main_window/geometry", self.saveGeometry())
        self._ui_state.setValue("main_window/splitter", self.splitter.saveState())
        self._ui_state.setValue("main_window/pane", self.stack.currentIndex())
        self._ui_state.setValue("chat/conversation", self.chat_pane.conversation_id)
        self._ui_state.setValue("chat/options_visible", self.chat_pane.options_button.isChecked())
        self._ui_state.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the window's state; stop background work; close the history."""
        self._save_state()
        self._memory_timer.stop()
        self._tasks.cancel_all()
        self.chat_pane.shutdown()
        self.summarize_pane.shutdown()
        self.code_page.shutdown()
        self.sidebar.shutdown()
        super().closeEvent(event)

    async def aclose(self) -> None:
        """Pause downloads (they resume next time); finish the history's writes and close it."""
        if self._downloads is not None:
            await self._downloads.aclose()
        await self._history.aclose()

    @property
    def loading(self) -> bool:
        """Whether a model is being loaded."""
        return self._loading

    @property
    def busy(self) -> bool:
        """Whether the window or its panes still have background work running."""
        return (
            len(self._tasks) > 0
            or self.chat_pane.busy
            or self.summarize_pane.busy
            or self.code_page.busy
            or self.sidebar.busy
        )

    @property
    def settings(self) -> Settings:
        """The settings in effect."""
        return self._settings

    def show_pane(self, pane: int) -> None:
        """Show pane ``pane`` (:data:`CHAT`, :data:`SUMMARIZE` or :data:`CODE`)."""
        self.stack.setCurrentIndex(pane)
        self.sidebar.set_mode(SIDEBAR_MODES.get(pane, "conversations"))
        if self.sidebar.panes.currentRow() != pane:
            self.sidebar.panes.setCurrentRow(pane)

    # -- start -------------------------------------------------------------------------

    def start(self) -> None:
        """Open the history, list the installed models and load the last one used."""
        self._memory_timer.start()
        self._tasks.start(self._start(), name="window-start")

    async def _start(self) -> None:
        self._tasks.start(asyncio.to_thread(_warm_up), name="window-warm-up")
        loaded, options = await asyncio.gather(
            asyncio.to_thread(load_settings, self._paths),
            asyncio.to_thread(self._options_store.load),  # never raises
        )
        if not self._settings_known:  # else the caller's, or the user's newer, settings win
            self._settings = loaded
            self._settings_known = True
        self.chat_pane.options_panel.set_options(options)
        self._show_standing_notices()
        # engine.models.downloads.STATE_FILE, spelled out: importing it loads the hub client,
        # which the window does not need to show.
        if (self._paths.data_dir / "downloads.json").exists():
            # Downloads left unfinished last time come back paused.
            self._tasks.start(self.downloads().restore(), name="window-restore-downloads")
        await asyncio.gather(self._open_history(), self._list_and_load())

    def _show_standing_notices(self, extra: Sequence[str] = ()) -> None:
        """Show what still holds (history not saved, settings repaired) with ``extra``.

        Loads and their warnings come and go; these must not be hidden or replaced by
        them, whichever finishes first.
        """
        notices = [n for n in (self._history_problem, self._settings_notice, *extra) if n]
        if notices:
            self.message_bar.show_message("\n".join(notices), error=bool(self._history_problem))
        else:
            self.message_bar.hide()

    async def _open_history(self) -> None:
        try:
            await self._history.open()
        except EngineError as exc:
            log.error("The history database cannot be opened: %s", exc)
            # Kept, so that the first load's warnings join it instead of replacing it.
            self._history_problem = self.tr("Conversations are not being saved. {reason}").format(
                reason=str(exc)
            )
            self._show_standing_notices()
            self.chat_pane.detach_history()
            self.summarize_pane.detach_history()
            self.code_page.detach_history()
            self.sidebar.detach_history()
            return
        self._history_open = True
        await self.sidebar.reload()
        last = self._ui_state.value("chat/conversation", 0, type=int)
        if (
            isinstance(last, int)
            and last
            and not self.chat_pane.turns
            and not self.chat_pane.generating
        ):
            await self.chat_pane.open_conversation(last)

    async def _list_and_load(self) -> None:
        models = await self._list_models()
        if not models:
            return
        ids = [m.id for m in models]
        usable = [m.id for m in models if m.error is None] or ids
        current = self._client.model
        if current is not None and current.model_id in ids:
            self._select_model(current.model_id)
            return
        wanted = self._settings.last_model if self._settings.last_model in usable else usable[0]
        self._select_model(wanted)
        await self._load_and_report(wanted)

    async def _list_models(self) -> list[InstalledModel]:
        """Fill the model picker from the models folder; returns what it found."""
        store = self._store()
        models = await asyncio.to_thread(store.list)
        self.model_combo.clear()
        for model in models:
            label = _short_name(model.id)
            if model.source == "starter":
                label = self.tr("{name} (starter)").format(name=label)
            elif model.error:
                label = self.tr("{name} (damaged)").format(name=label)
            self.model_combo.addItem(label, model.id)
            index = self.model_combo.count() - 1
            self.model_combo.setItemData(
                index, model.error or str(model.path), Qt.ItemDataRole.ToolTipRole
            )
        if not models:
            self.plan_label.setText(self.tr("No model"))
            self.message_bar.show_message(
                self.tr(
                    "No model is installed. Reinstall Hearth, or add a GGUF model to {folder}."
                ).format(folder=str(store.models_dir))
            )
            return models
        current = self._client.model
        self._select_model(current.model_id if current is not None else None)
        return models

    # -- models ------------------------------------------------------------------------

    def _store(self) -> ModelStore:
        folder = self._settings.models_dir.strip()
        return ModelStore(self._paths, Path(folder).expanduser() if folder else None)

    def _select_model(self, model_id: str | None) -> None:
        index = self.model_combo.findData(model_id) if model_id else -1
        self.model_combo.setCurrentIndex(index)

    def _on_model_combo_activated(self, index: int) -> None:
        model_id = self.model_combo.itemData(index)
        current = self._client.model
        if not model_id or (current is not None and current.model_id == model_id):
            return
        self._tasks.start(self._load_and_report(model_id), name="window-load-model")

    async def _load_and_report(self, model_id: str) -> None:
        """Load ``model_id``; on failure say why and keep the previous model."""
        try:
            await self._load(model_id)
        except EngineError as exc:
            log.warning("Loading %s failed: %s", model_id, exc)
            self.message_bar.show_message(
                self.tr("Could not load {name}: {reason}").format(
                    name=_short_name(model_id), reason=str(exc)
                )
            )
            self.model_load_failed.emit(str(exc))

    async def _load(self, model_id: str) -> ModelInfo:
        """Load a model, keeping the window usable meanwhile; raises EngineError on failure."""
        self._loading = True
        self.model_combo.setEnabled(False)
        self._set_model_ready(False)
        self._show_standing_notices()  # the last load's messages go
        self.plan_label.setText(self.tr("Loading {name}…").format(name=_short_name(model_id)))
        settings = self._settings
        try:
            info = await self._client.load(
                model_id,
                n_ctx=settings.context_size,
                gpu_offload=settings.gpu_offload,
                threads=settings.threads,
                backend=settings.backend,
            )
        finally:
            self._loading = False
            previous = self._client.model
            self._select_model(previous.model_id if previous else None)
            self._show_model(previous)
            self.model_combo.setEnabled(not self.chat_pane.generating)
            self._set_model_ready(previous is not None)
        log.info("Loaded %s in %.2f s: %s", info.model_id, info.load_s, info.plan_reason)
        self.model_loaded.emit(info)
        self._show_standing_notices(info.warnings)
        self._settings_notice = ""  # said; the next load's messages replace it
        self._settings = replace(self._settings, last_model=info.model_id)
        await self._save_settings(self._settings)
        await self.chat_pane.count_context()
        return info

    def _show_model(self, info: ModelInfo | None, *, keep_plan_text: bool = False) -> None:
        if info is None:
            if not keep_plan_text:
                self.plan_label.setText(self.tr("No model loaded"))
            self.model_label.clear()
            self.context_meter.setVisible(False)
            return
        self.plan_label.setText(info.plan_reason)
        self.plan_label.setToolTip("\n".join(info.warnings))
        self.model_label.setText(_short_name(info.model_id))
        self.model_label.setToolTip(info.path)
        self.context_meter.setMaximum(info.n_ctx)
        self.context_meter.setVisible(True)

    # -- settings ----------------------------------------------------------------------

    async def _save_settings(self, settings: Settings) -> None:
        try:
            await asyncio.to_thread(save_settings, self._paths, settings)
        except OSError as exc:
            log.warning("Could not save the settings: %s", exc)
            self.message_bar.show_message(
                self.tr("Could not save the settings: {reason}").format(
                    reason=exc.strerror or str(exc)
                )
            )

    def open_settings(self) -> SettingsDialog:
        """Open the settings dialog (window-modal; the event loop keeps running)."""
        if self._settings_dialog is not None:
            self._settings_dialog.raise_()
            return self._settings_dialog
        dialog = SettingsDialog(
            self._settings,
            cpu_count=os.cpu_count() or 1,
            default_models_dir=self._paths.models_dir,
            parent=self,
        )
        dialog.settings_applied.connect(self._on_settings_dialog_settings_applied)
        dialog.finished.connect(self._on_settings_dialog_finished)
        self._settings_dialog = dialog
        dialog.open()
        return dialog

    def _on_settings_dialog_settings_applied(self, settings: Settings) -> None:
        self._tasks.start(self.apply_settings(settings), name="window-apply-settings")

    def _on_settings_dialog_finished(self, _result: int) -> None:
        if self._settings_dialog is not None:
            self._settings_dialog.deleteLater()
            self._settings_dialog = None

    async def apply_settings(self, settings: Settings) -> None:
        """Save ``settings`` and apply them now: theme and language at once, the models
        folder by listing it again, threads, GPU offload and context size by reloading
        the model (unless an answer is streaming; then with the next model load)."""
        if not self._settings_known:
            self._settings = await asyncio.to_thread(load_settings, self._paths)
            self._settings_known = True
        old = self._settings
        # Only the dialog's fields: last_model may have changed while it was open.
        settings = replace(old, **{name: getattr(settings, name) for name in EDITED_FIELDS})
        self._settings = settings
        await self._save_settings(settings)
        app = QApplication.instance()
        if settings.theme != old.theme and isinstance(app, QApplication):
            apply_theme(app, settings.theme)
        if settings.language != old.language:
            if self._translations is None:
                self._translations = Translations()
            self._translations.apply(settings.language)
            if self._help_dialog is not None:
                self._help_dialog.set_language(settings.language)
        self.settings_changed.emit(settings)
        reload_fields = ("threads", "gpu_offload", "context_size", "backend")
        needs_reload = any(getattr(settings, f) != getattr(old, f) for f in reload_fields)
        if settings.models_dir != old.models_dir:
            await self._list_and_load()
        model = self._client.model
        if needs_reload and model is not None and not self._loading:
            if self.chat_pane.generating or self.code_page.generating:
                self.message_bar.show_message(
                    self.tr("The new settings apply when the model is next loaded."), error=False
                )
            else:
                await self._load_and_report(model.model_id)

    # -- help --------------------------------------------------------------------------

    def show_help(self, guide: str) -> HelpDialog:
        """Open the built-in guide ``guide`` ("models", "gpu", "troubleshooting")."""
        language = resolve_language(self._settings.language)
        if self._help_dialog is None:
            self._help_dialog = HelpDialog(language, guide, parent=self)
        else:
            self._help_dialog.show_guide(guide)
        if self._help_dialog.isVisible():
            self._help_dialog.raise_()
        else:
            self._help_dialog.show()
        return self._help_dialog

    # -- slots -------------------------------------------------------------------------

    def _set_model_ready(self, ready: bool) -> None:
        self.chat_pane.set_model_ready(ready)
        self.summarize_pane.set_model_ready(ready)
        self.code_page.set_model_ready(ready)

    def _on_sidebar_pane_selected(self, pane: int) -> None:
        self.stack.setCurrentIndex(pane)
        self.sidebar.set_mode(SIDEBAR_MODES.get(pane, "conversations"))

    def _on_sidebar_summary_activated(self, summary_id: int) -> None:
        self._tasks.start(self._show_stored_summary(summary_id), name="window-show-summary")

    async def _show_stored_summary(self, summary_id: int) -> None:
        try:
            stored = await self._history.run(lambda h: h.summary(summary_id))
        except (EngineError, RuntimeError) as exc:
            self.statusBar().showMessage(str(exc), 5000)
            return
        self.summarize_pane.show_stored(stored.title, stored.summary)

    def _on_sidebar_code_task_activated(self, task_id: int) -> None:
        self.show_pane(CODE)
        self._tasks.start(self.code_page.open_task(task_id), name="window-open-code-task")

    def _on_code_tasks_changed(self) -> None:
        if self.sidebar.mode == "code":
            self.sidebar.refresh()

    def _on_code_models_requested(self) -> None:
        self.open_models()

    def _on_summarize_summaries_changed(self) -> None:
        if self.sidebar.mode == "summaries":
            self.sidebar.refresh()

    def _on_summarize_open_in_chat_requested(self, title: str, summary: str) -> None:
        self.show_pane(CHAT)
        self.chat_pane.start_with_context(title, summary)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Files dragged anywhere onto the window: for the Code pane while it is shown,
        else for the Summarize pane."""
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        """Open a dropped source file in the Code pane while it is shown; otherwise switch
        to Summarize and queue the dropped files and folders."""
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths and self.stack.currentWidget() is self.code_page:
            self.code_page.dropEvent(event)
        elif paths:
            self.show_pane(SUMMARIZE)
            self.summarize_pane.add_paths(paths)
            event.acceptProposedAction()

    def _on_sidebar_conversation_activated(self, conversation_id: int) -> None:
        self.show_pane(CHAT)
        self._tasks.start(self._open_conversation(conversation_id), name="window-open-conversation")

    async def _open_conversation(self, conversation_id: int) -> None:
        if self.chat_pane.generating:
            self.statusBar().showMessage(
                self.tr("Stop the answer first, then open another conversation."), 5000
            )
            return
        if await self.chat_pane.open_conversation(conversation_id):
            words = self.sidebar.search.text().strip()
            if words:
                self.chat_pane.transcript.find_text(words)

    def _on_sidebar_conversation_renamed(self, conversation_id: int, title: str) -> None:
        self.chat_pane.conversation_renamed(conversation_id, title)

    def _on_sidebar_conversation_deleted(self, conversation_id: int) -> None:
        if self.chat_pane.conversation_id == conversation_id and not self.chat_pane.generating:
            self.chat_pane.new_chat()

    def _on_status_reported(self, text: str) -> None:
        self.statusBar().showMessage(text, 5000)

    def _on_chat_generation_started(self) -> None:
        self.model_combo.setEnabled(False)

    def _on_chat_generation_ended(self) -> None:
        self.model_combo.setEnabled(not self._loading and self.model_combo.count() > 0)

    def _on_chat_answer_finished(self, result: GenerationResult) -> None:
        self.speed_label.setText(
            self.tr("{rate:.1f} tokens/s").format(rate=result.stats.tokens_per_s)
        )

    def _on_chat_context_counted(self, used: int, n_ctx: int) -> None:
        self.context_meter.setMaximum(max(n_ctx, 1))
        self.context_meter.setValue(min(used, n_ctx))
        self.context_meter.setProperty("counts", (used, n_ctx))
        self._show_context_format()
        self.context_meter.setVisible(True)

    def _show_context_format(self) -> None:
        counts = self.context_meter.property("counts")
        if counts:
            used, n_ctx = counts
            self.context_meter.setFormat(
                self.tr("{used} / {n_ctx} tokens").format(used=used, n_ctx=n_ctx)
            )
        else:
            self.context_meter.setFormat(self.tr("%v / %m tokens"))

    def _on_chat_chat_cleared(self) -> None:
        self._tasks.start(self.chat_pane.count_context(), name="window-count-context")

    def _on_chat_conversation_opened(self, conversation_id: int) -> None:
        self.sidebar.set_current(conversation_id)

    def _on_chat_conversations_changed(self) -> None:
        self.sidebar.refresh()
        self.sidebar.set_current(self.chat_pane.conversation_id)

    def _on_chat_options_changed(self, options: ChatOptions) -> None:
        self._pending_chat_options = options
        if self._chat_options_saver is None or self._chat_options_saver.done():
            self._chat_options_saver = self._tasks.start(
                self._save_chat_options(), name="window-save-chat-options"
            )

    async def _save_chat_options(self) -> None:
        """Write the newest options, one write at a time, so an older one never lands last."""
        while self._pending_chat_options is not None:
            options, self._pending_chat_options = self._pending_chat_options, None
            try:
                await asyncio.to_thread(self._options_store.save, options)
            except OSError as exc:
                log.warning("Could not save the chat options: %s", exc)
                self.statusBar().showMessage(
                    self.tr("Could not save the chat options: {reason}").format(
                        reason=exc.strerror or str(exc)
                    ),
                    5000,
                )

    def _on_chat_restart_requested(self) -> None:
        self._tasks.start(self._restart_engine(), name="window-restart-engine")

    def _on_new_chat_action_triggered(self) -> None:
        self.show_pane(CHAT)
        self.chat_pane.new_chat()

    def _on_settings_action_triggered(self) -> None:
        self.open_settings()

    def _on_quit_action_triggered(self) -> None:
        self.close()

    def _on_search_action_triggered(self) -> None:
        self.sidebar.focus_search()

    def _on_options_action_triggered(self) -> None:
        self.show_pane(CHAT)
        self.chat_pane.options_button.toggle()

    def _on_models_action_triggered(self) -> None:
        self.open_models()

    def open_models(self) -> ModelsDialog:
        """Open the model manager (non-modal; one at a time)."""
        from desktop.dialogs.models import ModelsDialog  # loaded when first needed

        if self._models_dialog is None:
            dialog = ModelsDialog(
                self._paths, self._settings, self.hardware, self.downloads(), parent=self
            )
            dialog.load_requested.connect(self._on_models_dialog_load_requested)
            dialog.models_changed.connect(self._on_models_dialog_models_changed)
            dialog.finished.connect(self._on_models_dialog_finished)
            self._models_dialog = dialog
        if self._models_dialog.isVisible():
            self._models_dialog.raise_()
        else:
            self._models_dialog.show()
        return self._models_dialog

    def downloads(self) -> Downloads:
        """The app's downloads (made on first use; they outlive the model manager)."""
        if self._downloads is None:
            from desktop.downloads import Downloads  # loads the hub client when needed

            self._downloads = Downloads(self._paths, self._settings, self)
            self._downloads.progressed.connect(self._on_downloads_progressed)
            self._downloads.finished.connect(self._on_downloads_finished)
        return self._downloads

    def _on_downloads_progressed(self, _progress: DownloadProgress) -> None:
        from desktop.downloads import describe

        downloads = self._downloads
        active = downloads.active() if downloads is not None else []
        if not active:
            self.download_meter.setVisible(False)
            return
        done = sum(p.done_bytes for p in active)
        total = max(sum(p.total_bytes for p in active), 1)
        self.download_meter.setValue(int(1000 * min(done, total) / total))
        self.download_meter.setFormat(self.tr("Downloading {count}: %p%").format(count=len(active)))
        self.download_meter.setToolTip("\n".join(describe(p) for p in active))
        self.download_meter.setVisible(True)

    def _on_downloads_finished(self, progress: DownloadProgress) -> None:
        self.statusBar().showMessage(
            self.tr("Downloaded and verified {name}").format(name=progress.name), 8000
        )
        self._tasks.start(self._list_models(), name="window-list-models")

    async def hardware(self) -> Hardware:
        """This computer's hardware, probed once (llama.cpp's build as the engine reports it).

        Raises:
            EngineError: the engine could not be started to ask it.
        """
        if self._hardware is None:
            self._hardware = await self._client.hardware()
        return self._hardware

    def _on_models_dialog_load_requested(self, model_id: str) -> None:
        self._tasks.start(self._list_then_load(model_id), name="window-load-model")

    async def _list_then_load(self, model_id: str) -> None:
        await self._list_models()
        current = self._client.model
        if current is None or current.model_id != model_id:
            self._select_model(model_id)
            await self._load_and_report(model_id)

    def _on_models_dialog_models_changed(self) -> None:
        self._tasks.start(self._list_models(), name="window-list-models")

    def _on_models_dialog_finished(self, _result: int) -> None:
        if self._models_dialog is not None and not self._models_dialog.busy:
            self._models_dialog.deleteLater()
            self._models_dialog = None

    def _on_open_models_folder_action_triggered(self) -> None:
        folder = self._store().models_dir
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _on_about_action_triggered(self) -> None:
        dialog = AboutDialog(self._paths, parent=self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_message_bar_action_triggered(self) -> None:
        self.message_bar.hide()

    def _on_memory_timer_timeout(self) -> None:
        if "window-memory" not in self._tasks.names():
            self._tasks.start(self._show_memory(), name="window-memory")

    async def _show_memory(self) -> None:
        worker = self._client.worker_pid
        pids = [os.getpid()] + ([worker] if worker else [])
        sizes = await asyncio.to_thread(_memory_of, pids)
        app_bytes, engine_bytes = sizes[0], sum(sizes[1:])
        self.memory_label.setText(
            self.tr("Memory {total}").format(total=format_bytes(app_bytes + engine_bytes))
        )
        self.memory_label.setToolTip(
            self.tr("Hearth {app} · engine {engine}").format(
                app=format_bytes(app_bytes), engine=format_bytes(engine_bytes)
            )
        )

    async def _restart_engine(self) -> None:
        """Restart the worker and load the model again; report the outcome to the chat pane."""
        model_id = self.model_combo.currentData()
        self.plan_label.setText(self.tr("Restarting the engine…"))
        self._set_model_ready(False)
        try:
            info = await self._client.restart()
            if info is not None:
                self._show_model(info)
                self._set_model_ready(True)
            elif model_id:
                await self._load(model_id)
            else:
                self._show_model(None)
        except EngineError as exc:
            log.warning("Restarting the engine failed: %s", exc)
            self.chat_pane.restart_finished(exc)
            return
        self.chat_pane.restart_finished(None)
