"""The Chat pane's side panel: system prompt presets and sampling settings.

:class:`ChatOptionsPanel` edits a :class:`~engine.data.presets.ChatOptions` value and reports
every change the user makes through ``options_changed``; it never touches the disk. The
Chat pane loads the options with :class:`~engine.data.presets.ChatOptionsStore` in a worker
thread and saves what the panel reports the same way.

Thread: the Qt thread.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.panes.model_options import ModelSettingsBox
from desktop.widgets import MessageBar
from engine.data.model_settings import ALL_KEYS, SAMPLING_KEYS
from engine.data.presets import DEFAULT_PRESET, MAX_NAME_LENGTH, ChatOptions, SystemPreset
from engine.errors import UsageError
from engine.runtime.model_defaults import ModelDefaults
from engine.types import SamplingParams

log = logging.getLogger("desktop.chat")

#: How long typing in the prompt editor must pause before ``options_changed`` is emitted.
TEXT_DEBOUNCE_MS = 300
#: The largest seed a spin box can hold (a signed 32-bit int; llama.cpp takes any).
MAX_SEED = 2**31 - 1


def _same(shown: object, stored: object) -> bool:
    """Whether a spin box's value is the stored one (spin boxes keep two decimals; a
    GGUF's float32 0.6 is 0.6000000238...)."""
    if isinstance(shown, float) and isinstance(stored, float):
        return round(stored, 2) == shown
    return shown == stored


class ChatOptionsPanel(QWidget):
    """System prompt presets and sampling settings, for the right of the Chat transcript.

    The panel holds the options the user is editing; :meth:`params` and
    :meth:`system_prompt` are what to send with the next message. Changes made by the
    user are reported through ``options_changed`` (text edits once typing pauses for
    about 300 ms); changes made through :meth:`set_system_prompt` are not.

    Args:
        options: the options to show (usually what the store loaded).
        parent: the parent widget.

    The loaded model's own values (engine.data.model_settings) are shown over the
    options and marked: ● the model's own, ○ its publisher's recommendation. Editing a
    marked value changes the model's; editing another changes the options.

    Signals:
        options_changed(object): the user changed the options; the new
            :class:`~engine.data.presets.ChatOptions`, to be saved off the Qt thread.
        model_settings_changed(object): the user changed the loaded model's own
            settings; a dict of per-model setting -> value (None clears it).
    """

    options_changed = Signal(object)
    model_settings_changed = Signal(object)

    def __init__(self, options: ChatOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._options = options
        #: Set while the panel itself changes its widgets, so that is not taken as an edit.
        self._updating = False
        self._builtin_names: dict[str, str] = {}
        #: What applies to the loaded model (nothing of its own until set_model).
        self._model = ModelDefaults()
        #: The options as they were before a model's own system prompt was shown.
        self._options_before_model: ChatOptions | None = None
        self._label_texts: list[str] = []

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(TEXT_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_debounce_timeout)

        self.message_bar = MessageBar(self)

        # -- system prompt -----------------------------------------------------------
        self.prompt_group = QGroupBox(self)
        self.preset_label = QLabel(self.prompt_group)
        self.preset_combo = QComboBox(self.prompt_group)
        self.preset_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.preset_combo.setMinimumContentsLength(14)
        self.preset_combo.activated.connect(self._on_preset_combo_activated)
        self.preset_label.setBuddy(self.preset_combo)

        self.prompt_label = QLabel(self.prompt_group)
        self.prompt_edit = QPlainTextEdit(self.prompt_group)
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.prompt_edit.textChanged.connect(self._on_prompt_edit_text_changed)
        self.prompt_label.setBuddy(self.prompt_edit)
        self.unsaved_label = QLabel(self.prompt_group)
        self.unsaved_label.setWordWrap(True)

        self.save_button = QPushButton(self.prompt_group)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.save_as_button = QPushButton(self.prompt_group)
        self.save_as_button.clicked.connect(self._on_save_as_button_clicked)
        self.rename_button = QPushButton(self.prompt_group)
        self.rename_button.clicked.connect(self._on_rename_button_clicked)
        self.delete_button = QPushButton(self.prompt_group)
        self.delete_button.clicked.connect(self._on_delete_button_clicked)
        self.restore_button = QPushButton(self.prompt_group)
        self.restore_button.clicked.connect(self._on_restore_button_clicked)

        buttons = QGridLayout()
        buttons.addWidget(self.save_button, 0, 0)
        buttons.addWidget(self.save_as_button, 0, 1)
        buttons.addWidget(self.rename_button, 1, 0)
        buttons.addWidget(self.delete_button, 1, 1)
        buttons.addWidget(self.restore_button, 2, 0, 1, 2)
        prompt_layout = QVBoxLayout(self.prompt_group)
        prompt_layout.addWidget(self.preset_label)
        prompt_layout.addWidget(self.preset_combo)
        prompt_layout.addWidget(self.prompt_label)
        prompt_layout.addWidget(self.prompt_edit, 1)
        prompt_layout.addWidget(self.unsaved_label)
        prompt_layout.addLayout(buttons)

        # -- sampling ----------------------------------------------------------------
        self.sampling_group = QGroupBox(self)
        self.temperature_spin = self._double_spin(0.0, 2.0, 0.05)
        self.top_p_spin = self._double_spin(0.01, 1.0, 0.05)
        self.top_k_spin = self._int_spin(0, 1000, 5)
        self.min_p_spin = self._double_spin(0.0, 1.0, 0.01)
        self.repeat_penalty_spin = self._double_spin(0.5, 2.0, 0.05)
        self.max_tokens_spin = self._int_spin(1, 32768, 64)
        self.seed_spin = self._int_spin(-1, MAX_SEED, 1)
        self.lookup_check = QCheckBox(self.sampling_group)
        self.lookup_check.toggled.connect(self._on_sampling_spin_value_changed)
        self._spins: list[QAbstractSpinBox] = [
            self.temperature_spin,
            self.top_p_spin,
            self.top_k_spin,
            self.min_p_spin,
            self.repeat_penalty_spin,
            self.max_tokens_spin,
            self.seed_spin,
        ]
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self._spin_labels: list[QLabel] = []
        for spin in self._spins:
            label = QLabel(self.sampling_group)
            label.setBuddy(spin)
            self._spin_labels.append(label)
            form.addRow(label, spin)
        self.reset_sampling_button = QPushButton(self.sampling_group)
        self.reset_sampling_button.clicked.connect(self._on_reset_sampling_button_clicked)
        sampling_layout = QVBoxLayout(self.sampling_group)
        sampling_layout.addLayout(form)
        sampling_layout.addWidget(self.lookup_check)
        sampling_layout.addWidget(self.reset_sampling_button)

        self.model_box = ModelSettingsBox(self)
        self.model_box.save_requested.connect(self._on_model_box_save_requested)
        self.model_box.reset_requested.connect(self._on_model_box_reset_requested)
        self.model_box.load_settings_changed.connect(self.model_settings_changed)

        # The groups scroll: together they are taller than a small screen, and the
        # panel must not make the window taller than the screen.
        content = QWidget(self)
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(self.prompt_group, 1)
        content_layout.addWidget(self.sampling_group)
        content_layout.addWidget(self.model_box)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidget(content)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.scroll_area, 1)

        # Keyboard order: the preset, its text, what to do with it, then the sampling
        # values top to bottom.
        chain: list[QWidget] = [
            self.preset_combo,
            self.prompt_edit,
            self.save_button,
            self.save_as_button,
            self.rename_button,
            self.delete_button,
            self.restore_button,
            *self._spins,
            self.lookup_check,
            self.reset_sampling_button,
            self.model_box.context_spin,
            self.model_box.template_combo,
            self.model_box.offload_combo,
            self.model_box.threads_spin,
            self.model_box.backend_combo,
            self.model_box.save_button,
            self.model_box.reset_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

        self.retranslate_ui()
        self.set_options(options)

    def _double_spin(self, low: float, high: float, step: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self.sampling_group)
        spin.setDecimals(2)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        self._setup_spin(spin)
        spin.valueChanged.connect(self._on_sampling_spin_value_changed)
        return spin

    def _int_spin(self, low: int, high: int, step: int) -> QSpinBox:
        spin = QSpinBox(self.sampling_group)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        self._setup_spin(spin)
        spin.valueChanged.connect(self._on_sampling_spin_value_changed)
        return spin

    @staticmethod
    def _setup_spin(spin: QAbstractSpinBox) -> None:
        # A value counts once typing is done (Enter, Tab, arrows), not digit by digit:
        # typing "512" is not a request for 5 then 51 tokens, nor three saves.
        spin.setKeyboardTracking(False)
        spin.setAccelerated(True)
        spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)

    # -- translation ---------------------------------------------------------------------

    def retranslate_ui(self) -> None:
        """Set every visible text in the current language."""
        self._builtin_names = {
            DEFAULT_PRESET: self.tr("Assistant"),
            "Concise": self.tr("Concise"),
            "Explain like a teacher": self.tr("Explain like a teacher"),
            "Translator (English ↔ 中文)": self.tr("Translator (English ↔ 中文)"),
            "Code helper": self.tr("Code helper"),
            "Writing editor": self.tr("Writing editor"),
        }
        self.setAccessibleName(self.tr("Chat options"))

        self.prompt_group.setTitle(self.tr("System prompt"))
        self.preset_label.setText(self.tr("P&reset:"))
        self.preset_combo.setAccessibleName(self.tr("System prompt preset"))
        self.preset_combo.setToolTip(
            self.tr("Ready-made instructions that tell the model how to answer")
        )
        self.prompt_label.setText(self.tr("Pro&mpt:"))
        self.prompt_edit.setAccessibleName(self.tr("System prompt"))
        self.prompt_edit.setToolTip(
            self.tr(
                "Instructions the model reads before the conversation. Sent with every message."
            )
        )
        self.prompt_edit.setPlaceholderText(self.tr("Leave empty to send no system prompt"))
        self.unsaved_label.setText(self.tr("Changed. Save keeps the change in this preset."))
        self.unsaved_label.setAccessibleName(self.tr("Unsaved changes"))

        self.save_button.setText(self.tr("Save"))
        self.save_button.setAccessibleName(self.tr("Save preset"))
        self.save_button.setToolTip(self.tr("Keep the edited prompt in the selected preset"))
        self.save_as_button.setText(self.tr("Save as…"))
        self.save_as_button.setAccessibleName(self.tr("Save as a new preset"))
        self.save_as_button.setToolTip(self.tr("Save the prompt as a new preset with its own name"))
        self.rename_button.setText(self.tr("Rename…"))
        self.rename_button.setAccessibleName(self.tr("Rename preset"))
        self.rename_button.setToolTip(
            self.tr("Rename the selected preset (built-in presets keep their names)")
        )
        self.delete_button.setText(self.tr("Delete"))
        self.delete_button.setAccessibleName(self.tr("Delete preset"))
        self.delete_button.setToolTip(
            self.tr("Delete the selected preset (built-in presets cannot be deleted)")
        )
        self.restore_button.setText(self.tr("Restore"))
        self.restore_button.setAccessibleName(self.tr("Restore built-in preset"))
        self.restore_button.setToolTip(
            self.tr("Bring back the original text of this built-in preset")
        )

        self.sampling_group.setTitle(self.tr("Sampling"))
        texts = [
            (
                self.tr("&Temperature:"),
                self.tr("Temperature"),
                self.tr(
                    "How adventurous the answers are. Low values give focused, repeatable "
                    "answers; high values give more varied, creative ones. "
                    "0 always picks the most likely word."
                ),
            ),
            (
                self.tr("Top-&p:"),
                self.tr("Top-p"),
                self.tr(
                    "Only consider the most likely words whose chances add up to this share. "
                    "Lower values keep answers safer and more predictable; 1 turns this off."
                ),
            ),
            (
                self.tr("Top-&k:"),
                self.tr("Top-k"),
                self.tr(
                    "Only consider this many of the most likely words at each step. "
                    "Off means no limit."
                ),
            ),
            (
                self.tr("M&in-p:"),
                self.tr("Min-p"),
                self.tr(
                    "Skip words far less likely than the best one: a word needs at least "
                    "this fraction of the best word's chance. Off keeps every word."
                ),
            ),
            (
                self.tr("Repeat pe&nalty:"),
                self.tr("Repeat penalty"),
                self.tr(
                    "Discourage words that were just used. 1 means no penalty; higher "
                    "values make the model repeat itself less."
                ),
            ),
            (
                self.tr("Max t&okens:"),
                self.tr("Max tokens"),
                self.tr(
                    "The longest an answer can be, in tokens (a token is a word or part of "
                    "one). The answer stops when it gets this long."
                ),
            ),
            (
                self.tr("S&eed:"),
                self.tr("Seed"),
                self.tr(
                    "A number that fixes the random choices, so the same question gets the "
                    "same answer again. Random gives a different answer each time."
                ),
            ),
        ]
        self._label_texts = [label_text for label_text, _name, _tip in texts]
        for spin, (_label_text, name, tip) in zip(self._spins, texts, strict=True):
            spin.setAccessibleName(name)
            spin.setAccessibleDescription(tip)
            spin.setToolTip(tip)
        self._mark_sources()
        self.temperature_spin.setSpecialValueText(self.tr("0 (greedy)"))
        self.top_k_spin.setSpecialValueText(self.tr("Off"))
        self.min_p_spin.setSpecialValueText(self.tr("Off"))
        self.seed_spin.setSpecialValueText(self.tr("Random"))
        self.lookup_check.setText(self.tr("Faster copying (prompt lookup)"))
        self.lookup_check.setAccessibleName(self.tr("Prompt lookup"))
        self.lookup_check.setToolTip(
            self.tr(
                "When an answer repeats text from the conversation (a rewrite, a quote, "
                "code to fix), write several tokens per step. The answer is the same."
            )
        )
        self.reset_sampling_button.setText(self.tr("Reset sampling"))
        self.reset_sampling_button.setAccessibleName(self.tr("Reset sampling"))
        self.reset_sampling_button.setToolTip(
            self.tr("Set every sampling value back to its default")
        )

        self._fill_combo()

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the application's language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    # -- public API ----------------------------------------------------------------------

    def set_options(self, options: ChatOptions) -> None:
        """Show ``options`` instead (say, once the store has loaded them in a worker thread).

        This is not a user edit: ``options_changed`` is not emitted, and an edit still
        waiting for typing to pause is dropped.
        """
        self._debounce.stop()
        if options.selected and options.selected_preset is None:
            options = options.with_custom_prompt(options.system_prompt)
        self._options = options
        self._show_sampling(self._model.sampling(options.sampling))
        # What the spin boxes can hold is what will be sent (a stored 3.0 shows as 2.0).
        self._options = options.with_sampling(self._global_sampling())
        self.message_bar.hide()
        self._fill_combo()
        self._set_editor_text(self._options.system_prompt)

    def options(self) -> ChatOptions:
        """The options as the panel shows them now (pending text edits included)."""
        return self._options

    def params(self) -> SamplingParams:
        """The sampling settings to send, as the spin boxes show them.

        Values the panel does not show (``stop``, ``repeat_last_n``, ``ignore_eos``) are
        those of the options the panel was given.
        """
        return replace(
            self._options.sampling,
            temperature=round(self.temperature_spin.value(), 2),
            top_p=round(self.top_p_spin.value(), 2),
            top_k=self.top_k_spin.value(),
            min_p=round(self.min_p_spin.value(), 2),
            repeat_penalty=round(self.repeat_penalty_spin.value(), 2),
            max_tokens=self.max_tokens_spin.value(),
            seed=self.seed_spin.value(),
            lookup=self.lookup_check.isChecked(),
        )

    def set_model(self, name: str, defaults: ModelDefaults | None) -> None:
        """Show what applies to the model ``name`` now loaded (None: none, or a remote one).

        Its own sampling values are shown over the options, and its own system prompt
        instead of the preset until another model without one is loaded. This is not a
        user edit: nothing is emitted.
        """
        self._model = defaults if defaults is not None else ModelDefaults()
        self.model_box.set_model(name, defaults)
        self._show_sampling(self._model.sampling(self._options.sampling))
        own_prompt = self._model.settings.system_prompt
        if own_prompt is not None:
            if self._options_before_model is None:
                self._options_before_model = self._options
            self.set_system_prompt(own_prompt)
        elif self._options_before_model is not None:
            before, self._options_before_model = self._options_before_model, None
            self.set_options(before)
        self._mark_sources()

    def model_defaults(self) -> ModelDefaults:
        """What applies to the loaded model, as the panel shows it."""
        return self._model

    def system_prompt(self) -> str:
        """The system prompt to send, as the editor shows it ("" means none)."""
        return self.prompt_edit.toPlainText()

    def set_system_prompt(self, text: str) -> None:
        """Show the system prompt of a stored conversation.

        If ``text`` is a preset's text, that preset is selected; otherwise the combo shows
        "(custom)". This is not a user edit: ``options_changed`` is not emitted for it
        (an edit the user was still typing is reported first).
        """
        if self._debounce.isActive():
            self._emit()
        wanted = text.strip()
        current = self._options.selected_preset
        match: SystemPreset | None
        if current is not None and current.prompt.strip() == wanted:
            match = current
        else:
            match = next((p for p in self._options.presets if p.prompt.strip() == wanted), None)
        if match is not None:
            self._options = self._options.with_selected(match.name)
        else:
            self._options = self._options.with_custom_prompt(text)
        self.message_bar.hide()
        self._fill_combo()
        self._set_editor_text(self._options.system_prompt)

    # -- helpers -------------------------------------------------------------------------

    def _display_name(self, name: str) -> str:
        """A preset's name as the user sees it (built-in names are translated)."""
        return self._builtin_names.get(name, name)

    def _item_text(self, name: str) -> str:
        if self._options.is_overridden(name):
            return self.tr("{name} (edited)").format(name=self._display_name(name))
        return self._display_name(name)

    def _fill_combo(self) -> None:
        """List the presets (and "(custom)" when the prompt is none of them)."""
        self._updating = True
        try:
            self.preset_combo.clear()
            for preset in self._options.presets:
                self.preset_combo.addItem(self._item_text(preset.name), preset.name)
            if not self._options.selected:
                self.preset_combo.addItem(self.tr("(custom)"), "")
            self.preset_combo.setCurrentIndex(self.preset_combo.findData(self._options.selected))
        finally:
            self._updating = False
        self._update_prompt_state()

    def _set_editor_text(self, text: str) -> None:
        self._updating = True
        try:
            self.prompt_edit.setPlainText(text)
        finally:
            self._updating = False
        self._update_prompt_state()

    def _global_sampling(self) -> SamplingParams:
        """The spin boxes' values, except where the model's own or recommended ones show:
        those stay the options' values, so a model's values never become everyone's."""
        shown = self.params()
        kept = {
            key: getattr(self._options.sampling, key)
            for key in SAMPLING_KEYS
            if self._model.source(key) != "default"
        }
        return replace(shown, **kept)

    def _mark_sources(self) -> None:
        """Mark the labels of the values the model sets (●) or recommends (○)."""
        keys = (*SAMPLING_KEYS[:5], "max_tokens", "seed")
        for label, text, key in zip(self._spin_labels, self._label_texts, keys, strict=True):
            source = self._model.source(key) if key in ALL_KEYS else "default"
            mark = {"model": " ●", "gguf": " ○"}.get(source, "")
            label.setText(text + mark)
            label.setToolTip(self.model_box.source_text(key) if key in ALL_KEYS else "")

    def _show_sampling(self, params: SamplingParams) -> None:
        self._updating = True
        try:
            self.temperature_spin.setValue(params.temperature)
            self.top_p_spin.setValue(params.top_p)
            self.top_k_spin.setValue(params.top_k)
            self.min_p_spin.setValue(params.min_p)
            self.repeat_penalty_spin.setValue(params.repeat_penalty)
            self.max_tokens_spin.setValue(params.max_tokens)
            self.seed_spin.setValue(params.seed)
            self.lookup_check.setChecked(params.lookup)
        finally:
            self._updating = False

    def _update_prompt_state(self) -> None:
        """Enable the preset buttons that apply to the selection; flag unsaved text."""
        preset = self._options.selected_preset
        user_preset = preset is not None and not preset.builtin
        edited = preset is not None and self._options.draft is not None
        self.save_button.setEnabled(edited)
        self.rename_button.setEnabled(user_preset)
        self.delete_button.setEnabled(user_preset)
        self.restore_button.setEnabled(
            preset is not None and preset.builtin and self._options.is_overridden(preset.name)
        )
        self.unsaved_label.setVisible(edited)

    def _name_problem(self, name: str, *, renaming: str = "") -> str:
        """Why ``name`` cannot name a preset (translated), or "" if it can."""
        name = name.strip()
        if not name:
            return self.tr("A preset needs a name.")
        if len(name) > MAX_NAME_LENGTH:
            return self.tr("A name can be at most {count} characters long.").format(
                count=MAX_NAME_LENGTH
            )
        key = name.casefold()
        for preset in self._options.presets:
            if preset.name == renaming:
                continue
            if key in (preset.name.casefold(), self._display_name(preset.name).casefold()):
                return self.tr("There is already a preset called “{name}”.").format(name=name)
        return ""

    def _commit(self, options: ChatOptions) -> None:
        """Take ``options`` as the user's latest edit and report it now."""
        self._options = options
        self._update_prompt_state()
        self._emit()

    def _emit(self) -> None:
        self._debounce.stop()
        self.options_changed.emit(self._options)

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- slots ---------------------------------------------------------------------------

    def _on_debounce_timeout(self) -> None:
        self._emit()

    def _on_prompt_edit_text_changed(self) -> None:
        if self._updating:
            return
        self._options = self._options.with_prompt(self.prompt_edit.toPlainText())
        self._update_prompt_state()
        self._debounce.start()

    def _on_preset_combo_activated(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if not name:  # "(custom)" again: nothing changes
            return
        self.message_bar.hide()
        # Choosing the selected preset again drops the unsaved edit: the way back.
        self._options = self._options.with_selected(name)
        self._fill_combo()
        self._set_editor_text(self._options.system_prompt)
        self._commit(self._options)

    def _on_save_button_clicked(self) -> None:
        preset = self._options.selected_preset
        if preset is None:
            return
        self.message_bar.hide()
        self._options = self._options.with_preset_saved(preset.name, self.system_prompt())
        self._fill_combo()
        self._commit(self._options)

    def _on_save_as_button_clicked(self) -> None:
        name, ok = QInputDialog.getText(
            self,
            self.tr("Save preset as"),
            self.tr("Name of the new preset:"),
            QLineEdit.EchoMode.Normal,
            "",
        )
        if not ok:
            return
        problem = self._name_problem(name)
        if problem:
            self.message_bar.show_message(
                self.tr("The preset was not saved. {reason}").format(reason=problem)
            )
            return
        try:
            options = self._options.with_preset_added(name, self.system_prompt())
        except UsageError as exc:  # the checks above should have caught it
            log.warning("Preset not added: %s", exc)
            self.message_bar.show_message(str(exc))
            return
        self.message_bar.hide()
        self._options = options
        self._fill_combo()
        self._commit(options)

    def _on_rename_button_clicked(self) -> None:
        preset = self._options.selected_preset
        if preset is None or preset.builtin:
            return
        name, ok = QInputDialog.getText(
            self,
            self.tr("Rename preset"),
            self.tr("New name for “{name}”:").format(name=preset.name),
            QLineEdit.EchoMode.Normal,
            preset.name,
        )
        if not ok or name.strip() == preset.name:
            return
        problem = self._name_problem(name, renaming=preset.name)
        if problem:
            self.message_bar.show_message(
                self.tr("The preset was not renamed. {reason}").format(reason=problem)
            )
            return
        try:
            options = self._options.with_preset_renamed(preset.name, name)
        except UsageError as exc:
            log.warning("Preset not renamed: %s", exc)
            self.message_bar.show_message(str(exc))
            return
        self.message_bar.hide()
        self._options = options
        self._fill_combo()
        self._commit(options)

    def _on_delete_button_clicked(self) -> None:
        preset = self._options.selected_preset
        if preset is None or preset.builtin:
            return
        if not self._confirm(
            self.tr("Delete preset"),
            self.tr("Delete the preset “{name}”? This cannot be undone.").format(name=preset.name),
        ):
            return
        self.message_bar.hide()
        self._options = self._options.with_preset_deleted(preset.name)
        self._fill_combo()
        self._set_editor_text(self._options.system_prompt)
        self._commit(self._options)

    def _on_restore_button_clicked(self) -> None:
        preset = self._options.selected_preset
        if preset is None or not self._options.is_overridden(preset.name):
            return
        if not self._confirm(
            self.tr("Restore preset"),
            self.tr(
                "Bring back the original text of “{name}”? Your version of it is replaced."
            ).format(name=self._display_name(preset.name)),
        ):
            return
        self.message_bar.hide()
        self._options = self._options.with_preset_restored(preset.name)
        self._fill_combo()
        self._set_editor_text(self._options.system_prompt)
        self._commit(self._options)

    def _on_sampling_spin_value_changed(self) -> None:
        if self._updating:
            return
        shown = self.params()
        # A marked value is the model's: changing it changes the model's own.
        model_changes = {
            key: getattr(shown, key)
            for key in SAMPLING_KEYS
            if self._model.source(key) != "default"
            and not _same(getattr(shown, key), self._model.value(key, None))
        }
        if model_changes:
            # Shown as the model's at once; the stored file follows (the window saves it).
            self._model = replace(
                self._model, settings=replace(self._model.settings, **model_changes)
            )
            self._mark_sources()
            self.model_settings_changed.emit(model_changes)
        sampling = self._global_sampling()
        if sampling != self._options.sampling:
            self._commit(self._options.with_sampling(sampling))

    def _on_reset_sampling_button_clicked(self) -> None:
        self._show_sampling(self._model.sampling(SamplingParams()))
        self._commit(self._options.with_sampling(self._global_sampling()))

    def _on_model_box_save_requested(self) -> None:
        shown = self.params()
        changes: dict[str, object] = {key: getattr(shown, key) for key in SAMPLING_KEYS}
        changes["system_prompt"] = self.system_prompt()
        self.model_settings_changed.emit(changes)

    def _on_model_box_reset_requested(self) -> None:
        if not self._confirm(
            self.tr("Reset to defaults"),
            self.tr(
                "Forget this model's own settings? It will use the default settings "
                "and the selected preset again."
            ),
        ):
            return
        self.model_settings_changed.emit(dict.fromkeys(ALL_KEYS))


__all__ = ["TEXT_DEBOUNCE_MS", "ChatOptionsPanel"]
