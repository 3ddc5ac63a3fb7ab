"""The main window and the Chat pane, driven as a user would, on the real engine and model."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.window.main_window import MainWindow
from engine.data.config import get_paths, load_settings
from engine.data.logs import LOG_FILE, setup_logging
from engine.models.starter import starter_id
from engine.runtime.client import EngineClient
from engine.types import SamplingParams

pytestmark = pytest.mark.slow

LOAD_TIMEOUT_MS = 60000
ANSWER_TIMEOUT_MS = 120000
#: An answer that goes on until stopped (bounded by the 4096-token context).
ENDLESS = SamplingParams(max_tokens=4000, ignore_eos=True, seed=7)


def wait_for_model(qtbot: QtBot, window: MainWindow) -> None:
    """Wait until a model is loaded and the chat accepts messages."""
    qtbot.waitUntil(
        lambda: window.chat_pane.model_ready and not window.loading, timeout=LOAD_TIMEOUT_MS
    )


def send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    """Type ``text`` in the input and press Enter."""
    chat = window.chat_pane
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, text)
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)


def test_window_appears_before_the_model_loads_then_shows_the_plan(
    qtbot: QtBot, window: MainWindow, client: EngineClient
) -> None:
    assert window.isVisible()
    assert client.model is None  # the load runs in the background, after show()
    assert not window.chat_pane.send_button.isEnabled()

    wait_for_model(qtbot, window)

    info = client.model
    assert info is not None and info.model_id == starter_id()
    assert window.status_bar.plan.text() == info.plan_reason
    assert window.status_bar.plan.text().startswith(("CPU:", "CUDA:", "Metal:"))
    assert window.status_bar.model.text() == "SmolLM2-135M-Instruct.Q4_1"
    assert "(starter)" in window.model_picker.combo.currentText()
    assert window.model_picker.combo.currentData() == starter_id()
    assert window.status_bar.context.text() == f"0 / {info.n_ctx} tokens"
    # Saved off the Qt thread, just after the model is ready.
    qtbot.waitUntil(lambda: load_settings(get_paths()).last_model == starter_id())


def test_sidebar_and_shortcuts_switch_panes_and_the_last_pane_is_restored(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    window.show()
    panes = window.sidebar.panes
    assert [panes.item(i).text() for i in range(panes.count())] == ["Chat", "Summarize", "Code"]
    assert window.stack.currentWidget() is window.chat_pane
    panes.setCurrentRow(1)
    assert window.stack.currentWidget() is window.summarize_pane
    assert window.sidebar.mode == "summaries"  # the sidebar lists stored summaries there
    panes.setCurrentRow(2)
    assert window.stack.currentWidget() is window.code_page
    assert window.sidebar.mode == "code"  # the sidebar lists stored code tasks there
    with qtbot.waitActive(window):
        window.activateWindow()
    panes.setFocus()
    qtbot.keyClick(panes, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.chat_pane and panes.currentRow() == 0
    qtbot.keyClick(panes, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentIndex() == 2 and panes.currentRow() == 2
    window.close()
    again = make_window()
    assert again.stack.currentIndex() == 2 and again.sidebar.panes.currentRow() == 2


def test_enter_streams_an_answer_with_its_stats(
    qtbot: QtBot, window: MainWindow, client: EngineClient
) -> None:
    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=48, temperature=0.0)
    wait_for_model(qtbot, window)

    # Shift+Enter is a newline, not a send.
    chat.input.setFocus()
    qtbot.keyClicks(chat.input, "Name a colour.")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(chat.input, "Just one word.")
    assert chat.input.toPlainText() == "Name a colour.\nJust one word."
    assert chat.messages == []

    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert chat.generating
    assert not chat.send_button.isEnabled()
    assert chat.stop_button.isEnabled()
    assert not window.model_picker.combo.isEnabled()
    assert chat.input.toPlainText() == ""

    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
    result = chat.last_result
    assert result is not None
    assert result.text.strip()
    assert [m.role for m in chat.messages] == ["user", "assistant"]
    assert chat.messages[0].content == "Name a colour.\nJust one word."
    assert chat.messages[1].content == result.text

    shown = chat.transcript.toPlainText()
    assert "Name a colour." in shown
    assert result.text.strip().split()[0] in shown
    assert re.search(r"TTFT \d+\.\d\d s · \d+\.\d tokens/s · \d+ tokens · ", shown)
    assert re.fullmatch(r"\d+\.\d tokens/s", window.status_bar.speed.text())
    assert window.model_picker.combo.isEnabled()

    # The context meter counts the whole conversation once the answer is in.
    qtbot.waitUntil(lambda: window.status_bar.context.value() > 0, timeout=ANSWER_TIMEOUT_MS)
    assert re.fullmatch(r"\d+ / 4096 tokens", window.status_bar.context.text())

    # Ctrl+N starts a new chat.
    window.activateWindow()
    qtbot.keyClick(chat.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: chat.messages == [])
    assert chat.transcript.toPlainText() == ""
    qtbot.waitUntil(lambda: window.status_bar.context.text() == "0 / 4096 tokens")


def test_stop_ends_a_long_answer_as_cancelled(qtbot: QtBot, window: MainWindow) -> None:
    chat = window.chat_pane
    chat.params = ENDLESS
    wait_for_model(qtbot, window)
    send(qtbot, window, "Tell me a very long story about a lighthouse.")

    # Text appears while the answer streams, before it ends.
    qtbot.waitUntil(
        lambda: chat.generating and len(chat.transcript.toPlainText()) > 120,
        timeout=ANSWER_TIMEOUT_MS,
    )
    qtbot.keyClick(chat.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not chat.generating, timeout=5000)

    result = chat.last_result
    assert result is not None
    assert result.stats.stop_reason == "cancelled"
    assert result.stats.generated_tokens < ENDLESS.max_tokens
    assert "stopped" in chat.transcript.toPlainText()
    assert chat.messages[-1].content == result.text  # the partial answer is kept
    assert not chat.error_bar.isVisible()


def test_killed_engine_shows_restart_and_the_next_message_works(
    qtbot: QtBot, window: MainWindow, client: EngineClient
) -> None:
    chat = window.chat_pane
    chat.params = ENDLESS
    wait_for_model(qtbot, window)
    send(qtbot, window, "Write a long poem about the sea.")
    qtbot.waitUntil(
        lambda: chat.generating and len(chat.transcript.toPlainText()) > 80,
        timeout=ANSWER_TIMEOUT_MS,
    )
    pid = client.worker_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    qtbot.waitUntil(lambda: not chat.generating, timeout=15000)
    assert chat.error_bar.isVisible()
    assert "SIGKILL" in chat.error_bar.text()
    assert chat.error_bar.action_button.isVisible()
    assert chat.error_bar.action_button.text() == "Restart engine"
    shown = chat.transcript.toPlainText()
    assert "Write a long poem about the sea." in shown
    assert "Interrupted" in shown
    assert chat.messages[0].content == "Write a long poem about the sea."

    qtbot.mouseClick(chat.error_bar.action_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not chat.error_bar.isVisible(), timeout=LOAD_TIMEOUT_MS)
    wait_for_model(qtbot, window)
    assert client.worker_pid not in (None, pid)
    assert client.model is not None and client.model.model_id == starter_id()

    chat.params = SamplingParams(max_tokens=24, temperature=0.0)
    send(qtbot, window, "Say hello.")
    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
    assert not chat.error_bar.isVisible()
    assert chat.last_result is not None and chat.last_result.text.strip()
    assert [m.role for m in chat.messages] == ["user", "assistant", "user", "assistant"]
    assert "Write a long poem about the sea." in chat.transcript.toPlainText()


def test_failed_load_explains_and_keeps_the_previous_model(
    qtbot: QtBot, make_window: Callable[[], MainWindow], client: EngineClient, smollm2: Path
) -> None:
    broken = get_paths().models_dir / "test" / "broken-GGUF" / "broken.gguf"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(smollm2.read_bytes()[: 3 * 1024 * 1024])  # truncated mid-tensors
    win = make_window()
    win.show()
    win.start()
    wait_for_model(qtbot, win)
    assert win.model_picker.combo.count() == 2
    index = win.model_picker.combo.findData("test/broken-GGUF/broken")
    assert index >= 0

    with qtbot.waitSignal(win.model_load_failed, timeout=LOAD_TIMEOUT_MS):
        win.model_picker.combo.setCurrentIndex(index)
        win.model_picker.combo.activated.emit(index)

    assert win.message_bar.isVisible()
    assert "Could not load broken" in win.message_bar.text()
    assert win.model_picker.combo.currentData() == starter_id()
    assert client.model is not None and client.model.model_id == starter_id()
    wait_for_model(qtbot, win)

    chat = win.chat_pane
    chat.params = SamplingParams(max_tokens=16, temperature=0.0)
    send(qtbot, win, "Hi!")
    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
    assert chat.last_result is not None and chat.last_result.stats.generated_tokens > 0


def test_window_geometry_is_restored(make_window: Callable[[], MainWindow]) -> None:
    first = make_window()
    first.resize(700, 500)
    first.show()
    first.close()
    second = make_window()
    assert (second.width(), second.height()) == (700, 500)


def test_hearth_starts_loads_and_quits_cleanly_on_sigterm(hearth_home: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    code = "import sys; from desktop.app import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the console log; bounded by the test timeout
            seen.append(line)
            if "desktop.window" in line and "Loaded " in line:
                break
        assert any("Window shown" in line for line in seen), "".join(seen)
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert "Hearth stopped" in rest
    assert re.search(r"Engine worker \d+ exited: exited with status 0", rest)
    log_file = hearth_home / "logs" / LOG_FILE
    assert "Window shown" in log_file.read_text(encoding="utf-8")


def test_desktop_does_not_import_inference_libraries() -> None:
    code = (
        "import desktop.app, desktop.window.main_window, desktop.panes.chat, "
        "desktop.panes.transcript, desktop.widgets, sys; "
        "print(sorted(m for m in ('llama_cpp', 'torch', 'huggingface_hub') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_entry_module_imports_no_qt_before_it_knows_it_is_the_gui() -> None:
    # A frozen app started as the engine worker must not load Qt.
    code = "import desktop.app, sys; print('PySide6' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_setup_logging_writes_the_rotating_file_once(qapp: QApplication) -> None:
    paths = get_paths()
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        setup_logging(paths, console=False)
        setup_logging(paths, console=False)  # a second call must not double the lines
        logging.getLogger("desktop.test").warning("hello log")
        for handler in root.handlers:
            handler.flush()
        text = (paths.log_dir / LOG_FILE).read_text(encoding="utf-8")
        assert text.count("hello log") == 1
        assert "WARNING desktop.test" in text
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        logging.captureWarnings(False)
