"""Conversations as a user keeps them: stored as they stream, reopened, searched, exported,
regenerated, edited and resent, rated, deleted and restored — on the real engine and model,
with the real history database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.window.main_window import MainWindow
from engine.data.config import get_paths
from engine.data.history import History
from engine.types import SamplingParams
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, send, wait_for_model

pytestmark = pytest.mark.slow

SHORT = SamplingParams(max_tokens=24, temperature=0.0)


def stored(conversation_id: int | None = None) -> list[tuple[str, str]]:
    """(role, content) of the stored messages of a conversation (the only one by default)."""
    history = History(get_paths().database)
    try:
        if conversation_id is None:
            (conversation,) = history.conversations()
            conversation_id = conversation.id
        return [(m.role, m.content) for m in history.messages(conversation_id)]
    finally:
        history.close()


def answer(qtbot: QtBot, window: MainWindow, text: str) -> None:
    send(qtbot, window, text)
    qtbot.waitUntil(lambda: not window.chat_pane.generating, timeout=ANSWER_TIMEOUT_MS)


def test_a_conversation_is_stored_as_it_happens_and_reopens(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    window.show()
    window.start()
    chat = window.chat_pane
    chat.params = SHORT
    wait_for_model(qtbot, window)
    answer(qtbot, window, "What colour is the sky?")
    result = chat.last_result
    assert result is not None and result.text.strip()
    assert stored() == [("user", "What colour is the sky?"), ("assistant", result.text)]
    qtbot.waitUntil(lambda: window.sidebar.conversation_ids() == [chat.conversation_id])
    assert window.sidebar.conversations.item(0).text() == "What colour is the sky?"
    assert chat.title_label.text() == "What colour is the sky?"

    # The stats are stored with the answer, so they show again after a restart.
    history = History(get_paths().database)
    (message,) = [m for m in history.messages(chat.conversation_id) if m.role == "assistant"]
    history.close()
    assert message.stats is not None
    assert message.stats["generated_tokens"] == result.stats.generated_tokens

    window.close()
    again = make_window()
    again.show()
    again.start()
    reopened = again.chat_pane
    qtbot.waitUntil(lambda: reopened.conversation_id == chat.conversation_id, timeout=10000)
    assert [m.content for m in reopened.messages] == ["What colour is the sky?", result.text]
    shown = reopened.transcript.toPlainText()
    assert "What colour is the sky?" in shown and result.text.strip()[:20] in shown
    assert f"{result.stats.generated_tokens} tokens" in shown
    assert again.sidebar.conversation_ids() == [chat.conversation_id]


def tree_contents(conversation_id: int) -> list[str]:
    """Every stored message of a conversation, on screen or not, oldest first."""
    history = History(get_paths().database)
    try:
        return [m.content for m in history.tree(conversation_id).messages]
    finally:
        history.close()


def test_regenerate_keeps_the_earlier_answer(qtbot: QtBot, window: MainWindow) -> None:
    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=12, temperature=1.0, seed=1)
    wait_for_model(qtbot, window)
    answer(qtbot, window, "Name an animal.")
    first = chat.messages[1].content
    assert chat.regenerate_button.isEnabled()
    chat.params = SamplingParams(max_tokens=12, temperature=1.0, seed=99)
    qtbot.mouseClick(chat.regenerate_button, Qt.MouseButton.LeftButton)
    assert chat.generating
    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)
    assert [m.role for m in chat.messages] == ["user", "assistant"]
    second = chat.messages[1].content
    assert second != first  # another seed, another answer
    # The new answer is on screen and stored as the branch shown; the first is kept.
    assert stored() == [("user", "Name an animal."), ("assistant", second)]
    assert tree_contents(chat.conversation_id) == ["Name an animal.", first, second]
    assert chat.transcript.toPlainText().count("Assistant") == 1
    assert "2 / 2" in chat.transcript.toPlainText()


def test_edit_a_past_message_and_resend_from_there(qtbot: QtBot, window: MainWindow) -> None:
    chat = window.chat_pane
    chat.params = SHORT
    wait_for_model(qtbot, window)
    answer(qtbot, window, "Tell me about cats.")
    answer(qtbot, window, "And dogs?")
    assert len(chat.messages) == 4
    old_branch = [m.content for m in chat.messages]

    # The "Edit" link on the first message puts it back in the input.
    chat.transcript.anchorClicked.emit(QUrl("hearth:edit/0"))
    assert chat.editing == 0
    assert chat.input.toPlainText() == "Tell me about cats."
    assert chat.edit_banner.isVisible()
    chat.input.selectAll()
    qtbot.keyClicks(chat.input, "Tell me about owls.")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not chat.generating, timeout=ANSWER_TIMEOUT_MS)

    assert chat.messages[0].content == "Tell me about owls."
    assert len(chat.messages) == 2
    shown = chat.transcript.toPlainText()
    assert "owls" in shown and "cats" not in shown and "dogs" not in shown
    assert "2 / 2" in shown  # the first message has two versions now
    assert stored() == [("user", "Tell me about owls."), ("assistant", chat.messages[1].content)]
    assert not chat.edit_banner.isVisible()
    # Nothing was deleted: the old branch is kept whole.
    assert set(old_branch) <= set(tree_contents(chat.conversation_id))

    # Up in the empty input edits the last message; Esc cancels.
    chat.input.setFocus()
    qtbot.keyClick(chat.input, Qt.Key.Key_Up)
    assert chat.editing == 0 and chat.input.toPlainText() == "Tell me about owls."
    qtbot.keyClick(chat.input, Qt.Key.Key_Escape)
    assert chat.editing == -1 and chat.input.toPlainText() == ""

    # "‹" on the first message brings the old branch back, all of it.
    chat.transcript.anchorClicked.emit(QUrl("hearth:sibling/0/-1"))
    qtbot.waitUntil(lambda: [m.content for m in chat.messages] == old_branch)
    assert "1 / 2" in chat.transcript.toPlainText()
    assert "dogs" in chat.transcript.toPlainText()


def test_rating_an_answer_is_stored_with_it(qtbot: QtBot, window: MainWindow) -> None:
    chat = window.chat_pane
    chat.params = SHORT
    wait_for_model(qtbot, window)
    answer(qtbot, window, "Say hi.")
    chat.transcript.anchorClicked.emit(QUrl("hearth:rate/1/1"))
    assert chat.turns[1].rating == 1

    def rating() -> int:
        history = History(get_paths().database)
        try:
            return history.messages(chat.conversation_id)[1].rating
        finally:
            history.close()

    qtbot.waitUntil(lambda: rating() == 1)
    chat.transcript.anchorClicked.emit(QUrl("hearth:rate/1/-1"))
    qtbot.waitUntil(lambda: rating() == -1)
    chat.transcript.anchorClicked.emit(QUrl("hearth:rate/1/0"))
    qtbot.waitUntil(lambda: rating() == 0)


def seed_history() -> tuple[int, int]:
    """Two stored conversations, as an earlier session would have left them."""
    history = History(get_paths().database)
    try:
        old = history.create_conversation("Ocean trip")
        history.add_message(old, "user", "How deep is the Mariana Trench?")
        history.add_message(old, "assistant", "About **11 km** at its deepest point.")
        recent = history.create_conversation("Shopping")
        history.add_message(recent, "user", "What should I buy for dinner?")
        history.add_message(recent, "assistant", "Rice and vegetables.")
        return old, recent
    finally:
        history.close()


def test_search_finds_a_word_from_an_old_conversation(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    old, recent = seed_history()
    window = make_window()
    window.show()
    window.start()
    sidebar = window.sidebar
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [recent, old])

    window.activateWindow()
    qtbot.keyClick(window.chat_pane.input, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is sidebar.search
    qtbot.keyClicks(sidebar.search, "mariana")
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [old])
    assert "[Mariana]" in sidebar.conversations.item(0).text()

    qtbot.keyClick(sidebar.search, Qt.Key.Key_Return)  # to the results
    assert QApplication.focusWidget() is sidebar.conversations
    qtbot.keyClick(sidebar.conversations, Qt.Key.Key_Return)  # open it
    chat = window.chat_pane
    qtbot.waitUntil(lambda: chat.conversation_id == old)
    assert "11 km" in chat.transcript.toPlainText()
    # The searched word is selected in the conversation.
    qtbot.waitUntil(lambda: chat.transcript.textCursor().selectedText().lower() == "mariana")

    sidebar.search.clear()
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [recent, old])
    qtbot.keyClicks(sidebar.search, "no such words anywhere")
    qtbot.waitUntil(lambda: sidebar.empty_label.isVisible())
    assert sidebar.empty_label.text() == "Nothing found."


def test_export_writes_markdown_and_json(
    qtbot: QtBot, window: MainWindow, run_async: RunAsync, tmp_path: Path
) -> None:
    old, _recent = seed_history()
    qtbot.waitUntil(lambda: old in window.sidebar.conversation_ids())
    md, js = tmp_path / "trip.md", tmp_path / "trip.json"
    assert run_async(window.sidebar.export(old, md, "markdown"))
    assert run_async(window.sidebar.export(old, js, "json"))
    assert md.read_text(encoding="utf-8") == (
        "# Ocean trip\n\n## You\n\nHow deep is the Mariana Trench?\n\n"
        "## Assistant\n\nAbout **11 km** at its deepest point.\n"
    )
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["conversation"]["title"] == "Ocean trip"
    assert [(m["role"], m["content"]) for m in data["messages"]] == [
        ("user", "How deep is the Mariana Trench?"),
        ("assistant", "About **11 km** at its deepest point."),
    ]
    # A folder that cannot be written says so and leaves nothing behind.
    assert not run_async(window.sidebar.export(old, tmp_path / "missing" / "x.md", "markdown"))
    assert "Could not export" in window.statusBar().currentMessage()


def test_rename_delete_and_undo(qtbot: QtBot, window: MainWindow, run_async: RunAsync) -> None:
    old, recent = seed_history()
    sidebar = window.sidebar
    wait_for_model(qtbot, window)
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [recent, old])
    run_async(window.chat_pane.open_conversation(old))

    # F2 edits the title in place.
    sidebar.conversations.setFocus()
    sidebar.conversations.setCurrentRow(1)
    qtbot.keyClick(sidebar.conversations, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert editor is not sidebar.conversations
    editor.selectAll()  # type: ignore[union-attr]
    qtbot.keyClicks(editor, "Deep sea")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: History(get_paths().database).conversation(old).title == "Deep sea")
    # The sidebar tells the pane once the write's result is back on the Qt thread: a turn
    # of the event loop after the database has it.
    qtbot.waitUntil(lambda: window.chat_pane.title_label.text() == "Deep sea")

    # Delete removes it (and closes it in the Chat pane); Undo brings it back whole.
    sidebar.conversations.setFocus()
    sidebar.conversations.setCurrentRow(1)
    qtbot.keyClick(sidebar.conversations, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [recent])
    assert window.chat_pane.conversation_id == 0
    assert sidebar.undo_bar.isVisible() and "Deep sea" in sidebar.undo_bar.text()
    qtbot.mouseClick(sidebar.undo_bar.action_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(sidebar.conversation_ids()) == sorted([recent, old]))
    assert len(stored(old)) == 2


def test_a_killed_app_keeps_the_question_and_the_partial_answer(hearth_home: Path) -> None:
    """The GUI process dies mid-answer (SIGKILL): the database has what was streamed."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        import qasync
        from PySide6.QtWidgets import QApplication
        from desktop.window.main_window import MainWindow
        from engine.runtime.client import EngineClient
        from engine.data.config import get_paths
        from engine.types import SamplingParams

        app = QApplication([])
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        window = MainWindow(EngineClient(), get_paths())
        window.chat_pane.params = SamplingParams(max_tokens=4000, ignore_eos=True, seed=3)
        window.show()

        async def chat():
            window.start()
            while not window.chat_pane.model_ready:
                await asyncio.sleep(0.05)
            window.chat_pane.input.setPlainText("Write a very long story about a lighthouse.")
            window.chat_pane.send_button.click()
            print("SENT", flush=True)

        loop.create_task(chat())
        with loop:
            loop.run_forever()
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "SENT"
        database = get_paths().database
        deadline = time.monotonic() + 120
        partial = ""
        while time.monotonic() < deadline:
            history = History(database)
            conversations = history.conversations()
            messages = history.messages(conversations[0].id) if conversations else []
            history.close()
            if len(messages) == 2 and len(messages[1].content) > 200:
                partial = messages[1].content
                break
            time.sleep(0.2)
        assert partial, "the answer never reached the database while streaming"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The engine worker is the app's child; it notices its parent is gone and exits.
    history = History(get_paths().database)
    (conversation,) = history.conversations()
    messages = history.messages(conversation.id)
    history.close()
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content == "Write a very long story about a lighthouse."
    assert messages[1].content.startswith(partial)
    assert messages[1].stats is None  # it never finished: shown as interrupted
