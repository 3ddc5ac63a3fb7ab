"""The Settings dialog: edits a :class:`~engine.data.config.Settings` value, never the file.

Thread: the Qt thread.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QEvent, QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.data.config import (
    MAX_CONTEXT_SIZE,
    MAX_DOCUMENT_MB,
    MAX_GPU_LAYERS,
    MIN_CONTEXT_SIZE,
    Settings,
)

#: The fields of :class:`Settings` the dialog edits; the others (backend, last_model,
#: extra, version) are carried over from the value it was given. The main window saves
#: exactly these, over what is on disk then: ``update_settings(paths, **changes)``.
EDITED_FIELDS = (
    "models_dir",
    "threads",
    "gpu_offload",
    "context_size",
    "context_policy",
    "theme",
    "language",
    "max_document_mb",
    "offline",
    "remote_url",
    "remote_allow_lan",
)

#: Context sizes offered in the list (the field also takes any other number).
CONTEXT_SIZES = (2048, 4096, 8192, 16384, 32768, 65536, 131072)
#: The highest layer count the spin box takes when the model's is not known.
MAX_LAYERS = MAX_GPU_LAYERS

#: gpu_offload for "every layer", shown as the layer spin box's lowest value.
_ALL_LAYERS = -1


class SettingsDialog(QDialog):
    """Hearth's settings: models folder, threads, GPU offload, context, theme, language, offline.

    The dialog edits a value and reports it; it never reads or writes the settings
    file. Whoever opens it saves what :attr:`settings_applied` carries, off the Qt
    thread (``asyncio.to_thread(update_settings, ...)``), and applies it. Open it with
    ``open()`` (window-modal, the event loop keeps running), not ``exec()``.

    Args:
        settings: the current settings; fields the dialog does not show are kept.
        cpu_count: logical CPUs, the most threads offered.
        default_models_dir: the folder used when the models folder is left empty
            (shown as the field's placeholder).
        layer_count: the loaded model's layer count, the most GPU layers offered;
            None when not known (any number up to :data:`MAX_LAYERS`).
        remote_key: the remote endpoint's kept key (it is not part of :class:`Settings`:
            read it back with :meth:`remote_key` when the settings are applied).
        parent: the parent widget (the main window).

    Signals:
        settings_applied(object): OK or Apply was pressed; the argument is the edited
            :class:`Settings`.
    """

    settings_applied = Signal(object)

    def __init__(
        self,
        settings: Settings,
        *,
        cpu_count: int,
        default_models_dir: Path,
        layer_count: int | None = None,
        remote_key: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._base = settings
        self._applied = settings
        self._default_models_dir = default_models_dir
        self._layer_count = layer_count
        self._folder_dialog: QFileDialog | None = None

        self.models_dir_edit = QLineEdit(self)
        self.models_dir_edit.setPlaceholderText(str(default_models_dir))
        self.models_dir_edit.setClearButtonEnabled(True)
        self.browse_button = QPushButton(self)
        self.browse_button.setAutoDefault(False)
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.models_dir_edit, 1)
        folder_row.addWidget(self.browse_button)

        self.document_label = QLabel(self)
        self.document_spin = QSpinBox(self)
        self.document_spin.setRange(1, MAX_DOCUMENT_MB)
        self.threads_spin = QSpinBox(self)
        # No more than this computer's logical cores: more only slows llama.cpp down, and
        # the settings file refuses them (a stored value from another machine is reset).
        self.threads_spin.setRange(0, max(cpu_count, 1))

        self.gpu_combo = QComboBox(self)
        for data in ("auto", "off", "layers"):
            self.gpu_combo.addItem("", data)
        self.layers_label = QLabel(self)
        self.layers_spin = QSpinBox(self)
        self._set_layer_range(settings.gpu_offload)
        gpu_row = QHBoxLayout()
        gpu_row.addWidget(self.gpu_combo, 1)
        gpu_row.addWidget(self.layers_label)
        gpu_row.addWidget(self.layers_spin)

        self.context_combo = QComboBox(self)
        self.context_combo.setEditable(True)
        self.context_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.context_combo.addItem("", 0)
        for size in CONTEXT_SIZES:
            self.context_combo.addItem(str(size), size)
        line_edit = self.context_combo.lineEdit()
        assert line_edit is not None  # an editable combo box always has one
        line_edit.setValidator(
            QRegularExpressionValidator(QRegularExpression(r"\d{0,8}"), line_edit)
        )

        self.policy_combo = QComboBox(self)
        for data in ("truncate", "stop"):
            self.policy_combo.addItem("", data)

        self.theme_combo = QComboBox(self)
        for data in ("system", "light", "dark"):
            self.theme_combo.addItem("", data)

        self.language_combo = QComboBox(self)
        self.language_combo.addItem("", "system")
        # Each language's name in that language, untranslated: someone who cannot read
        # the current language still finds their own.
        self.language_combo.addItem("English", "en")
        self.language_combo.addItem("简体中文", "zh_CN")

        self.offline_check = QCheckBox(self)
        self.offline_note = QLabel(self)
        self.offline_note.setWordWrap(True)
        self.offline_note.setTextFormat(Qt.TextFormat.PlainText)
        self.offline_note.setBuddy(self.offline_check)

        self.remote_url_edit = QLineEdit(self)
        self.remote_url_edit.setPlaceholderText("http://192.168.1.20:8080/v1")
        self.remote_url_edit.setClearButtonEnabled(True)
        self.remote_key_edit = QLineEdit(self)
        # Shown as dots, like any password field; it is kept in a file of its own.
        self.remote_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.remote_key_edit.setText(remote_key)
        self._remote_key = remote_key
        self.remote_lan_check = QCheckBox(self)
        self.remote_url_label = QLabel(self)
        self.remote_key_label = QLabel(self)

        self.models_dir_label = QLabel(self)
        self.threads_label = QLabel(self)
        self.gpu_label = QLabel(self)
        self.context_label = QLabel(self)
        self.policy_label = QLabel(self)
        self.theme_label = QLabel(self)
        self.language_label = QLabel(self)
        for label, buddy in (
            (self.models_dir_label, self.models_dir_edit),
            (self.threads_label, self.threads_spin),
            (self.gpu_label, self.gpu_combo),
            (self.layers_label, self.layers_spin),
            (self.context_label, self.context_combo),
            (self.policy_label, self.policy_combo),
            (self.theme_label, self.theme_combo),
            (self.language_label, self.language_combo),
            (self.document_label, self.document_spin),
            (self.remote_url_label, self.remote_url_edit),
            (self.remote_key_label, self.remote_key_edit),
        ):
            label.setBuddy(buddy)

        form = QFormLayout()
        form.addRow(self.models_dir_label, folder_row)
        form.addRow(self.threads_label, self.threads_spin)
        form.addRow(self.gpu_label, gpu_row)
        form.addRow(self.context_label, self.context_combo)
        form.addRow(self.policy_label, self.policy_combo)
        form.addRow(self.theme_label, self.theme_combo)
        form.addRow(self.language_label, self.language_combo)
        form.addRow(self.document_label, self.document_spin)
        form.addRow(self.offline_check)
        form.addRow(self.offline_note)
        form.addRow(self.remote_url_label, self.remote_url_edit)
        form.addRow(self.remote_key_label, self.remote_key_edit)
        form.addRow(self.remote_lan_check)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.RestoreDefaults,
            self,
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.buttons.clicked.connect(self._on_buttons_clicked)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        order: list[QWidget] = [
            self.models_dir_edit,
            self.browse_button,
            self.threads_spin,
            self.gpu_combo,
            self.layers_spin,
            self.context_combo,
            self.policy_combo,
            self.theme_combo,
            self.language_combo,
            self.document_spin,
            self.offline_check,
            self.remote_url_edit,
            self.remote_key_edit,
            self.remote_lan_check,
        ]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

        self.retranslate_ui()
        self._show_settings(settings)

        self.models_dir_edit.textChanged.connect(self._on_field_changed)
        self.threads_spin.valueChanged.connect(self._on_field_changed)
        self.gpu_combo.currentIndexChanged.connect(self._on_gpu_combo_current_index_changed)
        self.layers_spin.valueChanged.connect(self._on_field_changed)
        self.context_combo.editTextChanged.connect(self._on_field_changed)
        self.policy_combo.currentIndexChanged.connect(self._on_field_changed)
        self.theme_combo.currentIndexChanged.connect(self._on_field_changed)
        self.language_combo.currentIndexChanged.connect(self._on_field_changed)
        self.document_spin.valueChanged.connect(self._on_field_changed)
        self.offline_check.toggled.connect(self._on_field_changed)
        self.remote_url_edit.textChanged.connect(self._on_field_changed)
        self.remote_key_edit.textChanged.connect(self._on_field_changed)
        self.remote_lan_check.toggled.connect(self._on_field_changed)
        self._update_buttons()
        self.models_dir_edit.setFocus()

    # -- texts ---------------------------------------------------------------------------

    def retranslate_ui(self) -> None:
        """Set every visible text in the current language (again, after a language change)."""
        context_size = self._context_size_value() if self.context_combo.count() else 0
        self.setWindowTitle(self.tr("Settings"))

        self.models_dir_label.setText(self.tr("&Models folder:"))
        self.models_dir_edit.setAccessibleName(self.tr("Models folder"))
        self.models_dir_edit.setToolTip(
            self.tr("Where Hearth looks for GGUF models. Leave empty for the default folder.")
        )
        self.browse_button.setText(self.tr("&Browse…"))
        self.browse_button.setAccessibleName(self.tr("Choose the models folder"))

        self.document_label.setText(self.tr("Largest &document:"))
        self.document_spin.setSuffix(self.tr(" MB"))
        self.document_spin.setAccessibleName(self.tr("Largest document to summarize, in MB"))
        self.document_spin.setToolTip(
            self.tr("Summarize refuses larger files before reading them.")
        )

        self.threads_label.setText(self.tr("&Threads:"))
        self.threads_spin.setSpecialValueText(self.tr("Automatic"))
        self.threads_spin.setAccessibleName(self.tr("Threads"))
        self.threads_spin.setToolTip(
            self.tr("CPU threads used to generate text. Automatic lets Hearth choose.")
        )

        self.gpu_label.setText(self.tr("&GPU offload:"))
        self.gpu_combo.setItemText(0, self.tr("Automatic"))
        self.gpu_combo.setItemText(1, self.tr("Off"))
        self.gpu_combo.setItemText(2, self.tr("Layers"))
        self.gpu_combo.setAccessibleName(self.tr("GPU offload"))
        self.gpu_combo.setToolTip(
            self.tr("How much of the model runs on the graphics card. Automatic fits it to memory.")
        )
        self.layers_label.setText(self.tr("La&yers:"))
        self.layers_spin.setSpecialValueText(self.tr("All"))
        self.layers_spin.setAccessibleName(self.tr("GPU layers"))
        if self._layer_count is None:
            self.layers_spin.setToolTip(self.tr("How many of the model's layers run on the GPU."))
        else:
            self.layers_spin.setToolTip(
                self.tr("How many of the model's {count} layers run on the GPU.").format(
                    count=self._layer_count
                )
            )

        self.context_label.setText(self.tr("Conte&xt size:"))
        self.context_combo.setItemText(0, self.tr("Automatic"))
        self.context_combo.setAccessibleName(self.tr("Context size in tokens"))
        self.context_combo.setToolTip(
            self.tr(
                "How many tokens of conversation the model keeps in mind. "
                "Larger sizes need more memory."
            )
        )
        self._show_context_size(context_size)

        self.policy_label.setText(self.tr("&When the context is full:"))
        self.policy_combo.setItemText(0, self.tr("Keep the newest messages"))
        self.policy_combo.setItemText(1, self.tr("Stop and say so"))
        self.policy_combo.setAccessibleName(self.tr("When the context is full"))

        self.theme_label.setText(self.tr("T&heme:"))
        self.theme_combo.setItemText(0, self.tr("System"))
        self.theme_combo.setItemText(1, self.tr("Light"))
        self.theme_combo.setItemText(2, self.tr("Dark"))
        self.theme_combo.setAccessibleName(self.tr("Theme"))

        self.language_label.setText(self.tr("&Language:"))
        self.language_combo.setItemText(0, self.tr("System"))
        self.language_combo.setAccessibleName(self.tr("Language"))

        self.offline_check.setText(self.tr("O&ffline mode"))
        self.offline_check.setAccessibleName(self.tr("Offline mode"))
        self.offline_note.setText(
            self.tr("Hearth never uses the network: no downloads and no model search.")
        )
        self.offline_check.setAccessibleDescription(self.offline_note.text())

        self.remote_url_label.setText(self.tr("&Remote endpoint:"))
        self.remote_url_edit.setAccessibleName(self.tr("Remote endpoint address"))
        self.remote_url_edit.setToolTip(
            self.tr(
                "An OpenAI-compatible server (llama-server, another Hearth, vLLM): its "
                "models appear in the model picker. Leave empty for none."
            )
        )
        self.remote_key_label.setText(self.tr("API &key:"))
        self.remote_key_edit.setAccessibleName(self.tr("Remote endpoint API key"))
        self.remote_key_edit.setPlaceholderText(self.tr("None"))
        self.remote_key_edit.setToolTip(
            self.tr("Sent to the endpoint only; kept in a file only you can read.")
        )
        self.remote_lan_check.setText(
            self.tr("In offline mode, allow endpoints on the local &network")
        )
        self.remote_lan_check.setAccessibleName(
            self.tr("Allow local network endpoints in offline mode")
        )

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate when the application's language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    # -- values --------------------------------------------------------------------------

    def settings(self) -> Settings:
        """The settings as edited; fields the dialog does not show are as given."""
        mode = self.gpu_combo.currentData()
        if mode == "layers":
            layers = self.layers_spin.value()
            gpu_offload = str(_ALL_LAYERS if layers == 0 else layers)
        else:
            gpu_offload = str(mode)
        return replace(
            self._base,
            models_dir=self.models_dir_edit.text().strip(),
            threads=self.threads_spin.value(),
            gpu_offload=gpu_offload,
            context_size=self._context_size_value(),
            context_policy=str(self.policy_combo.currentData()),
            theme=str(self.theme_combo.currentData()),
            language=str(self.language_combo.currentData()),
            max_document_mb=self.document_spin.value(),
            offline=self.offline_check.isChecked(),
            remote_url=self.remote_url_edit.text().strip(),
            remote_allow_lan=self.remote_lan_check.isChecked(),
        )

    def remote_key(self) -> str:
        """The remote endpoint's key as edited."""
        return self.remote_key_edit.text().strip()

    @property
    def folder_dialog(self) -> QFileDialog | None:
        """The open folder chooser, if any (for tests and accessibility tools)."""
        return self._folder_dialog

    def _show_settings(self, settings: Settings) -> None:
        """Fill the fields from ``settings``."""
        self.models_dir_edit.setText(settings.models_dir)
        self.threads_spin.setValue(settings.threads)
        offload = settings.gpu_offload
        if offload == "auto":
            self.gpu_combo.setCurrentIndex(self.gpu_combo.findData("auto"))
        elif offload in ("off", "0"):  # no layers on the GPU is Off
            self.gpu_combo.setCurrentIndex(self.gpu_combo.findData("off"))
        else:
            self.gpu_combo.setCurrentIndex(self.gpu_combo.findData("layers"))
            self._set_layer_range(offload)
            layers = int(offload)
            self.layers_spin.setValue(0 if layers == _ALL_LAYERS else layers)
        self._show_context_size(settings.context_size)
        self._select(self.policy_combo, settings.context_policy)
        self._select(self.theme_combo, settings.theme)
        self._select(self.language_combo, settings.language)
        self.document_spin.setValue(settings.max_document_mb)
        self.offline_check.setChecked(settings.offline)
        self.remote_url_edit.setText(settings.remote_url)
        self.remote_lan_check.setChecked(settings.remote_allow_lan)
        self._update_layers_enabled()

    @staticmethod
    def _select(combo: QComboBox, data: str) -> None:
        index = combo.findData(data)
        combo.setCurrentIndex(max(index, 0))

    def _set_layer_range(self, gpu_offload: str) -> None:
        """Offer up to the model's layers (or a stored higher count, shown as it is)."""
        stored = int(gpu_offload) if gpu_offload.lstrip("-").isdigit() else 0
        most = MAX_LAYERS if self._layer_count is None else self._layer_count
        self.layers_spin.setRange(0, max(most, stored, 1))

    def _show_context_size(self, size: int) -> None:
        index = self.context_combo.findData(size)
        if index >= 0:
            self.context_combo.setCurrentIndex(index)
        else:
            self.context_combo.setEditText(str(size))

    def _context_size_value(self) -> int:
        """The context size shown: 0 for Automatic or an empty field."""
        text = self.context_combo.currentText().strip()
        index = self.context_combo.currentIndex()
        if index >= 0 and text == self.context_combo.itemText(index):
            return int(self.context_combo.itemData(index))
        if not text.isdigit() or int(text) == 0:
            return 0
        return min(max(int(text), MIN_CONTEXT_SIZE), MAX_CONTEXT_SIZE)

    def _update_layers_enabled(self) -> None:
        layers = self.gpu_combo.currentData() == "layers"
        self.layers_spin.setEnabled(layers)
        self.layers_label.setEnabled(layers)

    def _update_buttons(self) -> None:
        apply = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        apply.setEnabled(self.settings() != self._applied or self.remote_key() != self._remote_key)

    # -- slots ---------------------------------------------------------------------------

    def _on_field_changed(self) -> None:
        self._update_buttons()

    def _on_gpu_combo_current_index_changed(self, _index: int) -> None:
        self._update_layers_enabled()
        self._update_buttons()

    def _on_browse_button_clicked(self) -> None:
        current = self.models_dir_edit.text().strip()
        start = _existing_folder(Path(current) if current else self._default_models_dir)
        dialog = QFileDialog(self, self.tr("Choose the models folder"), str(start))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self._on_folder_dialog_file_selected)
        dialog.finished.connect(self._on_folder_dialog_finished)
        self._folder_dialog = dialog
        # open(), not exec(): window-modal, and the app's event loop keeps running.
        dialog.open()

    def _on_folder_dialog_file_selected(self, folder: str) -> None:
        if folder:
            self.models_dir_edit.setText(str(Path(folder)))
        self.models_dir_edit.setFocus()

    def _on_folder_dialog_finished(self) -> None:
        self._folder_dialog = None

    def _on_buttons_accepted(self) -> None:
        self._apply()
        self.accept()

    def _on_buttons_clicked(self, button: QAbstractButton) -> None:
        role = self.buttons.standardButton(button)
        if role == QDialogButtonBox.StandardButton.Apply:
            self._apply()
        elif role == QDialogButtonBox.StandardButton.RestoreDefaults:
            # Only the fields shown are reset; backend, last model and extra stay as given.
            self._show_settings(Settings())

    def _apply(self) -> None:
        settings = self.settings()
        self._applied = settings
        self._remote_key = self.remote_key()
        self._update_buttons()
        self.settings_applied.emit(settings)


def _existing_folder(folder: Path) -> Path:
    """``folder`` or its nearest existing parent, else the home folder.

    A file dialog given a folder that does not exist (the default models folder before
    the first download) takes its last part for a file name to select, and complains.
    """
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            return candidate
    return Path.home()


__all__ = ["CONTEXT_SIZES", "EDITED_FIELDS", "MAX_LAYERS", "SettingsDialog"]
