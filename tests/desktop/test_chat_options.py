"""The Chat pane's options panel: presets and sampling, edited as a user would."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from desktop.panes.chat_options import TEXT_DEBOUNCE_MS, ChatOptionsPanel
from engine.data.config import get_paths
from engine.data.presets import DEFAULT_PRESET, ChatOptions, ChatOptionsStore, builtin_prompt
from engine.types import SamplingParams


@pytest.fixture
def make_panel(qtbot: QtBot) -> Any:
    def make(options: ChatOptions | None = None) -> ChatOptionsPanel:
        panel = ChatOptionsPanel(options or ChatOptions())
        qtbot.addWidget(panel)
        panel.show()
        return panel

    return make


def answer_name(monkeypatch: pytest.MonkeyPatch, name: str, ok: bool = True) -> list[tuple]:
    """Make the name dialog answer ``name``; return the calls it got."""
    calls: list[tuple] = []

    def get_text(*args: Any, **kwargs: Any) -> tuple[str, bool]:
        calls.append(args)
        return name, ok

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    return calls


def answer_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)


def test_the_panel_shows_the_given_options(make_panel: Any) -> None:
    sampling = SamplingParams(temperature=0.3, top_k=12, seed=99, max_tokens=300)
    panel = make_panel(ChatOptions(sampling=sampling).with_selected("Concise"))
    assert panel.preset_combo.currentText() == "Concise"
    assert panel.system_prompt() == builtin_prompt("Concise")
    assert panel.params() == sampling
    assert panel.temperature_spin.value() == pytest.approx(0.3)
    assert panel.options() == ChatOptions(sampling=sampling).with_selected("Concise")


def test_special_values_read_as_words(make_panel: Any) -> None:
    sampling = SamplingParams(temperature=0.0, top_k=0, min_p=0.0, seed=-1)
    panel = make_panel(ChatOptions(sampling=sampling))
    assert panel.temperature_spin.text() == "0 (greedy)"
    assert panel.seed_spin.text() == "Random"
    assert panel.top_k_spin.text() == "Off"
    assert panel.min_p_spin.text() == "Off"
    assert panel.params().temperature == 0.0 and panel.params().seed == -1


def test_changing_a_spin_box_changes_params_and_emits(make_panel: Any, qtbot: QtBot) -> None:
    sampling = SamplingParams(stop=("###",), repeat_last_n=128, ignore_eos=True)
    panel = make_panel(ChatOptions(sampling=sampling))
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        panel.top_k_spin.setValue(7)
    options = blocker.args[0]
    assert isinstance(options, ChatOptions)
    assert options.sampling.top_k == 7 and panel.params().top_k == 7
    # What the panel does not show is kept.
    assert panel.params().stop == ("###",)
    assert panel.params().repeat_last_n == 128 and panel.params().ignore_eos

    panel.temperature_spin.setFocus()
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        qtbot.keyClick(panel.temperature_spin, Qt.Key.Key_Up)
    raised = SamplingParams().temperature + 0.05  # one step up from the default
    assert blocker.args[0].sampling.temperature == pytest.approx(raised)
    assert panel.params().temperature == pytest.approx(raised)

    for spin, value, field in [
        (panel.top_p_spin, 0.5, "top_p"),
        (panel.min_p_spin, 0.2, "min_p"),
        (panel.repeat_penalty_spin, 1.3, "repeat_penalty"),
        (panel.max_tokens_spin, 2048, "max_tokens"),
        (panel.seed_spin, 1234, "seed"),
    ]:
        with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
            spin.setValue(value)
        assert getattr(blocker.args[0].sampling, field) == pytest.approx(value)
        assert getattr(panel.params(), field) == pytest.approx(value)


def test_spin_boxes_stay_in_range(make_panel: Any) -> None:
    panel = make_panel()
    panel.temperature_spin.setValue(9)
    panel.max_tokens_spin.setValue(100000)
    panel.max_tokens_spin.setValue(0)
    assert panel.params().temperature == 2.0
    assert panel.params().max_tokens == 1


def test_reset_sampling_brings_back_the_defaults(make_panel: Any, qtbot: QtBot) -> None:
    sampling = SamplingParams(temperature=1.5, top_k=3, seed=5, stop=("END",))
    panel = make_panel(ChatOptions(sampling=sampling))
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.reset_sampling_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].sampling == SamplingParams(stop=("END",))
    assert panel.params() == SamplingParams(stop=("END",))


def test_typing_in_the_prompt_is_reported_once_typing_pauses(make_panel: Any, qtbot: QtBot) -> None:
    panel = make_panel()
    panel.prompt_edit.clear()
    emitted: list[ChatOptions] = []
    panel.options_changed.connect(emitted.append)
    panel.prompt_edit.setFocus()
    with qtbot.waitSignal(panel.options_changed, timeout=2000) as blocker:
        qtbot.keyClicks(panel.prompt_edit, "Answer in French.")
    # One report for the whole phrase, not one per key.
    assert len(emitted) == 1
    assert blocker.args[0].system_prompt == "Answer in French."
    assert panel.system_prompt() == "Answer in French."
    assert panel.save_button.isEnabled() and not panel.unsaved_label.isHidden()


def test_save_overwrites_the_selected_preset(make_panel: Any, qtbot: QtBot) -> None:
    panel = make_panel(ChatOptions().with_selected("Concise"))
    assert not panel.save_button.isEnabled()  # nothing to save yet
    assert not panel.restore_button.isEnabled()
    panel.prompt_edit.setPlainText("Answer in one word.")
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    options = blocker.args[0]
    assert options.preset("Concise").prompt == "Answer in one word."
    assert options.draft is None
    assert panel.preset_combo.currentText() == "Concise (edited)"
    assert not panel.save_button.isEnabled()
    assert panel.restore_button.isEnabled()  # a built-in with an override
    assert not panel.delete_button.isEnabled()


def test_restore_brings_back_a_builtin_preset(
    make_panel: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = ChatOptions().with_preset_saved("Code helper", "Rust only.")
    panel = make_panel(options.with_selected("Code helper"))
    assert panel.system_prompt() == "Rust only."
    answer_yes(monkeypatch)
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.restore_button, Qt.MouseButton.LeftButton)
    assert not blocker.args[0].is_overridden("Code helper")
    assert panel.system_prompt() == builtin_prompt("Code helper")
    assert panel.preset_combo.currentText() == "Code helper"
    assert not panel.restore_button.isEnabled()


def test_save_as_adds_a_preset_and_selects_it(
    make_panel: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = make_panel()
    count = panel.preset_combo.count()
    panel.prompt_edit.setPlainText("Talk like a pirate.")
    calls = answer_name(monkeypatch, "  Pirate ")
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.save_as_button, Qt.MouseButton.LeftButton)
    assert calls and calls[0][0] is panel  # the dialog belongs to the panel
    options = blocker.args[0]
    assert options.selected == "Pirate"
    assert options.preset("Pirate").prompt == "Talk like a pirate."
    assert panel.preset_combo.count() == count + 1
    assert panel.preset_combo.currentText() == "Pirate"
    # A user's own preset can be renamed and deleted.
    assert panel.delete_button.isEnabled() and panel.rename_button.isEnabled()
    assert not panel.restore_button.isEnabled()


@pytest.mark.parametrize(
    ("name", "message"),
    [("   ", "needs a name"), ("concise", "already a preset"), ("x" * 61, "at most 60")],
)
def test_save_as_refuses_an_empty_or_taken_name(
    make_panel: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    panel = make_panel()
    before = panel.options()
    emitted: list[ChatOptions] = []
    panel.options_changed.connect(emitted.append)
    answer_name(monkeypatch, name)
    qtbot.mouseClick(panel.save_as_button, Qt.MouseButton.LeftButton)
    assert panel.message_bar.isVisible()
    assert "not saved" in panel.message_bar.text() and message in panel.message_bar.text()
    assert panel.options() == before and not emitted


def test_cancelling_save_as_changes_nothing(
    make_panel: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = make_panel()
    before = panel.options()
    answer_name(monkeypatch, "Anything", ok=False)
    qtbot.mouseClick(panel.save_as_button, Qt.MouseButton.LeftButton)
    assert panel.options() == before and not panel.message_bar.isVisible()


def test_delete_and_rename_are_disabled_for_builtin_presets(make_panel: Any) -> None:
    panel = make_panel()
    for index in range(panel.preset_combo.count()):
        panel.preset_combo.setCurrentIndex(index)
        panel.preset_combo.activated.emit(index)
        assert not panel.delete_button.isEnabled(), panel.preset_combo.currentText()
        assert not panel.rename_button.isEnabled()


def test_a_user_preset_can_be_renamed_and_deleted(
    make_panel: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = make_panel(ChatOptions().with_preset_added("Poet", "Answer in rhyme."))
    answer_name(monkeypatch, "Rhymer")
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.rename_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].selected == "Rhymer"
    assert panel.preset_combo.currentText() == "Rhymer"

    answer_yes(monkeypatch)
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    options = blocker.args[0]
    assert options.preset("Rhymer") is None and options.selected == DEFAULT_PRESET
    assert panel.preset_combo.findData("Rhymer") == -1
    assert panel.system_prompt() == builtin_prompt(DEFAULT_PRESET)


def test_choosing_a_preset_shows_its_text(make_panel: Any, qtbot: QtBot) -> None:
    panel = make_panel()
    index = panel.preset_combo.findData("Writing editor")
    with qtbot.waitSignal(panel.options_changed, timeout=1000) as blocker:
        panel.preset_combo.setCurrentIndex(index)
        panel.preset_combo.activated.emit(index)
    assert blocker.args[0].selected == "Writing editor"
    assert panel.system_prompt() == builtin_prompt("Writing editor")


def test_set_system_prompt_selects_a_matching_preset_or_shows_custom(
    make_panel: Any, qtbot: QtBot
) -> None:
    panel = make_panel()
    emitted: list[ChatOptions] = []
    panel.options_changed.connect(emitted.append)

    panel.set_system_prompt(builtin_prompt("Explain like a teacher") or "")
    assert panel.preset_combo.currentText() == "Explain like a teacher"
    assert panel.options().selected == "Explain like a teacher"

    panel.set_system_prompt("You are a grumpy cat.")
    assert panel.preset_combo.currentText() == "(custom)"
    assert panel.system_prompt() == "You are a grumpy cat."
    assert panel.options().selected == "" and panel.options().system_prompt == (
        "You are a grumpy cat."
    )
    assert not panel.save_button.isEnabled()  # no preset to overwrite
    assert not panel.delete_button.isEnabled()
    assert not emitted  # opening a conversation is not an edit

    # Back to a preset: the custom entry goes away.
    panel.set_system_prompt(builtin_prompt("Concise") or "")
    assert panel.preset_combo.findData("") == -1
    assert panel.preset_combo.currentText() == "Concise"


def test_keyboard_order_follows_the_panel(make_panel: Any) -> None:
    panel = make_panel()
    expected: list[QWidget] = [
        panel.preset_combo,
        panel.prompt_edit,
        panel.save_button,
        panel.save_as_button,
        panel.rename_button,
        panel.delete_button,
        panel.restore_button,
        panel.temperature_spin,
        panel.top_p_spin,
        panel.top_k_spin,
        panel.min_p_spin,
        panel.repeat_penalty_spin,
        panel.max_tokens_spin,
        panel.seed_spin,
        panel.reset_sampling_button,
    ]
    order: list[QWidget] = []
    widget = panel.preset_combo
    for _ in range(200):
        if widget in expected and widget not in order:
            order.append(widget)
        widget = widget.nextInFocusChain()
        if widget is panel.preset_combo:
            break
    assert order == expected
    for widget in expected:
        assert widget.focusPolicy() & Qt.FocusPolicy.TabFocus
        assert widget.accessibleName()
    for spin in expected[7:14]:
        assert len(spin.toolTip()) > 30


def test_labels_are_buddies_of_their_controls(make_panel: Any) -> None:
    panel = make_panel()
    assert panel.preset_label.buddy() is panel.preset_combo
    assert panel.prompt_label.buddy() is panel.prompt_edit
    buddies = {label.buddy() for label in panel.findChildren(type(panel.preset_label))}
    for spin in (panel.temperature_spin, panel.seed_spin, panel.max_tokens_spin):
        assert spin in buddies


def test_a_language_change_retranslates(make_panel: Any) -> None:
    panel = make_panel()
    panel.sampling_group.setTitle("stale")
    QCoreApplication.sendEvent(panel, QEvent(QEvent.Type.LanguageChange))
    assert panel.sampling_group.title() == "Sampling"


def test_what_the_panel_reports_round_trips_through_the_store(
    make_panel: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ChatOptionsStore.for_paths(get_paths())
    panel = make_panel(store.load())
    panel.options_changed.connect(store.save)
    panel.prompt_edit.setPlainText("Be brief and kind.")
    answer_name(monkeypatch, "Kind")
    with qtbot.waitSignal(panel.options_changed, timeout=1000):
        qtbot.mouseClick(panel.save_as_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.options_changed, timeout=1000):
        panel.seed_spin.setValue(7)

    reopened = make_panel(store.load())
    assert reopened.preset_combo.currentText() == "Kind"
    assert reopened.system_prompt() == "Be brief and kind."
    assert reopened.params().seed == 7


def test_answering_no_keeps_the_preset(
    make_panel: Any, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = make_panel(ChatOptions().with_preset_added("Poet", "Answer in rhyme."))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    emitted: list[ChatOptions] = []
    panel.options_changed.connect(emitted.append)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert panel.options().preset("Poet") is not None and not emitted
    assert panel.preset_combo.currentText() == "Poet"


def test_set_options_shows_options_loaded_later_without_reporting_them(
    make_panel: Any, qtbot: QtBot
) -> None:
    panel = make_panel(ChatOptions.defaults())
    panel.prompt_edit.setPlainText("typed before the load finished")
    loaded = (
        ChatOptions()
        .with_preset_added("Poet", "Answer in rhyme.")
        .with_sampling(SamplingParams(top_k=9, seed=3))
    )
    with qtbot.assertNotEmitted(panel.options_changed, wait=TEXT_DEBOUNCE_MS + 200):
        panel.set_options(loaded)
    assert panel.preset_combo.currentText() == "Poet"
    assert panel.system_prompt() == "Answer in rhyme."
    assert panel.params() == SamplingParams(top_k=9, seed=3)
    assert panel.options() == loaded
    assert panel.delete_button.isEnabled()
