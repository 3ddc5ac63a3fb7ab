"""Each model's own settings in the Chat options: shown and marked, edited, saved, reset,
and changed when the picker switches model (the real window on the real engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from desktop.panes.chat_options import ChatOptionsPanel
from desktop.window.main_window import MainWindow
from engine.data.config import get_paths
from engine.data.model_settings import ModelSettings, ModelSettingsStore
from engine.data.presets import ChatOptions, builtin_prompt
from engine.models.store import ModelStore
from engine.runtime.model_defaults import ModelDefaults
from engine.types import SamplingParams
from tests.desktop.test_app import wait_for_model


@pytest.fixture
def panel(qtbot: QtBot) -> ChatOptionsPanel:
    options = ChatOptions(sampling=SamplingParams(temperature=0.2, top_k=40, top_p=0.95))
    widget = ChatOptionsPanel(options)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _own(**values: Any) -> ModelDefaults:
    return ModelDefaults(
        key="fp1:test", settings=ModelSettings(**values), recommended={"top_k": 20}
    )


def test_a_models_own_values_show_marked_over_the_options(panel: ChatOptionsPanel) -> None:
    panel.set_model("tiny", _own(temperature=0.9, system_prompt="Answer in French."))
    assert panel.temperature_spin.value() == pytest.approx(0.9)
    assert panel.top_k_spin.value() == 20  # the model's publisher recommends it
    assert panel.top_p_spin.value() == pytest.approx(0.95)  # the options' own
    assert panel.system_prompt() == "Answer in French."
    labels = {label.buddy(): label.text() for label in panel._spin_labels}
    assert labels[panel.temperature_spin].endswith("●")
    assert labels[panel.top_k_spin].endswith("○")
    assert not labels[panel.top_p_spin].endswith(("●", "○"))
    assert "tiny has its own temperature, system prompt" in panel.model_box.summary_label.text()
    assert panel.model_box.reset_button.isEnabled()
    # What is sent is what shows; what the options keep is still everyone's.
    assert panel.params().temperature == pytest.approx(0.9)
    assert panel.options().sampling.temperature == pytest.approx(0.2)


def test_editing_a_marked_value_changes_the_models_not_everyones(
    panel: ChatOptionsPanel, qtbot: QtBot
) -> None:
    panel.set_model("tiny", _own(temperature=0.9))
    with qtbot.waitSignal(panel.model_settings_changed) as changed:
        panel.temperature_spin.setValue(0.5)
    assert changed.args == [{"temperature": 0.5}]
    assert panel.options().sampling.temperature == pytest.approx(0.2)

    # An unmarked value is everyone's: the options change, the model's do not.
    seen: list[object] = []
    panel.model_settings_changed.connect(seen.append)
    with qtbot.waitSignal(panel.options_changed) as options:
        panel.top_p_spin.setValue(0.8)
    assert options.args[0].sampling.top_p == pytest.approx(0.8)
    assert options.args[0].sampling.temperature == pytest.approx(0.2)
    assert seen == []


def test_save_keeps_what_shows_and_reset_forgets_it(
    panel: ChatOptionsPanel, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    panel.set_model("tiny", ModelDefaults(key="fp1:test"))
    assert "tiny uses the default settings" in panel.model_box.summary_label.text()
    assert not panel.model_box.reset_button.isEnabled()
    panel.max_tokens_spin.setValue(300)
    with qtbot.waitSignal(panel.model_settings_changed) as saved:
        panel.model_box.save_button.click()
    assert saved.args[0]["max_tokens"] == 300
    assert saved.args[0]["system_prompt"] == builtin_prompt("Assistant")

    panel.set_model("tiny", _own(temperature=0.9))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(panel.model_settings_changed) as reset:
        panel.model_box.reset_button.click()
    assert set(reset.args[0].values()) == {None}
    assert "temperature" in reset.args[0] and "context_size" in reset.args[0]


def test_the_preset_comes_back_when_a_model_without_a_prompt_is_loaded(
    panel: ChatOptionsPanel,
) -> None:
    before = panel.system_prompt()
    panel.set_model("a", _own(system_prompt="Only answer in haiku."))
    assert panel.system_prompt() == "Only answer in haiku."
    panel.set_model("b", ModelDefaults(key="fp1:other"))
    assert panel.system_prompt() == before
    assert panel.temperature_spin.value() == pytest.approx(0.2)


@pytest.mark.slow
def test_the_picker_switches_each_models_settings_in_the_real_window(
    qtbot: QtBot, window: MainWindow, smollm2: Path, small_coder: Path
) -> None:
    paths = get_paths()
    store = ModelSettingsStore.for_paths(paths)
    coder = ModelStore.configured(paths).import_model(small_coder)
    store.update(small_coder, temperature=0.7, system_prompt="You write Python.")
    wait_for_model(qtbot, window)
    panel = window.chat_pane.options_panel
    qtbot.waitUntil(lambda: "uses the default settings" in panel.model_box.summary_label.text())
    starter_prompt = panel.system_prompt()

    picker = window.model_picker
    qtbot.waitUntil(lambda: picker.combo.findData(coder.id) >= 0, timeout=30000)
    index = picker.combo.findData(coder.id)
    picker.combo.setCurrentIndex(index)
    picker.combo.activated.emit(index)
    qtbot.waitUntil(lambda: panel.system_prompt() == "You write Python.", timeout=60000)
    wait_for_model(qtbot, window)
    assert panel.temperature_spin.value() == pytest.approx(0.7)
    assert window.chat_pane.sampling().temperature == pytest.approx(0.7)

    # Edited in the window, kept for the model on disk.
    panel.temperature_spin.setValue(0.4)
    qtbot.waitUntil(lambda: store.get_for_file(small_coder).temperature == pytest.approx(0.4))

    # A context size for this model alone: kept, and the model is loaded again with it.
    box = panel.model_box
    box.context_spin.setValue(1024)
    box.context_spin.editingFinished.emit()
    qtbot.waitUntil(
        lambda: window._client.model is not None and window._client.model.n_ctx == 1024,
        timeout=60000,
    )
    assert store.get_for_file(small_coder).context_size == 1024
    wait_for_model(qtbot, window)

    # Back on the starter: everyone's values and preset again.
    starter = next(
        picker.combo.itemData(i)
        for i in range(picker.combo.count())
        if picker.combo.itemData(i) != coder.id
    )
    index = picker.combo.findData(starter)
    picker.combo.setCurrentIndex(index)
    picker.combo.activated.emit(index)
    qtbot.waitUntil(lambda: panel.system_prompt() == starter_prompt, timeout=60000)
    assert panel.temperature_spin.value() == pytest.approx(0.2)


def test_context_size_and_chat_template_are_chosen_for_the_model(
    panel: ChatOptionsPanel, qtbot: QtBot
) -> None:
    box = panel.model_box
    panel.set_model("tiny", _own(context_size=2048, chat_template="gemma"))
    assert box.context_spin.value() == 2048
    assert box.template_combo.currentData() == "gemma"
    with qtbot.waitSignal(panel.model_settings_changed) as changed:
        box.context_spin.setValue(8192)
        box.context_spin.editingFinished.emit()
    assert changed.args == [{"context_size": 8192}]
    with qtbot.waitSignal(panel.model_settings_changed) as changed:
        index = box.template_combo.findData("chatml")
        box.template_combo.setCurrentIndex(index)
        box.template_combo.activated.emit(index)
    assert changed.args == [{"chat_template": "chatml"}]
    # "Default" (0) clears the model's own context size.
    with qtbot.waitSignal(panel.model_settings_changed) as changed:
        box.context_spin.setValue(0)
        box.context_spin.editingFinished.emit()
    assert changed.args == [{"context_size": None}]
    assert box.context_spin.text() == "Default"


def test_gpu_offload_threads_and_backend_are_chosen_for_the_model(
    panel: ChatOptionsPanel, qtbot: QtBot
) -> None:
    box = panel.model_box
    panel.set_model("tiny", _own(gpu_offload="20", backend="torch"))
    assert box.offload_combo.currentText() == "20 layers"
    assert box.backend_combo.currentData() == "torch"
    assert box.threads_spin.text() == "Default"
    for combo, value, key in (
        (box.offload_combo, "off", "gpu_offload"),
        (box.backend_combo, None, "backend"),
    ):
        with qtbot.waitSignal(panel.model_settings_changed) as changed:
            index = combo.findData(value)
            combo.setCurrentIndex(index)
            combo.activated.emit(index)
        assert changed.args == [{key: value}]
    with qtbot.waitSignal(panel.model_settings_changed) as changed:
        box.threads_spin.setValue(1)
        box.threads_spin.editingFinished.emit()
    assert changed.args == [{"threads": 1}]
