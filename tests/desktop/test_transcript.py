"""The transcript widget: streamed answers end up as if rendered whole; its links work."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop.panes.transcript import Transcript
from engine.types import GenerationStats

STATS = GenerationStats(12, 0, 40, 0.25, 61.5, 300.0, 1.0, "eos")

SAMPLES = {
    "plan": (
        "Here is a plan:\n\n1. **Read** the file\n2. Parse it\n\n```python\ndef main():\n"
        "    return 42\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nDone."
    ),
    "loose list and references": (
        "# Title\n\nSome text with [a link][1].\n\n- item one\n\n- item two\n\n1. first\n\n"
        "2. second\n\n> quote\n\nEnd.\n\n[1]: https://example.com"
    ),
    "fence inside a list item, as small models write it": (
        "1. Use slicing. 2. Use `reversed()`.\n3. Here is an example:\n   ```python\n"
        "def rev(s):\n    return s[::-1]\n```\n\n4. Another way:\n    ```python\n"
        "print(rev('ab'))\n```"
    ),
    "chinese": "## 总结\n\n这是第一段。\n\n这是第二段，包含`代码`。\n\n```\n打印\n```\n",
}


def visible_lines(transcript: Transcript) -> list[str]:
    """The text a reader sees, ignoring invisible spacer paragraphs and empty lines."""
    return [
        line for line in transcript.toPlainText().split("\n") if line.strip() and line != "\u200b"
    ]


@pytest.mark.parametrize("name", SAMPLES)
def test_a_streamed_answer_ends_up_as_if_rendered_whole(qtbot: QtBot, name: str) -> None:
    markdown = SAMPLES[name]
    streamed, whole = Transcript(), Transcript()
    qtbot.addWidget(streamed)
    qtbot.addWidget(whole)
    streamed.begin_answer()
    for i in range(0, len(markdown), 5):  # token-sized pieces, painted frame by frame
        streamed.append_answer(markdown[i : i + 5])
        streamed._flush()
    streamed.finish_answer(markdown, STATS)
    whole.add_answer(markdown, STATS)
    assert visible_lines(streamed) == visible_lines(whole)
    # "Copy code" links, added while streaming, number and copy the same code blocks.
    clipboard = QGuiApplication.clipboard()
    for number in range(whole.toHtml().count("Copy code")):
        whole.anchorClicked.emit(QUrl(f"hearth:code/0/{number}"))
        expected = clipboard.text()
        streamed.anchorClicked.emit(QUrl(f"hearth:code/0/{number}"))
        assert clipboard.text() == expected
    assert "TTFT 0.25 s · 61.5 tokens/s · 40 tokens · finished" in streamed.toPlainText()


def test_links_copy_rate_and_edit(qtbot: QtBot) -> None:
    transcript = Transcript()
    qtbot.addWidget(transcript)
    transcript.add_user_message("Show me code.")
    transcript.add_answer("Sure:\n\n```python\nprint('hi')\nx = 1\n```\n\nThat's it.", STATS)
    clipboard = QGuiApplication.clipboard()

    with qtbot.waitSignal(transcript.text_copied) as copied:
        transcript.anchorClicked.emit(QUrl("hearth:code/1/0"))
    assert copied.args == ["code"] and clipboard.text() == "print('hi')\nx = 1"
    transcript.anchorClicked.emit(QUrl("hearth:copy/1"))
    assert clipboard.text().startswith("Sure:\n\n```python")

    with qtbot.waitSignal(transcript.rating_requested) as rated:
        transcript.anchorClicked.emit(QUrl("hearth:rate/1/1"))
    assert rated.args == [1, 1]
    transcript.set_rating(1, 1)
    # Rated: the same link now offers to remove the rating.
    html = transcript.toHtml()
    assert 'href="hearth:rate/1/0"' in html and 'href="hearth:rate/1/-1"' in html

    with qtbot.waitSignal(transcript.edit_requested) as edit:
        transcript.anchorClicked.emit(QUrl("hearth:edit/0"))
    assert edit.args == [0]
    # Out-of-range or malformed links do nothing.
    with qtbot.assertNotEmitted(transcript.edit_requested):
        transcript.anchorClicked.emit(QUrl("hearth:edit/9"))
        transcript.anchorClicked.emit(QUrl("hearth:edit/x"))


def test_truncate_removes_a_message_and_all_after_it(qtbot: QtBot) -> None:
    transcript = Transcript()
    qtbot.addWidget(transcript)
    transcript.add_user_message("first")
    transcript.add_answer("answer one", STATS)
    transcript.add_user_message("second")
    transcript.add_answer("answer two", STATS)
    transcript.set_rating(1, -1)  # rewriting an earlier note keeps later messages findable
    transcript.truncate(2)
    assert transcript.message_count == 2
    text = transcript.toPlainText()
    assert "answer one" in text and "second" not in text and "answer two" not in text
    transcript.add_user_message("third")
    assert transcript.toPlainText().endswith("third")
    transcript.truncate(0)
    assert transcript.toPlainText() == "" and transcript.message_count == 0
