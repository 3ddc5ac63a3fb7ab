"""Advice in a pane: when the loaded model is the wrong kind or too small for the pane's
work, name a catalog model that fits this computer and does better.

:class:`ModelAdvice` reads the catalog and the hardware, asks its ``pick`` which entry
to suggest (the engine's rule for the pane's task), and says so in a quiet banner whose
button opens the model manager. :class:`CodeModelAdvice` suggests a code model in place
of a general chat model; :class:`SummaryModelAdvice` a larger model in place of one whose
summaries lose most of a document.

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

log = logging.getLogger("desktop.advice")


class ModelAdvice(QObject):
    """The banner that suggests a better model for a pane's work, and what it suggests.

    Args:
        hardware: how to learn this computer's hardware; None gives no advice.
        parent: the widget the banner is shown in.

    Signals:
        models_requested: the user clicked the banner's button (to get the model).
    """

    models_requested = Signal()

    def __init__(self, hardware: Callable[[], Awaitable[Hardware]] | None, parent: QWidget) -> None:
        super().__init__(parent)
        self._hardware = hardware
        self._entry: CatalogEntry | None = None
        self._model: ModelInfo | None = None
        self._parent = parent
        self.bar = MessageBar(parent)
        self.bar.action_triggered.connect(self._on_bar_action_triggered)

    @property
    def entry(self) -> CatalogEntry | None:
        """The model suggested for this computer (None: no advice shown)."""
        return self._entry

    async def advise(self, model: ModelInfo) -> None:
        """Suggest a model in place of ``model``, if one fits and does better."""
        if self._hardware is None:
            return
        from engine.models.catalog import load_catalog

        try:
            hardware = await self._hardware()
            entries = await asyncio.to_thread(load_catalog)
        except (EngineError, OSError) as exc:
            log.warning("No model advice: %s", exc)
            return
        self._model = model
        self._entry = self.pick(model, entries, hardware)
        self._show()

    def forget(self) -> None:
        """No model is loaded: no advice."""
        self._entry = self._model = None
        self.bar.hide()

    def pick(
        self, model: ModelInfo, entries: list[CatalogEntry], hardware: Hardware
    ) -> CatalogEntry | None:
        """The entry to suggest in place of ``model`` (None: ``model`` does well enough)."""
        raise NotImplementedError

    def text(self, entry: CatalogEntry, model: ModelInfo) -> str:
        """What the banner says when it suggests ``entry``."""
        raise NotImplementedError

    def retranslate_ui(self) -> None:
        """Say the advice shown again, in the new language."""
        if self.bar.isVisibleTo(self._parent):
            self._show()

    def _show(self) -> None:
        entry, model = self._entry, self._model
        if entry is None or model is None:
            self.bar.hide()
            return
        self.bar.show_message(
            self.text(entry, model), action=self.tr("Open the model ma&nager…"), error=False
        )

    def _on_bar_action_triggered(self) -> None:
        self.models_requested.emit()


class CodeModelAdvice(ModelAdvice):
    """Suggests a code model when the loaded model is a general chat model."""

    def pick(
        self, model: ModelInfo, entries: list[CatalogEntry], hardware: Hardware
    ) -> CatalogEntry | None:
        """A code model that fits (``engine.tasks.code.code_model_advice``)."""
        from engine.tasks.code import code_model_advice

        return code_model_advice(model, entries, hardware, model.n_ctx)

    def text(self, entry: CatalogEntry, model: ModelInfo) -> str:
        """Names the code model."""
        return self.tr(
            "The loaded model is a general chat model. For code, {name} fits this computer "
            "and does better."
        ).format(name=entry.name)


class SummaryModelAdvice(ModelAdvice):
    """Suggests a larger model when the loaded one is too small to summarize well."""

    def pick(
        self, model: ModelInfo, entries: list[CatalogEntry], hardware: Hardware
    ) -> CatalogEntry | None:
        """A model that fits (``engine.tasks.advice.summary_model_advice``)."""
        from engine.tasks.advice import summary_model_advice

        return summary_model_advice(model.parameters, entries, hardware, model.n_ctx)

    def text(self, entry: CatalogEntry, model: ModelInfo) -> str:
        """Says why, and names the larger model."""
        return self.tr(
            "The loaded model ({size}) is small for summaries: they keep about a third of "
            "a document's facts. {name} fits this computer and summarizes better."
        ).format(size=_size(model.parameters), name=entry.name)


def _size(parameters: int) -> str:
    """A parameter count as people write it: 494M, 1.5B."""
    if parameters >= 1e9:
        return f"{parameters / 1e9:.1f}B"
    return f"{parameters / 1e6:.0f}M"


__all__ = ["CodeModelAdvice", "ModelAdvice", "SummaryModelAdvice"]
