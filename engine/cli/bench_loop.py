"""The engine benchmark: decode speed through EngineClient against bare llama.cpp.

Three contenders run the same model with the same settings, in one process run,
interleaved round by round (the order rotates each round, so a burst of load on a
shared machine hits every contender alike), and the medians are reported:

``engine``
    :class:`~engine.runtime.client.EngineClient` — worker process, JSON-lines protocol, the
    llama.cpp backend. Rates and TTFT are the client's own figures, so the worker,
    the pipe and the client's event loop all count.
``direct``
    A bare llama-cpp-python token loop in this process, written here against the
    low-level API (not engine/runtime/backends/llamacpp.py, which is what is under test):
    ``llama_decode`` on a ``llama_batch_init`` batch, a native sampler chain holding
    only ``llama_sampler_init_greedy``, ``llama_token_to_piece`` per token. No abort
    callback, no Python between tokens beyond the loop itself. This is the ceiling.
``highlevel``
    ``llama_cpp.Llama.create_chat_completion(stream=True, temperature=0)`` in this
    process — what an app gets from llama-cpp-python's high-level API.

Fairness:

* Same GGUF, context size, ``n_batch``/``n_ubatch`` (the engine's defaults from
  :class:`~engine.runtime.backends.base.BackendLoadParams`), flash-attention setting,
  GPU layers, and the thread counts the engine's plan picked (``ModelInfo.n_threads``;
  the prompt threads from :func:`engine.runtime.loading.plan_load`).
* Same conversation and greedy decoding (``temperature=0``, no repetition penalty),
  ``max_tokens=tokens``. The engine and the direct loop ignore end-of-generation
  tokens, so they always produce ``tokens`` tokens. The high-level API has no
  ignore-EOS switch (a ``logit_bias`` ban would add a per-token NumPy logits
  processor and slow it unfairly), and ``create_completion`` on a raw instruction
  ends at once with an instruction-tuned model; so ``create_chat_completion`` is
  used with a prompt that makes the starter model write a long answer. If it
  stops early, its rate is over the tokens it did produce and the count is in
  ``samples["highlevel_generated_tokens"]``.
* Decode rate = (tokens − 1) / (time of the last token − time of the first token),
  the first token excluded, as :class:`~engine.runtime.client.EngineClient` computes it.
  The high-level API's token count is llama.cpp's own count of single-token
  decodes (``llama_perf_context().n_eval``), reset before each round.
* TTFT and the KV cache: every round's system message begins with a different
  word (the round's tag), so the engine and the high-level API (both of which keep
  the previous prompt's cache) can reuse only the chat template's fixed preamble
  (3 tokens for ChatML), never the prompt; the direct loop clears its memory
  (``llama_memory_clear``) and evaluates the whole prompt. Reused and evaluated
  counts are in the samples. Engine TTFT runs from the request to the first token
  event (template, tokenizer, IPC included); direct TTFT from tokenization to the
  first token's text (the chat template is rendered beforehand, with Hearth's
  renderer, so the prompt tokens are the engine's); high-level TTFT from the
  ``create_chat_completion`` call to the first content chunk.
* One untimed warm-up generation per contender comes first.

The in-process contenders load llama.cpp into the calling process (on purpose: they
are the comparison) and block the calling thread, and so the event loop, while they
run. This is a command-line benchmark: nothing in the app may call it.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import math
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from engine.errors import ModelLoadError
from engine.models.hardware import Hardware
from engine.runtime.backends.base import BackendLoadParams
from engine.runtime.chat_templates import ChatTemplate
from engine.runtime.client import EngineClient
from engine.types import ChatMessage, GenerationResult, LoadRequest, ModelInfo, SamplingParams

log = logging.getLogger("engine.bench")

#: The user message (56 tokens with SmolLM2's tokenizer; about 80 with the template).
DEFAULT_PROMPT = (
    "Write a detailed, step-by-step guide to baking a loaf of sourdough bread at home. "
    "Cover the starter, mixing, kneading, proofing, shaping, scoring and baking, and explain "
    "why each step matters. Use numbered steps and give approximate times and temperatures."
)
#: First word of each round's system message: consecutive prompts differ early.
ROUND_TAGS = (
    "Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
    "Juliett", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo",
    "Sierra", "Tango", "Uniform", "Victor", "Whiskey", "X-ray", "Yankee", "Zulu",
)  # fmt: skip
WARMUP_TAG = "Warm-up"
WARMUP_TOKENS = 8
CONTENDERS = ("engine", "direct", "highlevel")

_FLASH_ATTN = {"auto": -1, "off": 0, "on": 1}


def _llama() -> Any:
    import llama_cpp

    return llama_cpp


def messages_for(tag: str, prompt: str) -> list[ChatMessage]:
    """The conversation of one round: a system message that starts with ``tag``."""
    return [
        ChatMessage("system", f"{tag}: you are a helpful assistant."),
        ChatMessage("user", prompt),
    ]


@dataclass(frozen=True)
class Sample:
    """One generation by one contender.

    Attributes:
        tokens_per_s: decode rate, first token excluded.
        ttft_s: seconds to the first token (see the module docstring for where from).
        generated_tokens: tokens sampled.
        prompt_tokens: prompt tokens evaluated (after any KV-cache reuse).
        cached_tokens: prompt tokens reused from the KV cache (engine; 0 for the others).
        text: the generated text.
    """

    tokens_per_s: float
    ttft_s: float
    generated_tokens: int
    prompt_tokens: int
    cached_tokens: int
    text: str


@dataclass(frozen=True)
class BenchResult:
    """What :func:`run_bench` measured; :meth:`to_dict` is the JSON form."""

    engine_tokens_per_s: float
    direct_tokens_per_s: float
    highlevel_tokens_per_s: float
    ratio: float
    ratio_vs_highlevel: float
    engine_ttft_s: float
    direct_ttft_s: float
    highlevel_ttft_s: float
    rounds: int
    tokens: int
    threads: int
    threads_batch: int
    n_ctx: int
    n_batch: int
    n_ubatch: int
    flash_attn: str
    n_gpu_layers: int
    model: str
    model_path: str
    outputs_match: bool
    samples: dict[str, list[Any]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    timestamp: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class LoopSettings:
    """The llama.cpp settings every in-process contender copies from the engine's load."""

    path: str
    n_ctx: int
    n_batch: int
    n_ubatch: int
    n_threads: int
    n_threads_batch: int
    flash_attn: str
    n_gpu_layers: int


def loop_settings(info: ModelInfo, plan: LoadRequest) -> LoopSettings:
    """The settings of the engine's load of ``info`` (``plan`` is plan_load's request),
    for an in-process llama.cpp loop to run exactly as the engine does."""
    defaults = BackendLoadParams(path="", n_ctx=0, n_gpu_layers=0, n_threads=0, n_threads_batch=0)
    n_batch = min(defaults.n_batch, info.n_ctx)
    return LoopSettings(
        path=info.path,
        n_ctx=info.n_ctx,
        n_batch=n_batch,
        n_ubatch=min(defaults.n_ubatch, n_batch),
        n_threads=info.n_threads,
        n_threads_batch=plan.n_threads_batch,
        flash_attn=plan.flash_attn,
        n_gpu_layers=info.n_gpu_layers,
    )


# --------------------------------------------------------------------------- direct


class DirectLoop:
    """A bare llama.cpp token loop: model, context, batch, greedy sampler chain.

    Written against llama-cpp-python's low-level API on purpose, independently of
    engine/runtime/backends/llamacpp.py. Call :meth:`close` to free the native objects.
    """

    def __init__(self, settings: LoopSettings) -> None:
        lib = self._lib = _llama()
        lib.llama_backend_init()
        self._model: Any = None
        self._ctx: Any = None
        self._batch: Any = None
        mparams = lib.llama_model_default_params()
        mparams.n_gpu_layers = settings.n_gpu_layers
        self._model = lib.llama_model_load_from_file(settings.path.encode(), mparams)
        if not self._model:
            raise ModelLoadError(f"llama.cpp could not load {settings.path}")
        self._vocab = lib.llama_model_get_vocab(self._model)
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = settings.n_ctx
        cparams.n_batch = settings.n_batch
        cparams.n_ubatch = settings.n_ubatch
        cparams.n_seq_max = 1
        cparams.n_threads = settings.n_threads
        cparams.n_threads_batch = settings.n_threads_batch
        cparams.flash_attn_type = _FLASH_ATTN.get(settings.flash_attn, -1)
        self._ctx = lib.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            self.close()
            raise ModelLoadError(f"llama.cpp could not create a {settings.n_ctx}-token context")
        self._n_batch = int(lib.llama_n_batch(self._ctx))
        self._batch = lib.llama_batch_init(self._n_batch, 0, 1)
        self._piece = ctypes.create_string_buffer(256)
        self.add_bos = bool(lib.llama_vocab_get_add_bos(self._vocab))
        raw = lib.llama_model_chat_template(self._model, None)
        self.chat_template = raw.decode("utf-8", errors="replace") if raw else None
        self.bos_text = self._token_text(lib.llama_vocab_bos(self._vocab))
        self.eos_text = self._token_text(lib.llama_vocab_eos(self._vocab))

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        text = self._lib.llama_vocab_get_text(self._vocab, token)
        return text.decode("utf-8", errors="replace") if text else ""

    def template(self) -> ChatTemplate:
        """The chat template the engine would use for this model (Hearth's renderer)."""
        if not self.chat_template:
            return ChatTemplate.fallback()
        return ChatTemplate(self.chat_template, bos_token=self.bos_text, eos_token=self.eos_text)

    def tokenize(self, text: str, *, add_special: bool) -> list[int]:
        """Text to tokens, special tokens parsed."""
        lib = self._lib
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (lib.llama_token * capacity)()
        n = lib.llama_tokenize(self._vocab, data, len(data), buf, capacity, add_special, True)
        if n < 0:
            capacity = -n
            buf = (lib.llama_token * capacity)()
            n = lib.llama_tokenize(self._vocab, data, len(data), buf, capacity, add_special, True)
        return list(buf[:n])

    def _piece_bytes(self, token: int) -> bytes:
        lib = self._lib
        n = lib.llama_token_to_piece(self._vocab, token, self._piece, 256, 0, False)
        if n < 0:
            big = ctypes.create_string_buffer(-n)
            n = lib.llama_token_to_piece(self._vocab, token, big, -n, 0, False)
            return big.raw[:n]
        return self._piece.raw[:n]

    def generate(self, prompt_text: str, max_tokens: int) -> Sample:
        """Clear the memory, evaluate the prompt, sample ``max_tokens`` greedily (EOS ignored)."""
        lib, ctx, batch = self._lib, self._ctx, self._batch
        t0 = time.perf_counter()
        add_bos = self.add_bos and not (self.bos_text and prompt_text.startswith(self.bos_text))
        tokens = self.tokenize(prompt_text, add_special=add_bos)
        lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
        for offset in range(0, len(tokens), self._n_batch):
            chunk = tokens[offset : offset + self._n_batch]
            batch.n_tokens = len(chunk)
            for i, tok in enumerate(chunk):
                batch.token[i] = tok
                batch.pos[i] = offset + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 0
            if offset + len(chunk) == len(tokens):
                batch.logits[len(chunk) - 1] = 1
            if lib.llama_decode(ctx, batch) != 0:
                raise ModelLoadError("llama.cpp failed to evaluate the prompt")
        sampler = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        lib.llama_sampler_chain_add(sampler, lib.llama_sampler_init_greedy())
        pieces: list[bytes] = []
        pos = len(tokens)
        t_first = 0.0
        try:
            for n in range(1, max_tokens + 1):
                tok = lib.llama_sampler_sample(sampler, ctx, -1)
                pieces.append(self._piece_bytes(tok))
                if n == 1:
                    t_first = time.perf_counter()
                if n == max_tokens:
                    break
                batch.n_tokens = 1
                batch.token[0] = tok
                batch.pos[0] = pos
                batch.n_seq_id[0] = 1
                batch.seq_id[0][0] = 0
                batch.logits[0] = 1
                if lib.llama_decode(ctx, batch) != 0:
                    raise ModelLoadError("llama.cpp failed while generating")
                pos += 1
            t_end = time.perf_counter()
        finally:
            lib.llama_sampler_free(sampler)
        return Sample(
            tokens_per_s=_rate(max_tokens - 1, t_end - t_first),
            ttft_s=t_first - t0,
            generated_tokens=max_tokens,
            prompt_tokens=len(tokens),
            cached_tokens=0,
            text=b"".join(pieces).decode("utf-8", errors="replace"),
        )

    def close(self) -> None:
        """Free the batch, context and model; safe to call twice."""
        lib = self._lib
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None
        if self._model is not None:
            lib.llama_model_free(self._model)
            self._model = None


# --------------------------------------------------------------------------- high level


class HighLevel:
    """llama-cpp-python's ``Llama`` with the engine's settings, streaming chat completions."""

    def __init__(self, settings: LoopSettings) -> None:
        lib = self._lib = _llama()
        # Llama takes a bool: "auto" resolves to enabled wherever flash attention is
        # supported, which includes every CPU build (llama.cpp logs "Flash Attention
        # enabled" for the engine's and the direct loop's "auto" contexts).
        self._llm: Any = lib.Llama(
            model_path=settings.path,
            n_gpu_layers=settings.n_gpu_layers,
            n_ctx=settings.n_ctx,
            n_batch=settings.n_batch,
            n_ubatch=settings.n_ubatch,
            n_threads=settings.n_threads,
            n_threads_batch=settings.n_threads_batch,
            flash_attn=settings.flash_attn != "off",
            verbose=True,  # verbose=False redirects file descriptors 1 and 2
        )

    def generate(self, messages: list[ChatMessage], max_tokens: int) -> Sample:
        """One streamed chat completion."""
        lib, llm = self._lib, self._llm
        lib.llama_perf_context_reset(llm.ctx)
        t0 = time.perf_counter()
        t_first = 0.0
        parts: list[str] = []
        stream = llm.create_chat_completion(
            messages=[m.to_dict() for m in messages],
            stream=True,
            temperature=0.0,
            repeat_penalty=1.0,
            max_tokens=max_tokens,
        )
        for chunk in stream:
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                if not t_first:
                    t_first = time.perf_counter()
                parts.append(text)
        t_end = time.perf_counter()
        perf = lib.llama_perf_context(llm.ctx)
        decodes = int(perf.n_eval)  # single-token decodes: one per token after the first
        if not t_first:
            t_first = t_end
        return Sample(
            tokens_per_s=_rate(decodes, t_end - t_first),
            ttft_s=t_first - t0,
            generated_tokens=decodes + 1 if parts else 0,
            prompt_tokens=int(perf.n_p_eval),
            cached_tokens=0,
            text="".join(parts),
        )

    def close(self) -> None:
        """Free the model and context."""
        self._llm.close()


# --------------------------------------------------------------------------- engine


async def _engine_round(
    client: EngineClient, messages: list[ChatMessage], params: SamplingParams
) -> Sample:
    result: GenerationResult | None = None
    async for event in client.chat(messages, params):
        if isinstance(event, GenerationResult):
            result = event
    assert result is not None
    stats = result.stats
    return Sample(
        tokens_per_s=stats.tokens_per_s,
        ttft_s=stats.ttft_s,
        generated_tokens=stats.generated_tokens,
        prompt_tokens=stats.prompt_tokens - stats.cached_tokens,
        cached_tokens=stats.cached_tokens,
        text=result.text,
    )


# --------------------------------------------------------------------------- driver


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 and count > 0 else 0.0


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def machine_info(hw: Hardware) -> dict[str, Any]:
    """The CPU, memory and llama.cpp build (as the worker reported it), for the report."""
    return {
        "cpu": hw.cpu.model,
        "physical_cores": hw.cpu.physical_cores,
        "logical_cores": hw.cpu.logical_cores,
        "simd": hw.cpu.simd_level,
        "ram_total": hw.ram_total,
        "gpus": [g.name for g in hw.gpus],
        "os": hw.os,
        "machine": hw.machine,
        "llama_cpp_python": hw.llama.version,
        "system_info": hw.llama.system_info,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


async def run_bench(
    client: EngineClient,
    model: str | None = None,
    *,
    tokens: int = 128,
    rounds: int = 5,
    threads: int = 0,
    n_ctx: int = 2048,
    prompt: str = DEFAULT_PROMPT,
) -> BenchResult:
    """Measure decode speed and TTFT: engine vs a bare llama.cpp loop vs ``Llama``.

    Args:
        client: the engine client (its current model is replaced).
        model: a store id or GGUF path; None for the starter model.
        tokens: tokens to generate per round (at least 2).
        rounds: timed rounds per contender, interleaved.
        threads: decode threads; 0 lets the engine's plan choose (all three use its choice).
        n_ctx: context size.
        prompt: the user message (each round adds a system message with its own tag).

    Returns:
        Medians, ratios, every sample, and the machine.
    """
    if tokens < 2:
        raise ValueError("tokens must be at least 2 (the first token is not a decode)")
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    from engine.runtime.loading import plan_load, resolve_model

    entry = await asyncio.to_thread(resolve_model, model)
    info: ModelInfo = await client.load(model, n_ctx=n_ctx, threads=threads)
    hw = await client.hardware()
    # The same plan the client made for the worker: for the prompt-processing threads.
    plan = await asyncio.to_thread(lambda: plan_load(entry, hw, n_ctx=n_ctx, threads=threads))
    settings = loop_settings(info, plan)
    log.info("Benchmarking %s with %s", info.model_id, settings)
    machine = machine_info(hw)

    params = SamplingParams(
        temperature=0.0, repeat_penalty=1.0, max_tokens=tokens, ignore_eos=True, seed=0
    )
    direct = DirectLoop(settings)
    high: HighLevel | None = None
    try:
        high = HighLevel(settings)
        # The engine falls back to its plain format when a template is missing or refused.
        template = direct.template() if info.chat_template == "gguf" else ChatTemplate.fallback()

        def runners(tag: str, n: int) -> dict[str, Callable[[], Awaitable[Sample]]]:
            messages = messages_for(tag, prompt)
            prompt_text = template.render([m.to_dict() for m in messages])
            engine_params = replace(params, max_tokens=n)

            async def run_engine() -> Sample:
                return await _engine_round(client, messages, engine_params)

            async def run_direct() -> Sample:
                return direct.generate(prompt_text, n)

            async def run_high() -> Sample:
                assert high is not None
                return high.generate(messages, n)

            return {"engine": run_engine, "direct": run_direct, "highlevel": run_high}

        for run in runners(WARMUP_TAG, min(WARMUP_TOKENS, tokens)).values():
            await run()

        per: dict[str, list[Sample]] = {name: [] for name in CONTENDERS}
        for r in range(rounds):
            jobs = runners(ROUND_TAGS[r % len(ROUND_TAGS)], tokens)
            order = CONTENDERS[r % 3 :] + CONTENDERS[: r % 3]
            for name in order:
                per[name].append(await jobs[name]())
                log.info("round %d %s: %.1f tok/s", r + 1, name, per[name][-1].tokens_per_s)
    finally:
        if high is not None:
            high.close()
        direct.close()

    def med(name: str, attr: str) -> float:
        return float(statistics.median(getattr(s, attr) for s in per[name]))

    samples: dict[str, list[Any]] = {}
    for name in CONTENDERS:
        for attr in ("tokens_per_s", "ttft_s", "generated_tokens", "prompt_tokens"):
            samples[f"{name}_{attr}"] = [getattr(s, attr) for s in per[name]]
    samples["engine_cached_tokens"] = [s.cached_tokens for s in per["engine"]]
    # Pairs measured seconds apart: less sensitive to slow drifts in the machine's load.
    samples["ratio_per_round"] = [
        _ratio(e.tokens_per_s, d.tokens_per_s)
        for e, d in zip(per["engine"], per["direct"], strict=True)
    ]
    samples["ratio_vs_highlevel_per_round"] = [
        _ratio(e.tokens_per_s, h.tokens_per_s)
        for e, h in zip(per["engine"], per["highlevel"], strict=True)
    ]
    samples["order"] = [list(CONTENDERS[r % 3 :] + CONTENDERS[: r % 3]) for r in range(rounds)]
    outputs_match = all(
        e.text == d.text and e.text.startswith(h.text)
        for e, d, h in zip(per["engine"], per["direct"], per["highlevel"], strict=True)
    )
    engine_rate = med("engine", "tokens_per_s")
    direct_rate = med("direct", "tokens_per_s")
    high_rate = med("highlevel", "tokens_per_s")
    return BenchResult(
        engine_tokens_per_s=engine_rate,
        direct_tokens_per_s=direct_rate,
        highlevel_tokens_per_s=high_rate,
        ratio=_ratio(engine_rate, direct_rate),
        ratio_vs_highlevel=_ratio(engine_rate, high_rate),
        engine_ttft_s=med("engine", "ttft_s"),
        direct_ttft_s=med("direct", "ttft_s"),
        highlevel_ttft_s=med("highlevel", "ttft_s"),
        rounds=rounds,
        tokens=tokens,
        threads=settings.n_threads,
        threads_batch=settings.n_threads_batch,
        n_ctx=settings.n_ctx,
        n_batch=settings.n_batch,
        n_ubatch=settings.n_ubatch,
        flash_attn=settings.flash_attn,
        n_gpu_layers=settings.n_gpu_layers,
        model=info.model_id,
        model_path=await asyncio.to_thread(os.path.realpath, info.path),
        outputs_match=outputs_match,
        samples=samples,
        machine=machine,
        timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
