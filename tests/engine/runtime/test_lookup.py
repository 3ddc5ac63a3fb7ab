"""Prompt lookup: drafts from the text's earlier n-grams, and the same answers, sooner."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from engine.runtime.backends.lookup import MAX_DRAFT, PromptLookup
from engine.types import SamplingParams


def test_the_draft_is_what_followed_the_last_ngram_before() -> None:
    lookup = PromptLookup([1, 2, 3, 4, 5, 6, 9, 9, 2, 3])
    assert lookup.draft(room=10) == [4, 5]  # the first draft is short
    lookup.judged(2, 2)  # kept whole: the next draft is longer
    assert lookup.draft(room=10) == [4, 5, 6, 9]
    assert lookup.draft(room=3) == [4, 5, 6]  # never past the room left


def test_no_match_no_draft_and_a_refused_draft_shrinks() -> None:
    lookup = PromptLookup([1, 2, 3, 4])
    assert lookup.draft(room=10) == []
    lookup.push(1)
    lookup.push(2)
    assert lookup.draft(room=10) == [3, 4]
    for _ in range(6):
        lookup.judged(2, 2)
    assert len(lookup.draft(room=100)) <= MAX_DRAFT
    for _ in range(3):
        lookup.judged(8, 0)
    assert len(lookup.draft(room=100)) == 1
    assert (lookup.drafted, lookup.accepted) == (36, 12)


def test_the_latest_occurrence_is_followed() -> None:
    # "7 8" appears twice; the answer continues the later copy.
    lookup = PromptLookup([7, 8, 1, 1, 7, 8, 2, 2, 7, 8])
    assert lookup.draft(room=2) == [2, 2]


@pytest.mark.slow
def test_lookup_copies_with_kept_drafts_and_leaves_the_cache_clean(small_coder: Path) -> None:
    from engine.runtime.backends.base import BackendLoadParams, RawGeneration
    from engine.runtime.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend()
    backend.load(
        BackendLoadParams(
            path=str(small_coder), n_ctx=2048, n_gpu_layers=0, n_threads=2, n_threads_batch=2
        )
    )
    try:
        code = (
            "def moving_average(values, window):\n"
            '    """Return the moving averages of values over window items."""\n'
            "    if window <= 0:\n"
            '        raise ValueError("window must be positive")\n'
            "    result = []\n"
            "    total = 0\n"
            "    for i, value in enumerate(values):\n"
            "        total += value\n"
            "        if i >= window:\n"
            "            total -= values[i - window]\n"
            "        if i >= window - 1:\n"
            "            result.append(total / window)\n"
            "    return result\n"
        )
        prompt = (
            "<|im_start|>user\nRewrite this code with type hints. Reply with the whole "
            f"code only.\n\n```python\n{code}```<|im_end|>\n<|im_start|>assistant\n"
        )
        tokens = backend.tokenize(prompt, add_special=False, parse_special=True)
        greedy = SamplingParams(temperature=0, max_tokens=90)

        def answer(params: SamplingParams) -> RawGeneration:
            return backend.generate(tokens, params, threading.Event(), lambda _t: None)

        answer(greedy)  # the prompt is in the cache from here on
        plain = answer(greedy)
        drafted = answer(replace(greedy, lookup=True))
        # Not compared token for token: checking a draft decodes a batch, and a batch's
        # floats differ from one token's, so a near tie may go the other way. What must
        # hold: the answer copies the code, most of it from drafts the model kept.
        assert "total += value" in drafted.text
        assert plain.draft_tokens == 0
        assert drafted.accepted_tokens > 30
        assert drafted.accepted_tokens <= drafted.draft_tokens

        # Sampling with a seed still gives an answer, and drafts the model refused leave
        # nothing behind in the cache: a plain answer after them is the plain answer
        # before them (the same cache reuse, the same batch shapes, the same floats).
        sampled = answer(SamplingParams(temperature=0.8, seed=7, max_tokens=40, lookup=True))
        assert sampled.generated_tokens > 0
        assert answer(greedy).text == plain.text
    finally:
        backend.close()
