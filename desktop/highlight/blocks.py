"""Code blocks of Markdown documents: finding them, and styling them as code.

Qt's Markdown import (``setMarkdown``, ``QTextCursor.insertMarkdown``) marks each line
of a code block with the fence's language. :func:`code_blocks` lists a document's code
blocks (each with its text, for Copy and Apply links); :func:`style_code_blocks` tints
them and colours their tokens (lexed with :mod:`desktop.highlight.lexer`, coloured with
:mod:`desktop.highlight.schemes`), as the Chat transcript, the Code pane's answer and
the Summarize pane's summary show them.

Thread: the Qt thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PySide6.QtGui import (
    QPalette,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

from desktop.highlight.lexer import LexCache
from desktop.highlight.schemes import code_background, scheme_for
from engine.tasks.programming_languages import language_from_content, language_from_hint

#: Code blocks in Markdown longer than this stay plain (tinted): lexing one would stall
#: the window for a good fraction of a second on every restyle.
_MAX_CODE_CHARS = 100_000
#: Lexed code blocks of the documents styled here (module-level like a functools cache:
#: it only remembers results of a pure function).
_CACHE = LexCache()


@dataclass(frozen=True)
class CodeBlock:
    """One code block (fenced or indented) of a document filled from Markdown."""

    #: The canonical language name (see ``language_for``); "text" when unknown.
    language: str
    #: The code, lines joined with "\\n", without the fences.
    text: str
    #: Document position of the block's first line (``QTextBlock.position()``).
    first_position: int
    #: Document position of its last line.
    last_position: int


_CodeKey = tuple[str, str, int]


def _code_key(block: QTextBlock) -> _CodeKey | None:
    """What makes consecutive blocks one code block: fence language, fence, indent."""
    fmt = block.blockFormat()
    if not (
        fmt.hasProperty(QTextFormat.Property.BlockCodeLanguage)
        or fmt.hasProperty(QTextFormat.Property.BlockCodeFence)
    ):
        return None
    return (
        fmt.stringProperty(QTextFormat.Property.BlockCodeLanguage),
        fmt.stringProperty(QTextFormat.Property.BlockCodeFence),
        fmt.indent(),
    )


def _code_groups(
    document: QTextDocument, start: int, on_text_block: Callable[[QTextBlock], None] | None = None
) -> Iterator[tuple[_CodeKey, list[QTextBlock]]]:
    """The code blocks from the one containing ``start`` on, each as its Qt blocks.

    Qt's Markdown import marks every line of a code block with the fence's language;
    two fenced blocks with nothing between them cannot be told apart, and come out as
    one (they are rare: Markdown puts a paragraph between code blocks).
    """
    block = document.findBlock(max(start, 0))
    key = _code_key(block) if block.isValid() else None
    if key is not None:
        while block.previous().isValid() and _code_key(block.previous()) == key:
            block = block.previous()
    while block.isValid():
        key = _code_key(block)
        if key is None:
            if on_text_block is not None:
                on_text_block(block)
            block = block.next()
            continue
        group = [block]
        # Lines of one code block share one format (Qt keeps each distinct format once),
        # which is quicker to compare than the properties.
        index = block.blockFormatIndex()
        block = block.next()
        while block.isValid() and (block.blockFormatIndex() == index or _code_key(block) == key):
            group.append(block)
            block = block.next()
        yield key, group


def _block_language(hint: str, code: str) -> str:
    if hint:
        found = language_from_hint(hint)
        if found is not None:
            return found
    return language_from_content(code) or "text"


def code_blocks(document: QTextDocument, start: int = 0) -> list[CodeBlock]:
    """The code blocks of a document filled with ``insertMarkdown``, from ``start`` on.

    Args:
        document: the document.
        start: a document position; listing starts at the code block or paragraph
            that contains it.

    Returns:
        The code blocks in document order, each with its text exactly as the document
        holds it (for "Copy"). That is the Markdown's code, except that Qt's import
        has already turned tabs in the indentation into spaces.
    """
    result = []
    for (hint, _fence, _indent), group in _code_groups(document, start):
        code = "\n".join(block.text() for block in group)
        result.append(
            CodeBlock(
                language=_block_language(hint, code),
                text=code,
                first_position=group[0].position(),
                last_position=group[-1].position(),
            )
        )
    return result


def style_code_blocks(document: QTextDocument, start: int, palette: QPalette) -> None:
    """Tint and colour the code in a document filled with ``insertMarkdown``, from ``start`` on.

    Code blocks get a tinted background, wrap their long lines, and have their tokens
    coloured for their fence's language (guessed from the code when the fence names
    none, and left plain when the code does not clearly look like code). Inline code
    gets the tint. Token colours are display formats of the blocks' layouts (as a
    ``QSyntaxHighlighter`` sets them), not character formats, so they cost no document
    edit and do not travel with copied text.

    Call it again after the palette changes (every block is restyled from ``start``).
    Blocks of over 100 000 characters are tinted but left uncoloured.
    A block of code is lexed as a whole, and a block that grew since the last call is
    lexed only from where it changed.

    Args:
        document: the document (the transcript's).
        start: a document position; styling starts at the block that contains it
            (at the first line of a code block that contains it).
        palette: the palette the document is shown with.
    """
    scheme = scheme_for(palette, code_background(palette))
    inline: list[tuple[int, int]] = []

    def collect_inline(block: QTextBlock) -> None:
        pieces = block.begin()
        while not pieces.atEnd():
            fragment = pieces.fragment()
            if fragment.charFormat().fontFixedPitch():
                inline.append((fragment.position(), fragment.length()))
            pieces += 1

    cursor = QTextCursor(document)
    cursor.beginEditBlock()
    block_format = QTextBlockFormat()
    block_format.setBackground(scheme.background)
    # Wrap long code lines: one wide line would otherwise scroll the whole view sideways.
    block_format.setNonBreakableLines(False)
    for (hint, _fence, _indent), group in _code_groups(document, start, collect_inline):
        cursor.setPosition(group[0].position())
        cursor.setPosition(group[-1].position(), QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeBlockFormat(block_format)
        texts = [block.text() for block in group]
        code = "\n".join(texts)
        if len(code) > _MAX_CODE_CHARS:
            continue
        lexed = _CACHE.lex(_block_language(hint, code), code)
        for block, text, line in zip(group, texts, lexed.lines, strict=True):
            block.layout().setFormats(scheme.ranges(line, text))
    inline_format = QTextCharFormat()
    inline_format.setBackground(scheme.background)
    for position, length in inline:
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeCharFormat(inline_format)
    cursor.endEditBlock()


# -- the editor ------------------------------------------------------------------------


__all__ = ["CodeBlock", "code_blocks", "style_code_blocks"]
