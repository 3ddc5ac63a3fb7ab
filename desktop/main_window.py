"""The main window: the pane sidebar, the model picker, and the status bar.

Thread: the Qt thread. Disk reads (the models folder, settings) run in worker
threads through ``asyncio.to_thread``; the model loads in the engine process.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QProgressBar,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop.chat_pane import ChatPane
from desktop.widgets import BackgroundTasks, MessageBar
from engine.client import EngineClient
from engine.config import Paths, load_settings, update_settings
from engine.errors import EngineError
from engine.store import ModelStore
from engine.types import GenerationResult, ModelInfo

log = logging.getLogger("desktop.window")

#: File (in Hearth's config folder) for purely visual state such as the window geometry.
UI_STATE_FILE = "window-state.ini"


def _short_name(model_id: str) -> str:
    """The file part of a store id (``publisher/repo/file``), or the file name of a path."""
    return model_id.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".gguf")


class MainWindow(QMainWindow):
    """Hearth's main window.

    Args:
        client: the app's one engine client (the window does not own or close it).
        paths: Hearth's folders (models, settings, window state).
        parent: the parent widget.

    Call :meth:`start` after ``show()``: it lists the installed models and loads one
    in the background, so the window appears before any model is loaded.

    Signals:
        model_loaded(object): a model finished loading (its :class:`ModelInfo`).
        model_load_failed(str): loading a model failed; the argument is the reason.
    """

    model_loaded = Signal(object)
    model_load_failed = Signal(str)

    def __init__(self, client: EngineClient, paths: Paths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._paths = paths
        self._tasks = BackgroundTasks()
        self._loading = False
        self._ui_state = QSettings(
            str(paths.config_dir / UI_STATE_FILE), QSettings.Format.IniFormat
        )
        self.setWindowTitle(self.tr("Hearth"))

        # Model picker, in a fixed tool bar.
        toolbar = QToolBar(self.tr("Model"), self)
        toolbar.setObjectName("modelToolBar")
        toolbar.setMovable(False)
        toolbar.setFloatable(False)
        toolbar.toggleViewAction().setEnabled(False)
        model_label = QLabel(self.tr("Model:"), toolbar)
        self.model_combo = QComboBox(toolbar)
        self.model_combo.setAccessibleName(self.tr("Model"))
        self.model_combo.setToolTip(self.tr("The model that answers"))
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.setMinimumContentsLength(24)
        self.model_combo.setEnabled(False)
        self.model_combo.activated.connect(self._on_model_combo_activated)
        model_label.setBuddy(self.model_combo)
        toolbar.addWidget(model_label)
        toolbar.addWidget(self.model_combo)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)

        quit_action = QAction(self.tr("Quit"), self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        quit_action.triggered.connect(self._on_quit_action_triggered)
        self.addAction(quit_action)

        # Sidebar and panes.
        self.sidebar = QListWidget(self)
        self.sidebar.setAccessibleName(self.tr("Panes"))
        self.sidebar.addItems([self.tr("Chat"), self.tr("Summarize"), self.tr("Code")])
        self.sidebar.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.sidebar.setFixedWidth(self.fontMetrics().horizontalAdvance("M") * 11)
        self.chat_pane = ChatPane(client, parent=self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.chat_pane)
        self.stack.addWidget(
            self._placeholder(self.tr("Summarize"), self.tr("Summarizing documents"))
        )
        self.stack.addWidget(self._placeholder(self.tr("Code"), self.tr("The code assistant")))
        self.sidebar.currentRowChanged.connect(self._on_sidebar_current_row_changed)
        self.sidebar.setCurrentRow(0)

        self.message_bar = MessageBar(self)
        self.message_bar.action_triggered.connect(self._on_message_bar_action_triggered)
        body = QHBoxLayout()
        body.addWidget(self.sidebar)
        body.addWidget(self.stack, 1)
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.addWidget(self.message_bar)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)

        # Status bar: backend plan, model, speed, context meter.
        self.plan_label = QLabel(self.tr("Starting the engine…"), self)
        self.plan_label.setAccessibleName(self.tr("Backend"))
        self.model_label = QLabel(self)
        self.model_label.setAccessibleName(self.tr("Loaded model"))
        self.speed_label = QLabel(self)
        self.speed_label.setAccessibleName(self.tr("Speed of the last answer"))
        self.context_meter = QProgressBar(self)
        self.context_meter.setAccessibleName(self.tr("Context used"))
        self.context_meter.setRange(0, 1)
        self.context_meter.setValue(0)
        self.context_meter.setFormat(self.tr("%v / %m tokens"))
        self.context_meter.setToolTip(self.tr("How much of the model's context the chat uses"))
        self.context_meter.setMinimumWidth(self.fontMetrics().horizontalAdvance("M") * 12)
        self.context_meter.setVisible(False)
        status = self.statusBar()
        status.addWidget(self.plan_label, 1)
        status.addPermanentWidget(self.model_label)
        status.addPermanentWidget(self.speed_label)
        status.addPermanentWidget(self.context_meter)

        self.chat_pane.generation_started.connect(self._on_chat_generation_started)
        self.chat_pane.generation_ended.connect(self._on_chat_generation_ended)
        self.chat_pane.answer_finished.connect(self._on_chat_answer_finished)
        self.chat_pane.context_counted.connect(self._on_chat_context_counted)
        self.chat_pane.chat_cleared.connect(self._on_chat_chat_cleared)
        self.chat_pane.restart_requested.connect(self._on_chat_restart_requested)

        self._restore_geometry()
        self.chat_pane.input.setFocus()

    def _placeholder(self, title: str, what: str) -> QWidget:
        page = QWidget(self)
        heading = QLabel(title, page)
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        heading.setFont(font)
        text = QLabel(
            self.tr("{what} arrives in a later version of Hearth.").format(what=what), page
        )
        text.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(heading)
        layout.addWidget(text)
        layout.addStretch(1)
        return page

    # -- geometry ----------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry = self._ui_state.value("main_window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            # First run: about 100 characters wide, within three quarters of the screen.
            width = self.fontMetrics().horizontalAdvance("M") * 100
            height = width * 5 // 8
            screen = self.screen()
            if screen is not None:
                available = screen.availableGeometry()
                width = min(width, available.width() * 3 // 4)
                height = min(height, available.height() * 3 // 4)
            self.resize(width, height)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the window's geometry."""
        self._ui_state.setValue("main_window/geometry", self.saveGeometry())
        self._ui_state.sync()
        self._tasks.cancel_all()
        self.chat_pane.shutdown()
        super().closeEvent(event)

    @property
    def loading(self) -> bool:
        """Whether a model is being loaded."""
        return self._loading

    @property
    def busy(self) -> bool:
        """Whether the window or its panes still have background work running."""
        return len(self._tasks) > 0 or self.chat_pane.busy

    # -- models ------------------------------------------------------------------------

    def start(self) -> None:
        """List the installed models and load the last one used (or the starter model)."""
        self._tasks.start(self._start(), name="window-start")

    async def _start(self) -> None:
        store = ModelStore(self._paths)
        models, settings = await asyncio.gather(
            asyncio.to_thread(store.list), asyncio.to_thread(load_settings, self._paths)
        )
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
                ).format(folder=str(self._paths.models_dir))
            )
            return
        ids = [m.id for m in models]
        usable = [m.id for m in models if m.error is None] or ids
        wanted = settings.last_model if settings.last_model in usable else usable[0]
        self._select_model(wanted)
        await self._load_and_report(wanted)

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
        self.chat_pane.set_model_ready(False)
        self.message_bar.hide()
        self.plan_label.setText(self.tr("Loading {name}…").format(name=_short_name(model_id)))
        try:
            settings = await asyncio.to_thread(load_settings, self._paths)
            info = await self._client.load(
                model_id, gpu_offload=settings.gpu_offload, backend=settings.backend
            )
        finally:
            self._loading = False
            previous = self._client.model
            self._select_model(previous.model_id if previous else None)
            self._show_model(previous)
            self.model_combo.setEnabled(not self.chat_pane.generating)
            self.chat_pane.set_model_ready(previous is not None)
        log.info("Loaded %s in %.2f s: %s", info.model_id, info.load_s, info.plan_reason)
        self.model_loaded.emit(info)
        if info.warnings:
            self.message_bar.show_message("\n".join(info.warnings), error=False)
        await asyncio.to_thread(update_settings, self._paths, last_model=info.model_id)
        await self.chat_pane.count_context()
        return info

    def _show_model(self, info: ModelInfo | None) -> None:
        if info is None:
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

    # -- chat pane ---------------------------------------------------------------------

    def _on_sidebar_current_row_changed(self, row: int) -> None:
        if row >= 0:
            self.stack.setCurrentIndex(row)

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
        self.context_meter.setFormat(
            self.tr("{used} / {n_ctx} tokens").format(used=used, n_ctx=n_ctx)
        )
        self.context_meter.setVisible(True)

    def _on_chat_chat_cleared(self) -> None:
        self._tasks.start(self.chat_pane.count_context(), name="window-count-context")

    def _on_chat_restart_requested(self) -> None:
        self._tasks.start(self._restart_engine(), name="window-restart-engine")

    def _on_quit_action_triggered(self) -> None:
        self.close()

    def _on_message_bar_action_triggered(self) -> None:
        self.message_bar.hide()

    async def _restart_engine(self) -> None:
        """Restart the worker and load the model again; report the outcome to the chat pane."""
        model_id = self.model_combo.currentData()
        self.plan_label.setText(self.tr("Restarting the engine…"))
        self.chat_pane.set_model_ready(False)
        try:
            info = await self._client.restart()
            if info is not None:
                self._show_model(info)
                self.chat_pane.set_model_ready(True)
            elif model_id:
                await self._load(model_id)
            else:
                self._show_model(None)
        except EngineError as exc:
            log.warning("Restarting the engine failed: %s", exc)
            self.chat_pane.restart_finished(exc)
            return
        self.chat_pane.restart_finished(None)
