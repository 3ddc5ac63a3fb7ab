"""Turning a model's Markdown answer back into code: its fenced blocks, and the code it proposes.

An answer often holds more than one block: the definition, then an example that calls
it; or a class and a helper in two blocks. :func:`answer_code` returns the definitions
(joined in order when they are parts of one program), never the example alone. What a
block defines and uses is read with Pygments' lexer for its language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Keyword, Name, Punctuation
from pygments.util import ClassNotFound

from engine.tasks.programming_languages import language_from_content, language_from_hint


@dataclass(frozen=True)
class FencedBlock:
    """One fenced code block of an answer.

    Attributes:
        language: the fence's language (canonical), "" when it named none.
        code: the block's text without the fences.
        closed: False when the answer ended inside the block.
        start: offset of the opening fence in the answer.
        end: offset just past the closing fence (or the end of the answer).
    """

    language: str
    code: str
    closed: bool
    start: int
    end: int


_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")


def extract_code_blocks(answer: str) -> list[FencedBlock]:
    """The fenced code blocks of a Markdown answer, in order.

    A fence is three or more backticks or tildes; it closes at a line of the same
    character at least as long, so a ```` fence can hold ``` lines. Backtick info
    strings cannot contain backticks (CommonMark), which keeps inline ``` in prose
    from opening a block. Fences indented in a list item count, and the item's
    indentation is taken off the code. A block still open at the end is returned
    with ``closed=False``.
    """
    blocks: list[FencedBlock] = []
    lines = answer.splitlines(keepends=True)
    offset = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _OPEN.match(line.rstrip("\r\n"))
        if match is None or (match["fence"][0] == "`" and "`" in match["info"]):
            offset += len(line)
            i += 1
            continue
        fence, indent = match["fence"], match["indent"]
        start = offset
        offset += len(line)
        i += 1
        body: list[str] = []
        closed = False
        while i < len(lines):
            inner = lines[i]
            stripped = inner.strip()
            offset += len(inner)
            i += 1
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                closed = True
                break
            body.append(inner[len(indent) :] if inner.startswith(indent) else inner.lstrip())
        code = "".join(body)
        if code.endswith("\n"):
            code = code[:-1]
        info = match["info"].strip()
        language = (language_from_hint(info) or info.split()[0].lower()) if info else ""
        blocks.append(FencedBlock(language, code, closed, start, offset))
    return blocks


#: Fence languages that hold commands to run or output, not the code asked for.
_NOT_THE_CODE = {"bash", "console", "text", "shell", "sh", "powershell", "output"}


def answer_code(answer: str, language: str) -> str | None:
    """The code an answer proposes, for "generate", "fix" and "tests".

    The blocks in ``language`` or with no language named; failing those, the blocks
    that are not shell commands or output (unless ``language`` is a shell); failing
    those, all blocks. Of several, the definitions (see :func:`_the_code`). An answer
    without fences is code itself when it reads as code: a small model sometimes
    forgets the opening fence (then the code is what comes before the first lone
    fence line) or all of them.

    Returns:
        The code, or None when the answer holds none.
    """
    blocks = [b for b in extract_code_blocks(answer) if b.code.strip()]
    if len(blocks) == 1 and not blocks[0].closed and not blocks[0].language:
        # A lone fence line: the closing fence of code whose opening one was forgotten,
        # when the text before it is code and the text after it is not.
        before = answer[: blocks[0].start].strip("\n")
        if not _reads_as_code(blocks[0].code, language):
            return before if _reads_as_code(before, language) else None
    if blocks:
        same = [b for b in blocks if b.language in (language, "")]
        if not same and language not in _NOT_THE_CODE:
            same = [b for b in blocks if b.language not in _NOT_THE_CODE]
        return _the_code(same or blocks, language)
    lines = answer.split("\n")
    lone = [i for i, line in enumerate(lines) if re.fullmatch(r"\s*(`{3,}|~{3,})\s*", line)]
    if lone:
        before = "\n".join(lines[: lone[0]]).strip("\n")
        if before.strip() and _reads_as_code(before, language):
            return before
        return None
    if _reads_as_code(answer, language):
        return answer.strip("\n")
    return None


def _reads_as_code(text: str, language: str) -> bool:
    found = language_from_content(text)
    return found is not None and found not in ("markdown", "text")


# -- definitions and examples ----------------------------------------------------------

#: Keywords whose next name is defined (where Pygments marks no Name.Function/Class:
#: JavaScript's and Go's lexers, SQL's CREATE). Keywords that extend a type defined
#: elsewhere (Rust's impl, Swift's extension) define nothing new.
_DEFINING = frozenset(
    {"def", "class", "function", "func", "fn", "fun", "struct", "enum", "interface",
     "trait", "type", "module", "object", "record", "protocol", "create"}
)  # fmt: skip


@dataclass(frozen=True)
class _Shape:
    """What a block defines and which names it mentions."""

    defines: frozenset[str]
    uses: frozenset[str]


def _the_code(blocks: Sequence[FencedBlock], language: str) -> str:
    """The code of several candidate blocks: the definitions, not the examples using them.

    A block that defines nothing but mentions a name another block defines is an
    example of its use, and is left out. The rest are joined in order (a class and its
    helper, imports and the function). When two blocks define the same name they are
    versions of one code (a first try and a corrected one): the longest is the answer.
    Blocks that define nothing at all (a script, shell commands) give the longest.
    """
    if len(blocks) == 1:
        return blocks[0].code
    longest = max(blocks, key=lambda b: len(b.code))
    shapes = [_shape(b.code, b.language or language) for b in blocks]
    defining = [s.defines for s in shapes if s.defines]
    if not defining:
        return longest.code
    names = frozenset().union(*defining)
    if sum(len(d) for d in defining) > len(names):
        versions = [b for b, s in zip(blocks, shapes, strict=True) if s.defines]
        return max(versions, key=lambda b: len(b.code)).code
    kept = [b.code for b, s in zip(blocks, shapes, strict=True) if s.defines or not s.uses & names]
    return "\n\n".join(kept)


def _shape(code: str, language: str) -> _Shape:
    lexer = _lexer(language)
    if lexer is None:
        return _Shape(frozenset(), frozenset())
    defines: set[str] = set()
    uses: set[str] = set()
    # After a defining keyword, the next name at bracket depth 0 is defined (a Go
    # method's receiver, "(s *Stack)", comes first and is skipped).
    awaiting = False
    depth = 0
    for kind, text in lexer.get_tokens(code):
        if kind in Name.Function.Magic:  # Rust's println!: a macro call, not a definition
            continue
        if kind in Keyword:
            awaiting = awaiting or text.lower() in _DEFINING
        elif kind in Punctuation and awaiting:
            if depth <= 0 and "(" not in text:
                awaiting = False  # "= function (a) {": an anonymous function defines nothing
            depth += text.count("(") - text.count(")")
        elif kind in Name:
            uses.add(text)
            if kind in Name.Function or kind in Name.Class or (awaiting and depth <= 0):
                defines.add(text)
                awaiting, depth = False, 0
    return _Shape(frozenset(defines), frozenset(uses))


@lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer | None:
    if not language or language == "text":
        return None
    try:
        return get_lexer_by_name(language)
    except ClassNotFound:
        return None
