"""Conversations that keep every answer, as a user sees them: regenerated answers and edited
messages shown as "‹ 2 / 3 ›", switching, continuing a branch, "Branch", deleting a branch
with Undo — on the real engine and model, with the real history database."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from pytestqt.qtbot import QtBot

from desktop.window.main_window import MainWindow
from engine.data.config import get_paths
from engine.data.history import History
from engine.types import SamplingParams
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, send, wait_for_model
from tests.engine.cli.test_cli import cli

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parents[1] / "engine" / "data" / "fixtures"


def finish(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.chat_pane.generating, timeout=ANSWER_TIMEOUT_MS)


def on_screen(window: MainWindow) -> list[str]:
    return [m.content for m in window.chat_pane.messages]


def stored_branch(conversation_id: int) -> list[str]:
    history = History(get_paths().database)
    try:
        return [m.content for m in history.messages(conversation_id)]
    finally:
        history.close()


def regenerate(qtbot: QtBot, window: MainWindow, seed: int) -> None:
    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=10, temperature=1.0, seed=seed)
    qtbot.mouseClick(chat.regenerate_button, Qt.MouseButton.LeftButton)
    finish(qtbot, window)


def test_regenerate_twice_keeps_three_answers_to_switch_between_and_continue(
    qtbot: QtBot, window: MainWindow
) -> None:
    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=10, temperature=1.0, seed=1)
    wait_for_model(qtbot, window)
    send(qtbot, window, "Name an animal.")
    finish(qtbot, window)
    answers = [chat.messages[1].content]
    for seed in (2, 3):
        regenerate(qtbot, window, seed)
        answers.append(chat.messages[1].content)
    assert len(set(answers)) == 3  # three seeds, three answers, all kept
    transcript = chat.transcript
    assert transcript.siblings(1) == (3, 3)
    assert "3 / 3" in transcript.toPlainText()

    # "‹" shows the second answer; the keyboard stays on the arrow for another Enter.
    transcript.anchorClicked.emit(QUrl("hearth:sibling/1/-1"))
    qtbot.waitUntil(lambda: on_screen(window) == ["Name an animal.", answers[1]])
    assert transcript.siblings(1) == (2, 3)
    assert transcript.textCursor().selectedText() == "‹"
    transcript.anchorClicked.emit(QUrl("hearth:sibling/1/-1"))
    qtbot.waitUntil(lambda: on_screen(window) == ["Name an animal.", answers[0]])
    assert "1 / 3" in transcript.toPlainText()
    transcript.anchorClicked.emit(QUrl("hearth:sibling/1/1"))
    qtbot.waitUntil(lambda: on_screen(window) == ["Name an animal.", answers[1]])

    # The next message continues the branch on screen: the second answer.
    chat.params = SamplingParams(max_tokens=10, temperature=0.0)
    send(qtbot, window, "Another one?")
    finish(qtbot, window)
    branch = on_screen(window)
    assert branch[:3] == ["Name an animal.", answers[1], "Another one?"]
    assert stored_branch(chat.conversation_id) == branch
    # The model was sent the branch on screen, as a plain list, so the engine reused the
    # KV cache of the prefix it shares with the answer before (system prompt + question).
    assert [m.content for m in chat._conversation() if m.role != "system"] == branch
    assert chat.last_result is not None and chat.last_result.stats.cached_tokens > 0

    # Switching away and back shows that branch's whole continuation.
    transcript.anchorClicked.emit(QUrl("hearth:sibling/1/1"))
    qtbot.waitUntil(lambda: on_screen(window) == ["Name an animal.", answers[2]])
    transcript.anchorClicked.emit(QUrl("hearth:sibling/1/-1"))
    qtbot.waitUntil(lambda: on_screen(window) == branch)


def test_delete_a_branch_and_undo(qtbot: QtBot, window: MainWindow) -> None:
    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=10, temperature=1.0, seed=1)
    wait_for_model(qtbot, window)
    send(qtbot, window, "Name a colour.")
    finish(qtbot, window)
    first = chat.messages[1].content
    regenerate(qtbot, window, 7)
    second = chat.messages[1].content
    assert chat.transcript.siblings(1) == (2, 2)

    chat.transcript.anchorClicked.emit(QUrl("hearth:delete/1"))
    qtbot.waitUntil(lambda: on_screen(window) == ["Name a colour.", first])
    assert chat.transcript.siblings(1) == (1, 1)  # one version left: no arrows
    assert "Delete branch" not in chat.transcript.toPlainText()
    assert chat.undo_bar.isVisible()
    assert stored_branch(chat.conversation_id) == ["Name a colour.", first]

    qtbot.mouseClick(chat.undo_bar.action_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: on_screen(window) == ["Name a colour.", second])
    assert chat.transcript.siblings(1) == (2, 2)
    assert not chat.undo_bar.isVisible()
    assert stored_branch(chat.conversation_id) == ["Name a colour.", second]


def test_branch_from_here_opens_a_copy_up_to_that_answer(qtbot: QtBot, window: MainWindow) -> None:
    chat = window.chat_pane
    chat.params = SamplingParams(max_tokens=10, temperature=0.0)
    wait_for_model(qtbot, window)
    send(qtbot, window, "Say one word.")
    finish(qtbot, window)
    send(qtbot, window, "Say another.")
    finish(qtbot, window)
    original = chat.conversation_id
    whole = on_screen(window)

    chat.transcript.anchorClicked.emit(QUrl("hearth:branch/1"))
    qtbot.waitUntil(lambda: chat.conversation_id not in (0, original))
    assert on_screen(window) == whole[:2]
    assert chat.title_label.text() == "Say one word. (branch)"
    qtbot.waitUntil(lambda: window.sidebar.conversation_ids() == [chat.conversation_id, original])
    assert stored_branch(original) == whole  # the original is untouched
    # The copy goes on by itself.
    send(qtbot, window, "And a third?")
    finish(qtbot, window)
    assert stored_branch(chat.conversation_id)[:3] == [*whole[:2], "And a third?"]
    assert stored_branch(original) == whole


def terminal_chat(*args: str) -> dict[str, object]:
    """``hearth-cli chat --json`` in another process, as a user's terminal runs it."""
    run = cli("chat", "--json", "--temperature", "0", "--max-tokens", "8", *args)
    assert run.returncode == 0, run.stderr
    data: dict[str, object] = json.loads(run.stdout)
    return data


def open_from_sidebar(qtbot: QtBot, window: MainWindow, conversation_id: int) -> None:
    """Reload the sidebar's list and open the conversation from it with the keyboard."""
    sidebar = window.sidebar
    sidebar.refresh()
    qtbot.waitUntil(lambda: sidebar.conversation_ids()[:1] == [conversation_id])
    sidebar.conversations.setFocus()
    sidebar.conversations.setCurrentRow(0)
    qtbot.keyClick(sidebar.conversations, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat_pane.conversation_id == conversation_id)


def test_the_window_shows_and_continues_what_the_command_line_stored(
    qtbot: QtBot, window: MainWindow
) -> None:
    chat = window.chat_pane
    wait_for_model(qtbot, window)
    # Started and continued in a terminal while the window is open.
    first = terminal_chat("Name a fruit.")
    conversation = first["conversation_id"]
    assert isinstance(conversation, int)
    second = terminal_chat("--conversation", str(conversation), "Another one?")
    open_from_sidebar(qtbot, window, conversation)
    assert on_screen(window) == ["Name a fruit.", first["text"], "Another one?", second["text"]]
    assert f"{second['generated_tokens']} tokens" in chat.transcript.toPlainText()

    # The window regenerates the last answer; the terminal continues the branch on screen.
    regenerate(qtbot, window, 5)
    regenerated = chat.messages[3].content
    assert chat.transcript.siblings(3) == (2, 2)
    third = terminal_chat("--conversation", str(conversation), "And a third?")
    open_from_sidebar(qtbot, window, conversation)  # open already: read again
    qtbot.waitUntil(lambda: len(on_screen(window)) == 6)
    assert on_screen(window)[3:] == [regenerated, "And a third?", third["text"]]
    assert chat.transcript.siblings(3) == (2, 2)


def test_a_search_hit_in_another_branch_opens_that_branch(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    history = History(get_paths().database)
    try:
        conversation = history.create_conversation("Animals")
        question = history.add_message(conversation, "user", "Name an animal.")
        zebra = history.add_message(conversation, "assistant", "A zebra.")
        history.add_message(conversation, "assistant", "A cat.", parent_id=question)
    finally:
        history.close()
    window = make_window()
    window.show()
    window.start()
    sidebar, chat = window.sidebar, window.chat_pane
    qtbot.waitUntil(lambda: sidebar.conversation_ids() == [conversation])
    qtbot.keyClicks(sidebar.search, "zebra")
    qtbot.waitUntil(lambda: "[zebra]" in sidebar.conversations.item(0).text().lower())
    sidebar.conversations.setFocus()
    sidebar.conversations.setCurrentRow(0)
    qtbot.keyClick(sidebar.conversations, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: on_screen(window) == ["Name an animal.", "A zebra."])
    assert chat.transcript.siblings(1) == (1, 2)
    qtbot.waitUntil(lambda: chat.transcript.textCursor().selectedText().lower() == "zebra")
    # It is the branch on screen now, also for the next start.
    assert [m.message_id for m in chat.turns] == [question, zebra]
    assert stored_branch(conversation)[-1] == "A zebra."


def test_the_window_opens_every_conversation_of_the_last_releases_database(
    qtbot: QtBot, make_window: Callable[[], MainWindow], run_async: RunAsync
) -> None:
    database = get_paths().database
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "history_v5.db", database)
    window = make_window()
    window.show()
    window.start()
    sidebar, chat = window.sidebar, window.chat_pane
    # The hidden conversation stays hidden (its day to be purged counts from its deletion).
    qtbot.waitUntil(lambda: len(sidebar.conversation_ids()) == 4)
    assert [sidebar.conversations.item(i).text() for i in range(4)] == [
        "Empty",
        "Unanswered",
        "Ocean trip",
        "中文对话",
    ]
    assert run_async(chat.open_conversation(1))
    assert on_screen(window) == [
        "How deep is the Mariana Trench?",
        "About **11 km** at its deepest point.",
        "And the Puerto Rico Trench?",
        "About 8.4 km.",
    ]
    assert [turn.rating for turn in chat.turns] == [0, 1, 0, -1]
    shown = chat.transcript.toPlainText()
    assert "12 tokens" in shown and "7 tokens" in shown and "‹" not in shown
    assert run_async(chat.open_conversation(2))
    assert chat.turns[1].reasoning == "用户问天空的颜色。"
    assert run_async(chat.open_conversation(3))
    assert "Interrupted" in chat.transcript.toPlainText()
