"""The diff view: a proposed change to the editor's code, line by line, to accept or reject.

Removed lines are tinted red and added lines green, both blended into the palette's
base colour so they read in light and dark themes; each line shows its number in the
old and in the new text. Accepting or rejecting is reported; applying the change is
the pane's business.

Thread: everything here runs on the Qt thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets import blend

#: Tints for removed and added lines, and how much of them goes into the base colour.
REMOVED_TINT = "#e5534b"
ADDED_TINT = "#3fb950"
TINT_AMOUNT = 0.22

DiffLine = tuple[str, str]


class DiffView(QWidget):
    """A proposed change shown as a diff, with Accept and Reject.

    Args:
        parent: the parent widget.

    Signals:
        accepted: the user accepted the change.
        rejected: the user rejected it.
    """

    accepted = Signal()
    rejected = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lines: list[DiffLine] = []
        self._tinting = False
        self.summary_label = QLabel(self)
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setTabChangesFocus(True)
        self.accept_button = QPushButton(self)
        self.accept_button.clicked.connect(self._on_accept_clicked)
        self.reject_button = QPushButton(self)
        self.reject_button.clicked.connect(self._on_reject_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary_label, 1)
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.view.setAccessibleName(self.tr("Proposed change"))
        self.view.setAccessibleDescription(
            self.tr("Lines starting with − are removed, lines starting with + are added.")
        )
        self.accept_button.setText(self.tr("&Accept"))
        self.accept_button.setToolTip(
            self.tr("Apply the change to the editor (Ctrl+Z in the editor undoes it)")
        )
        self.reject_button.setText(self.tr("Re&ject"))
        self.reject_button.setToolTip(self.tr("Leave the editor as it is"))
        for button in (self.accept_button, self.reject_button):
            button.setAccessibleName(button.text().replace("(&", "(").replace("&", ""))
        self._show_summary()

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate on a language change; re-tint on a palette change."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        elif (
            event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
            and not self._tinting
        ):
            self._render()

    # -- content ---------------------------------------------------------------------

    def show_diff(self, lines: Sequence[DiffLine]) -> None:
        """Show ``lines`` as ``diff_lines`` gives them: ("-", old), ("+", new), (" ", both)."""
        self._lines = list(lines)
        self._render()
        self._show_summary()

    def lines(self) -> list[DiffLine]:
        """The diff shown."""
        return list(self._lines)

    def counts(self) -> tuple[int, int]:
        """How many lines the change adds and removes."""
        added = sum(1 for mark, _ in self._lines if mark == "+")
        removed = sum(1 for mark, _ in self._lines if mark == "-")
        return added, removed

    def line_color(self, mark: str) -> QColor:
        """The background of a line marked ``mark`` ("+", "-" or " ") in this palette."""
        base = self.view.palette().color(QPalette.ColorRole.Base)
        if mark == "+":
            return blend(base, QColor(ADDED_TINT), TINT_AMOUNT)
        if mark == "-":
            return blend(base, QColor(REMOVED_TINT), TINT_AMOUNT)
        return base

    def _show_summary(self) -> None:
        added, removed = self.counts()
        self.summary_label.setText(
            self.tr("Lines added: {added} · removed: {removed}").format(
                added=added, removed=removed
            )
        )

    def _render(self) -> None:
        self._tinting = True
        document = self.view.document()
        document.clear()
        old_width = len(str(sum(1 for mark, _ in self._lines if mark != "+")))
        new_width = len(str(sum(1 for mark, _ in self._lines if mark != "-")))
        old_number = new_number = 0
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        for index, (mark, text) in enumerate(self._lines):
            old = new = ""
            if mark != "+":
                old_number += 1
                old = str(old_number)
            if mark != "-":
                new_number += 1
                new = str(new_number)
            block = QTextBlockFormat()
            block.setBackground(self.line_color(mark))
            sign = {"+": "+", "-": "−"}.get(mark, " ")
            line = f"{old:>{old_width}} {new:>{new_width}} {sign} {text}"
            if index == 0:
                cursor.setBlockFormat(block)
            else:
                cursor.insertBlock(block, QTextCharFormat())
            cursor.insertText(line)
        cursor.endEditBlock()
        # Show the first change in the middle of the view, with its context around it.
        first = next((i for i, (mark, _) in enumerate(self._lines) if mark != " "), 0)
        self.view.setTextCursor(QTextCursor(document.findBlockByNumber(first)))
        self.view.centerCursor()
        self._tinting = False

    # -- slots -----------------------------------------------------------------------

    def _on_accept_clicked(self) -> None:
        self.accepted.emit()

    def _on_reject_clicked(self) -> None:
        self.rejected.emit()


__all__ = ["ADDED_TINT", "REMOVED_TINT", "DiffView"]
