"""What the panes share (desktop.panes.base.Pane): a history database that fails is said in
the pane, work is owned, counted as busy and cancelled on shutdown, and the language
switches at run time — on the real panes, the real history database and the starter model."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.panes.chat import ChatPane
from desktop.panes.code import CodePane
from desktop.panes.summarize import SummarizePane
from engine.data.history import AsyncHistory
from engine.runtime.client import EngineClient
from engine.types import SamplingParams
from tests.desktop.conftest import RunAsync
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, LOAD_TIMEOUT_MS

BUGGY = "def average(values):\n    return sum(values) / len(value)\n"
LIGHTHOUSE = (
    "The old lighthouse on Gull Island was built in 1871. Its keeper, Mara Lind, kept a "
    "logbook of every storm for forty years. Today the tower is a museum."
)


@pytest.fixture
def loaded_client(client: EngineClient, run_async: RunAsync, smollm2: Path) -> EngineClient:
    """The engine client with the starter model loaded."""
    run_async(client.load(smollm2, n_ctx=2048), timeout_ms=LOAD_TIMEOUT_MS)
    return client


@pytest.fixture
def locked_history(tmp_path: Path, run_async: RunAsync) -> Iterator[AsyncHistory]:
    """A real history database, opened, whose writes another program's lock refuses.

    Each write waits out SQLite's busy timeout, then fails with "database is locked".
    """
    path = tmp_path / "history.db"
    history = AsyncHistory(path)
    run_async(history.open())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield history
    holder.execute("ROLLBACK")
    holder.close()
    run_async(history.aclose(), timeout_ms=15000)


def _settle(qtbot: QtBot, pane: ChatPane | SummarizePane | CodePane) -> None:
    pane.shutdown()
    qtbot.waitUntil(lambda: not pane.busy, timeout=15000)


@pytest.mark.slow
def test_a_code_task_that_cannot_be_stored_says_so_in_the_pane(
    qtbot: QtBot, loaded_client: EngineClient, locked_history: AsyncHistory
) -> None:
    pane = CodePane(loaded_client, history=locked_history)
    qtbot.addWidget(pane)
    pane.show()
    try:
        pane.set_model_ready(True)
        pane.editor.setPlainText(BUGGY)
        pane.set_task("explain")
        pane.params = SamplingParams(max_tokens=24, seed=3, temperature=0.0)
        assert pane.run() is not None
        qtbot.waitUntil(lambda: not pane.generating, timeout=ANSWER_TIMEOUT_MS)

        # The task ran and its answer is on screen; that it is not stored is said there too.
        assert pane.answer_view.answer.strip()
        assert pane.message_bar.isVisible()
        text = pane.message_bar.text()
        assert "history database" in text and "locked" in text
    finally:
        _settle(qtbot, pane)


@pytest.mark.slow
def test_a_summary_that_cannot_be_stored_says_so_in_the_pane(
    qtbot: QtBot, loaded_client: EngineClient, locked_history: AsyncHistory
) -> None:
    pane = SummarizePane(loaded_client, history=locked_history)
    qtbot.addWidget(pane)
    pane.show()
    try:
        pane.length_combo.setCurrentIndex(pane.length_combo.findData("short"))
        pane.set_model_ready(True)
        pane.add_text(LIGHTHOUSE, name="lighthouse notes")
        qtbot.waitUntil(
            lambda: pane.queue[0].status in ("done", "failed"), timeout=2 * ANSWER_TIMEOUT_MS
        )

        # Summarized all the same; that it is not stored is said in the pane.
        assert pane.queue[0].status == "done" and pane.queue[0].summary.strip()
        assert pane.message_bar.isVisible()
        text = pane.message_bar.text()
        assert "history database" in text and "locked" in text
    finally:
        _settle(qtbot, pane)


def test_a_pane_is_busy_while_its_work_runs_and_shutdown_cancels_the_work(
    qtbot: QtBot, client: EngineClient, qloop: object
) -> None:
    pane = SummarizePane(client)
    qtbot.addWidget(pane)
    changes: list[bool] = []
    pane.busy_changed.connect(changes.append)
    assert not pane.busy

    first = pane.start_task(asyncio.Event().wait(), name="test-wait")
    second = pane.start_task(asyncio.Event().wait(), name="test-wait")
    assert pane.busy and changes == [True]  # once, however many tasks run

    pane.shutdown()
    qtbot.waitUntil(lambda: not pane.busy, timeout=5000)
    assert first.cancelled() and second.cancelled()
    assert changes == [True, False]


def test_the_panes_follow_the_model_and_the_language(
    qtbot: QtBot, client: EngineClient, qloop: object
) -> None:
    from desktop.i18n import Translations

    chat, summarize = ChatPane(client), SummarizePane(client)
    for pane in (chat, summarize):
        qtbot.addWidget(pane)
        pane.show()
    chat.input.setPlainText("Hello")
    assert not chat.model_ready and not chat.send_button.isEnabled()
    chat.set_model_ready(True)
    assert chat.model_ready and chat.send_button.isEnabled()
    chat.set_model_ready(False)
    assert not chat.send_button.isEnabled()

    translations = Translations()
    try:
        translations.apply("zh_CN")
        qtbot.waitUntil(lambda: chat.new_chat_button.text() == "新建聊天")
        assert summarize.title_label.text() == "摘要"
    finally:
        translations.apply("en")
    qtbot.waitUntil(lambda: chat.new_chat_button.text() == "New chat")
    assert summarize.title_label.text() == "Summarize"
