"""The part of the Chat options that belongs to the loaded model: what it sets, save, reset.

Thread: the Qt thread.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.data.model_settings import ALL_KEYS
from engine.runtime.model_defaults import ModelDefaults


class ModelSettingsBox(QGroupBox):
    """Says which settings the loaded model has of its own, with Save and Reset.

    Signals:
        save_requested(): keep the values shown now as this model's own.
        reset_requested(): forget this model's own values: it follows the defaults.
    """

    save_requested = Signal()
    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._name = ""
        self._defaults: ModelDefaults | None = None
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.save_button = QPushButton(self)
        self.save_button.clicked.connect(self.save_requested)
        self.reset_button = QPushButton(self)
        self.reset_button.clicked.connect(self.reset_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addLayout(buttons)
        self.retranslate_ui()
        self.set_model("", None)

    def retranslate_ui(self) -> None:
        """Set every visible text in the current language."""
        self.setTitle(self.tr("This model"))
        self.save_button.setText(self.tr("Save for this model"))
        self.save_button.setAccessibleName(self.tr("Save the settings for this model"))
        self.save_button.setToolTip(
            self.tr(
                "Keep the sampling values and the system prompt shown here for this model: "
                "they come back whenever it is loaded"
            )
        )
        self.reset_button.setText(self.tr("Reset to defaults"))
        self.reset_button.setAccessibleName(self.tr("Reset this model's settings to defaults"))
        self.reset_button.setToolTip(
            self.tr("Forget this model's own settings: it uses the defaults again")
        )
        self._show()

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the application's language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    def set_model(self, name: str, defaults: ModelDefaults | None) -> None:
        """Show what applies to the model ``name`` (None: no local model is loaded)."""
        self._name = name
        self._defaults = defaults
        self._show()

    def source_text(self, key: str) -> str:
        """Where the value of ``key`` comes from, for a tooltip ("" for the default)."""
        if self._defaults is None:
            return ""
        source = self._defaults.source(key)
        if source == "model":
            return self.tr("This model's own value")
        if source == "gguf":
            return self.tr("Recommended by the model's publisher")
        return ""

    def _show(self) -> None:
        defaults = self._defaults
        self.setEnabled(defaults is not None)
        if defaults is None:
            self.summary_label.setText(self.tr("Load a model to give it its own settings."))
            self.reset_button.setEnabled(False)
            return
        own = [key for key in ALL_KEYS if defaults.source(key) == "model"]
        recommended = [key for key in ALL_KEYS if defaults.source(key) == "gguf"]
        names = {
            "context_size": self.tr("context size"),
            "gpu_offload": self.tr("GPU offload"),
            "threads": self.tr("threads"),
            "backend": self.tr("backend"),
            "temperature": self.tr("temperature"),
            "top_p": self.tr("top-p"),
            "top_k": self.tr("top-k"),
            "min_p": self.tr("min-p"),
            "repeat_penalty": self.tr("repeat penalty"),
            "max_tokens": self.tr("max tokens"),
            "system_prompt": self.tr("system prompt"),
            "thinking": self.tr("thinking"),
            "chat_template": self.tr("chat template"),
        }
        lines = []
        if own:
            lines.append(
                self.tr("{model} has its own {names} (marked ●).").format(
                    model=self._name, names=", ".join(names[k] for k in own)
                )
            )
        else:
            lines.append(self.tr("{model} uses the default settings.").format(model=self._name))
        if recommended:
            lines.append(
                self.tr("Its publisher recommends the {names} shown (marked ○).").format(
                    names=", ".join(names[k] for k in recommended)
                )
            )
        self.summary_label.setText("\n".join(lines))
        self.reset_button.setEnabled(bool(own))


__all__ = ["ModelSettingsBox"]
