"""EngineClient.complete_many on the real starter model: several sequences in one context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from engine.errors import EngineError
from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent

pytestmark = pytest.mark.slow

GREEDY = SamplingParams(temperature=0, max_tokens=16)
# How much of a batched greedy answer must equal the sequential one (see assert_same_openings).
OPENING_CHARS = 12
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a land far away,",
    "def fibonacci(n):",
    "List three colors:",
    "Water boils at",
]


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


async def sequential(
    client: EngineClient, prompts: list[str], params: SamplingParams
) -> list[GenerationResult]:
    results = []
    for prompt in prompts:
        result: GenerationResult | None = None
        async for event in client.complete(prompt, params):
            if isinstance(event, GenerationResult):
                result = event
        assert result is not None
        results.append(result)
    return results


def assert_same_openings(got: list[GenerationResult], want: list[GenerationResult]) -> None:
    """Batched and sequential greedy texts begin alike; past their openings they may differ.

    llama.cpp is not batch-invariant: a row's float sums depend on what else is in the
    batch and on the CPU's SIMD width, so two near-equal candidates can swap after a few
    dozen tokens on one machine and not on another ("approximately 312" against "321" was
    seen on an AVX2-only CPU). What holds everywhere is the order, the prompt, and the
    opening of each answer.
    """
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        n = min(OPENING_CHARS, len(g.text), len(w.text))
        assert bool(g.text) == bool(w.text), f"only one is empty: {g.text!r} / {w.text!r}"
        assert g.text[:n] == w.text[:n], f"{g.text!r} does not open like {w.text!r}"
        assert g.stats.prompt_tokens == w.stats.prompt_tokens


async def chat_once(client: EngineClient, messages: list[ChatMessage]) -> GenerationResult:
    result: GenerationResult | None = None
    async for event in client.chat(messages, GREEDY):
        if isinstance(event, GenerationResult):
            result = event
    assert result is not None
    return result


async def test_parallel_texts_equal_sequential_ones_in_input_order(client: EngineClient) -> None:
    await client.load(None, n_parallel=4)
    expected = await sequential(client, PROMPTS[:4], GREEDY)
    streamed: dict[int, list[str]] = {}
    ended: dict[int, GenerationResult] = {}

    def on_event(index: int, event: TokenEvent | GenerationResult) -> None:
        if isinstance(event, TokenEvent):
            assert index not in ended, "no text after a sequence's result"
            streamed.setdefault(index, []).append(event.text)
        else:
            ended[index] = event

    results = await client.complete_many(PROMPTS[:4], GREEDY, on_event=on_event)
    assert_same_openings(results, expected)
    assert all(r.text.strip() for r in results)
    for i, got in enumerate(results):
        assert "".join(streamed[i]) == got.text
        assert ended[i] == got
        assert 0 < got.stats.generated_tokens <= GREEDY.max_tokens
        assert got.stats.stop_reason in ("length", "eos")
        assert got.stats.tokens_per_s > 0 and got.stats.prompt_tokens_per_s > 0
        assert 0 < got.stats.ttft_s <= got.stats.total_s


async def test_more_prompts_than_slots_all_finish_in_order(client: EngineClient) -> None:
    await client.load(None, n_parallel=2)
    expected = await sequential(client, PROMPTS, GREEDY)
    order: list[int] = []

    def on_event(index: int, event: TokenEvent | GenerationResult) -> None:
        if isinstance(event, GenerationResult):
            order.append(index)

    results = await client.complete_many(PROMPTS, GREEDY, on_event=on_event)
    assert_same_openings(results, expected)
    assert sorted(order) == list(range(len(PROMPTS)))


async def test_prompts_that_fill_the_context_are_decoded_one_at_a_time(
    client: EngineClient,
) -> None:
    # 512 cells: each prompt (165 tokens) plus 200 to generate needs most of them, so
    # the sequences must not run together (they would overflow the shared KV cache).
    # The stop string ends each one after a sentence.
    await client.load(None, n_ctx=512, n_parallel=4)
    prompts = [f"Story {i}: " + "The river ran past the old mill. " * 20 for i in range(3)]
    params = SamplingParams(temperature=0, max_tokens=200, stop=(".",))
    expected = await sequential(client, prompts, params)
    results = await client.complete_many(prompts, params)
    assert_same_openings(results, expected)
    assert all(r.stats.stop_reason in ("stop_string", "eos", "length") for r in results)
    # One at a time: each waited for the one before it to finish.
    ttfts = [r.stats.ttft_s for r in results]
    assert ttfts == sorted(ttfts) and ttfts[2] > results[0].stats.total_s


async def test_stop_strings_end_each_sequence_on_its_own(client: EngineClient) -> None:
    await client.load(None)
    params = SamplingParams(temperature=0, max_tokens=20, stop=("\n",))
    expected = await sequential(client, PROMPTS, params)
    results = await client.complete_many(PROMPTS, params)
    assert_same_openings(results, expected)
    # Each sequence stops on its own: a stop string ends one while the others go on.
    assert any(r.stats.stop_reason == "stop_string" for r in results)
    assert all(r.stats.stop_reason in ("stop_string", "eos", "length") for r in results)
    assert not any("\n" in r.text for r in results)


async def test_cancel_stops_the_whole_batch_promptly_and_keeps_partial_texts(
    client: EngineClient,
) -> None:
    await client.load(None, n_parallel=4)
    # Four prompts plus 900 tokens each fit in the 4096-cell context together.
    params = SamplingParams(temperature=0, max_tokens=900, ignore_eos=True)
    streamed: dict[int, list[str]] = {}
    cancel_sent = False
    tasks: list[asyncio.Task[None]] = []

    def on_event(index: int, event: TokenEvent | GenerationResult) -> None:
        nonlocal cancel_sent
        if isinstance(event, TokenEvent):
            streamed.setdefault(index, []).append(event.text)
            if sum(len(p) for p in streamed.values()) >= 12 and not cancel_sent:
                cancel_sent = True
                tasks.append(asyncio.get_running_loop().create_task(client.cancel()))

    results = await client.complete_many(PROMPTS, params, on_event=on_event)
    assert cancel_sent, "tokens were streamed before the cancel"
    assert len(results) == len(PROMPTS)
    assert all(r.stats.stop_reason == "cancelled" for r in results)
    # Promptly: each sequence stopped within a few tokens of the cancel, not at 900.
    assert all(r.stats.generated_tokens < 200 for r in results)
    for i, result in enumerate(results):
        assert result.text == "".join(streamed.get(i, []))
    assert all(r.text for r in results[:4]), "the running sequences keep their text"
    assert results[4].text == "", "the prompt that never got a slot has no text"
    await asyncio.gather(*tasks)


async def test_render_chat_prompt_gives_the_chat_answer_and_chat_cache_still_works(
    client: EngineClient,
) -> None:
    await client.load(None)
    turn1 = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Name a fruit.")]
    before = await chat_once(client, turn1)

    prompt = await client.render_chat(turn1)
    assert "Name a fruit." in prompt and prompt.rstrip().endswith("assistant")
    other = await client.render_chat([ChatMessage("user", "Name a color.")])
    results = await client.complete_many([prompt, other], GREEDY)
    assert_same_openings(results[:1], [before])
    assert results[1].text.strip() and results[1].text != before.text

    # The batch cleared the cache: the same chat is evaluated afresh and answers the same,
    # and the next turn reuses that turn's cache again.
    again = await chat_once(client, turn1)
    assert again.text == before.text
    assert again.stats.cached_tokens == 0
    turn2 = [*turn1, ChatMessage("assistant", again.text), ChatMessage("user", "Another one?")]
    second = await chat_once(client, turn2)
    assert second.stats.cached_tokens >= again.stats.prompt_tokens
    assert second.text.strip()


async def test_a_refused_batch_leaves_the_worker_serving(client: EngineClient) -> None:
    await client.load(None, n_parallel=2)
    pid = client.worker_pid
    with pytest.raises(EngineError):
        await client.complete_many(["", PROMPTS[0]], GREEDY)
    # The worker answered with an error: nothing was left to cancel, so it was not killed.
    assert client.worker_pid == pid
    [result] = await client.complete_many([PROMPTS[0]], GREEDY)
    assert result.text.strip()
