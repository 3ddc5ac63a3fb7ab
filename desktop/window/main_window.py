"""The main window: assembles the menus, the sidebar, the panes, the model picker and the
status bar, and runs what joins them (loading a model, applying settings, the model manager).

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

from PySide6.QtCore import QEvent, Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.dialogs.help import AboutDialog, HelpDialog
from desktop.dialogs.settings import EDITED_FIELDS, SettingsDialog
from desktop.highlight import lexer as highlight
from desktop.i18n import Translations, resolve_language
from desktop.notices import notice_lines, notice_text
from desktop.panes.chat import ChatPane
from desktop.panes.code import CodePane
from desktop.panes.summarize import SummarizePane
from desktop.theme import apply_theme
from desktop.widgets import BackgroundTasks, MessageBar
from desktop.window.api_server import ApiServerHost
from desktop.window.menus import MainMenus
from desktop.window.model_loader import ModelLoader
from desktop.window.model_manager import ModelManagerHost
from desktop.window.model_picker import ModelPicker
from desktop.window.model_settings_host import ModelSettingsHost
from desktop.window.options_saver import ChatOptionsSaver
from desktop.window.sidebar import Sidebar
from desktop.window.state import WindowState
from desktop.window.statusbar import StatusBar
from desktop.window.statusbar.model import short_name

if TYPE_CHECKING:
    from desktop.dialogs.api_server import ApiServerDialog
    from desktop.dialogs.models import ModelsDialog
    from desktop.downloads import Downloads
    from engine.models.downloads import DownloadProgress
from engine.data.config import Paths, Settings, load_settings, save_settings
from engine.data.history import AsyncHistory
from engine.data.presets import ChatOptions
from engine.data.remote_key import save_remote_key
from engine.errors import EngineError, HistoryError
from engine.models.hardware import Hardware
from engine.notices import Notice
from engine.runtime.client import EngineClient
from engine.types import GenerationResult, ModelInfo

log = logging.getLogger("desktop.window")

#: File (in Hearth's config folder) for purely visual state such as the window geometry.
UI_STATE_FILE = "window-state.ini"
#: Pane numbers, in sidebar order.
CHAT, SUMMARIZE, CODE = range(3)
#: What the sidebar lists while each pane is shown.
SIDEBAR_MODES = {CHAT: "conversations", SUMMARIZE: "summaries", CODE: "code"}


def _warm_up() -> None:
    """Work done ahead on a worker thread, so the window does not pause for it later.

    Compiles the syntax highlighter's lexers and imports the model manager's engine
    modules (about 100 ms; pure Python, no Qt objects are made here).
    """
    highlight.warm_up()
    for module in ("engine.models.catalog", "engine.models.discover", "engine.models.downloads"):
        importlib.import_module(module)


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
        settings_notice: Notice | None = None,
        translations: Translations | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        #: What was repaired in the settings file at start (SettingsRead.notice): shown
        #: with the first load's warnings, which would otherwise replace it.
        self._settings_notice = settings_notice
        self._history_problem = ""  # why conversations are not being saved, if they are not
        self._client = client
        self._paths = paths
        self._translations = translations
        self._tasks = BackgroundTasks()
        #: Until start() has read the settings file, or the caller passed what it read.
        self._settings = settings if settings is not None else Settings()
        self._settings_known = settings is not None
        self._settings_written = asyncio.Lock()
        self._history = AsyncHistory(paths.database)
        self.options_saver = ChatOptionsSaver(paths, self)
        self.options_saver.save_failed.connect(self._on_options_saver_save_failed)
        self._settings_dialog: SettingsDialog | None = None
        self._help_dialog: HelpDialog | None = None
        self._hardware: Hardware | None = None
        self._ui_state = WindowState(paths.config_dir / UI_STATE_FILE)
        self.model_picker = ModelPicker(self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.model_picker)

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
        self.summarize_pane = SummarizePane(
            client, history=self._history, hardware=self.hardware, parent=self
        )
        self.summarize_pane.models_requested.connect(self._on_summarize_models_requested)
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

        self.status_bar = StatusBar(lambda: self._client.worker_pid, self)
        self.setStatusBar(self.status_bar)
        self.model_loader = ModelLoader(
            client,
            paths,
            lambda: self._settings,
            self.model_picker,
            self.status_bar,
            lambda: self.chat_pane.generating,
            self,
        )
        self.model_loader.readiness_changed.connect(self._on_model_loader_readiness_changed)
        self.model_loader.loading_started.connect(self._on_model_loader_loading_started)
        self.model_loader.model_loaded.connect(self._on_model_loader_model_loaded)
        self.model_loader.load_failed.connect(self._on_model_loader_load_failed)
        self.model_loader.nothing_installed.connect(self._on_model_loader_nothing_installed)
        self.model_loader.remote_failed.connect(self._on_model_loader_remote_failed)
        self.model_manager = ModelManagerHost(
            paths, lambda: self._settings, self.hardware, self.status_bar.downloads, self
        )
        self.model_manager.load_requested.connect(self._on_model_manager_load_requested)
        self.model_manager.models_changed.connect(self._on_model_manager_models_changed)
        self.model_manager.download_finished.connect(self._on_model_manager_download_finished)
        self.api_server = ApiServerHost(client, paths, self)
        self.api_server.state_changed.connect(self._on_api_server_state_changed)
        self.api_server.activity_changed.connect(self._on_api_server_activity_changed)
        self.api_server.switched.connect(self._on_api_server_switched)
        self.status_bar.api.clicked.connect(self.open_api_server)

        self.chat_pane.generation_started.connect(self._on_chat_generation_started)
        self.chat_pane.generation_ended.connect(self._on_chat_generation_ended)
        self.chat_pane.answer_finished.connect(self._on_chat_answer_finished)
        self.chat_pane.context_counted.connect(self._on_chat_context_counted)
        self.chat_pane.chat_cleared.connect(self._on_chat_chat_cleared)
        self.chat_pane.restart_requested.connect(self._on_chat_restart_requested)
        self.chat_pane.conversation_opened.connect(self._on_chat_conversation_opened)
        self.chat_pane.conversations_changed.connect(self._on_chat_conversations_changed)
        self.chat_pane.options_changed.connect(self._on_chat_options_changed)
        self.model_settings = ModelSettingsHost(paths, self.chat_pane, self)
        self.model_settings.reload_needed.connect(self._on_model_settings_reload_needed)
        self.model_settings.save_failed.connect(self._on_model_settings_save_failed)
        self.chat_pane.status_reported.connect(self._on_status_reported)

        self.setAcceptDrops(True)
        self._build_menus()
        self.retranslate_ui()
        self._restore_state()
        self.chat_pane.input.setFocus()

    def _build_menus(self) -> None:
        self.menus = MainMenus(self)
        self.menus.new_chat_triggered.connect(self._on_menus_new_chat_triggered)
        self.menus.settings_triggered.connect(self.open_settings)
        self.menus.quit_triggered.connect(self.close)
        self.menus.pane_triggered.connect(self.show_pane)
        self.menus.search_triggered.connect(self.sidebar.focus_search)
        self.menus.options_triggered.connect(self._on_menus_options_triggered)
        self.menus.models_triggered.connect(self.open_models)
        self.menus.models_folder_triggered.connect(self._on_menus_models_folder_triggered)
        self.menus.api_server_triggered.connect(self.open_api_server)
        self.menus.guide_triggered.connect(self.show_help)
        self.menus.about_triggered.connect(self._on_menus_about_triggered)

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.setWindowTitle(self.tr("Hearth"))
        self.menus.retranslate_ui()

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    # -- state -------------------------------------------------------------------------

    def _restore_state(self) -> None:
        self._ui_state.restore_layout(self, self.splitter)
        self.chat_pane.options_button.setChecked(self._ui_state.options_visible())
        pane = self._ui_state.pane(CHAT)
        self.show_pane(pane if pane in (CHAT, SUMMARIZE, CODE) else CHAT)

    def _save_state(self) -> None:
        self._ui_state.save(
            self,
            self.splitter,
            pane=self.stack.currentIndex(),
            conversation=self.chat_pane.conversation_id,
            options_visible=self.chat_pane.options_button.isChecked(),
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the window's state; stop background work; close the history."""
        self._save_state()
        self.api_server.begin_shutdown()
        self.status_bar.shutdown()
        self.model_loader.shutdown()
        self.options_saver.shutdown()
        self.model_settings.shutdown()
        self._tasks.cancel_all()
        self.chat_pane.shutdown()
        self.summarize_pane.shutdown()
        self.code_page.shutdown()
        self.sidebar.shutdown()
        super().closeEvent(event)

    async def aclose(self) -> None:
        """Stop the API server; pause downloads (they resume next time); finish the
        history's writes and close it."""
        await self.api_server.aclose()
        await self.model_manager.aclose()
        await self._history.aclose()

    @property
    def loading(self) -> bool:
        """Whether a model is being loaded."""
        return self.model_loader.loading

    @property
    def busy(self) -> bool:
        """Whether the window or its panes still have background work running."""
        return (
            len(self._tasks) > 0
            or self.status_bar.busy
            or self.model_loader.busy
            or self.api_server.busy
            or self.options_saver.busy
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
        self.status_bar.memory.start()
        self._tasks.start(self._start(), name="window-start")

    async def _start(self) -> None:
        self._tasks.start(asyncio.to_thread(_warm_up), name="window-warm-up")
        loaded, options = await asyncio.gather(
            asyncio.to_thread(load_settings, self._paths),
            self.options_saver.load(),
        )
        if not self._settings_known:  # else the caller's, or the user's newer, settings win
            self._settings = loaded
            self._settings_known = True
        self.chat_pane.options_panel.set_options(options)
        self._show_standing_notices()
        self.api_server.set_port(self._settings.api_port)
        if self._settings.api_server:  # it was on when Hearth last ran
            self._tasks.start(self._start_api_server(), name="window-start-api-server")
        # engine.models.downloads.STATE_FILE, spelled out: importing it loads the hub client,
        # which the window does not need to show.
        if (self._paths.data_dir / "downloads.json").exists():
            # Downloads left unfinished last time come back paused.
            self._tasks.start(self.downloads().restore(), name="window-restore-downloads")
        await asyncio.gather(self._open_history(), self.model_loader.list_and_load())

    def _show_standing_notices(self, extra: Sequence[str] = ()) -> None:
        """Show what still holds (history not saved, settings repaired) with ``extra``.

        Loads and their warnings come and go; these must not be hidden or replaced by
        them, whichever finishes first.
        """
        notice = self._settings_notice
        repaired = notice_text(notice) if notice is not None else ""
        notices = [n for n in (self._history_problem, repaired, *extra) if n]
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
            reason = str(exc)
            if isinstance(exc, HistoryError) and exc.notice is not None:
                reason = notice_text(exc.notice)
            self._history_problem = self.tr("Conversations are not being saved. {reason}").format(
                reason=reason
            )
            self._show_standing_notices()
            self.chat_pane.detach_history()
            self.summarize_pane.detach_history()
            self.code_page.detach_history()
            self.sidebar.detach_history()
            return
        await self.sidebar.reload()
        last = self._ui_state.conversation()
        if last and not self.chat_pane.turns and not self.chat_pane.generating:
            await self.chat_pane.open_conversation(last)

    # -- models ------------------------------------------------------------------------

    def _on_model_loader_readiness_changed(self, ready: bool) -> None:
        self.chat_pane.set_model_ready(ready)
        self.summarize_pane.set_model_ready(ready)
        self.code_page.set_model_ready(ready)

    def _on_model_loader_loading_started(self) -> None:
        self._show_standing_notices()  # the last load's messages go

    def _on_model_loader_model_loaded(self, info: ModelInfo) -> None:
        self.model_settings.model_loaded(info)
        self.model_loaded.emit(info)
        self._show_standing_notices(notice_lines(info.warning_notices))
        self._settings_notice = None  # said; the next load's messages replace it
        self._settings = replace(self._settings, last_model=info.model_id)
        self._tasks.start(self._save_settings(), name="window-save-settings")
        self._tasks.start(self.chat_pane.count_context(), name="window-count-context")

    def _on_model_loader_load_failed(self, model_id: str, reason: str) -> None:
        self.message_bar.show_message(
            self.tr("Could not load {name}: {reason}").format(
                name=short_name(model_id), reason=reason
            )
        )
        self.model_load_failed.emit(reason)

    def _on_model_loader_nothing_installed(self, folder: str) -> None:
        self.message_bar.show_message(
            self.tr(
                "No model is installed. Reinstall Hearth, or add a GGUF model to {folder}."
            ).format(folder=folder)
        )

    def _on_model_loader_remote_failed(self, reason: str) -> None:
        self.message_bar.show_message(
            self.tr("The remote endpoint's models are not listed: {reason}").format(reason=reason)
        )

    # -- settings ----------------------------------------------------------------------

    async def _save_settings(self) -> None:
        """Write the settings in effect. One write at a time, each of the settings as they
        are when it starts, so an older value never lands last."""
        try:
            async with self._settings_written:
                await asyncio.to_thread(save_settings, self._paths, self._settings)
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
            remote_key=self.model_loader.remote_key,
            parent=self,
        )
        dialog.settings_applied.connect(self._on_settings_dialog_settings_applied)
        dialog.finished.connect(self._on_settings_dialog_finished)
        self._settings_dialog = dialog
        dialog.open()
        return dialog

    def _on_settings_dialog_settings_applied(self, settings: Settings) -> None:
        dialog = self._settings_dialog
        key = dialog.remote_key() if dialog is not None else None
        self._tasks.start(
            self.apply_settings(settings, remote_key=key), name="window-apply-settings"
        )

    def _on_settings_dialog_finished(self, _result: int) -> None:
        if self._settings_dialog is not None:
            self._settings_dialog.deleteLater()
            self._settings_dialog = None

    async def apply_settings(self, settings: Settings, *, remote_key: str | None = None) -> None:
        """Save ``settings`` and apply them now: theme and language at once, the models
        folder and the remote endpoint by listing the models again, threads, GPU offload
        and context size by reloading the model (unless an answer is streaming; then with
        the next model load). ``remote_key`` (None: unchanged) is kept apart, in a file
        only the user can read."""
        if not self._settings_known:
            self._settings = await asyncio.to_thread(load_settings, self._paths)
            self._settings_known = True
        old = self._settings
        # Only the dialog's fields: last_model may have changed while it was open.
        settings = replace(old, **{name: getattr(settings, name) for name in EDITED_FIELDS})
        self._settings = settings
        await self._save_settings()
        app = QApplication.instance()
        if settings.theme != old.theme and isinstance(app, QApplication):
            apply_theme(app, settings.theme)
        if settings.language != old.language:
            if self._translations is None:
                self._translations = Translations()
            self._translations.apply(settings.language)
            if self._help_dialog is not None:
                self._help_dialog.set_language(settings.language)
        key_changed = remote_key is not None and remote_key != self.model_loader.remote_key
        if key_changed:
            assert remote_key is not None
            try:
                await asyncio.to_thread(save_remote_key, self._paths, remote_key)
            except OSError as exc:
                self.message_bar.show_message(
                    self.tr("Could not keep the remote endpoint's key: {reason}").format(
                        reason=exc.strerror or str(exc)
                    )
                )
        self.settings_changed.emit(settings)
        reload_fields = ("threads", "gpu_offload", "context_size", "backend")
        needs_reload = any(getattr(settings, f) != getattr(old, f) for f in reload_fields)
        remote_fields = ("remote_url", "remote_allow_lan", "offline")
        remote_changed = key_changed or any(
            getattr(settings, f) != getattr(old, f) for f in remote_fields
        )
        if settings.models_dir != old.models_dir:
            await self.model_loader.list_and_load()
        elif remote_changed:
            await self.model_loader.list_models()
        if remote_changed:
            # Offline mode turned on (or LAN addresses disallowed) while a remote model
            # answers: it stops answering now, not at the next load.
            await self.model_loader.drop_forbidden_remote()
        model = self._client.model
        if needs_reload and model is not None and not self.model_loader.loading:
            if self.chat_pane.generating or self.code_page.generating:
                self.message_bar.show_message(
                    self.tr("The new settings apply when the model is next loaded."), error=False
                )
            else:
                await self.model_loader.load_and_report(model.model_id)

    # -- the API server ----------------------------------------------------------------

    def open_api_server(self) -> ApiServerDialog:
        """Open the API server panel (non-modal; one at a time)."""
        return self.api_server.open()

    async def _start_api_server(self) -> None:
        if not await self.api_server.start(self._settings.api_port):
            self.message_bar.show_message(self.api_server.error)

    def _show_api_state(self) -> None:
        host = self.api_server
        self.status_bar.api.show_state(host.address, host.active, host.error)

    def _on_api_server_state_changed(self) -> None:
        self._show_api_state()

    def _on_api_server_activity_changed(self, _active: int) -> None:
        self._show_api_state()

    def _on_api_server_switched(self, on: bool, port: int) -> None:
        self._settings = replace(self._settings, api_server=on, api_port=port)
        self._tasks.start(self._save_settings(), name="window-save-settings")

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

    def _on_summarize_models_requested(self) -> None:
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

    def _on_sidebar_conversation_activated(self, conversation_id: int, message_id: int) -> None:
        self.show_pane(CHAT)
        self._tasks.start(
            self._open_conversation(conversation_id, message_id), name="window-open-conversation"
        )

    async def _open_conversation(self, conversation_id: int, message_id: int = 0) -> None:
        if self.chat_pane.generating:
            self.statusBar().showMessage(
                self.tr("Stop the answer first, then open another conversation."), 5000
            )
            return
        if await self.chat_pane.open_conversation(conversation_id, message_id=message_id):
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
        self.model_picker.set_choosable(False)

    def _on_chat_generation_ended(self) -> None:
        self.model_picker.set_choosable(not self.model_loader.loading)

    def _on_chat_answer_finished(self, result: GenerationResult) -> None:
        self.status_bar.speed.show_result(result)

    def _on_chat_context_counted(self, used: int, n_ctx: int) -> None:
        self.status_bar.context.show_counts(used, n_ctx)

    def _on_chat_chat_cleared(self) -> None:
        self._tasks.start(self.chat_pane.count_context(), name="window-count-context")

    def _on_chat_conversation_opened(self, conversation_id: int) -> None:
        self.sidebar.set_current(conversation_id)

    def _on_chat_conversations_changed(self) -> None:
        self.sidebar.refresh()
        self.sidebar.set_current(self.chat_pane.conversation_id)

    def _on_chat_options_changed(self, options: ChatOptions) -> None:
        self.options_saver.save(options)

    def _on_options_saver_save_failed(self, reason: str) -> None:
        self.statusBar().showMessage(
            self.tr("Could not save the chat options: {reason}").format(reason=reason), 5000
        )

    def _on_model_settings_save_failed(self, reason: str) -> None:
        self.statusBar().showMessage(
            self.tr("Could not save the model's settings: {reason}").format(reason=reason), 5000
        )

    def _on_model_settings_reload_needed(self, model_id: str) -> None:
        model = self._client.model
        if model is None or model.model_id != model_id or self.model_loader.loading:
            return
        if self.chat_pane.generating or self.code_page.generating:
            self.message_bar.show_message(
                self.tr("The new settings apply when the model is next loaded."), error=False
            )
            return
        self._tasks.start(self.model_loader.load_and_report(model_id), name="window-reload")

    def _on_chat_restart_requested(self) -> None:
        self._tasks.start(self._restart_engine(), name="window-restart-engine")

    def _on_menus_new_chat_triggered(self) -> None:
        self.show_pane(CHAT)
        self.chat_pane.new_chat()

    def _on_menus_options_triggered(self) -> None:
        self.show_pane(CHAT)
        self.chat_pane.options_button.toggle()

    def open_models(self) -> ModelsDialog:
        """Open the model manager (non-modal; one at a time)."""
        return self.model_manager.open()

    def downloads(self) -> Downloads:
        """The app's downloads (made on first use; they outlive the model manager)."""
        return self.model_manager.downloads()

    def _on_model_manager_download_finished(self, progress: DownloadProgress) -> None:
        self.statusBar().showMessage(
            self.tr("Downloaded and verified {name}").format(name=progress.name), 8000
        )
        self._tasks.start(self.model_loader.list_models(), name="window-list-models")

    async def hardware(self) -> Hardware:
        """This computer's hardware, probed once (llama.cpp's build as the engine reports it).

        Raises:
            EngineError: the engine could not be started to ask it.
        """
        if self._hardware is None:
            self._hardware = await self._client.hardware()
        return self._hardware

    def _on_model_manager_load_requested(self, model_id: str) -> None:
        self._tasks.start(self.model_loader.list_then_load(model_id), name="window-load-model")

    def _on_model_manager_models_changed(self) -> None:
        self._tasks.start(self.model_loader.list_models(), name="window-list-models")

    def _on_menus_models_folder_triggered(self) -> None:
        folder = self.model_loader.store().models_dir
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _on_menus_about_triggered(self) -> None:
        dialog = AboutDialog(self._paths, parent=self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_message_bar_action_triggered(self) -> None:
        self.message_bar.hide()

    async def _restart_engine(self) -> None:
        """Restart the worker and load the model again; report the outcome to the chat pane."""
        try:
            await self.model_loader.restart()
        except EngineError as exc:
            log.warning("Restarting the engine failed: %s", exc)
            self.chat_pane.restart_finished(exc)
            return
        self.chat_pane.restart_finished(None)
