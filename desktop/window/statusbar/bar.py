"""The main window's status bar: the backend plan, the model, speed, context, memory,
downloads, and the API server."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QStatusBar, QWidget

from desktop.window.statusbar.api import ApiStatusButton
from desktop.window.statusbar.context import ContextMeter
from desktop.window.statusbar.downloads import DownloadMeter
from desktop.window.statusbar.memory import MemoryLabel
from desktop.window.statusbar.model import ModelLabel
from desktop.window.statusbar.plan import PlanLabel
from desktop.window.statusbar.speed import SpeedLabel
from engine.types import ModelInfo


class StatusBar(QStatusBar):
    """The status bar: each item is a widget of its own, kept here as an attribute.

    Args:
        worker_pid: gives the engine process's id (for the memory figure).
        parent: the main window.
    """

    def __init__(self, worker_pid: Callable[[], int | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = PlanLabel(self)
        self.model = ModelLabel(self)
        self.speed = SpeedLabel(self)
        self.context = ContextMeter(self)
        self.memory = MemoryLabel(worker_pid, self)
        self.downloads = DownloadMeter(self)
        self.api = ApiStatusButton(self)
        self.addWidget(self.plan, 1)
        for item in (self.model, self.speed, self.context, self.memory, self.downloads, self.api):
            self.addPermanentWidget(item)

    @property
    def busy(self) -> bool:
        """Whether an item still has background work running."""
        return self.memory.busy

    def show_model(self, info: ModelInfo | None) -> None:
        """Show the loaded model and its plan; None: that no model is loaded."""
        if info is None:
            self.plan.show_no_model_loaded()
        else:
            self.plan.show_plan(info.plan_notice, info.warning_notices)
        self.model.show_model(info)
        self.context.show_context(info.n_ctx if info is not None else None)

    def shutdown(self) -> None:
        """Stop the items' background work (the window is closing)."""
        self.memory.shutdown()
