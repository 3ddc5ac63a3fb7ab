"""The part of the Chat options that belongs to the loaded model: what it sets, save, reset.

Thread: the Qt thread.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.data.config import MAX_CONTEXT_SIZE, MIN_CONTEXT_SIZE, max_threads
from engine.data.model_settings import ALL_KEYS, KNOWN_TEMPLATE_FORMATS
from engine.runtime.model_defaults import ModelDefaults


class ModelSettingsBox(QGroupBox):
    """Says which settings the loaded model has of its own, with Save and Reset.

    Signals:
        save_requested(): keep the values shown now as this model's own.
        reset_requested(): forget this model's own values: it follows the defaults.
        load_settings_changed(object): the user chose this model's context size or chat
            template; a dict of per-model setting -> value (None: the default). They
            apply when the model is loaded again.
    """

    save_requested = Signal()
    reset_requested = Signal()
    load_settings_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._name = ""
        self._defaults: ModelDefaults | None = None
        self._updating = False
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.context_label = QLabel(self)
        self.context_spin = QSpinBox(self)
        # 0 shows as "Default": the global setting, else what the plan chooses.
        self.context_spin.setRange(0, MAX_CONTEXT_SIZE)
        self.context_spin.setSingleStep(1024)
        self.context_spin.setKeyboardTracking(False)
        self.context_spin.editingFinished.connect(self._on_context_spin_editing_finished)
        self.context_label.setBuddy(self.context_spin)
        self.template_label = QLabel(self)
        self.template_combo = QComboBox(self)
        self.template_combo.activated.connect(self._on_template_combo_activated)
        self.template_label.setBuddy(self.template_combo)
        self.offload_label = QLabel(self)
        self.offload_combo = QComboBox(self)
        self.offload_combo.activated.connect(self._on_offload_combo_activated)
        self.offload_label.setBuddy(self.offload_combo)
        self.threads_label = QLabel(self)
        self.threads_spin = QSpinBox(self)
        self.threads_spin.setRange(0, max_threads())  # 0 shows as "Default"
        self.threads_spin.setKeyboardTracking(False)
        self.threads_spin.editingFinished.connect(self._on_threads_spin_editing_finished)
        self.threads_label.setBuddy(self.threads_spin)
        self.backend_label = QLabel(self)
        self.backend_combo = QComboBox(self)
        self.backend_combo.activated.connect(self._on_backend_combo_activated)
        self.backend_label.setBuddy(self.backend_combo)
        form = QFormLayout()
        form.addRow(self.context_label, self.context_spin)
        form.addRow(self.template_label, self.template_combo)
        form.addRow(self.offload_label, self.offload_combo)
        form.addRow(self.threads_label, self.threads_spin)
        form.addRow(self.backend_label, self.backend_combo)
        self.save_button = QPushButton(self)
        self.save_button.clicked.connect(self.save_requested)
        self.reset_button = QPushButton(self)
        self.reset_button.clicked.connect(self.reset_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addLayout(form)
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
        self.context_label.setText(self.tr("Conte&xt size:"))
        self.context_spin.setAccessibleName(self.tr("This model's context size"))
        self.context_spin.setToolTip(
            self.tr(
                "How many tokens of conversation this model keeps in mind. Default uses "
                "the size in Settings. The model is loaded again to apply it."
            )
        )
        self.context_spin.setSpecialValueText(self.tr("Default"))
        self.context_spin.setSuffix(self.tr(" tokens"))
        self.template_label.setText(self.tr("Chat &template:"))
        self.template_combo.setAccessibleName(self.tr("This model's chat template"))
        self.template_combo.setToolTip(
            self.tr(
                "How the conversation is written for the model. Keep the model's own "
                "unless its answers come out garbled or never stop."
            )
        )
        self.offload_label.setText(self.tr("&GPU offload:"))
        self.offload_combo.setAccessibleName(self.tr("This model's GPU offload"))
        self.offload_combo.setToolTip(
            self.tr("How much of this model runs on the GPU. Default uses Settings.")
        )
        self.threads_label.setText(self.tr("T&hreads:"))
        self.threads_spin.setAccessibleName(self.tr("This model's threads"))
        self.threads_spin.setToolTip(
            self.tr("CPU threads for this model. Default uses Settings, then this computer.")
        )
        self.threads_spin.setSpecialValueText(self.tr("Default"))
        self.backend_label.setText(self.tr("&Backend:"))
        self.backend_combo.setAccessibleName(self.tr("This model's backend"))
        self.backend_combo.setToolTip(
            self.tr("Which engine runs this model. Default uses Settings.")
        )
        self._fill_templates()
        self._show()

    def _fill_choices(self) -> None:
        """The GPU offload and backend choices, the model's own selected."""
        own = self._defaults.settings if self._defaults else None
        offload = own.gpu_offload if own else None
        offloads: list[tuple[str, str | None]] = [
            (self.tr("Default"), None),
            (self.tr("Automatic"), "auto"),
            (self.tr("Off (CPU only)"), "off"),
            (self.tr("All layers"), "-1"),
        ]
        if offload not in (None, "auto", "off", "-1"):
            offloads.append((self.tr("{count} layers").format(count=offload), offload))
        backends: list[tuple[str, str | None]] = [
            (self.tr("Default"), None),
            (self.tr("Automatic"), "auto"),
            ("llama.cpp", "llamacpp"),
            ("PyTorch", "torch"),
        ]
        for combo, items, chosen in (
            (self.offload_combo, offloads, offload),
            (self.backend_combo, backends, own.backend if own else None),
        ):
            combo.clear()
            for text, data in items:
                combo.addItem(text, data)
            combo.setCurrentIndex(max(combo.findData(chosen), 0))

    def _fill_templates(self) -> None:
        self._updating = True
        try:
            current = self.template_combo.currentData()
            self.template_combo.clear()
            self.template_combo.addItem(self.tr("The model's own"), None)
            for name in KNOWN_TEMPLATE_FORMATS:
                self.template_combo.addItem(name, name)
            chosen = self._defaults.settings.chat_template if self._defaults else None
            if chosen and chosen not in KNOWN_TEMPLATE_FORMATS:
                self.template_combo.addItem(chosen, chosen)
            self.template_combo.addItem(self.tr("From a file…"), "")
            index = self.template_combo.findData(chosen if self._defaults else current)
            self.template_combo.setCurrentIndex(max(index, 0))
        finally:
            self._updating = False

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

    def _on_context_spin_editing_finished(self) -> None:
        if self._updating or self._defaults is None:
            return
        value = self.context_spin.value()
        if 0 < value < MIN_CONTEXT_SIZE:
            value = MIN_CONTEXT_SIZE
            self.context_spin.setValue(value)
        wanted = value or None
        if wanted != self._defaults.settings.context_size:
            self.load_settings_changed.emit({"context_size": wanted})

    def _on_threads_spin_editing_finished(self) -> None:
        if self._updating or self._defaults is None:
            return
        wanted = self.threads_spin.value() or None
        if wanted != self._defaults.settings.threads:
            self.load_settings_changed.emit({"threads": wanted})

    def _on_offload_combo_activated(self, index: int) -> None:
        if self._updating or self._defaults is None:
            return
        wanted = self.offload_combo.itemData(index)
        if wanted != self._defaults.settings.gpu_offload:
            self.load_settings_changed.emit({"gpu_offload": wanted})

    def _on_backend_combo_activated(self, index: int) -> None:
        if self._updating or self._defaults is None:
            return
        wanted = self.backend_combo.itemData(index)
        if wanted != self._defaults.settings.backend:
            self.load_settings_changed.emit({"backend": wanted})

    def _on_template_combo_activated(self, index: int) -> None:
        if self._updating or self._defaults is None:
            return
        chosen = self.template_combo.itemData(index)
        if chosen == "":
            path, _filter = QFileDialog.getOpenFileName(
                self,
                self.tr("Choose a chat template"),
                "",
                self.tr("Jinja templates (*.jinja *.jinja2 *.j2 *.txt);;All files (*)"),
            )
            if not path:
                self._fill_templates()
                return
            chosen = path
        if chosen != self._defaults.settings.chat_template:
            self.load_settings_changed.emit({"chat_template": chosen})

    def _show(self) -> None:
        defaults = self._defaults
        self.setEnabled(defaults is not None)
        self._updating = True
        try:
            own_context = defaults.settings.context_size if defaults else None
            self.context_spin.setValue(own_context or 0)
            self.threads_spin.setValue((defaults.settings.threads if defaults else None) or 0)
            self._fill_choices()
        finally:
            self._updating = False
        self._fill_templates()
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
