"""Incremental lexing of code with Pygments, free of Qt.

A text is always lexed as a whole, so strings and comments that span lines come out
right, and when it changes it is lexed again only from shortly before the change until
the lexer is back in step with its previous run (:func:`lex`). Long texts can be lexed
a slice at a time (:func:`lexing` with :func:`drive`). The results are plain tuples of
token spans per line, for :mod:`desktop.highlight.schemes` to colour.

Nothing here imports Qt (a test and an import-linter contract hold it to that), so it
can be tested, benchmarked and warmed up on any thread without a display.

Thread: any; :func:`warm_up` runs on a worker thread at start-up, and the lexer cache
is only read once it returns.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from pygments.lexer import Lexer, RegexLexer
from pygments.lexers import get_lexer_by_name
from pygments.lexers.c_cpp import CFamilyLexer
from pygments.lexers.special import TextLexer
from pygments.token import Error, Keyword, Name, Whitespace, _TokenType
from pygments.util import ClassNotFound

#: Pygments lexer names for canonical names that differ from them.
_PYGMENTS_NAME = {"text": "text"}
#: Lexer options: PHP in a fence rarely starts with ``<?php``.
_LEXER_OPTIONS: dict[str, dict[str, Any]] = {"php": {"startinline": True}}

#: A token: its start and end column (code points) within its line, and its type.
Span = tuple[int, int, _TokenType]
#: One line's tokens.
Line = tuple[Span, ...]
#: A lexer's state stack, as Pygments' ``RegexLexer`` keeps it.
Stack = tuple[str, ...]


#: Languages whose lexers :func:`warm_up` loads ahead of the first answer that needs them.
COMMON_LANGUAGES = ("python", "javascript", "typescript", "bash", "json", "c", "cpp", "html")


def warm_up(languages: tuple[str, ...] = COMMON_LANGUAGES) -> None:
    """Load and compile the lexers of ``languages`` now (about 60 ms for Python alone).

    Pygments compiles a lexer's regular expressions on first use; doing that on a
    worker thread at start-up keeps the first code block of an answer from stalling
    the window. Thread-safe: the lexer cache is only read once this returns.
    """
    for language in languages:
        info = lexer_info(language)
        for _ in info.lexer.get_tokens_unprocessed("x = 1\n"):
            pass


class LexerInfo(NamedTuple):
    """A language's Pygments lexer, and what the incremental lexing needs to know of it."""

    lexer: Lexer
    #: Whether lexing can resume at a line start from a saved state (see _resumed_tokens).
    resumable: bool
    #: C and C++: names Pygments shows as types (CFamilyLexer's own post-processing).
    c_types: frozenset[str]


@lru_cache(maxsize=64)
def lexer_info(language: str) -> LexerInfo:
    """The lexer for the canonical language name ``language`` (plain text when unknown)."""
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
    return LexerInfo(lexer, resumable, c_types)


def _resumed_tokens(
    lexer: Any, text: str, pos: int, stack: Stack
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
class Lexed:
    """A text lexed in one piece, kept line by line."""

    language: str
    text: str
    #: Each line's tokens, as spans within the line.
    lines: list[Line]
    #: The lexer's state at each line's start; None where a token runs across the line
    #: start or the lexer cannot resume there.
    states: list[Stack | None]
    #: Whether this is what lexing the whole text afresh gives. Lexing again only where
    #: the text changed may not be: a pattern that failed before the change (an
    #: unclosed ``/*`` in JavaScript, an unclosed docstring in Python) may have scanned
    #: to the end of the text, and would match now that the change closed it.
    exact: bool = True


class Relexed(NamedTuple):
    """A text lexed again, and which of its lines' tokens changed."""

    lexed: Lexed
    #: The lines whose tokens changed (new numbering): ``first`` up to, not including, ``end``.
    first: int
    end: int


#: Lines lexed again before the first changed one: a token's pattern may have looked
#: ahead (``(?=\s*\()``, say) into the text that changed.
_LOOKBACK_LINES = 1
#: Tokens handled between checks of the time spent, when lexing in slices.
_SLICE_TOKENS = 2048


def lex(language: str, text: str, previous: Lexed | None = None) -> Relexed:
    """Lex ``text`` as ``language``, reusing what ``previous`` (an earlier version) found.

    A resumable lexer starts again at a line shortly before the first change, in the
    state recorded there, and stops at the first line after the change where it is in
    the same state as last time; the lines after that keep their tokens. Other lexers
    lex the whole text again. The result is marked inexact when only part of it was
    lexed again (see :attr:`Lexed.exact`).
    """
    info = lexer_info(language)
    source = text + "\n"  # Pygments' lexers expect a final newline.
    line_count = text.count("\n") + 1
    reuse = previous is not None and previous.language == language
    if reuse and previous is not None and info.resumable and previous.states[0] is not None:
        old = previous
        prefix = _common_prefix(old.text, text)
        if prefix == len(old.text) == len(text):
            return Relexed(old, 0, 0)
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

        def converged(line: int, stack: Stack) -> bool:
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
        lexed = Lexed(language, text, new_lines, new_states, exact)
        return narrowed(old, lexed, first, end)
    lexed = _complete(lexing(language, text))
    if reuse and previous is not None:
        return narrowed(previous, lexed, 0, len(lexed.lines))
    return Relexed(lexed, 0, len(lexed.lines))


def lexing(language: str, text: str) -> Generator[None, None, Lexed]:
    """Lex ``text`` afresh, pausing (yielding) every few thousand tokens."""
    info = lexer_info(language)
    source = text + "\n"
    if info.resumable:
        events = _resumed_tokens(info.lexer, source, 0, ("root",))
    else:
        events = info.lexer.get_tokens_unprocessed(source)
    lines, states, _ = yield from _collecting(events, 0, 0, None, info.c_types)
    lines, states = _fitted(lines, states, text.count("\n") + 1)
    if not info.resumable:
        states = [None] * len(states)
    return Lexed(language, text, lines, states)


def _fitted(
    lines: list[Line], states: list[Stack | None], count: int
) -> tuple[list[Line], list[Stack | None]]:
    """``count`` lines: without the one after the final newline the lexer was given, and
    padded should a lexer have skipped text at the end (none is known to)."""
    lines, states = lines[:count], states[:count]
    lines += [()] * (count - len(lines))
    states += [None] * (count - len(states))
    return lines, states


_T = TypeVar("_T")


def drive(steps: Generator[None, None, _T], budget_s: float) -> _T | None:
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
    converged: Callable[[int, Stack], bool] | None,
    c_types: frozenset[str],
) -> tuple[list[Line], list[Stack | None], int | None]:
    """:func:`_collecting`, to its end."""
    return _complete(_collecting(events, line, line_start, converged, c_types))


def _collecting(
    events: Iterator[tuple[int, Any, Any]],
    line: int,
    line_start: int,
    converged: Callable[[int, Stack], bool] | None,
    c_types: frozenset[str],
) -> Generator[None, None, tuple[list[Line], list[Stack | None], int | None]]:
    """Split a token stream that starts at line ``line`` into each line's spans.

    Yields now and then (every :data:`_SLICE_TOKENS` tokens), so a long text can be
    lexed a slice at a time between other work.

    Returns:
        The lines' spans, their start states, and the line where ``converged`` said to
        stop (that line and the ones after it are not included), or None.
    """
    lines: list[Line] = []
    states: list[Stack | None] = [None]
    spans: list[Span] = []
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


def narrowed(old: Lexed, new: Lexed, first: int, end: int) -> Relexed:
    """Shrink the changed lines ``first``..``end`` to those whose tokens really changed."""
    old_end = end - (len(new.lines) - len(old.lines))
    while first < end and first < old_end and new.lines[first] == old.lines[first]:
        first += 1
    while end > first and old_end > first and new.lines[end - 1] == old.lines[old_end - 1]:
        end -= 1
        old_end -= 1
    return Relexed(new, first, end)


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


class LexCache:
    """The texts lexed lately, so code restyled while it streams is lexed only where it grew."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], Lexed] = OrderedDict()

    def lex(self, language: str, text: str) -> Lexed:
        """``text`` lexed: from an earlier text it extends, while it changes; afresh once
        the same text is asked for again (it stopped changing), so it settles exact."""
        key = (language, text)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            if not found.exact:
                found = self._entries[key] = lex(language, text).lexed
            return found
        base: Lexed | None = None
        best = 0
        for entry in reversed(self._entries.values()):
            if entry.language == language:
                shared = _common_prefix(entry.text, text)
                if shared > best:
                    base, best = entry, shared
        lexed = lex(language, text, base).lexed
        if base is not None and best == len(base.text) and not base.exact:
            # A block that grew while streaming: the shorter text will not come back.
            del self._entries[(language, base.text)]
        self._entries[key] = lexed
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return lexed


def spliced(old: Lexed | None, text: str, language: str) -> Relexed:
    """``old``'s tokens moved to where their lines are in ``text``, the changed lines
    left plain: what is shown until the text has been lexed afresh."""
    if old is None:
        line_count = text.count("\n") + 1
        lexed = Lexed(language, text, [()] * line_count, [None] * line_count, exact=False)
        return Relexed(lexed, 0, line_count)
    prefix = _common_prefix(old.text, text)
    suffix = _common_suffix(old.text, text, min(len(old.text), len(text)) - prefix)
    first = text.count("\n", 0, prefix)
    new_last = text.count("\n", 0, len(text) - suffix)
    old_last = old.text.count("\n", 0, len(old.text) - suffix)
    lines = old.lines[:first] + [()] * (new_last - first + 1) + old.lines[old_last + 1 :]
    states: list[Stack | None] = [None] * len(lines)
    return Relexed(Lexed(language, text, lines, states, exact=False), first, new_last + 1)


__all__ = [
    "COMMON_LANGUAGES",
    "LexCache",
    "Lexed",
    "LexerInfo",
    "Line",
    "Relexed",
    "Span",
    "Stack",
    "drive",
    "lex",
    "lexer_info",
    "lexing",
    "narrowed",
    "spliced",
    "warm_up",
]
