"""Loading models: the installed ones listed in the picker, the chosen one loaded in the engine.

Thread: the Qt thread; the models folder is listed on a worker thread and the model
loads in the engine process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop.widgets import BackgroundTasks
from desktop.window.model_picker import ModelPicker
from desktop.window.statusbar import StatusBar
from desktop.window.statusbar.model import short_name
from engine.data.config import Paths, Settings
from engine.data.remote_key import read_remote_key
from engine.errors import EngineError, RemoteError
from engine.models.store import ModelStore
from engine.runtime.client import EngineClient
from engine.runtime.remote import (
    NetworkPolicy,
    RemoteEndpoint,
    RemoteModel,
    check_allowed,
    is_remote_id,
    list_models,
    remote_name,
)
from engine.types import ModelInfo

log = logging.getLogger("desktop.window")


class ModelLoader(QObject):
    """Keeps the model picker, the status bar and the engine's model in step.

    Args:
        client: the app's engine client.
        paths: Hearth's folders.
        settings: gives the settings in effect (the models folder, the load options).
        picker: the model picker, filled from the models folder; choosing in it loads.
        status_bar: shows the load under way, then the plan of the loaded model.
        generating: whether an answer is streaming (the picker stays locked meanwhile).
        parent: the main window.

    Signals:
        readiness_changed(bool): whether a loaded model can answer now.
        loading_started: a load began (what the last load said no longer holds).
        model_loaded(object): a model finished loading (its :class:`ModelInfo`).
        load_failed(str, str): loading the model (first) failed for the reason (second);
            the previous model stays loaded.
        nothing_installed(str): the models folder (the argument) holds no model (and
            no remote endpoint offers one).
        remote_failed(str): the remote endpoint in Settings could not be listed (why);
            the installed models are offered all the same.
    """

    readiness_changed = Signal(bool)
    loading_started = Signal()
    model_loaded = Signal(object)
    load_failed = Signal(str, str)
    nothing_installed = Signal(str)
    remote_failed = Signal(str)

    def __init__(
        self,
        client: EngineClient,
        paths: Paths,
        settings: Callable[[], Settings],
        picker: ModelPicker,
        status_bar: StatusBar,
        generating: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self._paths = paths
        self._settings = settings
        self._picker = picker
        self._status_bar = status_bar
        self._generating = generating
        self._tasks = BackgroundTasks()
        self._loading = False
        #: The remote endpoint's key as kept (read off the Qt thread when models are listed).
        self.remote_key = ""
        picker.model_chosen.connect(self._on_picker_model_chosen)

    @property
    def loading(self) -> bool:
        """Whether a model is being loaded."""
        return self._loading

    @property
    def busy(self) -> bool:
        """Whether a load started from the picker is still running."""
        return len(self._tasks) > 0

    def shutdown(self) -> None:
        """Stop the loads started from the picker (the window is closing)."""
        self._tasks.cancel_all()

    def store(self) -> ModelStore:
        """The models folder in effect (the settings' one, else Hearth's own)."""
        folder = self._settings().models_dir.strip()
        return ModelStore(self._paths, Path(folder).expanduser() if folder else None)

    def policy(self) -> NetworkPolicy:
        """What offline mode allows a remote endpoint, from the settings in effect."""
        settings = self._settings()
        return NetworkPolicy(offline=settings.offline, allow_lan=settings.remote_allow_lan)

    async def endpoint(self) -> RemoteEndpoint | None:
        """The remote endpoint in Settings, with its kept key (None: none is set).

        Raises:
            UsageError: the address in Settings is not one.
        """
        url = self._settings().remote_url.strip()
        self.remote_key = await asyncio.to_thread(read_remote_key, self._paths)
        return RemoteEndpoint.parse(url, self.remote_key) if url else None

    async def _remote_models(self) -> list[RemoteModel]:
        """The remote endpoint's models; [] when there is none or it cannot be listed
        (:attr:`remote_failed` says why)."""
        try:
            endpoint = await self.endpoint()
            if endpoint is None:
                self._picker.set_remote([], "")
                return []
            models = await list_models(endpoint, self.policy())
        except EngineError as exc:
            log.warning("Listing the remote endpoint's models failed: %s", exc)
            self._picker.set_remote([], "")
            self.remote_failed.emit(str(exc))
            return []
        self._picker.set_remote(models, endpoint.host)
        return models

    async def list_models(self) -> list[str]:
        """Fill the model picker from the models folder and the remote endpoint; returns
        the ids of the models found that can be loaded (installed ones first)."""
        store = self.store()
        models = await self._picker.reload(store)
        remote = await self._remote_models()
        if not models and not remote:
            self._status_bar.plan.show_no_model_installed()
            self.nothing_installed.emit(str(store.models_dir))
            return []
        current = self._client.model
        self._picker.select(current.model_id if current is not None else None)
        usable = [m.id for m in models if m.error is None] or [m.id for m in models]
        return usable + [m.model_id for m in remote]

    async def list_and_load(self) -> None:
        """List the models; load the last one used (else the first usable one) unless a
        listed model is loaded already."""
        usable = await self.list_models()
        if not usable:
            return
        ids = usable
        current = self._client.model
        if current is not None and current.model_id in ids:
            self._picker.select(current.model_id)
            return
        last = self._settings().last_model
        wanted = last if last in usable else usable[0]
        self._picker.select(wanted)
        await self.load_and_report(wanted)

    async def list_then_load(self, model_id: str) -> None:
        """List the models (one was just added), then load ``model_id`` unless it is loaded."""
        await self.list_models()
        current = self._client.model
        if current is None or current.model_id != model_id:
            self._picker.select(model_id)
            await self.load_and_report(model_id)

    def _on_picker_model_chosen(self, model_id: str) -> None:
        current = self._client.model
        if current is not None and current.model_id == model_id:
            return
        self._tasks.start(self.load_and_report(model_id), name="window-load-model")

    async def load_and_report(self, model_id: str) -> None:
        """Load ``model_id``; on failure emit :attr:`load_failed` and keep the previous model."""
        try:
            await self.load(model_id)
        except EngineError as exc:
            log.warning("Loading %s failed: %s", model_id, exc)
            self.load_failed.emit(model_id, str(exc))

    async def load(self, model_id: str) -> ModelInfo:
        """Load a model, keeping the window usable meanwhile.

        Raises:
            EngineError: the model could not be loaded (the previous one stays).
        """
        self._loading = True
        self._picker.set_choosable(False)
        self.readiness_changed.emit(False)
        self.loading_started.emit()
        self._status_bar.plan.show_loading(short_name(model_id))
        try:
            if is_remote_id(model_id):
                info = await self._load_remote(model_id)
            else:
                # The saved settings apply under the model's own (the engine reads both:
                # engine.runtime.loading.plan_load), so none is passed as this load's.
                info = await self._client.load(model_id)
        finally:
            self._loading = False
            self._show_current()
        log.info("Loaded %s in %.2f s: %s", info.model_id, info.load_s, info.plan_reason)
        self.model_loaded.emit(info)
        return info

    async def _load_remote(self, model_id: str) -> ModelInfo:
        """Use the remote model ``model_id`` of the endpoint in Settings.

        Raises:
            EngineError: no endpoint is set, or it cannot be used (RemoteError says why).
        """
        endpoint = await self.endpoint()
        if endpoint is None:
            raise RemoteError("No remote endpoint is set: add one in Settings › Remote endpoint.")
        return await self._client.load_remote(endpoint, remote_name(model_id), policy=self.policy())

    async def drop_forbidden_remote(self) -> None:
        """Stop using the remote model when the settings no longer allow its endpoint
        (offline mode turned on, say); the picker and the status bar say none is loaded."""
        endpoint = self._client.remote
        if endpoint is None:
            return
        try:
            await check_allowed(endpoint, self.policy())
        except EngineError as exc:
            log.info("Leaving the remote model: %s", exc)
            model = self._client.model
            await self._client.unload()
            self._show_current()
            self.load_failed.emit(model.model_id if model else "", str(exc))

    def _show_current(self) -> None:
        """Show the model the engine has now (a failed load leaves the previous one)."""
        current = self._client.model
        self._picker.select(current.model_id if current else None)
        self._status_bar.show_model(current)
        self._picker.set_choosable(not self._generating())
        self.readiness_changed.emit(current is not None)

    async def restart(self) -> None:
        """Restart the engine's worker and load the model again.

        Raises:
            EngineError: the engine could not be restarted or the model not loaded.
        """
        model_id = self._picker.current_model_id()
        self._status_bar.plan.show_restarting()
        self.readiness_changed.emit(False)
        info = await self._client.restart()
        if info is None and model_id:
            await self.load(model_id)
            return
        self._status_bar.show_model(info)
        self.readiness_changed.emit(info is not None)
