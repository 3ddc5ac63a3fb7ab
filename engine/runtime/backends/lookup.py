"""Prompt lookup: draft the next tokens by finding the text's last few tokens earlier on.

When an answer copies its input (a fixed function, a rewritten paragraph, a quoted
sentence), the tokens after the answer's last n-gram are very likely the tokens that
followed the same n-gram in the prompt. The backend checks such a draft in one batched
decode and keeps the prefix the model itself would have sampled (see
``engine.runtime.backends.llamacpp``), so several tokens cost about one step.

The drafter is plain Python over token ids, with an index updated as tokens arrive:
finding a draft costs a dictionary lookup, not a scan of the context.
"""

from __future__ import annotations

#: The n-gram sizes matched, longest first: a longer match predicts better, and a
#: single token matches too often to be worth a batched decode on a CPU.
NGRAM_SIZES = (4, 3, 2)
#: The longest draft on a GPU, where checking a dozen tokens costs about one step.
MAX_DRAFT = 12
#: The longest draft on a CPU. There a batch costs more the longer it is: with the
#: 1.5B starter on 2 cores, 1 token takes 66 ms, 4 take 108 ms, 5 take 145 ms and 8
#: take 224 ms (llama-bench -p 1,4,5,8, benchmarks/lookup.md), so a draft of 3 (a
#: batch of 4) gains the most per step.
CPU_MAX_DRAFT = 3
#: The shortest draft after rejections, and the first one's length.
MIN_DRAFT = 1
START_DRAFT = 2


class PromptLookup:
    """Drafts continuations from the tokens seen so far (prompt, then answer).

    Args:
        tokens: the prompt's tokens.
        max_draft: the longest draft :meth:`draft` returns.

    Thread: the worker's model thread (no locking).
    """

    def __init__(self, tokens: list[int], *, max_draft: int = MAX_DRAFT) -> None:
        self._tokens = list(tokens)
        self._max = max(1, max_draft)
        self._length = min(START_DRAFT, self._max)
        #: n-gram -> the position after its latest occurrence that is not the text's end.
        self._index: dict[tuple[int, ...], int] = {}
        self._indexed = 0
        self.drafted = 0
        self.accepted = 0

    def push(self, token: int) -> None:
        """Add a token the model produced."""
        self._tokens.append(token)

    def draft(self, room: int) -> list[int]:
        """The tokens likely to come next, at most ``room`` (and the current draft length).

        Returns:
            A draft, or [] when the text's end matches nothing earlier.
        """
        tokens = self._tokens
        # Index every n-gram that ends before the last token: the last n-gram itself is
        # what is looked up, and must find an earlier occurrence.
        for end in range(self._indexed, len(tokens) - 1):
            for n in NGRAM_SIZES:
                if end + 1 >= n:
                    self._index[tuple(tokens[end + 1 - n : end + 1])] = end + 1
        self._indexed = max(self._indexed, len(tokens) - 1)
        limit = min(room, self._length)
        if limit <= 0:
            return []
        for n in NGRAM_SIZES:
            if len(tokens) < n:
                continue
            start = self._index.get(tuple(tokens[-n:]))
            if start is not None:
                return tokens[start : start + limit]
        return []

    def judged(self, drafted: int, accepted: int) -> None:
        """Record how much of a draft the model kept; the next drafts' length follows.

        A draft kept whole doubles the next one's length (the text is being copied); one
        refused at once halves it, so ordinary prose costs little.
        """
        self.drafted += drafted
        self.accepted += accepted
        if accepted >= drafted:
            self._length = min(self._max, self._length * 2)
        elif accepted == 0:
            self._length = max(MIN_DRAFT, self._length // 2)


__all__ = ["CPU_MAX_DRAFT", "MAX_DRAFT", "NGRAM_SIZES", "PromptLookup"]
