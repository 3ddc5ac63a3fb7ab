"""The Settings dialog and the themes, driven with the keyboard on real widgets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.dialogs.settings import EDITED_FIELDS, SettingsDialog
from desktop.theme import apply_theme, is_dark
from engine.data.config import Paths, Settings, get_paths, load_settings, save_settings

Button = QDialogButtonBox.StandardButton


@pytest.fixture
def paths() -> Paths:
    return get_paths()


def open_dialog(
    qtbot: QtBot, paths: Paths, settings: Settings, *, layer_count: int | None = None
) -> SettingsDialog:
    dialog = SettingsDialog(
        settings, cpu_count=8, default_models_dir=paths.models_dir, layer_count=layer_count
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def button(dialog: SettingsDialog, which: QDialogButtonBox.StandardButton) -> QPushButton:
    found = dialog.buttons.button(which)
    assert found is not None
    return found


def focus(qtbot: QtBot, widget: QWidget) -> None:
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(widget.hasFocus)


def type_over(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Select what the field holds and type ``text`` over it, as a user would."""
    focus(qtbot, widget)
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)


def press_down(qtbot: QtBot, widget: QWidget, times: int) -> None:
    focus(qtbot, widget)
    for _ in range(times):
        qtbot.keyClick(widget, Qt.Key.Key_Down)


def test_edit_every_field_with_the_keyboard_and_the_value_survives_a_save(
    qtbot: QtBot, paths: Paths, tmp_path: Path
) -> None:
    base = Settings(backend="llamacpp", last_model="pub/repo/model.gguf", extra={"future": 1})
    dialog = open_dialog(qtbot, paths, base)
    assert dialog.models_dir_edit.placeholderText() == str(paths.models_dir)
    assert dialog.threads_spin.text() == "Automatic"
    assert dialog.context_combo.currentText() == "Automatic"

    folder = tmp_path / "my models"
    type_over(qtbot, dialog.models_dir_edit, str(folder))
    # 1: the saved file takes at most this computer's cores, and every computer has one.
    type_over(qtbot, dialog.threads_spin, "1")
    press_down(qtbot, dialog.gpu_combo, 2)  # Automatic -> Off -> Layers
    type_over(qtbot, dialog.layers_spin, "20")
    type_over(qtbot, dialog.context_combo, "12000")
    press_down(qtbot, dialog.policy_combo, 1)
    press_down(qtbot, dialog.theme_combo, 2)
    press_down(qtbot, dialog.language_combo, 2)
    focus(qtbot, dialog.offline_check)
    qtbot.keyClick(dialog.offline_check, Qt.Key.Key_Space)

    expected = Settings(
        backend="llamacpp",
        last_model="pub/repo/model.gguf",
        extra={"future": 1},
        models_dir=str(folder),
        threads=1,
        gpu_offload="20",
        context_size=12000,
        context_policy="stop",
        theme="dark",
        language="zh_CN",
        offline=True,
    )
    with qtbot.waitSignal(dialog.settings_applied, timeout=2000) as applied:
        qtbot.mouseClick(button(dialog, Button.Ok), Qt.MouseButton.LeftButton)
    assert applied.args == [expected]
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.settings() == expected
    # The dialog itself never writes the file; its owner saves what it reports.
    assert not paths.settings_file.exists()
    save_settings(paths, dialog.settings())
    assert load_settings(paths) == expected
    # And a dialog opened on the saved value shows every field as it was left.
    again = open_dialog(qtbot, paths, load_settings(paths))
    assert again.settings() == expected
    assert again.layers_spin.isEnabled() and again.layers_spin.value() == 20
    assert again.context_combo.currentText() == "12000"
    assert again.language_combo.currentText() == "简体中文"


def test_context_sizes_from_the_list_and_automatic(qtbot: QtBot, paths: Paths) -> None:
    dialog = open_dialog(qtbot, paths, Settings(context_size=8192))
    assert dialog.context_combo.currentText() == "8192"
    press_down(qtbot, dialog.context_combo, 1)
    assert dialog.settings().context_size == 16384
    dialog.context_combo.setCurrentIndex(0)
    assert dialog.context_combo.currentText() == "Automatic"
    assert dialog.settings().context_size == 0
    # Letters cannot be typed into the size.
    type_over(qtbot, dialog.context_combo, "lots")
    assert dialog.settings().context_size == 0


def test_every_field_has_a_mnemonic_label_an_accessible_name_and_a_tab_stop(
    qtbot: QtBot, paths: Paths
) -> None:
    dialog = open_dialog(qtbot, paths, Settings(gpu_offload="8"))
    fields: list[QWidget] = [
        dialog.models_dir_edit,
        dialog.threads_spin,
        dialog.gpu_combo,
        dialog.layers_spin,
        dialog.context_combo,
        dialog.policy_combo,
        dialog.theme_combo,
        dialog.language_combo,
        dialog.document_spin,
    ]
    labels = {label.buddy(): label for label in dialog.findChildren(QLabel) if label.buddy()}
    remote: list[QWidget] = [dialog.remote_url_edit, dialog.remote_key_edit]
    checks = (dialog.offline_check, dialog.remote_lan_check)
    mnemonics = [check.text().split("&")[1][0].lower() for check in checks]
    for field in fields + remote:
        assert field.accessibleName(), field
        label = labels[field]
        assert "&" in label.text(), label.text()
        mnemonics.append(label.text().split("&")[1][0].lower())
    assert all(check.accessibleName() for check in checks)
    assert len(set(mnemonics)) == len(mnemonics), mnemonics

    # Alt + a label's mnemonic moves the focus to its field.
    qtbot.keyClick(dialog, Qt.Key.Key_X, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(dialog.context_combo.hasFocus)
    qtbot.keyClick(dialog, Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(dialog.theme_combo.hasFocus)

    # Tab visits the fields in reading order, then the buttons.
    focus(qtbot, dialog.models_dir_edit)
    visited: list[QWidget] = []
    for _ in range(len(fields) + 5):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        visited.append(QApplication.focusWidget())
    assert visited[: len(fields) + 4] == [
        dialog.browse_button,
        *fields[1:],
        dialog.offline_check,
        *remote,
        dialog.remote_lan_check,
    ]
    assert visited[-1].parent() is dialog.buttons


def test_layer_count_is_editable_only_for_layers(qtbot: QtBot, paths: Paths) -> None:
    dialog = open_dialog(qtbot, paths, Settings(), layer_count=33)
    assert dialog.layers_spin.maximum() == 33
    for index, enabled in ((0, False), (1, False), (2, True), (0, False)):
        dialog.gpu_combo.setCurrentIndex(index)
        assert dialog.layers_spin.isEnabled() is enabled
        assert dialog.layers_label.isEnabled() is enabled
    assert dialog.settings().gpu_offload == "auto"
    dialog.gpu_combo.setCurrentIndex(1)
    assert dialog.settings().gpu_offload == "off"
    # The lowest layer count is "All" (the plan's -1), and round-trips.
    dialog.gpu_combo.setCurrentIndex(2)
    dialog.layers_spin.setValue(0)
    assert dialog.layers_spin.text() == "All"
    assert dialog.settings().gpu_offload == "-1"
    assert open_dialog(qtbot, paths, dialog.settings()).settings().gpu_offload == "-1"
    # Zero layers on the GPU is Off.
    zero = open_dialog(qtbot, paths, Settings(gpu_offload="0"))
    assert zero.gpu_combo.currentText() == "Off" and not zero.layers_spin.isEnabled()


def test_restore_defaults_resets_the_fields_and_keeps_the_rest(qtbot: QtBot, paths: Paths) -> None:
    edited = Settings(
        backend="torch",
        last_model="m",
        extra={"k": "v"},
        models_dir="/srv/models",
        threads=6,
        gpu_offload="10",
        context_size=32768,
        context_policy="stop",
        theme="light",
        language="en",
        offline=True,
    )
    dialog = open_dialog(qtbot, paths, edited)
    assert dialog.settings() == edited
    with qtbot.assertNotEmitted(dialog.settings_applied):
        qtbot.mouseClick(button(dialog, Button.RestoreDefaults), Qt.MouseButton.LeftButton)
    assert dialog.settings() == Settings(backend="torch", last_model="m", extra={"k": "v"})
    assert dialog.models_dir_edit.text() == ""
    assert dialog.threads_spin.text() == "Automatic"
    assert not dialog.layers_spin.isEnabled()
    assert dialog.theme_combo.currentText() == "System"
    assert not dialog.offline_check.isChecked()
    # Cancel reports nothing.
    with qtbot.assertNotEmitted(dialog.settings_applied):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_apply_reports_and_keeps_the_dialog_open(qtbot: QtBot, paths: Paths) -> None:
    dialog = open_dialog(qtbot, paths, Settings())
    apply = button(dialog, Button.Apply)
    assert not apply.isEnabled()  # nothing changed yet
    dialog.theme_combo.setCurrentIndex(2)
    assert apply.isEnabled()
    with qtbot.waitSignal(dialog.settings_applied, timeout=2000) as applied:
        qtbot.mouseClick(apply, Qt.MouseButton.LeftButton)
    assert applied.args == [Settings(theme="dark")]
    assert dialog.isVisible()
    assert not apply.isEnabled()
    dialog.theme_combo.setCurrentIndex(0)
    assert apply.isEnabled()


def test_browse_chooses_the_models_folder(qtbot: QtBot, paths: Paths, tmp_path: Path) -> None:
    target = tmp_path / "gguf"
    target.mkdir()
    dialog = open_dialog(qtbot, paths, Settings())
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    chooser = dialog.folder_dialog
    assert chooser is not None
    qtbot.waitExposed(chooser)
    # It starts in the nearest folder that exists (the default one is made later).
    assert Path(chooser.directory().absolutePath()) in paths.models_dir.parents
    # Typing into the chooser pops up its completer, which the offscreen platform
    # cannot raise (a Qt warning); choosing the folder through its API is the same click.
    chooser.setDirectory(str(target))
    chooser.accept()
    qtbot.waitUntil(lambda: dialog.models_dir_edit.text() == str(target))
    assert dialog.settings().models_dir == str(target)
    qtbot.waitUntil(lambda: dialog.folder_dialog is None)


def test_a_language_change_keeps_what_was_edited(qtbot: QtBot, paths: Paths) -> None:
    dialog = open_dialog(qtbot, paths, Settings())
    dialog.context_combo.setEditText("6000")
    dialog.threads_spin.setValue(3)
    dialog.gpu_combo.setCurrentIndex(2)
    before = dialog.settings()
    QApplication.sendEvent(dialog, QEvent(QEvent.Type.LanguageChange))
    assert dialog.settings() == before
    assert dialog.windowTitle() == "Settings"


def test_a_version_1_file_opens_with_its_values_and_the_new_defaults(
    qtbot: QtBot, paths: Paths
) -> None:
    paths.ensure()
    paths.settings_file.write_text(
        json.dumps(
            {
                "version": 1,
                "threads": 2,
                "gpu_offload": "off",
                "context_size": 4096,
                "offline": True,
            }
        )
    )
    dialog = open_dialog(qtbot, paths, load_settings(paths))
    assert dialog.threads_spin.value() == 2
    assert dialog.gpu_combo.currentData() == "off"
    assert dialog.context_combo.currentText() == "4096"
    assert dialog.offline_check.isChecked()
    assert dialog.theme_combo.currentData() == "system"
    assert dialog.language_combo.currentData() == "system"


def test_invalid_values_in_the_file_show_as_defaults(qtbot: QtBot, paths: Paths) -> None:
    paths.ensure()
    paths.settings_file.write_text(
        json.dumps(
            {
                "version": 2,
                "theme": "purple",
                "gpu_offload": "abc",
                "threads": -3,
                "language": "zh_CN",
            }
        )
    )
    dialog = open_dialog(qtbot, paths, load_settings(paths))
    assert dialog.theme_combo.currentText() == "System"
    assert dialog.gpu_combo.currentData() == "auto"
    assert dialog.threads_spin.text() == "Automatic"
    assert dialog.language_combo.currentText() == "简体中文"
    edited = {name: getattr(dialog.settings(), name) for name in EDITED_FIELDS}
    assert edited == {name: getattr(Settings(language="zh_CN"), name) for name in EDITED_FIELDS}


# -- themes ----------------------------------------------------------------------------


class PaletteWatcher(QLabel):
    """A widget that notes the palette change events Qt sends it."""

    def __init__(self) -> None:
        super().__init__("text")
        self.changes = 0

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.changes += 1


@pytest.fixture
def app_theme(qapp: QApplication) -> Iterator[QApplication]:
    """The application; its theme and style are put back to the system's afterwards."""
    style = qapp.style().name()
    yield qapp
    apply_theme(qapp, "system")
    if qapp.style().name() != style:
        qapp.setStyle(style)


def window_colour(widget: QWidget) -> str:
    return widget.palette().color(QPalette.ColorRole.Window).name()


def test_themes_switch_the_palette_back_and_forth_at_run_time(
    qtbot: QtBot, app_theme: QApplication
) -> None:
    watcher = PaletteWatcher()
    qtbot.addWidget(watcher)
    watcher.show()
    qtbot.waitExposed(watcher)
    system_colour = window_colour(watcher)

    for theme, dark in (("dark", True), ("light", False), ("dark", True), ("light", False)):
        seen = watcher.changes
        apply_theme(app_theme, theme)
        assert is_dark(app_theme.palette()) is dark
        window = app_theme.palette().color(QPalette.ColorRole.Window)
        assert (window.lightness() < 100) if dark else (window.lightness() > 200)
        # Widgets hear of it (PaletteChange), so ones that bake colours can redo them.
        qtbot.waitUntil(lambda seen=seen: watcher.changes > seen)
        assert is_dark(watcher.palette()) is dark

    apply_theme(app_theme, "dark")
    qtbot.waitUntil(lambda: is_dark(watcher.palette()))
    apply_theme(app_theme, "system")
    qtbot.waitUntil(lambda: window_colour(watcher) == system_colour)
    assert app_theme.palette().resolveMask() == 0  # no palette of ours left behind


def test_system_theme_brings_back_the_platform_style(qtbot: QtBot, app_theme: QApplication) -> None:
    app_theme.setStyle("Windows")
    apply_theme(app_theme, "dark")
    assert is_dark(app_theme.palette())
    assert app_theme.style().name() == "fusion"  # draws with any palette, everywhere
    apply_theme(app_theme, "light")
    assert not is_dark(app_theme.palette())
    apply_theme(app_theme, "system")
    assert app_theme.style().name() == "windows"


def test_an_unknown_theme_is_refused(app_theme: QApplication) -> None:
    with pytest.raises(ValueError, match="purple"):
        apply_theme(app_theme, "purple")


def test_the_dialog_round_trip_applies_its_theme(
    qtbot: QtBot, paths: Paths, app_theme: QApplication
) -> None:
    dialog = open_dialog(qtbot, paths, Settings())
    dialog.settings_applied.connect(lambda s: apply_theme(app_theme, s.theme))
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    qtbot.mouseClick(button(dialog, Button.Apply), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: is_dark(dialog.palette()))
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("light"))
    qtbot.mouseClick(button(dialog, Button.Ok), Qt.MouseButton.LeftButton)
    assert not is_dark(app_theme.palette())
    assert dialog.settings().theme == "light"
