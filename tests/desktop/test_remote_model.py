"""A remote model chosen in the real window: the endpoint set in Settings (its key kept in a
file only the user reads), its models listed in the picker beside the installed ones, and
the Chat answered by a real `hearth-cli serve` process over HTTP."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.window.main_window import MainWindow
from engine.data.config import get_paths, load_settings
from engine.data.remote_key import key_file, read_remote_key
from engine.types import SamplingParams
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, send, wait_for_model
from tests.served import TOKEN, Served, serve_hearth

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, smollm2: Path) -> Iterator[Served]:
    with serve_hearth(tmp_path_factory.mktemp("remote-home"), smollm2) as running:
        yield running


def test_a_remote_model_chosen_in_the_picker_answers_in_the_chat(
    qtbot: QtBot, window: MainWindow, served: Served
) -> None:
    wait_for_model(qtbot, window)
    local = window._client.model
    assert local is not None and local.backend != "remote"

    # Settings › Remote endpoint: the address and the key, as a user types them.
    dialog = window.open_settings()
    qtbot.waitExposed(dialog)
    dialog.remote_url_edit.setText(served.url + "/v1")
    dialog.remote_key_edit.setText(TOKEN)
    dialog.buttons.accepted.emit()
    picker = window.model_picker
    qtbot.waitUntil(lambda: bool(picker.remote_models), timeout=30000)
    assert load_settings(get_paths()).remote_url == served.url + "/v1"
    assert read_remote_key(get_paths()) == TOKEN
    assert stat.S_IMODE(key_file(get_paths()).stat().st_mode) == 0o600
    assert TOKEN not in get_paths().settings_file.read_text()

    # The served model is listed after the installed one, marked remote; choosing it
    # switches the chat to it.
    index = picker.combo.findData(picker.remote_models[0].model_id)
    assert index >= 1 and picker.combo.itemText(index).endswith("(remote)")
    picker.combo.setCurrentIndex(index)
    picker.combo.activated.emit(index)
    qtbot.waitUntil(lambda: window._client.remote is not None, timeout=30000)
    wait_for_model(qtbot, window)
    assert "Remote:" in window.status_bar.plan.text()

    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=12, temperature=0.0)
    send(qtbot, window, "Say hello.")
    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
    result = chat.last_result
    assert result is not None and result.text.strip()
    assert result.backend == "remote"
    # The choice is remembered for the next launch.
    qtbot.waitUntil(lambda: load_settings(get_paths()).last_model.startswith("remote:"))
