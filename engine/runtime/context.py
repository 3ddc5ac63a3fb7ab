"""The Chat task: fitting a conversation into the model's context before it is sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.errors import ContextOverflow
from engine.types import ChatMessage, ContextPolicy

#: Old turns are dropped in steps of this many messages, so consecutive turns of a
#: long conversation keep the same prefix and the KV cache stays reusable.
DROP_STEP = 4
TRUNCATION_MARK = "\n\n[… part of this message was left out to fit the model's context …]\n\n"


@dataclass(frozen=True)
class FittedPrompt:
    """A conversation rendered to fit the context.

    Attributes:
        text: the prompt text.
        tokens: its tokens.
        dropped_messages: how many of the oldest messages were left out.
        truncated: whether a message was shortened.
    """

    text: str
    tokens: list[int]
    dropped_messages: int
    truncated: bool


def output_reserve(n_ctx: int, max_tokens: int) -> int:
    """Tokens kept free for the answer: max_tokens, but never more than a quarter of the context."""
    return max(1, min(max_tokens, n_ctx // 4))


def fit_conversation(
    messages: Sequence[ChatMessage],
    *,
    render: Callable[[list[dict[str, str]]], str],
    tokenize: Callable[[str], list[int]],
    detokenize: Callable[[list[int]], str],
    n_ctx: int,
    max_tokens: int,
    policy: ContextPolicy = "truncate",
) -> FittedPrompt:
    """Render a conversation so that it and room for the answer fit in the context.

    With the "truncate" policy the system prompt and the newest turns are kept: the
    oldest turns are dropped (in steps of DROP_STEP messages, restarting at a user
    turn), and if the newest user message alone is still too long its middle is left
    out. With "stop", a conversation that does not fit raises ContextOverflow.

    Args:
        messages: the conversation, oldest first; the last one is usually the user's.
        render: turns message dicts into prompt text (the chat template).
        tokenize: prompt text to tokens, as the model will see them.
        detokenize: tokens back to text (used to shorten a message).
        n_ctx: the context size.
        max_tokens: the answer's requested length.
        policy: "truncate" or "stop".

    Returns:
        The fitted prompt.

    Raises:
        ContextOverflow: the policy is "stop" and it does not fit, or even an empty
            conversation does not fit.
    """
    budget = n_ctx - output_reserve(n_ctx, max_tokens)
    system = [m for m in messages[:1] if m.role == "system"]
    rest = list(messages[len(system) :])

    def attempt(kept: list[ChatMessage]) -> tuple[str, list[int]]:
        text = render([m.to_dict() for m in system + kept])
        return text, tokenize(text)

    text, tokens = attempt(rest)
    if len(tokens) <= budget:
        return FittedPrompt(text, tokens, 0, False)
    if policy == "stop":
        raise ContextOverflow(
            f"This conversation needs {len(tokens):,} tokens plus room for the answer, but the "
            f"model's context holds {n_ctx:,}. Start a new chat, shorten it, or raise the "
            "context size in Settings."
        )

    # Candidate starting points: every DROP_STEP messages, moved on to a user turn
    # (many templates insist that the first turn after the system prompt is a user's).
    next_user = _next_user_turns(rest)
    starts: list[int] = []
    for raw in range(DROP_STEP, len(rest), DROP_STEP):
        start = next_user[raw]
        if not starts or start > starts[-1]:
            starts.append(start)
    last = len(rest) - 1 if rest else 0
    if not starts or starts[-1] != last:
        starts.append(last)

    # The token count falls as more is dropped: binary search for the fewest dropped.
    lo, hi = 0, len(starts) - 1
    best: tuple[int, str, list[int]] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        cand_text, cand_tokens = attempt(rest[starts[mid] :])
        if len(cand_tokens) <= budget:
            best = (starts[mid], cand_text, cand_tokens)
            hi = mid - 1
        else:
            lo = mid + 1
    if best is not None:
        return FittedPrompt(best[1], best[2], best[0], False)

    # Only the newest message is left and it is still too long: shorten its middle,
    # then the system prompt's if need be.
    kept = rest[last:] if rest else []
    for _ in range(4):
        text, tokens = attempt(kept)
        excess = len(tokens) - budget
        if excess <= 0:
            return FittedPrompt(text, tokens, last, True)
        if kept and len(tokenize(kept[-1].content)) > excess + 64:
            kept = [_shorten(kept[-1], excess, tokenize, detokenize)]
        elif system:
            system = [_shorten(system[0], excess, tokenize, detokenize)]
        elif kept:
            kept = [_shorten(kept[-1], excess, tokenize, detokenize)]
        else:
            break
    text, tokens = attempt(kept)
    if len(tokens) <= budget:
        return FittedPrompt(text, tokens, last, True)
    raise ContextOverflow(
        f"The model's context ({n_ctx:,} tokens) is too small for even a short prompt. "
        "Raise the context size in Settings."
    )


def _next_user_turns(messages: Sequence[ChatMessage]) -> list[int]:
    """For each index, the first user turn at or after it (the last index if none).

    One pass from the end: scanning forward from every candidate instead took time
    quadratic in the length of a conversation with few user turns.
    """
    last = len(messages) - 1
    found = [last] * len(messages)
    following = last
    for index in range(last, -1, -1):
        if messages[index].role == "user":
            following = index
        found[index] = following
    return found


def _shorten(
    message: ChatMessage,
    excess: int,
    tokenize: Callable[[str], list[int]],
    detokenize: Callable[[list[int]], str],
) -> ChatMessage:
    """Leave out the middle of a message: ``excess`` tokens plus room for the marker."""
    tokens = tokenize(message.content)
    keep = max(0, len(tokens) - excess - len(tokenize(TRUNCATION_MARK)) - 16)
    head = keep // 2
    tail = keep - head
    text = (
        detokenize(tokens[:head]) + TRUNCATION_MARK + (detokenize(tokens[-tail:]) if tail else "")
    )
    return ChatMessage(message.role, text)
