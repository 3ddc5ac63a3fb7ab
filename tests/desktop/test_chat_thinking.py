"""A reasoning model's thinking in the Chat pane: it streams under "Thinking…", folds away
when the answer begins, opens and closes from the answer's header, is stored with the
answer and never sent back to the model, and can be switched off where the template can.

The transcript is driven with a scripted reasoning stream (thinking, then an answer);
the pane runs on the real engine with the 135M test model under a reasoning model's chat
template that opens the thinking block itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop.panes.transcript import Transcript
from desktop.window.main_window import MainWindow
from engine.data.config import get_paths
from engine.data.history import History
from engine.models.starter import STARTER_ENV
from engine.types import GenerationStats, SamplingParams
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, send, wait_for_model
from tests.desktop.test_transcript import visible_lines
from tests.engine import gguf_factory as gf

THINKING = "The user asks for 2 + 2.\nTwo plus two is four; check: 4 - 2 = 2."
ANSWER = "It is **4**.\n\n```python\nprint(2 + 2)\n```"
STATS = GenerationStats(9, 0, 30, 0.2, 40.0, 300.0, 1.0, "eos", reasoning_tokens=18)


def stream(transcript: Transcript, text: str, *, reasoning: bool) -> None:
    """Send ``text`` in token-sized pieces, painting a frame after each."""
    for i in range(0, len(text), 4):
        if reasoning:
            transcript.append_reasoning(text[i : i + 4])
        else:
            transcript.append_answer(text[i : i + 4])
        transcript._flush()


def test_thinking_streams_then_folds_away_when_the_answer_begins(qtbot: QtBot) -> None:
    transcript = Transcript()
    qtbot.addWidget(transcript)
    transcript.add_user_message("What is 2 + 2?")
    transcript.begin_answer()
    stream(transcript, THINKING, reasoning=True)
    lines = visible_lines(transcript)
    assert lines[2] == "Assistant   Thinking…"
    assert lines[3:] == THINKING.split("\n")  # shown while it streams

    stream(transcript, ANSWER, reasoning=False)
    lines = visible_lines(transcript)
    assert lines[2].startswith("Assistant   ▸ Thought for ") and lines[2].endswith(" s")
    assert not any("Two plus two" in line for line in lines)
    transcript.finish_answer(ANSWER, STATS, reasoning=THINKING)

    whole = Transcript()
    qtbot.addWidget(whole)
    whole.add_user_message("What is 2 + 2?")
    whole.add_answer(ANSWER, STATS)
    # Folded, the answer reads exactly as one without thinking, but for its header.
    assert visible_lines(transcript)[3:] == visible_lines(whole)[3:]
    assert "30 tokens · 18 of them thinking · finished" in transcript.toPlainText()

    # Opened from its header link (Tab and Enter reach it like any other link).
    assert 'href="hearth:think/1"' in transcript.toHtml()
    transcript.anchorClicked.emit(QUrl("hearth:think/1"))
    assert transcript.is_thinking_open(1)
    lines = visible_lines(transcript)
    assert lines[2].startswith("Assistant   ▾ Thought for ")
    assert lines[3:5] == THINKING.split("\n")
    assert lines[5:] == visible_lines(whole)[3:]
    # The answer's copy and code links never carry the thinking.
    clipboard = QGuiApplication.clipboard()
    transcript.anchorClicked.emit(QUrl("hearth:copy/1"))
    assert clipboard.text() == ANSWER
    transcript.anchorClicked.emit(QUrl("hearth:code/1/0"))
    assert clipboard.text() == "print(2 + 2)"
    transcript.anchorClicked.emit(QUrl("hearth:think/1"))
    assert not transcript.is_thinking_open(1)
    assert visible_lines(transcript)[3:] == visible_lines(whole)[3:]


def test_thinking_cut_off_before_any_answer_stays_folded_thinking(qtbot: QtBot) -> None:
    transcript = Transcript()
    qtbot.addWidget(transcript)
    transcript.add_user_message("Prove it.")
    transcript.begin_answer()
    stream(transcript, THINKING, reasoning=True)
    transcript.finish_answer("", None, interrupted="Stopped.")
    lines = visible_lines(transcript)
    assert lines[2].startswith("Assistant   ▸ Thought for ")
    assert lines[3].startswith("Stopped.")
    assert transcript.reasoning_text(1) == THINKING
    # A stored answer's thinking time comes from its stats: 18 tokens at 40 tokens/s.
    stored = Transcript()
    qtbot.addWidget(stored)
    stored.add_answer(ANSWER, STATS, reasoning=THINKING)
    assert visible_lines(stored)[0] == "Assistant   ▸ Thought for 1 s"


@pytest.fixture
def thinker(smollm2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The starter model for this test: the test model with a reasoning model's template."""
    model = gf.thinking_model(smollm2, tmp_path / "thinker.gguf")
    monkeypatch.setenv(STARTER_ENV, str(model))
    return model


@pytest.mark.slow
def test_the_chat_pane_folds_stores_and_never_resends_the_thinking(
    qtbot: QtBot, thinker: Path, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    window.show()
    window.start()
    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=16, temperature=0.0)
    wait_for_model(qtbot, window)
    assert chat.think_check.isVisible() and chat.think_check.isChecked()
    assert chat.thinking() is True

    send(qtbot, window, "Count to ten.")
    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
    turn = chat.turns[-1]
    # The small model never closes the block its template opened: all of it is thinking.
    assert turn.reasoning.strip() and turn.content == ""
    assert "<think>" not in turn.reasoning
    assert all(m.content != turn.reasoning for m in chat.messages)
    header = visible_lines(chat.transcript)[2]
    assert header.startswith("Assistant   ▸ Thought for ")
    assert turn.reasoning.strip().split("\n")[0] not in chat.transcript.toPlainText()
    history = History(get_paths().database)
    try:
        (conversation,) = history.conversations()
        stored = history.messages(conversation.id)
    finally:
        history.close()
    assert [(m.role, m.reasoning) for m in stored] == [
        ("user", ""),
        ("assistant", turn.reasoning),
    ]

    chat.transcript.anchorClicked.emit(QUrl("hearth:think/1"))
    assert turn.reasoning.strip().split("\n")[0] in chat.transcript.toPlainText()

    # Switched off, the template writes an empty block and the model answers at once.
    chat.think_check.setChecked(False)
    send(qtbot, window, "Count to ten.")
    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
    turn = chat.turns[-1]
    assert turn.reasoning == "" and turn.content.strip()
    assert "Thought for" not in visible_lines(chat.transcript)[-3]
