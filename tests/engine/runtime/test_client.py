"""EngineClient and its worker on real models: generation, cache, context, cancel, crashes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from engine.errors import EngineCrashed, ModelFileError, ModelLoadError, ModelNotFound
from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent
from tests.engine import gguf_factory as gf

pytestmark = pytest.mark.slow

GREEDY = SamplingParams(temperature=0, max_tokens=24)


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


async def collect(
    stream: AsyncIterator[TokenEvent | GenerationResult],
) -> tuple[str, GenerationResult]:
    pieces: list[str] = []
    result: GenerationResult | None = None
    async for event in stream:
        if isinstance(event, TokenEvent):
            pieces.append(event.text)
        else:
            result = event
    assert result is not None
    return "".join(pieces), result


async def test_starter_model_loads_with_empty_home_and_answers(client: EngineClient) -> None:
    info = await client.load(None)
    assert info.model_id.endswith("SmolLM2-135M-Instruct.Q4_1")
    assert info.architecture == "llama" and info.chat_template == "gguf"
    assert info.plan_reason.startswith("CPU:")
    streamed, result = await collect(
        client.chat([ChatMessage("user", "What is the capital of France?")], GREEDY)
    )
    assert streamed == result.text and result.text.strip()
    s = result.stats
    assert s.generated_tokens > 0 and s.prompt_tokens > 10
    assert s.ttft_s > 0 and s.stop_reason in ("eos", "length")
    assert s.generated_tokens == 1 or s.tokens_per_s > 0


async def test_seeded_sampling_is_reproducible(client: EngineClient) -> None:
    await client.load(None)
    params = SamplingParams(temperature=0.9, seed=1234, max_tokens=20)
    messages = [ChatMessage("user", "Invent a name for a cat.")]
    _, first = await collect(client.chat(messages, params))
    _, second = await collect(client.chat(messages, params))
    assert first.text == second.text
    assert second.stats.cached_tokens == first.stats.prompt_tokens - 1


async def test_second_turn_reuses_the_kv_cache(client: EngineClient) -> None:
    await client.load(None)
    turn1 = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Name a fruit.")]
    _, first = await collect(client.chat(turn1, GREEDY))
    turn2 = [*turn1, ChatMessage("assistant", first.text), ChatMessage("user", "Another one?")]
    _, second = await collect(client.chat(turn2, GREEDY))
    # Everything up to the end of the first prompt is reused, not evaluated again.
    assert second.stats.cached_tokens >= first.stats.prompt_tokens
    assert second.stats.prompt_tokens > first.stats.prompt_tokens


async def test_gemma_base_model_uses_the_fallback_template(
    client: EngineClient, gemma: Path
) -> None:
    info = await client.load(str(gemma))
    assert info.architecture == "gemma3"
    assert info.chat_template == "fallback"
    assert any("no chat template" in w for w in info.warnings)
    _, result = await collect(client.chat([ChatMessage("user", "The sky is")], GREEDY))
    assert result.stats.generated_tokens > 0
    assert "\nUser:" not in result.text  # the fallback's stop strings end the turn
    _, completion = await collect(client.complete("The capital of France is", GREEDY))
    assert completion.stats.generated_tokens > 0 and completion.text.strip()


async def test_conversation_longer_than_the_context_still_gets_an_answer(
    client: EngineClient,
) -> None:
    await client.load(None, n_ctx=512)
    messages = [ChatMessage("system", "You are a helpful assistant.")]
    for i in range(30):
        messages.append(ChatMessage("user", f"Tell me fact number {i} about the ocean. " * 4))
        messages.append(ChatMessage("assistant", f"Fact {i}: the ocean is deep and wide. " * 4))
    messages.append(ChatMessage("user", "Summarize what we discussed."))
    _, result = await collect(client.chat(messages, SamplingParams(temperature=0, max_tokens=32)))
    assert result.stats.dropped_messages > 0
    assert result.stats.prompt_tokens <= 512
    assert result.stats.generated_tokens > 0


async def test_single_message_longer_than_context_is_shortened(client: EngineClient) -> None:
    await client.load(None, n_ctx=256)
    huge = "The quick brown fox jumps over the lazy dog. " * 400
    _, result = await collect(client.chat([ChatMessage("user", huge)], GREEDY))
    assert result.stats.truncated
    assert result.stats.generated_tokens > 0


async def test_cancel_mid_stream_stops_quickly(client: EngineClient) -> None:
    await client.load(None)
    params = SamplingParams(temperature=0, max_tokens=4000, ignore_eos=True)
    tokens = 0
    result: GenerationResult | None = None
    async for event in client.chat([ChatMessage("user", "Count to a thousand.")], params):
        if isinstance(event, TokenEvent):
            tokens += 1
            if tokens == 5:
                await client.cancel()
        else:
            result = event
    assert result is not None and result.stats.stop_reason == "cancelled"
    # Quickly: cancel is checked between tokens, so it ends within a few of them, however
    # busy the machine (a wall-clock bound would measure the machine, not the engine).
    assert result.stats.generated_tokens < 200
    # The worker survived the cancel and serves the next request at once.
    _, after = await collect(client.chat([ChatMessage("user", "Hi")], GREEDY))
    assert after.stats.stop_reason in ("eos", "length")


async def test_a_worker_that_ignores_cancel_is_killed(client: EngineClient) -> None:
    await client.load(None)
    params = SamplingParams(temperature=0, max_tokens=4000, ignore_eos=True)
    frozen_pid = 0
    result: GenerationResult | None = None
    async for event in client.chat([ChatMessage("user", "Count.")], params):
        if isinstance(event, TokenEvent) and not frozen_pid and client.worker_pid:
            frozen_pid = client.worker_pid
            os.kill(frozen_pid, signal.SIGSTOP)  # a frozen worker cannot honour the cancel
            await client.cancel()
        elif isinstance(event, GenerationResult):
            result = event
    assert result is not None and result.stats.stop_reason == "cancelled"
    assert client.worker_pid != frozen_pid
    _, after = await collect(client.chat([ChatMessage("user", "Hi")], GREEDY))
    assert after.stats.generated_tokens > 0


async def test_a_batch_whose_worker_ignores_cancel_ends_cancelled_with_what_arrived(
    client: EngineClient,
) -> None:
    await client.load(None, n_parallel=2)
    params = SamplingParams(temperature=0, max_tokens=4000, ignore_eos=True)
    streamed = ["", ""]
    frozen_pid = 0
    cancels: list[asyncio.Task[None]] = []

    def on_event(index: int, event: TokenEvent | GenerationResult) -> None:
        nonlocal frozen_pid
        if isinstance(event, TokenEvent):
            streamed[index] += event.text
            if not frozen_pid and client.worker_pid:
                frozen_pid = client.worker_pid
                os.kill(frozen_pid, signal.SIGSTOP)  # a frozen worker cannot honour the cancel
                cancels.append(asyncio.get_running_loop().create_task(client.cancel()))

    prompts = ["Count to a thousand:", "Name every animal you know:"]
    results = await client.complete_many(prompts, params, on_event=on_event)
    await asyncio.gather(*cancels)
    assert frozen_pid and [r.stats.stop_reason for r in results] == ["cancelled"] * 2
    assert [r.text for r in results] == streamed
    [after] = await client.complete_many(["Hi"], GREEDY)
    assert after.stats.generated_tokens > 0
    assert client.worker_pid not in (None, frozen_pid)


async def test_worker_killed_mid_generation_raises_then_recovers(client: EngineClient) -> None:
    await client.load(None)
    params = SamplingParams(temperature=0, max_tokens=4000, ignore_eos=True)
    with pytest.raises(EngineCrashed) as caught:
        async for event in client.chat([ChatMessage("user", "Count.")], params):
            if isinstance(event, TokenEvent) and client.worker_pid:
                os.kill(client.worker_pid, signal.SIGKILL)
    assert "SIGKILL" in caught.value.reason
    assert caught.value.log_tail, "the crash report carries the worker's last log lines"
    # The next call starts a fresh worker and reloads the model by itself.
    _, result = await collect(client.chat([ChatMessage("user", "Hi")], GREEDY))
    assert result.stats.generated_tokens > 0
    assert client.model is not None and client.model.model_id.endswith("Q4_1")


async def test_corrupt_file_is_refused_before_the_worker_sees_it(
    client: EngineClient, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 45)
    with pytest.raises(ModelFileError):
        await client.load(str(bad))
    assert client.worker_pid is None, "refused by the header reader, no worker started"
    with pytest.raises(ModelNotFound):
        await client.load(str(tmp_path / "missing.gguf"))


async def test_failed_load_keeps_the_previous_model(client: EngineClient, tmp_path: Path) -> None:
    await client.load(None)
    unknown = tmp_path / "unknown-arch.gguf"
    unknown.write_bytes(gf.build_gguf(gf.llama_metadata(arch="xyzzy"), gf.llama_tensors()))
    with pytest.raises(ModelLoadError):
        await client.load(str(unknown))
    assert client.model is not None and client.model.model_id.endswith("Q4_1")
    _, result = await collect(client.chat([ChatMessage("user", "Hi")], GREEDY))
    assert result.stats.generated_tokens > 0


async def test_hostile_template_in_a_real_model_is_refused(
    client: EngineClient, smollm2: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    payload = (
        "{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}"
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    )
    hostile = gf.with_string_metadata(
        smollm2, tmp_path / "hostile.gguf", "tokenizer.chat_template", payload
    )
    info = await client.load(str(hostile))
    assert info.chat_template == "fallback" and info.template_refused
    assert any("refused" in w for w in info.warnings)
    _, result = await collect(client.chat([ChatMessage("user", "Hi")], GREEDY))
    assert result.stats.generated_tokens > 0
    assert not marker.exists()
    # A fresh worker never runs the refused template again: it is not even probed.
    again = await client.restart()
    assert again is not None and again.chat_template == "fallback"
    assert not again.template_refused


async def test_tokenize_and_count_chat_tokens(client: EngineClient) -> None:
    await client.load(None)
    tokens = await client.tokenize("Hello world")
    assert 1 <= len(tokens) <= 4
    used, n_ctx = await client.count_chat_tokens([ChatMessage("user", "Hello world")])
    assert used > len(tokens) and n_ctx == 4096


async def test_close_is_idempotent_and_stops_the_worker() -> None:
    engine = EngineClient()
    await engine.load(None)
    pid = engine.worker_pid
    assert pid
    await engine.aclose()
    await engine.aclose()
    await asyncio.sleep(0)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_restart_starts_a_fresh_worker_and_reloads(client: EngineClient) -> None:
    assert await client.restart() is None  # nothing loaded yet: just a fresh worker
    await client.load(None)
    before = client.worker_pid
    info = await client.restart()
    assert info is not None and info.model_id.endswith("Q4_1")
    assert client.worker_pid not in (None, before)
    _, result = await collect(client.chat([ChatMessage("user", "Hi")], GREEDY))
    assert result.stats.generated_tokens > 0


async def test_a_cancelled_start_leaves_no_worker_behind() -> None:
    before = set(psutil.Process().children())
    engine = EngineClient()
    task = asyncio.create_task(engine.hello())
    await asyncio.sleep(0.1)  # the process exists; its hello takes longer than this
    children = [c for c in psutil.Process().children() if c not in before]
    assert children and not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await engine.aclose()
    # Generous: on a loaded 2-core machine the kill can take a few seconds to land.
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive
