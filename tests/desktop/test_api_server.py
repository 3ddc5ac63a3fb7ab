"""The window's API server, used as a user and their tools would: switched on in the panel,
called with the official ``openai`` client while the chat keeps working on the same
engine, logged, switched off (the port is free again), remembered for the next launch,
and a port in use explained."""

from __future__ import annotations

import socket
import stat
import threading
from collections.abc import Callable
from typing import Any

import openai
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.dialogs.api_server import METHOD, PATH, STATUS, TOKENS, ApiServerDialog
from desktop.i18n import Translations
from desktop.window.main_window import MainWindow
from engine.data.config import get_paths, load_settings, update_settings
from engine.server.token import token_file
from engine.types import SamplingParams
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, send, wait_for_model
from tests.desktop.test_zh_cn import english_in, visible_texts

pytestmark = pytest.mark.slow


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port``, and another server could listen there now."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        # As servers do (Hearth's too): the connections the server closed linger in
        # TIME_WAIT for a minute, which only a plain bind would mind.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            return False
        return True


class InThread:
    """Runs ``call`` on a thread (the Qt thread must stay free to serve it)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.result = call()
        except BaseException as exc:
            self.error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, qtbot: QtBot, timeout_ms: int = ANSWER_TIMEOUT_MS) -> Any:
        qtbot.waitUntil(self.done, timeout=timeout_ms)
        if self.error is not None:
            raise self.error
        return self.result


def switch_on(qtbot: QtBot, window: MainWindow, port: int) -> ApiServerDialog:
    dialog = window.open_api_server()
    qtbot.waitExposed(dialog)
    dialog.port_spin.setValue(port)
    assert not dialog.switch.isChecked()
    dialog.switch.click()
    qtbot.waitUntil(lambda: not window.api_server.busy and not dialog.busy, timeout=30000)
    return dialog


def test_the_window_serves_its_model_to_the_openai_client_while_the_chat_works(
    qtbot: QtBot, window: MainWindow
) -> None:
    wait_for_model(qtbot, window)
    assert window.status_bar.api.text() == "API: off"
    port = free_port()
    dialog = switch_on(qtbot, window, port)
    host = window.api_server
    assert host.running and dialog.switch.isChecked()
    address = f"http://127.0.0.1:{port}"
    assert window.status_bar.api.text() == f"API: {address}"
    assert dialog.address_edit.text() == f"{address}/v1"
    assert not dialog.port_spin.isEnabled()
    # The token is generated once, kept private, and hidden until asked for.
    kept = token_file(get_paths())
    assert kept.read_text().strip() == host.token == dialog.token_edit.text()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert dialog.token_edit.displayText() != host.token
    dialog.show_token_button.click()
    assert dialog.token_edit.displayText() == host.token
    dialog.copy_token_button.click()
    assert QGuiApplication.clipboard().text() == host.token
    dialog.copy_address_button.click()
    assert QGuiApplication.clipboard().text() == f"{address}/v1"
    qtbot.waitUntil(lambda: load_settings(get_paths()).api_server)
    assert load_settings(get_paths()).api_port == port

    api = openai.OpenAI(base_url=f"{address}/v1", api_key=host.token, max_retries=0, timeout=120)
    models = InThread(lambda: [m.id for m in api.models.list()]).wait(qtbot)
    loaded = window._client.model
    assert loaded is not None and models == [loaded.model_id]

    # A long answer through the API; while it streams, the chat asks too: it waits its
    # turn on the one engine, and both are answered.
    answer = InThread(
        lambda: api.chat.completions.create(
            model=loaded.model_id,
            messages=[{"role": "user", "content": "Count from one to a hundred."}],
            max_tokens=96,
            temperature=0,
            extra_body={"ignore_eos": True},
        )
    )
    qtbot.waitUntil(lambda: host.active == 1, timeout=ANSWER_TIMEOUT_MS)
    assert "answering 1" in window.status_bar.api.text()
    assert "1" in dialog.status_label.text()
    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=12, temperature=0.0)
    send(qtbot, window, "Name a colour.")
    assert chat.generating
    response = answer.wait(qtbot)
    assert response.choices[0].message.content.strip()
    assert response.usage.completion_tokens == 96
    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
    assert chat.last_result is not None and chat.last_result.text.strip()
    qtbot.waitUntil(lambda: host.active == 0)
    assert window.status_bar.api.text() == f"API: {address}"

    # The log shows both requests, the generation with its token counts.
    qtbot.waitUntil(lambda: dialog.log_table.rowCount() == 2)
    table = dialog.log_table
    row = [table.item(1, column).text() for column in (METHOD, PATH, STATUS, TOKENS)]
    assert row[:3] == ["POST", "/v1/chat/completions", "200"]
    assert row[3].endswith("+ 96")
    assert table.item(0, PATH).text() == "/v1/models"

    # A wrong token is refused, and logged as such.
    wrong = openai.OpenAI(base_url=f"{address}/v1", api_key="x" * 20, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        InThread(lambda: wrong.models.list()).wait(qtbot)
    qtbot.waitUntil(lambda: table.rowCount() == 3)
    assert table.item(2, STATUS).text() == "401"

    # Off: the port is free again, and the choice is remembered.
    dialog.switch.click()
    qtbot.waitUntil(lambda: not host.running and not host.busy, timeout=30000)
    assert port_is_free(port)
    assert window.status_bar.api.text() == "API: off"
    assert dialog.address_edit.text() == ""
    qtbot.waitUntil(lambda: not load_settings(get_paths()).api_server)


def test_a_port_in_use_is_explained_and_nothing_breaks(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    window.show()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = int(taken.getsockname()[1])
        dialog = switch_on(qtbot, window, port)
        host = window.api_server
        assert not host.running
        assert f"Port {port} is already in use" in host.error
        assert dialog.error_bar.isVisible() and str(port) in dialog.error_bar.text()
        assert not dialog.switch.isChecked() and dialog.switch.isEnabled()
        assert window.status_bar.api.text() == "API: off"
        assert str(port) in window.status_bar.api.toolTip()
    # Another port works, from the same panel.
    other = free_port()
    dialog.port_spin.setValue(other)
    dialog.switch.click()
    qtbot.waitUntil(lambda: host.running and not host.busy, timeout=30000)
    assert not dialog.error_bar.isVisible()
    assert window.status_bar.api.text() == f"API: http://127.0.0.1:{other}"


def test_a_server_that_was_on_comes_back_at_launch(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    port = free_port()
    update_settings(get_paths(), api_server=True, api_port=port)
    window = make_window()
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.api_server.running, timeout=30000)
    assert window.status_bar.api.text() == f"API: http://127.0.0.1:{port}"
    wait_for_model(qtbot, window)
    api = openai.OpenAI(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=window.api_server.token,
        max_retries=0,
        timeout=120,
    )
    answer = InThread(
        lambda: api.completions.create(model="", prompt="The sky is", max_tokens=8, temperature=0)
    ).wait(qtbot)
    assert answer.usage.completion_tokens > 0
    assert len(window.api_server.log) == 1


def test_under_chinese_the_panel_and_its_port_message_show_no_english(
    qtbot: QtBot,
    qapp: QApplication,
    monkeypatch: pytest.MonkeyPatch,
    make_window: Callable[[], MainWindow],
) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    translations = Translations(qapp)
    translations.apply("zh_CN")
    try:
        window = make_window()
        window.show()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = int(taken.getsockname()[1])
            dialog = switch_on(qtbot, window, port)
        assert dialog.error_bar.isVisible()
        # Data shown as it is in every language: the address, the API's name, HTTP.
        data = ["OpenAI", "API", "127.0.0.1", "URL"]
        texts = [*(t for _, t in visible_texts(dialog, dialog)), window.status_bar.api.text()]
        texts.append(window.status_bar.api.toolTip())
        assert english_in([("", t) for t in texts], data) == []
        assert "端口" in dialog.error_bar.text()
        assert window.status_bar.api.text() == "API：已关闭"
    finally:
        translations.apply("en")
        qapp.processEvents()
