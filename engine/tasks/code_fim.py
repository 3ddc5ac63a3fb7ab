"""Completion at a cursor by fill-in-the-middle: whether the model can, and what to insert.

The worker builds the prompt from the FIM tokens of the loaded vocabulary
(``EngineClient.infill``); this module decides which part of the model's text goes in
the gap. A model seldom stops exactly there: it goes on into the next function, or
writes the code after the cursor again. So the text is cut at the first line that
repeats the first line after the cursor, or that leaves the block the cursor is in (a
line indented less than the block), keeping a line of closing brackets that closes
the block when the text after the cursor does not close it itself.

Thread: the coroutines run on the caller's event loop; the rest is pure.
"""

from __future__ import annotations

import contextlib
import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import EngineError, UsageError
from engine.types import GenerationResult, GenerationStats, ModelInfo, SamplingParams, TokenEvent

if TYPE_CHECKING:
    from engine.runtime.client import EngineClient

#: The longest completion, in tokens. A completion usually ends well before, at the end
#: of the model's answer or of the block (see :class:`GapGuard`).
MAX_COMPLETION_TOKENS = 256


class FimReason(enum.Enum):
    """Why completion at the cursor is not available (the desktop words each its own way)."""

    NO_MODEL = "no-model"
    NO_FIM_TOKENS = "no-fim-tokens"


_REASON_TEXT = {
    FimReason.NO_MODEL: "No model is loaded; load a code model first.",
    FimReason.NO_FIM_TOKENS: (
        "The loaded model has no fill-in-the-middle tokens; a code model such as "
        "Qwen2.5-Coder or StarCoder2 has them."
    ),
}


@dataclass(frozen=True)
class FimSupport:
    """Whether a model can complete code at a cursor, and why not.

    Attributes:
        reason: None when it can; else why not.
    """

    reason: FimReason | None = None

    @property
    def available(self) -> bool:
        """Whether completion at the cursor works with the model."""
        return self.reason is None

    @property
    def message(self) -> str:
        """Why not, in English for the command line ("" when available)."""
        return "" if self.reason is None else _REASON_TEXT[self.reason]


def fim_support(model: ModelInfo | None) -> FimSupport:
    """Whether the loaded ``model`` can complete at a cursor.

    The worker reads the model's FIM tokens from the vocabulary llama.cpp loaded, which
    knows them by their text when the GGUF header names none (Qwen2.5-Coder), so this
    asks the model, not its file.
    """
    if model is None:
        return FimSupport(FimReason.NO_MODEL)
    if not model.fim:
        return FimSupport(FimReason.NO_FIM_TOKENS)
    return FimSupport()


# -- where the gap ends ----------------------------------------------------------------

#: A line that only closes brackets (or a Ruby/Lua/shell block).
_CLOSER = re.compile(r"[)\]}][)\]};,]*|end|fi|done|esac")


def _indent(line: str) -> int:
    """The width of a line's indentation, a tab counted as four spaces."""
    return len(line[: len(line) - len(line.lstrip(" \t"))].expandtabs(4))


@dataclass(frozen=True)
class _Gap:
    """The cursor's surroundings that decide where a completion ends.

    Attributes:
        cursor_line: the text of the cursor's line before the cursor.
        anchor: the first line after the gap that holds something, if any.
        block: the indentation of the cursor's block when the cursor is inside a
            line; None when the first line the completion writes decides it.
    """

    cursor_line: str
    anchor: str | None
    block: int | None

    @classmethod
    def around(cls, before: str, after: str) -> _Gap:
        cursor_line = before.rpartition("\n")[2]
        rest_of_line, _, later = after.partition("\n")
        inside_line = bool(cursor_line.strip())
        if not inside_line and rest_of_line.strip():
            anchor: str | None = cursor_line + rest_of_line
        else:
            anchor = next((line for line in later.split("\n") if line.strip()), None)
        return cls(cursor_line, anchor, _indent(cursor_line) if inside_line else None)

    def cut(self, completion: str, *, final: bool) -> int | None:
        """Where ``completion`` leaves the gap (an offset), or None if it has not yet.

        Args:
            completion: the model's text so far.
            final: whether it is all of it; else its unfinished last line waits.
        """
        lines = completion.split("\n")
        if not final:
            lines.pop()
        block = self.block
        start = 0
        for i, line in enumerate(lines):
            end = start + len(line) + 1
            full = self.cursor_line + line if i == 0 else line
            if i == 0 and block is not None:
                # The rest of the cursor's line. When the model ends that line at once
                # (the cursor after "def f():"), the next line sets the block instead.
                if not line.strip():
                    block = None
            elif full.strip():
                if self.anchor is not None and _repeats(full, self.anchor):
                    return start
                width = _indent(full)
                if block is None:
                    block = width
                elif width < block:
                    # Out of the block: a line that closes it stays, unless the text
                    # after the cursor closes it (then _repeats has cut already).
                    return min(end, len(completion)) if _CLOSER.fullmatch(full.strip()) else start
            start = end
        return None


def _repeats(line: str, anchor: str) -> bool:
    """Whether a completion's line starts the line after the gap again."""
    if _indent(line) != _indent(anchor):
        return False
    return line.strip().startswith(anchor.strip())


def fit_completion(completion: str, before: str, after: str) -> str:
    """The part of a model's ``completion`` that belongs between ``before`` and ``after``.

    Cut where it leaves the gap (see the module's docstring), and where it ends with
    the start of ``after`` (:func:`trim_overlap`); a completion of whole lines ends
    without the line break ``after`` already starts with.
    """
    cut = _Gap.around(before, after).cut(completion, final=True)
    text = trim_overlap(completion if cut is None else completion[:cut], after)
    return _tidy_end(text, after)


def _tidy_end(text: str, after: str) -> str:
    stripped = text.rstrip()
    if not stripped or "\n" not in text[len(stripped) :]:
        return text
    rest_of_line, newline, _ = after.partition("\n")
    if rest_of_line.strip():
        return text  # the gap is inside a line: its text stays as the model wrote it
    return stripped if newline else stripped + "\n"


def trim_overlap(completion: str, after: str) -> str:
    """``completion`` without the start of ``after`` it ends with (models often repeat it)."""
    for head in (after[:200], after.lstrip()[:200]):
        for n in range(min(len(completion), len(head)), 3, -1):
            if completion.endswith(head[:n]):
                return completion[: len(completion) - n]
    head = after.lstrip()[:200]
    index = completion.find(head[: min(len(head), 40)]) if len(head) >= 12 else -1
    return completion[:index] if index > 0 else completion


class GapGuard:
    """Notices, while a completion streams, that it has left the gap (so it can stop)."""

    def __init__(self, before: str, after: str) -> None:
        self._gap = _Gap.around(before, after)
        self._pieces: list[str] = []
        #: Whether the completion has left the gap.
        self.left = False

    def feed(self, piece: str) -> bool:
        """Add a piece of the completion; True when it has just left the gap."""
        self._pieces.append(piece)
        if self.left or "\n" not in piece:
            return False
        text = "".join(self._pieces)
        self._pieces = [text]
        self.left = self._gap.cut(text, final=False) is not None
        return self.left


# -- completing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    """What to insert at a cursor.

    Attributes:
        text: the text for the gap.
        answer: all the model wrote.
        stats: the generation's figures.
        stop_reason: "end_of_gap" when the model went on past the gap and was stopped
            there; else the generation's ("eos", "length", "cancelled").
    """

    text: str
    answer: str
    stats: GenerationStats
    stop_reason: str


async def fill_in_the_middle(
    client: EngineClient,
    before: str,
    after: str,
    *,
    max_tokens: int = MAX_COMPLETION_TOKENS,
) -> Completion:
    """The text to insert between ``before`` and ``after``, with the model's figures.

    Greedy decoding: the likeliest code, the same each time on one computer. The
    generation stops as soon as the model leaves the gap.

    Raises:
        EngineError: the model has no fill-in-the-middle tokens, or the engine failed.
        NoModelLoaded: no model is loaded.
    """
    params = SamplingParams(
        temperature=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, max_tokens=max_tokens
    )
    result: GenerationResult | None = None
    guard = GapGuard(before, after)
    stream = client.infill(before, after, params)
    # aclosing: a completion abandoned mid-stream (its task cancelled) still tells the
    # worker to stop generating.
    async with contextlib.aclosing(stream):
        async for event in stream:
            if isinstance(event, TokenEvent):
                if guard.feed(event.text):
                    await client.cancel()
            else:
                result = event
    if result is None:  # pragma: no cover - the client always ends with a result
        raise EngineError("The engine ended a generation without a result.")
    stop_reason = "end_of_gap" if guard.left else result.stats.stop_reason
    text = fit_completion(result.text, before, after)
    return Completion(text, result.text, result.stats, stop_reason)


async def complete_at_cursor(
    client: EngineClient,
    before: str,
    after: str,
    *,
    max_tokens: int = MAX_COMPLETION_TOKENS,
) -> str:
    """The text to insert between ``before`` and ``after`` (see :func:`fill_in_the_middle`).

    Raises:
        EngineError: the model has no fill-in-the-middle tokens, or the engine failed.
        NoModelLoaded: no model is loaded.
    """
    completion = await fill_in_the_middle(client, before, after, max_tokens=max_tokens)
    return completion.text


def split_at(text: str, line: int, column: int) -> tuple[str, str]:
    """``text`` before and after a cursor at ``line``:``column`` (both counted from 1).

    Column 1 is before a line's first character; one past its last character is its
    end. The line after a final line break is a line of its own (the end of the file).

    Raises:
        UsageError: the position is not in ``text``.
    """
    lines = text.split("\n")
    if line < 1 or column < 1:
        raise UsageError(f"Lines and columns count from 1; {line}:{column} is not a position.")
    if line > len(lines):
        raise UsageError(
            f"Line {line} is past the end of the file, which has {len(lines)} lines "
            "(counting the one after a final line break)."
        )
    length = len(lines[line - 1].rstrip("\r"))
    if column > length + 1:
        raise UsageError(
            f"Column {column} is past the end of line {line}, which has {length} "
            f"characters (column {length + 1} is its end)."
        )
    offset = sum(len(previous) + 1 for previous in lines[: line - 1]) + column - 1
    return text[:offset], text[offset:]


__all__ = [
    "MAX_COMPLETION_TOKENS",
    "Completion",
    "FimReason",
    "FimSupport",
    "GapGuard",
    "complete_at_cursor",
    "fill_in_the_middle",
    "fim_support",
    "fit_completion",
    "split_at",
    "trim_overlap",
]
