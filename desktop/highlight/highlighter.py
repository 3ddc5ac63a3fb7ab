"""The code editor's syntax highlighter: a ``QSyntaxHighlighter`` kept in step with edits.

It lexes the editor's document with :mod:`desktop.highlight.lexer` (the whole text,
then again only where an edit changed it) and colours each line with a
:mod:`desktop.highlight.schemes` scheme chosen for the editor's palette.

Thread: the Qt thread.
"""

from __future__ import annotations

from collections.abc import Generator

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QPalette, QSyntaxHighlighter
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit

from desktop.highlight.lexer import (
    Lexed,
    Relexed,
    drive,
    lex,
    lexer_info,
    lexing,
    narrowed,
    spliced,
)
from desktop.highlight.schemes import Scheme, scheme_for
from engine.tasks.programming_languages import language_from_hint

#: Above this many characters, text that must be lexed from its start (a first look, a
#: lexer that cannot resume) is lexed in slices between events instead of at once.
_LONG_TEXT = 20_000
#: The pause in typing after which a document whose tokens are provisional is lexed afresh.
_SETTLE_MS = 300
#: The most time one slice of lexing takes before the event loop gets a turn.
_SLICE_S = 0.008


class CodeHighlighter(QSyntaxHighlighter):
    """Colours the code in an editor (a ``QPlainTextEdit``) for a language, with Pygments.

    The document is lexed as one text, so strings, comments and other tokens that span
    lines come out right, and kept lexed as it changes: an edit is lexed again from the
    line before it, in the lexer state saved at that line's start, until the lexer is
    at the start of a line after the edit in the same state as before. Typing inside a
    function costs a line or two; opening a triple-quoted string re-lexes to its end.
    Each block then only looks up its line's tokens. A block's state
    (``setCurrentBlockState``) is a number renewed whenever its line's tokens may have
    changed, which is what makes ``QSyntaxHighlighter`` carry on to the next blocks
    after an edit that changed them, and stop where they did not.

    Lexing only part of the text is not always what lexing all of it gives (a pattern
    that failed before the edit may have scanned to the end of the text), so after a
    pause in typing the document is lexed afresh, a few milliseconds at a time, and
    the lines that come out different are re-coloured. Lexers that cannot resume
    mid-text (Pygments' JSON, YAML, Ruby…) lex the whole text on each edit up to a few
    pages; beyond that, only after a pause, the edited lines staying plain until then.

    It highlights the editor's document, in colours chosen for the editor's palette.
    """

    def __init__(self, editor: QPlainTextEdit | QTextEdit, language: str = "text") -> None:
        # Attached to the document only after our own contentsChange slot is connected:
        # Qt calls slots in the order they were connected, so the text is lexed before
        # the base class asks highlightBlock() for the changed blocks. (Passing a
        # QTextEdit as the parent would attach it at once.)
        super().__init__(None)  # type: ignore[call-overload]
        self.setParent(editor)
        self._editor = editor
        self._language = (language_from_hint(language) or "text") if language else "text"
        self._lexed: Lexed | None = None
        self._generations: list[int] = []
        self._next_generation = 0
        self._scheme = self._editor_scheme()
        self._exact_job: Generator[None, None, Lexed] | None = None
        self._exact_timer = QTimer(self)
        self._exact_timer.setSingleShot(True)
        self._exact_timer.timeout.connect(self._on_exact_timer_timeout)
        self._catch_up_line = -1
        self._catch_up_timer = QTimer(self)
        self._catch_up_timer.setSingleShot(True)
        self._catch_up_timer.setInterval(0)
        self._catch_up_timer.timeout.connect(self._on_catch_up_timer_timeout)
        document = editor.document()
        document.contentsChange.connect(self._on_contents_change)
        self._relex(None)
        self.setDocument(document)
        editor.installEventFilter(self)

    def language(self) -> str:
        """The canonical name of the language highlighted (see :func:`language_for`)."""
        return self._language

    def set_language(self, name: str) -> None:
        """Highlight the document as ``name`` (any name :func:`language_for` takes as a hint)."""
        language = (language_from_hint(name) or "text") if name else "text"
        if language == self._language:
            return
        self._language = language
        self._lexed = None
        self._generations = []
        self._relex(None)
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        """Colour one block from the document's tokens (called by Qt)."""
        number = self.currentBlock().blockNumber()
        lexed = self._lexed
        if lexed is None or number >= len(lexed.lines):
            return
        for start, length, fmt in self._scheme.spans(lexed.lines[number], text):
            self.setFormat(start, length, fmt)
        self.setCurrentBlockState(self._generations[number])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Re-colour when the editor's palette changes (a theme switch)."""
        if watched is self._editor and event.type() == QEvent.Type.PaletteChange:
            scheme = self._editor_scheme()
            if scheme is not self._scheme:
                self._scheme = scheme
                self.rehighlight()
        return super().eventFilter(watched, event)

    def _editor_scheme(self) -> Scheme:
        palette = self._editor.palette()
        return scheme_for(palette, palette.color(QPalette.ColorRole.Base))

    def _document_text(self) -> str:
        # Raw text keeps in-line separators (U+2028) in their block, so lines match blocks.
        return self._editor.document().toRawText().replace("\u2029", "\n")

    def _on_contents_change(self, position: int, _removed: int, added: int) -> None:
        document = self._editor.document()
        edit_first = document.findBlock(position).blockNumber()
        last = document.findBlock(position + added)
        edit_last = last.blockNumber() if last.isValid() else document.blockCount() - 1
        self._relex((max(edit_first, 0), max(edit_first, edit_last)))

    def _relex(self, edited: tuple[int, int] | None) -> None:
        """Bring the tokens up to date with the document.

        Args:
            edited: the first and last line Qt highlights next (the edited blocks), or
                None when every block is highlighted next.
        """
        text = self._document_text()
        old = self._lexed
        if old is not None and old.text == text:
            return
        self._exact_job = None
        info = lexer_info(self._language)
        if len(text) > _LONG_TEXT and (old is None or not info.resumable or old.states[0] is None):
            relexed = spliced(old, text, self._language)
        else:
            relexed = lex(self._language, text, old)
        self._adopt(relexed, edited)
        if not relexed.lexed.exact:
            self._exact_timer.start(_SETTLE_MS if old is not None else 0)

    def _adopt(self, relexed: Relexed, edited: tuple[int, int] | None) -> None:
        """Take ``relexed``'s tokens, and give its changed lines new block states."""
        lexed = relexed.lexed
        count = len(lexed.lines)
        first, end = relexed.first, relexed.end
        if edited is not None:
            first, end = min(first, edited[0]), max(end, edited[1] + 1)
        end = min(end, count)
        first = min(first, end)
        # The lines after the changed ones are the old ones, shifted by the lines added.
        old_end = end - (count - len(self._generations))
        generations = self._generations[:first] + self._fresh(end - first)
        generations += self._generations[old_end:] if old_end >= first else []
        if len(generations) != count:  # cannot happen; never leave a block without one
            generations = self._fresh(count)
        self._generations = generations
        self._lexed = lexed
        # Changed lines before the edit are not among the blocks Qt highlights next.
        if edited is not None and first < edited[0]:
            pending = self._catch_up_line
            self._catch_up_line = first if pending < 0 else min(first, pending)
            self._catch_up_timer.start()

    def _fresh(self, count: int) -> list[int]:
        """``count`` block states that no block has now."""
        start = self._next_generation
        self._next_generation = (start + count) % (1 << 30)
        return [(start + offset) % (1 << 30) for offset in range(count)]

    def _on_exact_timer_timeout(self) -> None:
        lexed = self._lexed
        if lexed is None or lexed.exact:
            return
        if self._exact_job is None:
            self._exact_job = lexing(self._language, lexed.text)
        result = drive(self._exact_job, _SLICE_S)
        if result is None:
            self._exact_timer.start(0)
            return
        self._exact_job = None
        relexed = narrowed(lexed, result, 0, len(result.lines))
        self._adopt(relexed, None)
        self._rehighlight_from(relexed.first, relexed.end)

    def _on_catch_up_timer_timeout(self) -> None:
        line, self._catch_up_line = self._catch_up_line, -1
        self._rehighlight_from(line, line + 1)

    def _rehighlight_from(self, first: int, end: int) -> None:
        """Highlight the blocks ``first``..``end`` (and on, while their states change)."""
        if first >= end:
            return
        block = self._editor.document().findBlockByNumber(first)
        if block.isValid():
            self.rehighlightBlock(block)


__all__ = ["CodeHighlighter"]
