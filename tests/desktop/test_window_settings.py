"""Settings, language and theme applied to the running main window, and keyboard access."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from desktop.theme import apply_theme, is_dark
from desktop.window.main_window import MainWindow
from engine.data.config import get_paths, load_settings
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import wait_for_model

pytestmark = pytest.mark.slow


def visible_texts(window: MainWindow) -> str:
    chat = window.chat_pane
    return " | ".join(
        [
            window.menuBar().actions()[0].text(),
            window.sidebar.panes.item(0).text(),
            window.sidebar.search.placeholderText(),
            chat.send_button.text(),
            chat.stop_button.text(),
            chat.new_chat_button.text(),
            chat.input.placeholderText(),
            window.model_picker.title.text(),
        ]
    )


def test_language_switches_to_chinese_and_back_at_run_time(
    qtbot: QtBot, window: MainWindow, run_async: RunAsync
) -> None:
    wait_for_model(qtbot, window)
    english = visible_texts(window)
    assert "Send" in english and "Chat" in english
    run_async(window.apply_settings(replace(window.settings, language="zh_CN")))
    qtbot.waitUntil(lambda: window.chat_pane.send_button.text() == "发送")
    chinese = visible_texts(window)
    assert "Send" not in chinese and "Chat" not in chinese
    assert window.sidebar.panes.item(0).text() == "聊天"
    assert load_settings(get_paths()).language == "zh_CN"
    run_async(window.apply_settings(replace(window.settings, language="en")))
    qtbot.waitUntil(lambda: window.chat_pane.send_button.text() == "Send")
    assert visible_texts(window) == english


def test_settings_round_trip_through_the_window(
    qtbot: QtBot, window: MainWindow, run_async: RunAsync
) -> None:
    wait_for_model(qtbot, window)
    dialog = window.open_settings()
    dialog.threads_spin.setValue(1)
    with qtbot.waitSignal(window.model_loaded, timeout=60000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not window.loading, timeout=60000)
    saved = load_settings(get_paths())
    assert saved.threads == 1
    assert window.settings == saved
    assert window.chat_pane.model_ready
    # The model was reloaded with the new thread count.
    client_model = window._client.model
    assert client_model is not None and client_model.n_threads == 1


def test_theme_switches_the_running_window(
    qtbot: QtBot, window: MainWindow, run_async: RunAsync
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        run_async(window.apply_settings(replace(window.settings, theme="dark")))
        assert is_dark(app.palette())
        qtbot.waitUntil(lambda: is_dark(window.chat_pane.transcript.palette()))
        run_async(window.apply_settings(replace(window.settings, theme="light")))
        assert not is_dark(app.palette())
        assert load_settings(get_paths()).theme == "light"
    finally:
        apply_theme(app, "system")


def test_every_control_is_reachable_by_keyboard_and_named(qtbot: QtBot, window: MainWindow) -> None:
    """Tab from the message input visits the window's controls; each has an accessible name."""
    wait_for_model(qtbot, window)
    window.activateWindow()
    chat = window.chat_pane
    chat.input.setFocus()
    seen: list[QWidget] = []
    widget: QWidget | None = chat.input
    for _ in range(60):
        assert widget is not None
        seen.append(widget)
        widget = widget.nextInFocusChain()
        while widget is not None and (
            not widget.isVisible()
            or not widget.isEnabled()
            or not widget.focusPolicy() & widget.focusPolicy().TabFocus
        ):
            widget = widget.nextInFocusChain()
        if widget is chat.input:
            break
    wanted = [
        chat.input,
        chat.transcript,
        chat.options_button,
        window.sidebar.panes,
        window.sidebar.search,
        window.model_picker.combo,
    ]
    for control in wanted:
        assert control in seen, control.objectName() or type(control).__name__
    for control in seen:
        assert control.accessibleName(), f"{type(control).__name__} has no accessible name"
