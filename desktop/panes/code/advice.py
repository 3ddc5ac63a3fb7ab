"""Advice for the Code pane: when the loaded model is a general chat model, name a code model.

:class:`CodeModelAdvice` asks ``engine.tasks.code.code_model_advice`` whether a code
model from the catalog fits this computer and would do better than the model loaded,
and says so in a quiet banner whose button opens the model manager.

Thread: the Qt thread; the catalog is read in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop.widgets import MessageBar
from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.models.catalog import CatalogEntry
    from engine.models.hardware import Hardware
    from engine.types import ModelInfo

log = logging.getLogger("desktop.code")


class CodeModelAdvice(QObject):
    """The banner that suggests a code model, and what it suggests.

    Args:
        hardware: how to learn this computer's hardware; None gives no advice.
        parent: the widget the banner is shown in.

    Signals:
        models_requested: the user clicked the banner's button (to get the code model).
    """

    models_requested = Signal()

    def __init__(self, hardware: Callable[[], Awaitable[Hardware]] | None, parent: QWidget) -> None:
        super().__init__(parent)
        self._hardware = hardware
        self._entry: CatalogEntry | None = None
        self._parent = parent
        self.bar = MessageBar(parent)
        self.bar.action_triggered.connect(self._on_bar_action_triggered)

    @property
    def entry(self) -> CatalogEntry | None:
        """The code model suggested for this computer (None: no advice shown)."""
        return self._entry

    async def advise(self, model: ModelInfo) -> None:
        """Suggest a code model in place of ``model``, if one fits and does better."""
        if self._hardware is None:
            return
        from engine.models.catalog import load_catalog
        from engine.tasks.code import code_model_advice

        try:
            hardware = await self._hardware()
            entries = await asyncio.to_thread(load_catalog)
        except (EngineError, OSError) as exc:
            log.warning("No code model advice: %s", exc)
            return
        self._entry = code_model_advice(model, entries, hardware, model.n_ctx)
        self._show()

    def retranslate_ui(self) -> None:
        """Say the advice shown again, in the new language."""
        if self.bar.isVisibleTo(self._parent):
            self._show()

    def _show(self) -> None:
        entry = self._entry
        if entry is None:
            self.bar.hide()
            return
        self.bar.show_message(
            self.tr(
                "The loaded model is a general chat model. For code, {name} fits this computer "
                "and does better."
            ).format(name=entry.name),
            action=self.tr("Open the model ma&nager…"),
            error=False,
        )

    def _on_bar_action_triggered(self) -> None:
        self.models_requested.emit()


__all__ = ["CodeModelAdvice"]
