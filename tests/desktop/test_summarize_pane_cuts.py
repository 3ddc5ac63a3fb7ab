"""The Summarize pane says what a document's time budget cut, and summarizes the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.window.main_window import SUMMARIZE, MainWindow
from engine.tasks import pdf_text
from tests.desktop.test_app import ANSWER_TIMEOUT_MS, wait_for_model
from tests.desktop.test_summarize_pane import drop
from tests.engine.tasks.test_bounds_documents import LIGHT, heavy, pdf_of

pytestmark = pytest.mark.slow


def test_a_pdf_page_over_its_time_is_reported_and_the_rest_summarized(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_text, "PAGE_SECONDS", 1.0)  # the page budget, shortened
    path = pdf_of(tmp_path / "slow.pdf", [LIGHT, heavy(150_000)])
    wait_for_model(qtbot, window)
    window.show_pane(SUMMARIZE)
    pane = window.summarize_pane
    drop(window, pane, [path])
    qtbot.waitUntil(lambda: pane.queue[0].status in ("done", "failed"), timeout=ANSWER_TIMEOUT_MS)
    item = pane.queue[0]
    assert item.status == "done" and item.summary.strip()
    assert pane.message_bar.isVisible()
    assert pane.message_bar.text() == (
        "Only part of slow.pdf was read. "
        "Page 2 took too long to read (over 1 s a page) and was skipped."
    )
    assert item.detail.endswith("only part of the document was read")
