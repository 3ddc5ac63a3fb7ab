"""Separating a reasoning model's thinking from its answer while the text streams.

Reasoning models (Qwen3, QwQ, DeepSeek-R1 and its distills, …) write their thinking
between ``<think>`` and ``</think>`` before the answer. Some chat templates open the
block themselves, so the model's output starts inside it and only the closing marker
appears. The thinking is shown apart from the answer, stored with it, and never counted
as, or searched for, the answer's text (summaries, extracted code, ``--json``'s ``text``).

A block is thinking only where the answer *begins* with it (or the prompt opened it): a
``<think>`` later in an answer, say in an explanation of markup, is answer text.

Models that answer in channels (gpt-oss's format) write their thinking as a message on
the ``analysis`` channel and the answer on ``final``; :class:`HarmonySplitter` separates
those, from the special tokens the backend then renders.
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


class _Splitter:
    """What both splitters share: the texts so far, and pieces merged by channel."""

    def __init__(self) -> None:
        self._held = ""
        self.reasoning = ""
        self.answer = ""

    def feed(self, text: str) -> list[Piece]:
        """Add streamed text; return the pieces now certain, in order."""
        self._held += text
        out: list[Piece] = []
        while self._step(out):
            pass
        return out

    def _step(self, out: list[Piece]) -> bool:
        """Advance the state machine once; True while there is more to decide now."""
        raise NotImplementedError

    def _add(self, out: list[Piece], channel: Channel, text: str) -> None:
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


class ReasoningSplitter(_Splitter):
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
        super().__init__()
        self._start = start
        self._end = end
        self._state = _State.THINKING if opened else _State.UNDECIDED
        self._reasoning_begun = False

    @property
    def thinking(self) -> bool:
        """Whether the text now arriving is thinking."""
        return self._state is _State.THINKING

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
        self._add(out, channel, text)


class HarmonySplitter(_Splitter):
    """Splits the output of a model that writes in channels (gpt-oss's "harmony" format).

    Such a model answers with messages, each a header and a body::

        <|channel|>analysis<|message|>…thinking…<|end|>
        <|start|>assistant<|channel|>final<|message|>…answer…<|return|>

    The ``analysis`` channel is thinking; every other channel (``final``, ``commentary``)
    is answer. The markers are special tokens, so the backend must render them
    (``Backend.generate(special=True)``); none of them reaches either text. Output that
    never opens a message is answer. Same surface as :class:`ReasoningSplitter`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._in_header = False
        self._started = False
        self._channel = Channel.ANSWER

    @property
    def thinking(self) -> bool:
        """Whether the text now arriving is thinking."""
        return self._channel is Channel.REASONING and not self._in_header

    def finish(self) -> list[Piece]:
        """Release what is held at the end of generation (a header cut off is dropped)."""
        held, self._held = self._held, ""
        out: list[Piece] = []
        if not self._in_header:
            self._emit(out, held)
        return out

    def _step(self, out: list[Piece]) -> bool:
        if not self._started:
            stripped = self._held.lstrip()
            if not stripped:
                return False
            opener = next((m for m in _HARMONY_HEADER_OPENERS if stripped.startswith(m)), None)
            if opener is None and any(m.startswith(stripped) for m in _HARMONY_HEADER_OPENERS):
                return False  # could still open a message
            self._started = True
            self._in_header = opener is not None
            if self._in_header:
                self._held = stripped
            return True
        if self._in_header:
            at = self._held.find(_HARMONY_MESSAGE)
            if at < 0:
                return False
            header = self._held[:at]
            name = header.rsplit(HARMONY_OPEN, 1)[-1].split()[0] if HARMONY_OPEN in header else ""
            self._channel = Channel.REASONING if name == "analysis" else Channel.ANSWER
            self._held = self._held[at + len(_HARMONY_MESSAGE) :]
            self._in_header = False
            return True
        ends = [(self._held.find(m), m) for m in _HARMONY_BODY_ENDS]
        found = [(at, m) for at, m in ends if at >= 0]
        if found:
            at, marker = min(found)
            self._emit(out, self._held[:at])
            self._held = self._held[at + len(marker) :]
            self._in_header = True
            return True
        keep = max(_partial_suffix(self._held, m) for m in _HARMONY_BODY_ENDS)
        self._emit(out, self._held[: len(self._held) - keep])
        self._held = self._held[len(self._held) - keep :]
        return False

    def _emit(self, out: list[Piece], text: str) -> None:
        self._add(out, self._channel, text)


#: The markers of the channel format: a header opens with ``<|channel|>`` (or
#: ``<|start|>`` and a role), its body begins after ``<|message|>`` and ends at one of
#: the body ends.
HARMONY_OPEN = "<|channel|>"
_HARMONY_MESSAGE = "<|message|>"
_HARMONY_HEADER_OPENERS = (HARMONY_OPEN, "<|start|>")
_HARMONY_BODY_ENDS = ("<|end|>", "<|start|>", "<|return|>", "<|call|>")


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
    return (
        THINK_START in template
        or THINK_END in template
        or "enable_thinking" in template
        or template_writes_channels(template)
    )


def template_writes_channels(template: str) -> bool:
    """Whether a chat template is for a model that answers in channels (gpt-oss)."""
    return HARMONY_OPEN in template and _HARMONY_MESSAGE in template


def template_has_thinking_switch(template: str) -> bool:
    """Whether the template turns thinking on and off with ``enable_thinking``."""
    return "enable_thinking" in template
