"""Complete at cursor in the Code pane on a real coder model: offered, and the body it
inserts at the cursor compiles (the model's FIM tokens come from its loaded vocabulary;
its GGUF header names none)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.panes.code import CodePane
from engine.runtime.client import EngineClient
from tests.desktop.conftest import RunAsync

BEFORE = (
    "def celsius_to_fahrenheit(celsius: float) -> float:\n"
    '    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""\n'
)
AFTER = '\n\n\nif __name__ == "__main__":\n    print(celsius_to_fahrenheit(100.0))\n'
#: Loading the model and writing a short body on a busy two-core computer.
COMPLETION_TIMEOUT_MS = 240000


@pytest.fixture
def pane(qtbot: QtBot, client: EngineClient, qloop: object) -> Iterator[CodePane]:
    widget = CodePane(client)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.shutdown()
    qtbot.waitUntil(lambda: not widget.busy, timeout=15000)


@pytest.mark.slow
def test_complete_at_cursor_writes_a_compiling_body_with_a_coder_model(
    qtbot: QtBot, pane: CodePane, client: EngineClient, run_async: RunAsync, small_coder: Path
) -> None:
    assert not pane.complete_button.isEnabled()  # no model yet
    run_async(client.load(small_coder, n_ctx=2048), timeout_ms=COMPLETION_TIMEOUT_MS)
    pane.set_model_ready(True)
    qtbot.waitUntil(lambda: pane.fim is not None, timeout=15000)
    assert pane.complete_button.isEnabled()
    assert "Ctrl+Space" in pane.complete_button.toolTip()

    pane.editor.setPlainText(BEFORE + AFTER)
    cursor = pane.editor.textCursor()
    cursor.setPosition(len(BEFORE))  # the empty line after the docstring
    pane.editor.setTextCursor(cursor)
    task = pane.complete()
    assert task is not None
    qtbot.waitUntil(task.done, timeout=COMPLETION_TIMEOUT_MS)
    task.result()

    text = pane.editor.toPlainText()
    assert text.startswith(BEFORE) and text.endswith(AFTER)
    body = text[len(BEFORE) : len(text) - len(AFTER)]
    assert "return" in body, body
    compile(text, "temperature.py", "exec")
    assert pane.complete_button.isEnabled()  # ready for the next one
    # One Ctrl+Z takes the completion back out.
    pane.editor.undo()
    assert pane.editor.toPlainText() == BEFORE + AFTER
