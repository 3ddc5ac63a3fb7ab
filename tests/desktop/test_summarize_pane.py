"""The Summarize pane, driven as a user would: files dropped on the window, summaries stored,
listed in the sidebar, opened in Chat; refusals shown; the real engine and starter model."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from desktop.dialogs.models import ModelsDialog
from desktop.window.main_window import SUMMARIZE, MainWindow
from engine.data.config import get_paths
from engine.data.history import History
from engine.runtime.client import EngineClient
from engine.tasks.advice import SUMMARY_MIN_PARAMETERS
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, wait_for_model

pytestmark = pytest.mark.slow

LIGHTHOUSE = (
    "The old lighthouse on Gull Island was built in 1871. Its keeper, Mara Lind, kept a "
    "logbook of every storm for forty years. In 1923 the lamp was converted to electricity, "
    "and in 1961 the last keeper left the island. Today the tower is a museum that shows "
    "the original Fresnel lens and the keeper's logbooks."
)
BEES = (
    "Honey bees communicate the direction of flowers with a waggle dance. The angle of the "
    "dance shows the direction relative to the sun, and its length shows the distance. A "
    "colony can have fifty thousand workers in summer, and a single queen lays up to two "
    "thousand eggs a day."
)


def drop(window: MainWindow, target: object, paths: list[Path]) -> None:
    """Drop files as a file manager does: a QDropEvent with file URLs.

    Delivered to the widget's handler directly: Qt routes a real drop through the
    platform's drag manager, which the offscreen platform does not have.
    """
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    target.dropEvent(event)  # type: ignore[attr-defined]
    assert event.isAccepted()


def test_two_files_dropped_on_the_window_give_two_stored_summaries(
    qtbot: QtBot, window: MainWindow, client: EngineClient, tmp_path: Path
) -> None:
    first, second = tmp_path / "lighthouse.txt", tmp_path / "bees.md"
    first.write_text(LIGHTHOUSE, encoding="utf-8")
    second.write_text("# Bees\n\n" + BEES, encoding="utf-8")
    wait_for_model(qtbot, window)
    pane = window.summarize_pane
    pane.length_combo.setCurrentIndex(pane.length_combo.findData("short"))
    # The 135M starter is too small to summarize well: a larger model that fits is named.
    model = client.model
    assert model is not None and 0 < model.parameters < SUMMARY_MIN_PARAMETERS
    qtbot.waitUntil(lambda: pane.model_advice.entry is not None, timeout=10000)
    advice = pane.model_advice.entry
    assert advice is not None and advice.parameters >= SUMMARY_MIN_PARAMETERS
    assert advice.name in pane.model_advice.bar.text()
    assert "small for summaries" in pane.model_advice.bar.text()

    # Dropped anywhere on the window: the Summarize pane takes them.
    drop(window, window, [first, second])
    assert window.stack.currentWidget() is pane
    assert [item.name for item in pane.queue] == ["lighthouse.txt", "bees.md"]
    qtbot.waitUntil(
        lambda: all(item.status == "done" for item in pane.queue), timeout=2 * ANSWER_TIMEOUT_MS
    )
    assert all(item.summary.strip() for item in pane.queue)
    assert pane.progress_bar.value() == 1000

    # Stored with the file name, its sha256 and the options; listed in the sidebar.
    history = History(get_paths().database)
    stored = {s.title: s for s in history.summaries()}
    history.close()
    assert set(stored) == {"lighthouse.txt", "bees.md"}
    import hashlib

    assert stored["lighthouse.txt"].sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
    assert stored["lighthouse.txt"].options["length"] == "short"
    assert stored["bees.md"].status == "done" and stored["bees.md"].chunks == 1
    assert window.sidebar.mode == "summaries"
    qtbot.waitUntil(lambda: len(window.sidebar.conversation_ids()) == 2)

    # Open in Chat: a new chat with the summary as its context.
    pane.queue_table.selectRow(0)
    qtbot.mouseClick(pane.chat_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.chat_pane
    assert pane.queue[0].summary in window.chat_pane.options_panel.system_prompt()
    assert window.chat_pane.title_label.text() == "About lighthouse.txt"

    # The advice's button opens the model manager.
    window.show_pane(SUMMARIZE)
    assert pane.model_advice.bar.isVisible()
    with qtbot.waitSignal(pane.models_requested):
        pane.model_advice.bar.action_button.click()
    qtbot.waitUntil(lambda: any(w.isVisible() for w in window.findChildren(ModelsDialog)))


def test_a_binary_file_is_refused_with_its_reason(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    fake = tmp_path / "photo.txt"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    wait_for_model(qtbot, window)
    window.show_pane(SUMMARIZE)
    pane = window.summarize_pane
    drop(window, pane, [fake])
    qtbot.waitUntil(lambda: pane.queue[0].status == "failed", timeout=20000)
    assert "binary" in pane.message_bar.text() and "photo.txt" in pane.message_bar.text()
    assert not pane.busy or pane.queue[0].status == "failed"


def test_a_dropped_folder_is_queued_and_the_size_setting_refuses_a_large_file(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    from engine.data.config import update_settings

    folder = tmp_path / "reading"
    (folder / "notes").mkdir(parents=True)
    (folder / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    (folder / "notes" / "big.txt").write_text("word " * 250_000, encoding="utf-8")  # 1.2 MB
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))  # not a document
    update_settings(get_paths(), max_document_mb=1)
    wait_for_model(qtbot, window)
    pane = window.summarize_pane
    pane.length_combo.setCurrentIndex(pane.length_combo.findData("short"))

    drop(window, window, [folder])
    assert sorted(item.name for item in pane.queue) == ["big.txt", "lighthouse.txt"]
    qtbot.waitUntil(
        lambda: all(item.status in ("done", "failed") for item in pane.queue),
        timeout=2 * ANSWER_TIMEOUT_MS,
    )
    big = next(item for item in pane.queue if item.name == "big.txt")
    small = next(item for item in pane.queue if item.name == "lighthouse.txt")
    assert big.status == "failed"
    assert "1.2 MB" in big.detail and "up to 1.0 MB (Settings)" in big.detail
    assert small.status == "done" and small.summary.strip()


def test_cancel_mid_map_stops_at_once_and_keeps_the_parts_already_summarized(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    from tests.engine.tasks.test_summarize import city_guide

    guide = tmp_path / "guide.txt"
    guide.write_text(city_guide(60), encoding="utf-8")  # about 12,000 tokens: 4 parts
    wait_for_model(qtbot, window)
    window.show_pane(SUMMARIZE)
    pane = window.summarize_pane
    drop(window, pane, [guide])
    item = pane.queue[0]
    qtbot.waitUntil(lambda: "partial" in item.extra, timeout=4 * ANSWER_TIMEOUT_MS)
    assert item.status == "summarizing"
    assert "[Page 1]" in pane.summary_view.toPlainText()  # the first part's summary, shown

    qtbot.mouseClick(pane.cancel_button, Qt.MouseButton.LeftButton)
    # Within a second on a quiet machine; a loaded test runner gets some slack.
    qtbot.waitUntil(lambda: item.status == "cancelled", timeout=3000)
    assert item.summary.startswith(pane.partial_heading().strip())
    assert "[Page 1]" in item.summary and "[Page 1]" in pane.summary_view.toPlainText()
    qtbot.waitUntil(lambda: not pane.busy, timeout=5000)
    history = History(get_paths().database)
    stored = history.summaries()[0]
    history.close()
    assert (stored.title, stored.status, stored.summary) == ("guide.txt", "cancelled", item.summary)
