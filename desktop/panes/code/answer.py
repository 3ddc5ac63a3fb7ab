"""The Code pane's answer: streamed Markdown with links under each code block, and a fix's diff.

:class:`AnswerView` shows a task's answer as it streams, then whole, with Copy, Save…
and Apply to editor under each code block; for a fix that changes the code, the change
as a diff to accept or reject; and a status line (speed, why it stopped). What the
links and buttons ask for goes out as signals: the pane owns the editor and its file.

Thread: the Qt thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QPalette, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.highlight.blocks import code_blocks, style_code_blocks
from desktop.panes.base import name_buttons
from desktop.panes.code.diff_view import DiffView
from desktop.widgets import MessageBar

if TYPE_CHECKING:
    from engine.data.history import StoredCodeTask
    from engine.tasks.code import CodeResult

#: Tasks whose answer proposes code for the editor.
CODE_TASKS = frozenset({"generate", "fix", "tests"})
#: The streamed answer is re-rendered at most this often (milliseconds).
RENDER_MS = 50
#: Links under code blocks use this URL scheme (``code:apply/2``).
_SCHEME = "code"


class AnswerView(QWidget):
    """A code task's answer, its code blocks' links, a fix's diff and a status line.

    Args:
        message_bar: the pane's message bar, for what the user should know of an answer.
        parent: the parent widget.

    Signals:
        apply_requested(str): put this code in the editor, in place of what the task ran on.
        copy_requested(str): copy this code to the clipboard.
        save_requested(str): save this code to a file.
        diff_closed: the diff was accepted or rejected (the editor may take the focus back).
        answer_shown: another answer, or more of one, is shown (its proposed code may differ).
    """

    apply_requested = Signal(str)
    copy_requested = Signal(str)
    save_requested = Signal(str)
    diff_closed = Signal()
    answer_shown = Signal()

    def __init__(self, message_bar: MessageBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._message_bar = message_bar
        self._streamed: list[str] = []
        self._streaming = False
        self._answer = ""
        self._task = ""
        self._language = "text"
        self._proposed: str | None = None
        self._block_code: list[str] = []

        self.output = QTextBrowser(self)
        self.output.setOpenLinks(False)
        self.output.anchorClicked.connect(self._on_output_anchor_clicked)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.diff_view = DiffView(self)
        self.diff_view.hide()
        self.diff_view.accepted.connect(self._on_diff_view_accepted)
        self.diff_view.rejected.connect(self._on_diff_view_rejected)
        self.apply_button = QPushButton(self)
        self.apply_button.clicked.connect(self._on_apply_clicked)
        self.copy_button = QPushButton(self)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.save_code_button = QPushButton(self)
        self.save_code_button.clicked.connect(self._on_save_code_clicked)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_MS)
        self._render_timer.timeout.connect(self._on_render_timer_timeout)

        self.output_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.output_splitter.addWidget(self.output)
        self.output_splitter.addWidget(self.diff_view)
        self.output_splitter.setChildrenCollapsible(False)
        actions = QHBoxLayout()
        actions.addWidget(self.apply_button)
        actions.addWidget(self.copy_button)
        actions.addWidget(self.save_code_button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.output_splitter, 1)
        layout.addWidget(self.status_label)
        layout.addLayout(actions)
        self.retranslate_ui()

    def retranslate_ui(self) -> None:
        """Set every translatable text (at start and when the language changes)."""
        self.output.setAccessibleName(self.tr("Answer"))
        self.output.setAccessibleDescription(
            self.tr("Press Tab to move between the links under each code block, Enter to use one.")
        )
        self.output.setPlaceholderText(
            self.tr(
                "Pick a task and press Run. The model works on the selection, or on the whole "
                "code when nothing is selected, on this computer."
            )
        )
        self.apply_button.setText(self.tr("A&pply to editor"))
        self.apply_button.setToolTip(
            self.tr("Replace the code the task ran on with the answer's code")
        )
        self.copy_button.setText(self.tr("Cop&y code"))
        self.save_code_button.setText(self.tr("Save co&de…"))
        name_buttons((self.apply_button, self.copy_button, self.save_code_button))
        self._render(final=not self._streaming)  # the links under code blocks

    def changeEvent(self, event: QEvent) -> None:
        """Re-translate when the language changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()

    # -- state -------------------------------------------------------------------------

    @property
    def answer(self) -> str:
        """The answer shown (streamed so far, or whole)."""
        return self._answer

    @property
    def task(self) -> str:
        """The task the answer is for ("" before the first)."""
        return self._task

    @property
    def proposed_code(self) -> str | None:
        """The code the answer proposes for the editor, if any."""
        return self._proposed

    def block_code(self) -> list[str]:
        """The code of each code block of the answer shown (for its Copy/Save/Apply links)."""
        return list(self._block_code)

    def update_actions(self, *, generating: bool) -> None:
        """Offer the proposed code's actions when there is some and nothing is generated."""
        has_code = self._proposed is not None and not generating
        for button in (self.apply_button, self.copy_button, self.save_code_button):
            button.setEnabled(has_code)

    def stop_rendering(self) -> None:
        """Render no more of the stream (the pane is closing)."""
        self._render_timer.stop()

    # -- showing an answer -------------------------------------------------------------

    def begin(self, task: str, language: str) -> None:
        """Start showing the answer of a ``task`` on ``language`` code, as it streams in."""
        self.diff_view.hide()
        self._streamed = []
        self._streaming = True
        self._answer = ""
        self._task, self._language = task, language
        self._proposed = None
        self._render(final=False)
        self.status_label.setText(self.tr("Writing…"))
        self.answer_shown.emit()

    def append(self, text: str) -> None:
        """Add streamed text; it is rendered at most every :data:`RENDER_MS` milliseconds."""
        self._streamed.append(text)
        if not self._render_timer.isActive():
            self._render_timer.start()

    def show_partial(self, note: str) -> None:
        """End the stream early (stopped, failed): keep what came, with ``note`` below it."""
        from engine.tasks.code import answer_code

        self._render_timer.stop()
        self._streaming = False
        self._answer = "".join(self._streamed)
        code = answer_code(self._answer, self._language)
        self._proposed = code if self._task in CODE_TASKS else None
        self._render(final=True)
        self.status_label.setText(note)
        self.answer_shown.emit()

    def show_result(self, result: CodeResult) -> None:
        """Show a finished task's answer; for a fix that changes the code, its diff."""
        from engine.tasks.code import diff_lines

        self._render_timer.stop()
        self._streaming = False
        self._answer = result.text
        self._task = result.request.task
        self._language = result.request.language
        self._proposed = result.code
        self._render(final=True)
        stats = result.stats
        line = self.tr("{rate:.1f} tokens/s · {count} tokens").format(
            rate=stats.tokens_per_s, count=stats.generated_tokens
        )
        if stats.acceptance is not None:
            line += " · " + self.tr("{share:.0%} of drafted tokens kept").format(
                share=stats.acceptance
            )
        if result.stop_reason == "repetition":
            line += " · " + self.tr("stopped where the model began repeating itself")
        elif result.stop_reason == "length":
            line += " · " + self.tr("cut at the answer length limit")
        self.status_label.setText(line)
        if result.request.task == "fix":
            if result.code is not None and result.diff:
                self._show_diff(diff_lines(result.request.code, result.code))
            else:
                self.diff_view.hide()
                self._message_bar.show_message(
                    self.tr("The answer proposes no change to the code."), error=False
                )
        self.answer_shown.emit()

    def show_stored(self, stored: StoredCodeTask) -> None:
        """Show a stored task's answer, how it ended, and a fix's diff against its code."""
        from engine.tasks.code import answer_code, diff_lines

        self._render_timer.stop()
        self._streaming = False
        self._answer, self._task = stored.answer, stored.task
        self._language = stored.language or "text"
        code = answer_code(stored.answer, self._language) if stored.answer else None
        self._proposed = code if stored.task in CODE_TASKS else None
        self.output.verticalScrollBar().setValue(0)  # another answer: from its start
        self._render(final=True)
        statuses = {
            "running": self.tr("This task did not finish."),
            "cancelled": self.tr("This task was stopped early."),
            "failed": self.tr("This task failed."),
        }
        self.status_label.setText(statuses.get(stored.status, ""))
        if stored.task == "fix" and code is not None and code != stored.code and stored.code:
            self._show_diff(diff_lines(stored.code, code))
        else:
            self.diff_view.hide()
        self.answer_shown.emit()

    def _show_diff(self, lines: list[tuple[str, str]]) -> None:
        self.diff_view.show_diff(lines)
        self.diff_view.show()
        # The answer's explanation above, the change below, both in view.
        height = max(self.output_splitter.height(), 2)
        self.output_splitter.setSizes([height * 2 // 5, height - height * 2 // 5])
        self.diff_view.accept_button.setFocus()

    def _on_render_timer_timeout(self) -> None:
        self._answer = "".join(self._streamed)
        self._render(final=False)

    def _render(self, *, final: bool) -> None:
        """Render the answer as Markdown; when ``final``, with links under each code block."""
        bar = self.output.verticalScrollBar()
        position = bar.value()
        # Follow the text as it streams, unless the user scrolled up to read.
        follow = not final and position >= bar.maximum() - 4
        self.output.setMarkdown(self._answer)
        document = self.output.document()
        style_code_blocks(document, 0, self.output.palette())
        self._block_code = []
        if final and self._answer:
            self._add_block_links()
        # setMarkdown scrolls back to the top; keep the reader's place.
        bar.setValue(bar.maximum() if follow else position)

    def _add_block_links(self) -> None:
        from engine.tasks.code import extract_code_blocks

        document = self.output.document()
        blocks = code_blocks(document)
        fenced = extract_code_blocks(self._answer)
        if len(fenced) == len(blocks):
            # The answer's own text: Qt's Markdown import turns indenting tabs into spaces.
            self._block_code = [block.code for block in fenced]
        else:
            self._block_code = [block.text for block in blocks]
        palette = self.output.palette()
        link = QTextCharFormat()
        link.setAnchor(True)
        link.setForeground(palette.color(QPalette.ColorRole.Link))
        link.setFontPointSize(max(self.output.font().pointSizeF() * 0.85, 6.0))
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        for number in reversed(range(len(blocks))):
            last = document.findBlock(blocks[number].last_position)
            cursor.setPosition(last.position() + last.length() - 1)
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            for index, (action, text, tip) in enumerate(
                (
                    ("copy", self.tr("Copy"), self.tr("Copy this code block")),
                    ("save", self.tr("Save…"), self.tr("Save this code block to a file")),
                    (
                        "apply",
                        self.tr("Apply to editor"),
                        self.tr("Replace the code the task ran on with this block"),
                    ),
                )
            ):
                if index:
                    cursor.insertText("  ·  ", QTextCharFormat())
                link.setAnchorHref(f"{_SCHEME}:{action}/{number}")
                link.setToolTip(tip)
                cursor.insertText(text, link)
        cursor.endEditBlock()

    # -- slots -------------------------------------------------------------------------

    def _on_output_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() != _SCHEME:
            return
        action, _, number = url.path().partition("/")
        if not number.isdigit() or int(number) >= len(self._block_code):
            return
        code = self._block_code[int(number)]
        if action == "copy":
            self.copy_requested.emit(code)
        elif action == "save":
            self.save_requested.emit(code)
        elif action == "apply":
            self.apply_requested.emit(code)

    def _on_diff_view_accepted(self) -> None:
        if self._proposed is not None:
            self.apply_requested.emit(self._proposed)
        self.diff_view.hide()
        self.diff_closed.emit()

    def _on_diff_view_rejected(self) -> None:
        self.diff_view.hide()
        self.diff_closed.emit()

    def _on_apply_clicked(self) -> None:
        if self._proposed is not None:
            self.apply_requested.emit(self._proposed)
            self.diff_view.hide()

    def _on_copy_clicked(self) -> None:
        if self._proposed is not None:
            self.copy_requested.emit(self._proposed)

    def _on_save_code_clicked(self) -> None:
        if self._proposed is not None:
            self.save_requested.emit(self._proposed)


__all__ = ["CODE_TASKS", "AnswerView"]
