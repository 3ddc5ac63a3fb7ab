"""Separating a reasoning model's thinking from its answer while the text streams.

Reasoning models (Qwen3, QwQ, DeepSeek-R1 and its distills, …) write their thinking
between ``<think>`` and ``</think>`` before the answer. Some chat templates open the
block themselves, so the model's output starts inside it and only the closing marker
appears. The thinking is shown apart from the answer, stored with it, and never counted
as, or searched for, the answer's text (summaries, extracted code, ``--json``'s ``text``).

A block is thinking only where the answer *begins* with it (or the prompt opened it): a
``<think>`` later in an answer, say in an explanation of markup, is answer text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

THINK_START = "<think>"
THINK_END = "</think>"


class Channel(str, Enum):
    """Which part of the output a piece of text belongs to."""

    REASONING = "reasoning"
    ANSWER = "answer"


@dataclass(frozen=True)
class Piece:
    """Text for one channel, in stream order."""

    channel: Channel
    text: str


class _State(Enum):
    UNDECIDED = "undecided"  # only blanks or part of an opening marker seen so far
    THINKING = "thinking"
    AFTER_THINKING = "after_thinking"  # the blank lines between the block and the answer
    ANSWER = "answer"


class ReasoningSplitter:
    """Splits streamed text into thinking and answer.

    Markers can arrive split across pieces: the part that could still become one is held
    back until the next piece (or :meth:`finish`) decides.

    Args:
        opened: the prompt already opened the thinking block (the template ends the
            generation prompt with ``<think>``).
        start: the opening marker.
        end: the closing marker.
    """

    def __init__(self, *, opened: bool = False, start: str = THINK_START, end: str = THINK_END):
        self._start = start
        self._end = end
        self._state = _State.THINKING if opened else _State.UNDECIDED
        self._held = ""
        self._reasoning_begun = False
        self.reasoning = ""
        self.answer = ""

    @property
    def thinking(self) -> bool:
        """Whether the text now arriving is thinking."""
        return self._state is _State.THINKING

    def feed(self, text: str) -> list[Piece]:
        """Add streamed text; return the pieces now certain, in order."""
        self._held += text
        out: list[Piece] = []
        while self._step(out):
            pass
        return out

    def finish(self) -> list[Piece]:
        """Release what is held at the end of generation.

        Thinking cut off by the token limit stays thinking; an answer that was only
        blanks, or only the start of a marker, is answer text.
        """
        held, self._held = self._held, ""
        out: list[Piece] = []
        if self._state is _State.THINKING:
            self._emit(out, Channel.REASONING, held)
        elif self._state in (_State.UNDECIDED, _State.ANSWER):
            self._emit(out, Channel.ANSWER, held)
        return out

    def _step(self, out: list[Piece]) -> bool:
        """Advance the state machine once; True while there is more to decide now."""
        if self._state is _State.UNDECIDED:
            return self._decide()
        if self._state is _State.THINKING:
            return self._think(out)
        if self._state is _State.AFTER_THINKING:
            rest = self._held.lstrip()
            if rest:
                self._state = _State.ANSWER
                self._held = rest
                return True
            self._held = ""
            return False
        self._emit(out, Channel.ANSWER, self._held)
        self._held = ""
        return False

    def _decide(self) -> bool:
        stripped = self._held.lstrip()
        if not stripped:
            return False
        if stripped.startswith(self._start):
            self._state = _State.THINKING
            self._held = stripped[len(self._start) :]
            return True
        if self._start.startswith(stripped):
            return False  # could still become the opening marker
        self._state = _State.ANSWER
        return True

    def _think(self, out: list[Piece]) -> bool:
        at = self._held.find(self._end)
        if at >= 0:
            self._emit(out, Channel.REASONING, self._held[:at])
            self._held = self._held[at + len(self._end) :]
            self._state = _State.AFTER_THINKING
            return True
        keep = _partial_suffix(self._held, self._end)
        self._emit(out, Channel.REASONING, self._held[: len(self._held) - keep])
        self._held = self._held[len(self._held) - keep :]
        return False

    def _emit(self, out: list[Piece], channel: Channel, text: str) -> None:
        if channel is Channel.REASONING and not self._reasoning_begun:
            text = text.lstrip()  # the newline after the opening marker
            self._reasoning_begun = bool(text)
        if not text:
            return
        if channel is Channel.REASONING:
            self.reasoning += text
        else:
            self.answer += text
        if out and out[-1].channel is channel:
            out[-1] = Piece(channel, out[-1].text + text)
        else:
            out.append(Piece(channel, text))


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``marker``."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-n:]):
            return n
    return 0


def split_reasoning(text: str, *, opened: bool = False) -> tuple[str, str]:
    """A whole output's (thinking, answer); the answer loses its surrounding blanks."""
    splitter = ReasoningSplitter(opened=opened)
    splitter.feed(text)
    splitter.finish()
    return splitter.reasoning.rstrip(), splitter.answer.strip()


def prompt_opens_thinking(prompt: str) -> bool:
    """Whether a rendered generation prompt leaves the model inside a thinking block."""
    tail = prompt.rstrip()
    return tail.endswith(THINK_START)


def template_can_think(template: str) -> bool:
    """Whether a chat template is a reasoning model's (it names the thinking markers)."""
    return THINK_START in template or THINK_END in template or "enable_thinking" in template


def template_has_thinking_switch(template: str) -> bool:
    """Whether the template turns thinking on and off with ``enable_thinking``."""
    return "enable_thinking" in template
