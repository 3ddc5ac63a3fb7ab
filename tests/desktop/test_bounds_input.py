"""Pasted text is capped where Qt would lay it out: the chat input and the Summarize paste box
refuse a paste past their size with a message, and keep taking pastes that fit."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMimeData

from desktop.panes.summarize import MAX_PASTE_CHARS
from desktop.widgets import MAX_MESSAGE_CHARS, BoundedTextEdit, MessageBar
from desktop.window.main_window import MainWindow


def _mime(text: str) -> QMimeData:
    mime = QMimeData()
    mime.setText(text)
    return mime


def _held(edit: BoundedTextEdit) -> int:
    return edit.document().characterCount() - 1


def _check_refusal(edit: BoundedTextEdit, bar: MessageBar, limit: int, advice: str) -> None:
    """A paste past ``limit`` is refused whole and said; a small one is taken."""
    edit.insertFromMimeData(_mime("x" * (limit + 1)))
    assert _held(edit) == 0  # nothing reached the document, so Qt laid nothing out
    assert not bar.isHidden()
    assert f"has {limit + 1:,} characters" in bar.text() and advice in bar.text()
    edit.insertFromMimeData(_mime("a few words"))
    assert _held(edit) == len("a few words")


def test_the_chat_input_refuses_a_paste_past_its_cap(
    make_window: Callable[[], MainWindow],
) -> None:
    chat = make_window().chat_pane
    edit, limit = chat.input, MAX_MESSAGE_CHARS
    _check_refusal(edit, chat.error_bar, limit, "a message holds at most 4,194,304")
    # Pastes add up: the one that would take the input past the cap is refused.
    edit.clear()
    edit.insertFromMimeData(_mime("y" * (limit - 5)))
    assert _held(edit) == limit - 5
    edit.insertFromMimeData(_mime("z" * 6))
    assert _held(edit) == limit - 5
    edit.selectAll()
    edit.insertFromMimeData(_mime("w" * limit))  # replacing the selection: it fits
    assert _held(edit) == limit


def test_the_summarize_paste_box_refuses_a_paste_past_its_cap(
    make_window: Callable[[], MainWindow],
) -> None:
    pane = make_window().summarize_pane
    _check_refusal(pane.paste_edit, pane.message_bar, MAX_PASTE_CHARS, "add the file instead")
