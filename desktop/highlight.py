"""Syntax highlighting for code: code blocks in the Chat transcript, and the code editor.

Owns two things, on top of :mod:`engine.tasks.programming_languages` (which language a
piece of code is in; its names are re-exported here). Lexing with Pygments, made
incremental: a text is always lexed as a whole, so strings and comments that span lines
come out right, and when it changes it is lexed again only from shortly before the
change until the lexer is back in step with its previous run. And painting the tokens:
:func:`style_code_blocks` for documents filled with ``QTextCursor.insertMarkdown`` (the
transcript), :class:`CodeHighlighter` for a ``QPlainTextEdit``, both with a colour set
picked by the palette's lightness and checked for contrast against the code's
background. :func:`code_blocks` lists a document's code blocks, so each can be copied.

Thread: everything here runs on the Qt thread.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from pygments.lexer import Lexer, RegexLexer
from pygments.lexers import (
    get_lexer_by_name,
)
from pygments.lexers.c_cpp import CFamilyLexer
from pygments.lexers.special import TextLexer
from pygments.token import (
    Comment,
    Error,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    Whitespace,
    _TokenType,
)
from pygments.util import ClassNotFound
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QPalette,
    QSyntaxHighlighter,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextLayout,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit

from desktop.widgets import blend
from engine.tasks.programming_languages import (
    LANGUAGES,
    language_for,
    language_from_content,
    language_from_hint,
)

# -- languages -------------------------------------------------------------------------

#: Pygments lexer names for canonical names that differ from them.
_PYGMENTS_NAME = {"text": "text"}
#: Lexer options: PHP in a fence rarely starts with ``<?php``.
_LEXER_OPTIONS: dict[str, dict[str, Any]] = {"php": {"startinline": True}}


def language_display_name(name: str) -> str:
    """The name to show for the language ``name`` (as :func:`language_for` returns it).

    Args:
        name: a canonical language name.

    Returns:
        The display name, translated where it is not a proper noun.
    """
    if name == "text":
        return QCoreApplication.translate("CodeLanguage", "Plain text")
    if name == "bash":
        return QCoreApplication.translate("CodeLanguage", "Shell")
    if name in LANGUAGES:
        return LANGUAGES[name]
    try:
        return str(get_lexer_by_name(name).name)
    except ClassNotFound:
        return name


# -- lexing ----------------------------------------------------------------------------

_Span = tuple[int, int, _TokenType]  # start and end column (code points), token type
_Line = tuple[_Span, ...]
_Stack = tuple[str, ...]


#: Languages whose lexers :func:`warm_up` loads ahead of the first answer that needs them.
COMMON_LANGUAGES = ("python", "javascript", "typescript", "bash", "json", "c", "cpp", "html")


def warm_up(languages: tuple[str, ...] = COMMON_LANGUAGES) -> None:
    """Load and compile the lexers of ``languages`` now (about 60 ms for Python alone).

    Pygments compiles a lexer's regular expressions on first use; doing that on a
    worker thread at start-up keeps the first code block of an answer from stalling
    the window. Thread-safe: the lexer cache is only read once this returns.
    """
    for language in languages:
        info = _lexer(language)
        for _ in info.lexer.get_tokens_unprocessed("x = 1\n"):
            pass


class _LexerInfo(NamedTuple):
    lexer: Lexer
    #: Whether lexing can resume at a line start from a saved state (see _resumed_tokens).
    resumable: bool
    #: C and C++: names Pygments shows as types (CFamilyLexer's own post-processing).
    c_types: frozenset[str]


@lru_cache(maxsize=64)
def _lexer(language: str) -> _LexerInfo:
    options: dict[str, Any] = {"stripnl": False, "ensurenl": False}
    options.update(_LEXER_OPTIONS.get(language, {}))
    try:
        lexer = get_lexer_by_name(_PYGMENTS_NAME.get(language, language), **options)
    except ClassNotFound:
        lexer = TextLexer()
    method = type(lexer).get_tokens_unprocessed
    resumable = isinstance(getattr(lexer, "_tokens", None), dict) and (
        method is RegexLexer.get_tokens_unprocessed or method is CFamilyLexer.get_tokens_unprocessed
    )
    c_types: frozenset[str] = frozenset()
    if method is CFamilyLexer.get_tokens_unprocessed:
        names: set[str] = set()
        for flag, attribute in (
            ("stdlibhighlighting", "stdlib_types"),
            ("c99highlighting", "c99_types"),
            ("c11highlighting", "c11_atomic_types"),
            ("platformhighlighting", "linux_types"),
        ):
            if getattr(lexer, flag, False):
                names.update(getattr(lexer, attribute, ()))
        c_types = frozenset(names)
    return _LexerInfo(lexer, resumable, c_types)


def _resumed_tokens(
    lexer: Any, text: str, pos: int, stack: _Stack
) -> Iterator[tuple[int, _TokenType | None, Any]]:
    """Pygments' ``RegexLexer.get_tokens_unprocessed``, from ``pos`` in the state ``stack``.

    Pygments' loop keeps its state stack to itself, so it cannot say where it could be
    resumed; this is the same loop (unchanged from Pygments 2.17 to 2.21; the tests
    compare the two on real code) that also yields ``(pos, None, stack)`` between tokens
    at the start of each line: the state the lexer was in there.
    """
    tokendefs = lexer._tokens
    statestack = list(stack)
    statetokens = tokendefs[statestack[-1]]
    marked = pos
    yield pos, None, stack
    end = len(text)
    while True:
        if pos != marked and text[pos - 1] == "\n":
            marked = pos
            yield pos, None, tuple(statestack)
        for rexmatch, action, new_state in statetokens:
            m = rexmatch(text, pos)
            if m:
                if action is not None:
                    if type(action) is _TokenType:
                        yield pos, action, m.group()
                    else:
                        yield from action(lexer, m)
                pos = m.end()
                if new_state is not None:
                    if isinstance(new_state, tuple):
                        for state in new_state:
                            if state == "#pop":
                                if len(statestack) > 1:
                                    statestack.pop()
                            elif state == "#push":
                                statestack.append(statestack[-1])
                            else:
                                statestack.append(state)
                    elif isinstance(new_state, int):
                        if abs(new_state) >= len(statestack):
                            del statestack[1:]
                        else:
                            del statestack[new_state:]
                    elif new_state == "#push":
                        statestack.append(statestack[-1])
                    statetokens = tokendefs[statestack[-1]]
                break
        else:
            if pos >= end:
                break
            if text[pos] == "\n":
                statestack = ["root"]
                statetokens = tokendefs["root"]
                yield pos, Whitespace, "\n"
                pos += 1
                continue
            yield pos, Error, text[pos]
            pos += 1


@dataclass(frozen=True)
class _Lexed:
    """A text lexed in one piece, kept line by line."""

    language: str
    text: str
    #: Each line's tokens, as spans within the line.
    lines: list[_Line]
    #: The lexer's state at each line's start; None where a token runs across the line
    #: start or the lexer cannot resume there.
    states: list[_Stack | None]
    #: Whether this is what lexing the whole text afresh gives. Lexing again only where
    #: the text changed may not be: a pattern that failed before the change (an
    #: unclosed ``/*`` in JavaScript, an unclosed docstring in Python) may have scanned
    #: to the end of the text, and would match now that the change closed it.
    exact: bool = True


class _Relexed(NamedTuple):
    lexed: _Lexed
    #: The lines whose tokens changed (new numbering): ``first`` up to, not including, ``end``.
    first: int
    end: int


#: Lines lexed again before the first changed one: a token's pattern may have looked
#: ahead (``(?=\s*\()``, say) into the text that changed.
_LOOKBACK_LINES = 1
#: Tokens handled between checks of the time spent, when lexing in slices.
_SLICE_TOKENS = 2048


def _lex(language: str, text: str, previous: _Lexed | None = None) -> _Relexed:
    """Lex ``text`` as ``language``, reusing what ``previous`` (an earlier version) found.

    A resumable lexer starts again at a line shortly before the first change, in the
    state recorded there, and stops at the first line after the change where it is in
    the same state as last time; the lines after that keep their tokens. Other lexers
    lex the whole text again. The result is marked inexact when only part of it was
    lexed again (see :attr:`_Lexed.exact`).
    """
    info = _lexer(language)
    source = text + "\n"  # Pygments' lexers expect a final newline.
    line_count = text.count("\n") + 1
    reuse = previous is not None and previous.language == language
    if reuse and previous is not None and info.resumable and previous.states[0] is not None:
        old = previous
        prefix = _common_prefix(old.text, text)
        if prefix == len(old.text) == len(text):
            return _Relexed(old, 0, 0)
        suffix = _common_suffix(old.text, text, min(len(old.text), len(text)) - prefix)
        changed = text.count("\n", 0, prefix)
        new_last = text.count("\n", 0, len(text) - suffix)
        delta = line_count - len(old.lines)
        first = max(changed - _LOOKBACK_LINES, 0)
        start_state = old.states[first]
        while start_state is None:  # states[0] is never None
            first -= 1
            start_state = old.states[first]
        line_start = text.rfind("\n", 0, prefix) + 1
        for _ in range(changed - first):
            line_start = text.rfind("\n", 0, line_start - 1) + 1
        old_states = old.states

        def converged(line: int, stack: _Stack) -> bool:
            old_line = line - delta
            return line > new_last and old_line < len(old_states) and old_states[old_line] == stack

        events = _resumed_tokens(info.lexer, source, line_start, start_state)
        lines, states, stop = _collect(events, first, line_start, converged, info.c_types)
        if stop is None:
            lines, states = _fitted(lines, states, line_count - first)
            new_lines = old.lines[:first] + lines
            new_states = old.states[:first] + states
            end = line_count
        else:
            new_lines = old.lines[:first] + lines + old.lines[stop - delta :]
            new_states = old.states[:first] + states + old.states[stop - delta :]
            end = stop
        exact = first == 0 and stop is None
        lexed = _Lexed(language, text, new_lines, new_states, exact)
        return _narrowed(old, lexed, first, end)
    lexed = _complete(_lexing(language, text))
    if reuse and previous is not None:
        return _narrowed(previous, lexed, 0, len(lexed.lines))
    return _Relexed(lexed, 0, len(lexed.lines))


def _lexing(language: str, text: str) -> Generator[None, None, _Lexed]:
    """Lex ``text`` afresh, pausing (yielding) every few thousand tokens."""
    info = _lexer(language)
    source = text + "\n"
    if info.resumable:
        events = _resumed_tokens(info.lexer, source, 0, ("root",))
    else:
        events = info.lexer.get_tokens_unprocessed(source)
    lines, states, _ = yield from _collecting(events, 0, 0, None, info.c_types)
    lines, states = _fitted(lines, states, text.count("\n") + 1)
    if not info.resumable:
        states = [None] * len(states)
    return _Lexed(language, text, lines, states)


def _fitted(
    lines: list[_Line], states: list[_Stack | None], count: int
) -> tuple[list[_Line], list[_Stack | None]]:
    """``count`` lines: without the one after the final newline the lexer was given, and
    padded should a lexer have skipped text at the end (none is known to)."""
    lines, states = lines[:count], states[:count]
    lines += [()] * (count - len(lines))
    states += [None] * (count - len(states))
    return lines, states


_T = TypeVar("_T")


def _drive(steps: Generator[None, None, _T], budget_s: float) -> _T | None:
    """Run ``steps`` for about ``budget_s`` seconds: its result, or None if unfinished."""
    deadline = time.perf_counter() + budget_s
    try:
        while time.perf_counter() < deadline:
            next(steps)
    except StopIteration as done:
        return done.value
    return None


def _complete(steps: Generator[None, None, _T]) -> _T:
    """Run ``steps`` to its end: its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _collect(
    events: Iterator[tuple[int, Any, Any]],
    line: int,
    line_start: int,
    converged: Callable[[int, _Stack], bool] | None,
    c_types: frozenset[str],
) -> tuple[list[_Line], list[_Stack | None], int | None]:
    """:func:`_collecting`, to its end."""
    return _complete(_collecting(events, line, line_start, converged, c_types))


def _collecting(
    events: Iterator[tuple[int, Any, Any]],
    line: int,
    line_start: int,
    converged: Callable[[int, _Stack], bool] | None,
    c_types: frozenset[str],
) -> Generator[None, None, tuple[list[_Line], list[_Stack | None], int | None]]:
    """Split a token stream that starts at line ``line`` into each line's spans.

    Yields now and then (every :data:`_SLICE_TOKENS` tokens), so a long text can be
    lexed a slice at a time between other work.

    Returns:
        The lines' spans, their start states, and the line where ``converged`` said to
        stop (that line and the ones after it are not included), or None.
    """
    lines: list[_Line] = []
    states: list[_Stack | None] = [None]
    spans: list[_Span] = []
    countdown = _SLICE_TOKENS
    for pos, ttype, value in events:
        countdown -= 1
        if not countdown:
            countdown = _SLICE_TOKENS
            yield
        if ttype is None:
            if pos == line_start and states[-1] is None:
                states[-1] = value
                if converged is not None and converged(line, value):
                    return lines, states[:-1], line
            continue
        if c_types and ttype is Name and value in c_types:
            ttype = Keyword.Type
        if "\n" not in value:
            if value:
                column = pos - line_start
                spans.append((column, column + len(value), ttype))
            continue
        pieces = value.split("\n")
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            if piece:
                column = pos - line_start
                spans.append((column, column + len(piece), ttype))
            if index < last:
                pos += len(piece) + 1
                lines.append(tuple(spans))
                spans = []
                line += 1
                line_start = pos
                states.append(None)
    lines.append(tuple(spans))
    return lines, states, None


def _narrowed(old: _Lexed, new: _Lexed, first: int, end: int) -> _Relexed:
    """Shrink the changed lines ``first``..``end`` to those whose tokens really changed."""
    old_end = end - (len(new.lines) - len(old.lines))
    while first < end and first < old_end and new.lines[first] == old.lines[first]:
        first += 1
    while end > first and old_end > first and new.lines[end - 1] == old.lines[old_end - 1]:
        end -= 1
        old_end -= 1
    return _Relexed(new, first, end)


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of ``a`` and ``b``."""
    size = min(len(a), len(b))
    if a[:size] == b[:size]:
        return size
    low, high = 0, size  # a[:low] == b[:low], a[:high] != b[:high]
    while high - low > 1:
        middle = (low + high) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the longest common suffix of ``a`` and ``b``, at most ``limit``."""
    if limit <= 0:
        return 0
    if a[len(a) - limit :] == b[len(b) - limit :]:
        return limit
    low, high = 0, limit
    while high - low > 1:
        middle = (low + high) // 2
        if a[len(a) - middle : len(a) - low] == b[len(b) - middle : len(b) - low]:
            low = middle
        else:
            high = middle
    return low


class _LexCache:
    """The texts lexed lately, so code restyled while it streams is lexed only where it grew."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], _Lexed] = OrderedDict()

    def lex(self, language: str, text: str) -> _Lexed:
        """``text`` lexed: from an earlier text it extends, while it changes; afresh once
        the same text is asked for again (it stopped changing), so it settles exact."""
        key = (language, text)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            if not found.exact:
                found = self._entries[key] = _lex(language, text).lexed
            return found
        base: _Lexed | None = None
        best = 0
        for entry in reversed(self._entries.values()):
            if entry.language == language:
                shared = _common_prefix(entry.text, text)
                if shared > best:
                    base, best = entry, shared
        lexed = _lex(language, text, base).lexed
        if base is not None and best == len(base.text) and not base.exact:
            # A block that grew while streaming: the shorter text will not come back.
            del self._entries[(language, base.text)]
        self._entries[key] = lexed
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return lexed


#: Lexed code blocks of the documents styled here (module-level like a functools cache:
#: it only remembers results of a pure function).
_CACHE = _LexCache()


# -- colours ---------------------------------------------------------------------------

#: Token colours for light backgrounds (after GitHub's light theme).
_LIGHT_COLOURS: dict[_TokenType, str] = {
    Keyword: "#cf222e",
    Keyword.Constant: "#0550ae",
    Keyword.Type: "#953800",
    Operator.Word: "#cf222e",
    Name.Builtin: "#953800",
    Name.Builtin.Pseudo: "#0550ae",
    Name.Function: "#8250df",
    Name.Class: "#953800",
    Name.Decorator: "#8250df",
    Name.Exception: "#953800",
    Name.Constant: "#0550ae",
    Name.Tag: "#116329",
    Name.Attribute: "#0550ae",
    Name.Label: "#8250df",
    Name.Entity: "#0550ae",
    String: "#0a3069",
    String.Escape: "#0550ae",
    String.Interpol: "#0550ae",
    String.Regex: "#116329",
    Number: "#0550ae",
    Comment: "#6e7781",
    Comment.Preproc: "#cf222e",
    Comment.PreprocFile: "#0a3069",
    Generic.Heading: "#0550ae",
    Generic.Subheading: "#0550ae",
    Generic.Deleted: "#82071e",
    Generic.Inserted: "#116329",
    Generic.Prompt: "#6e7781",
    Generic.Traceback: "#cf222e",
    Generic.Error: "#cf222e",
}
#: The same for dark backgrounds (after GitHub's dark theme).
_DARK_COLOURS: dict[_TokenType, str] = {
    Keyword: "#ff7b72",
    Keyword.Constant: "#79c0ff",
    Keyword.Type: "#ffa657",
    Operator.Word: "#ff7b72",
    Name.Builtin: "#ffa657",
    Name.Builtin.Pseudo: "#79c0ff",
    Name.Function: "#d2a8ff",
    Name.Class: "#ffa657",
    Name.Decorator: "#d2a8ff",
    Name.Exception: "#ffa657",
    Name.Constant: "#79c0ff",
    Name.Tag: "#7ee787",
    Name.Attribute: "#79c0ff",
    Name.Label: "#d2a8ff",
    Name.Entity: "#79c0ff",
    String: "#a5d6ff",
    String.Escape: "#79c0ff",
    String.Interpol: "#79c0ff",
    String.Regex: "#7ee787",
    Number: "#79c0ff",
    Comment: "#8b949e",
    Comment.Preproc: "#ff7b72",
    Comment.PreprocFile: "#a5d6ff",
    Generic.Heading: "#79c0ff",
    Generic.Subheading: "#79c0ff",
    Generic.Deleted: "#ffa198",
    Generic.Inserted: "#7ee787",
    Generic.Prompt: "#8b949e",
    Generic.Traceback: "#ff7b72",
    Generic.Error: "#ff7b72",
}
_BOLD = (Generic.Heading, Generic.Subheading, Generic.Strong)
#: WCAG AA contrast for body text; colours that miss it move towards the text colour.
_MIN_CONTRAST = 4.5
#: How much of the text colour tints a code block's background (as the transcript does).
CODE_TINT = 0.07
#: Code blocks in Markdown longer than this stay plain (tinted): lexing one would stall
#: the window for a good fraction of a second on every restyle.
_MAX_CODE_CHARS = 100_000

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _luminance(color: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )


def contrast_ratio(first: QColor, second: QColor) -> float:
    """The WCAG 2 contrast ratio of two colours, from 1 (none) to 21 (black on white).

    Args:
        first: one colour.
        second: the other.

    Returns:
        The ratio of the lighter colour's relative luminance to the darker's (each plus 0.05).
    """
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


class _Scheme:
    """Token formats for one background and text colour, from the light or dark colour set."""

    def __init__(self, background: QColor, foreground: QColor, *, dark: bool) -> None:
        self.background = background
        self.dark = dark
        self._foreground = foreground
        self._colours = _DARK_COLOURS if self.dark else _LIGHT_COLOURS
        self._formats: dict[_TokenType, QTextCharFormat | None] = {}
        self._ranges: dict[_Line, list[QTextLayout.FormatRange]] = {}

    def format_for(self, ttype: _TokenType) -> QTextCharFormat | None:
        """The format for a token type, or None for plain text."""
        if ttype in self._formats:
            return self._formats[ttype]
        kind: _TokenType | None = ttype
        while kind is not None and kind not in self._colours:
            kind = kind.parent
        fmt: QTextCharFormat | None = None
        if kind is not None:
            fmt = QTextCharFormat()
            fmt.setForeground(self._readable(QColor(self._colours[kind])))
            if ttype in Comment and ttype not in Comment.Preproc:
                fmt.setFontItalic(True)
        if ttype in Generic.Emph:
            fmt = fmt or QTextCharFormat()
            fmt.setFontItalic(True)
        if any(ttype in group for group in _BOLD):
            fmt = fmt or QTextCharFormat()
            fmt.setFontWeight(QFont.Weight.Bold)
        self._formats[ttype] = fmt
        return fmt

    def _readable(self, color: QColor) -> QColor:
        for step in range(11):
            candidate = blend(color, self._foreground, step / 10)
            if contrast_ratio(candidate, self.background) >= _MIN_CONTRAST:
                return candidate
        return self._foreground

    def spans(self, line: _Line, text: str) -> list[tuple[int, int, QTextCharFormat]]:
        """``(start, length, format)`` for a line's coloured tokens, in Qt's UTF-16 units."""
        result: list[tuple[int, int, QTextCharFormat]] = []
        last_end = -1
        last_format: QTextCharFormat | None = None
        for start, end, ttype in line:
            fmt = self.format_for(ttype)
            if fmt is None:
                continue
            if fmt is last_format and start == last_end:
                begin, _length, _fmt = result[-1]
                result[-1] = (begin, end - begin, fmt)
            else:
                result.append((start, end - start, fmt))
            last_end, last_format = end, fmt
        if result and _ASTRAL.search(text):
            result = [
                (_utf16_len(text[:start]), _utf16_len(text[start : start + length]), fmt)
                for start, length, fmt in result
            ]
        return result

    def ranges(self, line: _Line, text: str) -> list[QTextLayout.FormatRange]:
        """A line's coloured tokens as ``QTextLayout`` format ranges (cached per line)."""
        cacheable = not _ASTRAL.search(text)
        if cacheable and line in self._ranges:
            return self._ranges[line]
        ranges = []
        for start, length, fmt in self.spans(line, text):
            piece = QTextLayout.FormatRange()
            piece.start = start
            piece.length = length
            piece.format = fmt
            ranges.append(piece)
        if cacheable:
            if len(self._ranges) > 20000:
                self._ranges.clear()
            self._ranges[line] = ranges
        return ranges


def _utf16_len(text: str) -> int:
    return len(text) + len(_ASTRAL.findall(text))


_SCHEMES: dict[tuple[int, int, bool], _Scheme] = {}


def _scheme(palette: QPalette, background: QColor) -> _Scheme:
    """The token formats for text on ``background`` in a window with ``palette``.

    The colour set (light or dark) follows the lightness of the palette's Base colour;
    each colour is then made to read on ``background``.
    """
    foreground = palette.color(QPalette.ColorRole.Text)
    dark = palette.color(QPalette.ColorRole.Base).lightnessF() < 0.5
    key = (background.rgba(), foreground.rgba(), dark)
    scheme = _SCHEMES.get(key)
    if scheme is None:
        scheme = _SCHEMES[key] = _Scheme(background, foreground, dark=dark)
    return scheme


def code_background(palette: QPalette) -> QColor:
    """The background of code (blocks and inline) in rich text shown with ``palette``."""
    return blend(
        palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), CODE_TINT
    )


# -- Markdown documents ----------------------------------------------------------------


@dataclass(frozen=True)
class CodeBlock:
    """One code block (fenced or indented) of a document filled from Markdown."""

    #: The canonical language name (see :func:`language_for`); "text" when unknown.
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
    scheme = _scheme(palette, code_background(palette))
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
        self._lexed: _Lexed | None = None
        self._generations: list[int] = []
        self._next_generation = 0
        self._scheme = self._editor_scheme()
        self._exact_job: Generator[None, None, _Lexed] | None = None
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

    def _editor_scheme(self) -> _Scheme:
        palette = self._editor.palette()
        return _scheme(palette, palette.color(QPalette.ColorRole.Base))

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
        info = _lexer(self._language)
        if len(text) > _LONG_TEXT and (old is None or not info.resumable or old.states[0] is None):
            relexed = _spliced(old, text, self._language)
        else:
            relexed = _lex(self._language, text, old)
        self._adopt(relexed, edited)
        if not relexed.lexed.exact:
            self._exact_timer.start(_SETTLE_MS if old is not None else 0)

    def _adopt(self, relexed: _Relexed, edited: tuple[int, int] | None) -> None:
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
            self._exact_job = _lexing(self._language, lexed.text)
        result = _drive(self._exact_job, _SLICE_S)
        if result is None:
            self._exact_timer.start(0)
            return
        self._exact_job = None
        relexed = _narrowed(lexed, result, 0, len(result.lines))
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


def _spliced(old: _Lexed | None, text: str, language: str) -> _Relexed:
    """``old``'s tokens moved to where their lines are in ``text``, the changed lines
    left plain: what is shown until the text has been lexed afresh."""
    if old is None:
        line_count = text.count("\n") + 1
        lexed = _Lexed(language, text, [()] * line_count, [None] * line_count, exact=False)
        return _Relexed(lexed, 0, line_count)
    prefix = _common_prefix(old.text, text)
    suffix = _common_suffix(old.text, text, min(len(old.text), len(text)) - prefix)
    first = text.count("\n", 0, prefix)
    new_last = text.count("\n", 0, len(text) - suffix)
    old_last = old.text.count("\n", 0, len(old.text) - suffix)
    lines = old.lines[:first] + [()] * (new_last - first + 1) + old.lines[old_last + 1 :]
    states: list[_Stack | None] = [None] * len(lines)
    return _Relexed(_Lexed(language, text, lines, states, exact=False), first, new_last + 1)


__all__ = [
    "CODE_TINT",
    "LANGUAGES",
    "CodeBlock",
    "CodeHighlighter",
    "code_background",
    "code_blocks",
    "contrast_ratio",
    "language_display_name",
    "language_for",
    "style_code_blocks",
]
