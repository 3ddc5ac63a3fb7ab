"""Keeps the Chat pane showing the loaded model's own settings, and stores what the user
changes in them (engine.data.model_settings).

Thread: the Qt thread; the settings file and the model's header are read on worker threads.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.widgets import BackgroundTasks
from desktop.window.statusbar.model import short_name
from engine.data.model_settings import LOAD_KEYS, ModelSettingsStore
from engine.errors import UsageError
from engine.runtime.model_defaults import ModelDefaults, model_defaults
from engine.runtime.remote import REMOTE_BACKEND

if TYPE_CHECKING:
    from desktop.panes.chat import ChatPane
    from engine.data.config import Paths
    from engine.types import ModelInfo

log = logging.getLogger("desktop.window")

#: Settings that only take effect when the model is loaded again.
RELOAD_KEYS = (*LOAD_KEYS, "chat_template")


class ModelSettingsHost(QObject):
    """Shows each loaded model's own settings in the Chat options and stores changes.

    Args:
        paths: Hearth's folders (the settings file is in the config folder).
        chat_pane: the pane whose options panel and thinking switch follow the model.
        parent: the main window.

    Signals:
        reload_needed(str): a change applies only once the model with this id is loaded
            again (its context size, say).
        save_failed(str): the change could not be stored; the reason, for the user.
    """

    reload_needed = Signal(str)
    save_failed = Signal(str)

    def __init__(self, paths: Paths, chat_pane: ChatPane, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._paths = paths
        self._pane = chat_pane
        self._store = ModelSettingsStore.for_paths(paths)
        self._tasks = BackgroundTasks()
        self._model: ModelInfo | None = None
        chat_pane.options_panel.model_settings_changed.connect(
            self._on_options_panel_model_settings_changed
        )

    def shutdown(self) -> None:
        """Stop (the window is closing)."""
        self._tasks.cancel_all()

    @property
    def busy(self) -> bool:
        """Whether a read or a write is under way."""
        return len(self._tasks) > 0

    def model_loaded(self, info: ModelInfo) -> None:
        """Show what applies to the model just loaded."""
        self._model = info
        self._tasks.start(self._show(info), name="window-model-settings")

    async def _show(self, info: ModelInfo) -> None:
        defaults: ModelDefaults | None = None
        if info.path and info.backend != REMOTE_BACKEND:
            defaults = await asyncio.to_thread(model_defaults, self._paths, info.path)
        if self._model is not info:
            return  # another model was loaded meanwhile
        self._pane.options_panel.set_model(short_name(info.model_id), defaults)
        if defaults is not None and defaults.settings.thinking is not None:
            self._pane.think_check.setChecked(defaults.settings.thinking)

    def _on_options_panel_model_settings_changed(self, changes: dict[str, object]) -> None:
        info = self._model
        if info is None or not info.path:
            return
        self._tasks.start(self._save(info, changes), name="window-save-model-settings")

    async def _save(self, info: ModelInfo, changes: dict[str, object]) -> None:
        before = self._pane.options_panel.model_defaults().settings
        try:
            await asyncio.to_thread(self._store.update, info.path, name=info.model_id, **changes)
        except (OSError, UsageError) as exc:
            log.warning("Could not store the settings of %s: %s", info.model_id, exc)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.save_failed.emit(reason)
            return
        if any(k in changes and getattr(before, k) != changes[k] for k in RELOAD_KEYS):
            self.reload_needed.emit(info.model_id)
        if self._model is info:
            await self._show(info)


__all__ = ["ModelSettingsHost"]
