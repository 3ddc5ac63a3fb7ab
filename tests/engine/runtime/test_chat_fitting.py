"""Fitting a conversation into the context: keep the system prompt and the newest turns."""

from __future__ import annotations

import pytest

from engine.errors import ContextOverflow
from engine.runtime.chat_templates import ChatTemplate
from engine.runtime.context import DROP_STEP, fit_conversation, output_reserve
from engine.types import ChatMessage

TEMPLATE = ChatTemplate.fallback()


VOCAB: dict[str, int] = {}


def tokenize(text: str) -> list[int]:
    """One token per word: easy to reason about, same shape as a real tokenizer."""
    return [VOCAB.setdefault(w, len(VOCAB)) for w in text.split()]


def detokenize(tokens: list[int]) -> str:
    words = {i: w for w, i in VOCAB.items()}
    return " ".join(words[t] for t in tokens)


def conversation(turns: int, words: int = 20) -> list[ChatMessage]:
    messages = [ChatMessage("system", "You are terse.")]
    for i in range(turns):
        messages.append(ChatMessage("user", f"question{i} " + "q " * words))
        messages.append(ChatMessage("assistant", f"answer{i} " + "a " * words))
    messages.append(ChatMessage("user", "final question please"))
    return messages


def fit(messages: list[ChatMessage], n_ctx: int, max_tokens: int = 64, policy: str = "truncate"):
    return fit_conversation(
        messages,
        render=TEMPLATE.render,
        tokenize=tokenize,
        detokenize=detokenize,
        n_ctx=n_ctx,
        max_tokens=max_tokens,
        policy=policy,  # type: ignore[arg-type]
    )


def test_short_conversation_is_untouched() -> None:
    fitted = fit(conversation(2), n_ctx=4096)
    assert fitted.dropped_messages == 0 and not fitted.truncated
    assert "question0" in fitted.text and "final question please" in fitted.text


def test_long_conversation_keeps_system_and_newest_turns() -> None:
    messages = conversation(60)
    fitted = fit(messages, n_ctx=1024, max_tokens=128)
    assert len(fitted.tokens) <= 1024 - output_reserve(1024, 128)
    assert fitted.text.startswith("You are terse.")
    assert "final question please" in fitted.text
    assert "question0 " not in fitted.text
    assert fitted.dropped_messages > 0
    assert fitted.dropped_messages % DROP_STEP in (0, 1)  # steps of DROP_STEP, moved to a user turn
    kept_first = fitted.text.split("\n\n", 1)[1]
    assert kept_first.startswith("User:")


def test_consecutive_turns_keep_the_same_prefix() -> None:
    """Dropping in steps means the next turn usually reuses the KV cache prefix."""
    messages = conversation(60)
    first = fit(messages, n_ctx=1024, max_tokens=128)
    longer = [*messages, ChatMessage("assistant", "ok"), ChatMessage("user", "and then?")]
    second = fit(longer, n_ctx=1024, max_tokens=128)
    assert second.dropped_messages == first.dropped_messages
    assert second.tokens[: len(first.tokens) - 2] == first.tokens[: len(first.tokens) - 2]


def test_a_single_huge_message_is_shortened_in_the_middle() -> None:
    huge = [ChatMessage("user", "start " + "filler " * 5000 + "end")]
    fitted = fit(huge, n_ctx=512, max_tokens=64)
    assert fitted.truncated
    assert len(fitted.tokens) <= 512 - 64
    assert "start" in fitted.text and fitted.text.rstrip().endswith("end\nAssistant:")
    assert "left out" in fitted.text


def test_stop_policy_raises_a_clear_error() -> None:
    with pytest.raises(ContextOverflow, match="context holds 256"):
        fit(conversation(30), n_ctx=256, policy="stop")


def test_reserve_never_exceeds_a_quarter_of_the_context() -> None:
    assert output_reserve(4096, 100_000) == 1024
    assert output_reserve(4096, 200) == 200
