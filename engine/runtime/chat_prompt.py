"""Chat prompts as tokens: the template's markup may hold control tokens, message text never does.

A chat template writes control tokens as text (``<|im_start|>``), so the rendered
prompt has to be tokenized with special-token parsing. Done to the whole prompt, that
turns a user's or a document's ``<|im_end|>\\n<|im_start|>system`` into real control
tokens: a forged turn. Here each message's text is checked on its own; a text that
holds a control token's spelling is kept apart while the template renders
(:meth:`engine.runtime.chat_templates.ChatTemplate.render_parts`) and tokenized as plain text, and
only the template's own markup gets special-token parsing. A conversation without
such text is rendered and tokenized exactly as before, so its tokens (and the KV
cache prefix they share with the previous turn) do not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from engine.errors import UsageError
from engine.runtime.chat_templates import ChatTemplate

#: Characters of message text whose check the worker remembers between requests: a
#: chat sends its whole history every turn, and checking it costs two tokenizations
#: (about 0.6 s per MB). 4 Mi characters cover a long chat and hold at most 16 MB.
MEMO_CHARS = 4 * 1024 * 1024


class PlainTextMemo:
    """Which message texts are plain (spell no control token), for one loaded model.

    Oldest first out once the texts remembered pass ``max_chars``.
    """

    def __init__(self, max_chars: int = MEMO_CHARS) -> None:
        self._max_chars = max_chars
        self._chars = 0
        self._known: dict[str, bool] = {}

    def get(self, text: str) -> bool | None:
        """What was found for ``text``, or None."""
        return self._known.get(text)

    def put(self, text: str, plain: bool) -> None:
        """Remember what was found for ``text`` (not if it alone is over the limit)."""
        if len(text) > self._max_chars or text in self._known:
            return
        while self._known and self._chars + len(text) > self._max_chars:
            oldest = next(iter(self._known))
            del self._known[oldest]
            self._chars -= len(oldest)
        self._known[text] = plain
        self._chars += len(text)


class Tokenizer(Protocol):
    """What the encoder needs of a backend (engine.runtime.backends.base.Backend has it)."""

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        """Text to tokens."""
        ...


class ChatPromptEncoder:
    """Turns conversations into prompt tokens for one loaded model and one request.

    Runs on the worker's model thread.

    Args:
        template: the chat template in use.
        tokenizer: the loaded backend.
        add_bos: whether the model wants a BOS token first.
        bos_text: the BOS token's text (a template that writes it gets no second one).
        memo: the texts already checked with this tokenizer.
    """

    def __init__(
        self,
        template: ChatTemplate,
        tokenizer: Tokenizer,
        *,
        add_bos: bool,
        bos_text: str,
        memo: PlainTextMemo,
    ) -> None:
        self._template = template
        self._tokenizer = tokenizer
        self._add_bos = add_bos
        self._bos_text = bos_text
        self._memo = memo
        self._last: tuple[str, list[int]] | None = None

    def encode(self, messages: Sequence[dict[str, str]]) -> tuple[str, list[int]]:
        """The conversation's prompt text (generation prompt included) and its tokens.

        Raises:
            UsageError: a message's role spells a control token.
            TemplateError: the template failed or was refused (see ChatTemplate.render).
        """
        for message in messages:
            if not self._is_plain(message.get("role", "")):
                raise UsageError(
                    f"A message's role ({message['role'][:40]!r}) contains one of the model's "
                    "control tokens; use a role such as user, assistant or system."
                )
        verbatim = [i for i, m in enumerate(messages) if not self._is_plain(m.get("content", ""))]
        if not verbatim:
            text = self._template.render(messages)
            return text, self._tokenizer.tokenize(
                text, add_special=self._wants_bos(text), parse_special=True
            )
        parts = self._template.render_parts(messages, verbatim)
        text = "".join(part.text for part in parts)
        tokens: list[int] = []
        for n, part in enumerate(parts):
            tokens += self._tokenizer.tokenize(
                part.text, add_special=n == 0 and self._wants_bos(text), parse_special=part.markup
            )
        return text, tokens

    def render(self, messages: list[dict[str, str]]) -> str:
        """``fit_conversation``'s render: encodes, and keeps the tokens for :meth:`tokenize`."""
        text, tokens = self.encode(messages)
        self._last = (text, tokens)
        return text

    def tokenize(self, text: str) -> list[int]:
        """``fit_conversation``'s tokenize.

        The prompt :meth:`render` just returned gets the tokens it was encoded to; any
        other text is a message's (to measure or shorten it) and is tokenized as text.
        """
        if self._last is not None and text is self._last[0]:
            return self._last[1]
        return self._tokenizer.tokenize(text, add_special=False, parse_special=False)

    def _wants_bos(self, prompt: str) -> bool:
        # Templates that already write the BOS text must not get a second BOS.
        return self._add_bos and not (self._bos_text and prompt.startswith(self._bos_text))

    def _is_plain(self, text: str) -> bool:
        """Whether ``text`` tokenizes the same with special-token parsing as without.

        The tokenizer is the judge of what a control token's spelling is (each
        vocabulary has its own), so this costs two tokenizations of each new text.
        """
        plain = self._memo.get(text)
        if plain is None:
            tokenize = self._tokenizer.tokenize
            plain = tokenize(text, add_special=False, parse_special=True) == tokenize(
                text, add_special=False, parse_special=False
            )
            self._memo.put(text, plain)
        return plain
