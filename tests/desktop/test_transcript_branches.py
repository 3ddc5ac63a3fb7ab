"""The transcript's branch controls: "‹ 2 / 3 ›", "Delete branch" and "Branch", reached with
Tab and used with Enter, named for people who cannot see the arrows."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from desktop.panes.transcript import Transcript
from engine.types import GenerationStats

STATS = GenerationStats(12, 0, 40, 0.25, 61.5, 300.0, 1.0, "eos")


def link_tooltips(transcript: Transcript) -> dict[str, str]:
    """Every link in the transcript: its target → its tooltip."""
    found: dict[str, str] = {}
    block = transcript.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isAnchor():
                found[fmt.anchorHref()] = fmt.toolTip()
            it += 1
        block = block.next()
    return found


def make(qtbot: QtBot) -> Transcript:
    transcript = Transcript()
    qtbot.addWidget(transcript)
    transcript.add_user_message("Name an animal.", siblings=(2, 3))
    transcript.add_answer("Dog.", STATS, siblings=(1, 2))
    transcript.show()
    return transcript


def test_versions_are_shown_with_their_links_and_names(qtbot: QtBot) -> None:
    transcript = make(qtbot)
    lines = [line for line in transcript.toPlainText().split("\n") if line.strip()]
    assert lines[0].startswith("You") and "‹ 2 / 3 ›" in lines[0]
    assert "Delete branch" in lines[0]
    links = link_tooltips(transcript)
    assert links["hearth:sibling/0/-1"] == "Show the previous version (1 of 3)"
    assert links["hearth:sibling/0/1"] == "Show the next version (3 of 3)"
    assert "hearth:sibling/1/-1" not in links  # the first of two: nothing before it
    assert links["hearth:sibling/1/1"] == "Show the next version (2 of 2)"
    assert "undo" in links["hearth:delete/0"]
    assert "hearth:branch/1" in links
    # A message with one version shows no arrows; a change of count redraws the header.
    transcript.set_siblings(0, (1, 1))
    assert "‹" not in transcript.toPlainText().split("\n")[0]
    assert "hearth:delete/0" not in link_tooltips(transcript)


def test_tab_reaches_the_arrows_and_enter_uses_them(qtbot: QtBot) -> None:
    transcript = make(qtbot)
    transcript.setFocus()
    transcript.moveCursor(QTextCursor.MoveOperation.Start)
    seen = []
    for _ in range(12):
        qtbot.keyClick(transcript, Qt.Key.Key_Tab)
        seen.append(transcript.textCursor().selectedText())
        if seen[-1] == "›":
            break
    assert seen[-1] == "›", seen
    with qtbot.waitSignal(transcript.sibling_requested) as signal:
        qtbot.keyClick(transcript, Qt.Key.Key_Return)
    assert signal.args == [0, 1]
    assert transcript.focus_link("hearth:delete/0")
    with qtbot.waitSignal(transcript.branch_delete_requested) as signal:
        qtbot.keyClick(transcript, Qt.Key.Key_Return)
    assert signal.args == [0]
