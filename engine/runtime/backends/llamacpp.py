"""The llama.cpp backend: llama-cpp-python's low-level API with llama.cpp's native sampler chain.

The high-level ``Llama`` class samples in Python and re-creates state per call; this
module drives ``llama_decode`` and a native ``llama_sampler`` chain directly, keeps
the KV cache between requests (so turn 10 of a chat does not re-read turns 1–9),
and cancels through llama.cpp's abort callback so a long prompt stops mid-batch.
``generate_many`` decodes several prompts as parallel sequences of the same context
(continuous batching: a finished sequence's slot takes the next prompt at once). The
sampler chains, JSON mode's grammar among them, are built in ``llama_sampling``.

An embedding model (its GGUF header declares a pooling: BERT-style sentence embedders)
is loaded in llama.cpp's embedding mode: ``embed`` returns one unit vector per text, and
``generate`` refuses. Everything here runs on the worker's model thread.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import Cancelled, EngineError, ModelLoadError, UsageError
from engine.models.plan import requested_context
from engine.runtime.backends.base import (
    BackendLoadParams,
    LoadedModelFacts,
    RawGeneration,
    decode_loop,
    read_fim_tokens,
)
from engine.runtime.backends.llama_sampling import Sampler, make_sampler
from engine.runtime.backends.lookup import CPU_MAX_DRAFT, MAX_DRAFT, PromptLookup
from engine.runtime.textstream import TextAssembler
from engine.types import MAX_PARALLEL, SamplingParams, StopReason

log = logging.getLogger("engine.llamacpp")
llama_log = logging.getLogger("engine.llama")

# ggml_log_level: 0 NONE, 1 DEBUG, 2 INFO, 3 WARN, 4 ERROR, 5 CONT (continues the last line).
_LEVELS = {
    0: logging.CRITICAL,
    1: logging.DEBUG,
    2: logging.INFO,
    3: logging.WARNING,
    4: logging.ERROR,
}
_log_state: dict[str, Any] = {"buffer": "", "level": logging.INFO, "callback": None}


def _lib() -> Any:
    import llama_cpp

    return llama_cpp


def route_native_log() -> None:
    """Send llama.cpp's log to the ``engine.llama`` logger, line by line.

    This replaces llama-cpp-python's own callback (which prints to stderr) and never
    redirects file descriptors (llama-cpp-python issues #1874, #796).
    """
    if _log_state["callback"] is not None:
        return
    lib = _lib()

    @lib.llama_log_callback
    def _callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        if level != 5:  # 5 = GGML_LOG_LEVEL_CONT continues the previous line.
            _log_state["level"] = _LEVELS.get(level, logging.INFO)
        _log_state["buffer"] += text.decode("utf-8", errors="replace")
        *lines, _log_state["buffer"] = _log_state["buffer"].split("\n")
        for line in lines:
            if line.strip():
                llama_log.log(_log_state["level"], "%s", line.rstrip())

    _log_state["callback"] = _callback  # keep a reference: C holds a raw pointer
    lib.llama_log_set(_callback, ctypes.c_void_p(0))


_FLASH = {"auto": -1, "off": 0, "on": 1}
# llama_pooling_type: -1 the model's own, 0 none (a vector per token), 1 mean, 2 CLS, ...
_POOLING_UNSPECIFIED = -1
_POOLING_NONE = 0
#: Tokens an embedding model reads in one batch (several texts, each in its own sequence).
_EMBED_BATCH = 2048
#: Texts an embedding model reads in one batch, at most.
_EMBED_SEQUENCES = 32


@dataclass(eq=False)
class _Sequence:
    """One prompt being decoded by ``generate_many`` in its own KV sequence (a slot)."""

    index: int
    seq_id: int
    tokens: list[int]
    sampler: Sampler
    assembler: TextAssembler
    reserve: int
    t_start: float
    fed: int = 0  # prompt tokens sent to llama_decode
    pos: int = 0  # position of the next token in this sequence
    next_token: int = -1  # sampled, to be evaluated in the next step
    logits_row: int = -1  # batch row that holds this sequence's logits after a decode
    n_gen: int = 0
    t_prompt: float = 0.0
    t_first: float = 0.0


class LlamaCppBackend:
    """One model and one context in llama.cpp, reused across requests.

    Thread: every method runs on the worker's model thread.
    """

    def __init__(self) -> None:
        self._lib = _lib()
        route_native_log()
        self._lib.llama_backend_init()
        self._model: Any = None
        self._ctx: Any = None
        self._vocab: Any = None
        self._batch: Any = None
        self._n_batch = 0
        self._n_gpu_layers = 0
        self._n_ctx = 0
        self._n_seq_max = 1
        self._embedding = False
        self._cached: list[int] = []  # tokens whose keys/values are in the cache (seq 0)
        self._abort_flag = threading.Event()
        self._abort_cb = self._lib.ggml_abort_callback(lambda _data: self._abort_flag.is_set())
        # ggml's CPU backend calls the abort callback after every graph node (~500 per
        # token for a 30-layer model): C→Python each time. Only prompts need that.
        self._no_abort_cb = self._lib.ggml_abort_callback()  # a NULL function pointer
        self._piece_buf = ctypes.create_string_buffer(256)

    # -- loading -----------------------------------------------------------------

    def load(self, params: BackendLoadParams) -> LoadedModelFacts:
        """Load a GGUF file and create its context.

        Raises:
            ModelLoadError: llama.cpp could not load the file or create the context.
        """
        self.close()
        lib = self._lib
        mparams = lib.llama_model_default_params()
        mparams.n_gpu_layers = params.n_gpu_layers
        self._n_gpu_layers = params.n_gpu_layers
        model = lib.llama_model_load_from_file(params.path.encode(), mparams)
        if not model:
            why = _last_error_line() or (
                "the file is damaged, or its architecture is not supported by this llama.cpp build"
            )
            raise ModelLoadError(f"llama.cpp could not load {os.path.basename(params.path)}: {why}")
        self._model = model
        self._vocab = lib.llama_model_get_vocab(model)
        n_ctx_train = int(lib.llama_model_n_ctx_train(model))
        n_ctx = requested_context(n_ctx_train, requested=params.n_ctx)
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = min(params.n_batch, n_ctx)
        cparams.n_ubatch = min(params.n_ubatch, cparams.n_batch)
        self._embedding = self._pooling() not in (None, _POOLING_NONE)
        if self._embedding:
            # An embedding model (its header names a pooling): one vector per text.
            # Its attention is not causal, so llama.cpp needs every token of a batch in
            # one micro-batch (it aborts otherwise): n_ubatch = n_batch.
            cparams.embeddings = True
            cparams.pooling_type = _POOLING_UNSPECIFIED  # the header's
            cparams.n_ctx = n_ctx = n_ctx_train
            cparams.n_batch = cparams.n_ubatch = max(n_ctx, _EMBED_BATCH)
        # One unified KV buffer: a single sequence (chat) may use the whole n_ctx, and
        # the sequences of generate_many share its n_ctx cells. Without kv_unified every
        # sequence would be capped at n_ctx / n_seq_max, chat included.
        cparams.n_seq_max = (
            _EMBED_SEQUENCES if self._embedding else max(1, min(params.n_seq_max, MAX_PARALLEL))
        )
        cparams.kv_unified = True
        cparams.n_threads = params.n_threads
        cparams.n_threads_batch = params.n_threads_batch
        cparams.flash_attn_type = _FLASH.get(params.flash_attn, -1)
        cparams.abort_callback = self._abort_cb
        cparams.abort_callback_data = None
        ctx = lib.llama_init_from_model(model, cparams)
        if not ctx:
            self.close()
            raise ModelLoadError(
                f"llama.cpp could not create a {n_ctx:,}-token context for "
                f"{os.path.basename(params.path)} — probably not enough memory. "
                "Try a smaller context size in Settings."
            )
        self._ctx = ctx
        self._n_ctx = int(lib.llama_n_ctx(ctx))
        self._n_batch = int(lib.llama_n_batch(ctx))
        self._n_seq_max = int(lib.llama_n_seq_max(ctx))
        self._batch = lib.llama_batch_init(self._n_batch, 0, 1)
        self._cached = []
        template = lib.llama_model_chat_template(model, None) if not self._embedding else None
        return LoadedModelFacts(
            n_ctx=self._n_ctx,
            n_ctx_train=n_ctx_train,
            n_gpu_layers=params.n_gpu_layers,
            bos_text=self._token_text(lib.llama_vocab_bos(self._vocab)),
            eos_text=self._token_text(lib.llama_vocab_eos(self._vocab)),
            add_bos=bool(lib.llama_vocab_get_add_bos(self._vocab)),
            chat_template=template.decode("utf-8", errors="replace") if template else None,
            fim=None if self._embedding else read_fim_tokens(lib, self._vocab),
            embedding=self._embedding,
        )

    def _meta(self, key: str) -> str | None:
        """A string value of the model's GGUF header, None when it has no such key."""
        buf = ctypes.create_string_buffer(256)
        n = self._lib.llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace") if n >= 0 else None

    def _pooling(self) -> int | None:
        """The pooling the header declares (``<arch>.pooling_type``), None if none.

        Embedding models (BERT, nomic-bert, ...) declare one; generative models do not.
        """
        arch = self._meta("general.architecture")
        value = self._meta(f"{arch}.pooling_type") if arch else None
        return int(value) if value is not None and value.lstrip("-").isdigit() else None

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        text = self._lib.llama_vocab_get_text(self._vocab, token)
        return text.decode("utf-8", errors="replace") if text else ""

    # -- tokens ------------------------------------------------------------------

    def _require(self) -> None:
        if self._ctx is None:
            raise EngineError("No model is loaded.")

    def tokenize(
        self, text: str, *, add_special: bool = False, parse_special: bool = True
    ) -> list[int]:
        """Text to tokens with the model's tokenizer."""
        self._require()
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (self._lib.llama_token * capacity)()
        n = self._lib.llama_tokenize(
            self._vocab, data, len(data), buf, capacity, add_special, parse_special
        )
        if n < 0:
            capacity = -n
            buf = (self._lib.llama_token * capacity)()
            n = self._lib.llama_tokenize(
                self._vocab, data, len(data), buf, capacity, add_special, parse_special
            )
        return list(buf[:n])

    def token_bytes(self, token: int, special: bool = False) -> bytes:
        """The bytes one token stands for (special tokens render as nothing unless
        ``special``)."""
        n = self._lib.llama_token_to_piece(self._vocab, token, self._piece_buf, 256, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._lib.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
            return buf.raw[:n]
        return self._piece_buf.raw[:n]

    def detokenize(self, tokens: list[int]) -> str:
        """Tokens to text."""
        self._require()
        return b"".join(self.token_bytes(t) for t in tokens).decode("utf-8", errors="replace")

    # -- generation --------------------------------------------------------------

    def _decode(self, tokens: list[int], start_pos: int, *, logits_last: bool) -> None:
        """Evaluate tokens at positions start_pos.. in batches of n_batch."""
        lib, batch = self._lib, self._batch
        for offset in range(0, len(tokens), self._n_batch):
            chunk = tokens[offset : offset + self._n_batch]
            batch.n_tokens = len(chunk)
            for i, tok in enumerate(chunk):
                batch.token[i] = tok
                batch.pos[i] = start_pos + offset + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 0
            if logits_last and offset + len(chunk) == len(tokens):
                batch.logits[len(chunk) - 1] = 1
            rc = lib.llama_decode(self._ctx, batch)
            if rc != 0:
                self._cached = self._cached[: start_pos + offset]
                if rc == 2 or self._abort_flag.is_set():
                    raise Cancelled("Generation was cancelled.")
                raise EngineError(
                    f"llama.cpp failed to evaluate the prompt (code {rc}); "
                    "the context may be full or memory short."
                )
            self._cached.extend(chunk)

    def _make_sampler(self, params: SamplingParams, history: list[int]) -> Sampler:
        """The native sampler chain for ``params``, primed with the prompt's tokens.

        Raises:
            UsageError: ``params.grammar`` is not a grammar llama.cpp can parse.
        """
        return make_sampler(self._lib, self._vocab, params, history, _last_error_line)

    @property
    def embedding(self) -> bool:
        """Whether the loaded model is an embedding model (it embeds, it does not write)."""
        return self._embedding

    @property
    def embedding_tokens(self) -> int:
        """The most tokens one text may have to be embedded (the model's trained context)."""
        return min(self._n_ctx, self._n_batch)

    def embed(self, inputs: list[list[int]]) -> list[list[float]]:
        """One unit-length vector per tokenized text, as the model pools its tokens.

        Several texts are read in one batch, each in a sequence of its own.

        Raises:
            UsageError: the model is not an embedding model, a text is empty or longer
                than :attr:`embedding_tokens`, or a token is not in the vocabulary.
            EngineError: llama.cpp failed.
        """
        self._require()
        if not self._embedding:
            raise UsageError(_NOT_EMBEDDING)
        lib, batch = self._lib, self._batch
        n_vocab = int(lib.llama_vocab_n_tokens(self._vocab))
        limit = self.embedding_tokens
        for i, tokens in enumerate(inputs):
            if not tokens:
                raise UsageError(f"Input {i} is empty: there is nothing to embed.")
            if len(tokens) > limit:
                raise UsageError(
                    f"Input {i} has {len(tokens):,} tokens; this embedding model reads at "
                    f"most {limit:,}. Split the text into shorter parts."
                )
            if not all(0 <= t < n_vocab for t in tokens):
                raise UsageError(
                    f"Input {i} has a token id outside this model's vocabulary "
                    f"(0 to {n_vocab - 1:,})."
                )
        n_embd = int(lib.llama_model_n_embd_out(self._model))
        mem = lib.llama_get_memory(self._ctx)
        vectors: list[list[float]] = []
        start = 0
        while start < len(inputs):
            # As many texts as fit in one batch, each its own sequence.
            group: list[list[int]] = []
            used = 0
            for tokens in inputs[start:]:
                if group and (used + len(tokens) > self._n_batch or len(group) == self._n_seq_max):
                    break
                group.append(tokens)
                used += len(tokens)
            row = 0
            for seq_id, tokens in enumerate(group):
                for pos, tok in enumerate(tokens):
                    batch.token[row] = tok
                    batch.pos[row] = pos
                    batch.n_seq_id[row] = 1
                    batch.seq_id[row][0] = seq_id
                    batch.logits[row] = 1
                    row += 1
            batch.n_tokens = row
            lib.llama_memory_clear(mem, True)  # a model without a cache has none (NULL)
            rc = lib.llama_decode(self._ctx, batch)
            if rc != 0:
                raise EngineError(f"llama.cpp failed to embed the text (code {rc}).")
            for seq_id in range(len(group)):
                pooled = lib.llama_get_embeddings_seq(self._ctx, seq_id)
                if not pooled:
                    raise EngineError("llama.cpp returned no embedding for a text.")
                vectors.append(_unit(pooled[:n_embd]))
            start += len(group)
        return vectors

    def _evaluate_prompt(self, tokens: list[int]) -> int:
        """Bring the cache to ``tokens`` (logits for the last one); returns how many of
        them were reused from the cache."""
        lib = self._lib
        reused = _common_prefix(self._cached, tokens)
        if reused == len(tokens):
            reused -= 1  # the last prompt token must be evaluated again for its logits
        mem = lib.llama_get_memory(self._ctx)
        if not lib.llama_memory_seq_rm(mem, 0, reused, -1):
            # Some caches (sliding-window, recurrent) cannot drop a partial sequence.
            lib.llama_memory_clear(mem, True)
            reused = 0
        self._cached = self._cached[:reused]
        self._decode(tokens[reused:], reused, logits_last=True)
        return reused

    def generate(
        self,
        tokens: list[int],
        params: SamplingParams,
        cancel: threading.Event,
        on_text: Callable[[str], None],
        *,
        special: bool = False,
    ) -> RawGeneration:
        """Evaluate the prompt, reusing the cached prefix, then sample until a stop.

        Raises:
            Cancelled: cancelled while the prompt was evaluated (nothing generated).
            UsageError: ``params.grammar`` is not valid GBNF.
            EngineError: llama.cpp failed to decode.
        """
        self._require()
        if self._embedding:
            raise UsageError(_CANNOT_WRITE)
        if not tokens:
            raise EngineError("The prompt is empty.")
        if len(tokens) >= self._n_ctx:
            raise EngineError(
                f"The prompt has {len(tokens):,} tokens; the context holds {self._n_ctx:,}."
            )
        lib = self._lib
        self._abort_flag = cancel
        t0 = time.perf_counter()
        # Made first: a grammar llama.cpp cannot parse fails before the prompt is read.
        sampler = self._make_sampler(params, tokens)
        try:
            reused = self._evaluate_prompt(tokens)
        except BaseException:
            sampler.free()
            raise
        t_prompt = time.perf_counter()

        # One-token steps take milliseconds and cancel is checked between them.
        lib.llama_set_abort_callback(self._ctx, self._no_abort_cb, None)
        drafter = None
        if params.lookup:
            on_cpu = self._n_gpu_layers == 0
            drafter = PromptLookup(tokens, max_draft=CPU_MAX_DRAFT if on_cpu else MAX_DRAFT)
        step = _Step(drafter)

        def sample() -> int:
            tok = sampler.sample(self._ctx, step.row)
            step.kept = 0 <= step.row < len(step.draft) and step.draft[step.row] == tok
            return tok

        def advance(tok: int) -> StopReason | None:
            if step.lookup is not None:
                step.lookup.push(tok)
            if step.kept:
                # The draft had this token: it is in the cache already, and the logits
                # after it are the next row of the batch that checked the draft.
                self._cached.append(tok)
                step.row += 1
                step.accepted += 1
                return None
            return self._advance(tok, step, cancel)

        try:
            outcome = decode_loop(
                params,
                cancel,
                on_text,
                sample=sample,
                is_eog=lambda tok: lib.llama_vocab_is_eog(self._vocab, tok),
                token_bytes=functools.partial(self.token_bytes, special=special),
                advance=advance,
            )
        finally:
            sampler.free()
            lib.llama_set_abort_callback(self._ctx, self._abort_cb, None)
        step.judge()
        raw = outcome.raw(
            prompt_tokens=len(tokens),
            cached_tokens=reused,
            prompt_eval_s=t_prompt - t0,
            since=t0,
        )
        if step.lookup is None:
            return raw
        return replace(raw, draft_tokens=step.lookup.drafted, accepted_tokens=step.lookup.accepted)

    def _advance(self, tok: int, step: _Step, cancel: threading.Event) -> StopReason | None:
        """Decode ``tok`` (and a draft after it, with prompt lookup) at the cache's end."""
        lib, batch = self._lib, self._batch
        pos = len(self._cached)
        if step.judge():
            # Draft tokens the model did not keep are in the cache past its end: drop them.
            lib.llama_memory_seq_rm(lib.llama_get_memory(self._ctx), 0, pos, -1)
        if pos >= self._n_ctx:
            return "context"
        room = min(self._n_ctx - pos - 1, self._n_batch - 1)
        draft = step.lookup.draft(room) if step.lookup is not None else []
        batch.n_tokens = 1 + len(draft)
        for i, t in enumerate((tok, *draft)):
            batch.token[i] = t
            batch.pos[i] = pos + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1
        rc = lib.llama_decode(self._ctx, batch)
        if rc != 0:
            step.draft = []
            if cancel.is_set():
                return "cancelled"
            raise EngineError(f"llama.cpp failed while generating (code {rc}).")
        self._cached.append(tok)
        step.draft, step.row, step.accepted = draft, 0, 0
        return None

    @property
    def n_seq_max(self) -> int:
        """How many sequences ``generate_many`` decodes at once."""
        return self._n_seq_max

    def generate_many(
        self,
        prompts: list[list[int]],
        params: SamplingParams,
        cancel: threading.Event,
        on_text: Callable[[int, str], None],
        on_done: Callable[[int, RawGeneration], None],
    ) -> list[RawGeneration]:
        """Continue every prompt, up to ``n_seq_max`` of them decoded together.

        Each step is one ``llama_decode`` holding the next token of every sequence
        that is generating, and then as many prompt tokens of newly admitted
        sequences as ``n_batch`` leaves room for; each sequence samples from its own
        row of logits with its own sampler chain and stops on its own (end of
        generation, ``max_tokens``, a stop string, the context). A sequence is
        admitted when a slot is free and its prompt plus ``max_tokens`` fits in the
        cells the running ones have not reserved, so the shared KV cache never
        overflows; a prompt that needs the whole context runs alone. A finished
        sequence's cells are removed (``llama_memory_seq_rm``) and its slot takes
        the next prompt. The whole cache is cleared before and after, so the next
        ``generate`` starts from an empty cache (no prefix reuse across this call).

        Cancel stops within one step (a step with prompt tokens is aborted inside
        llama.cpp); the sequences then end with stop_reason "cancelled" and the
        text they had, the ones never started with "".

        Raises:
            EngineError: a prompt is empty or longer than the context, or llama.cpp
                failed to decode.
        """
        self._require()
        if self._embedding:
            raise UsageError(_CANNOT_WRITE)
        for tokens in prompts:
            if not tokens:
                raise EngineError("The prompt is empty.")
            if len(tokens) >= self._n_ctx:
                raise EngineError(
                    f"The prompt has {len(tokens):,} tokens; the context holds {self._n_ctx:,}."
                )
        lib, ctx, batch = self._lib, self._ctx, self._batch
        if params.grammar:
            # A grammar llama.cpp cannot parse fails here, before any prompt is read.
            self._make_sampler(params, []).free()
        self._abort_flag = cancel
        t_call = time.perf_counter()
        mem = lib.llama_get_memory(ctx)
        lib.llama_memory_clear(mem, True)
        self._cached = []
        results: list[RawGeneration | None] = [None] * len(prompts)
        waiting = deque(range(len(prompts)))
        free_ids = list(range(min(self._n_seq_max, len(prompts))))
        active: list[_Sequence] = []
        reserved = 0

        def finish(seq: _Sequence, stop: StopReason) -> None:
            nonlocal reserved
            tail = seq.assembler.finish()
            if tail:
                on_text(seq.index, tail)
            lib.llama_memory_seq_rm(mem, seq.seq_id, -1, -1)
            seq.sampler.free()
            active.remove(seq)
            free_ids.append(seq.seq_id)
            reserved -= seq.reserve
            t_end = time.perf_counter()
            t_prompt = seq.t_prompt or t_end
            t_first = seq.t_first or t_end
            raw = RawGeneration(
                text=seq.assembler.text,
                prompt_tokens=len(seq.tokens),
                cached_tokens=0,
                generated_tokens=seq.n_gen,
                prompt_eval_s=t_prompt - seq.t_start,
                ttft_s=t_first - t_call,
                decode_s=t_end - t_first,
                stop_reason=stop,
            )
            results[seq.index] = raw
            on_done(seq.index, raw)

        def put(row: int, token: int, pos: int, seq_id: int, logits: bool) -> None:
            batch.token[row] = token
            batch.pos[row] = pos
            batch.n_seq_id[row] = 1
            batch.seq_id[row][0] = seq_id
            batch.logits[row] = 1 if logits else 0

        cancelled = False
        try:
            while waiting or active:
                if cancel.is_set():
                    cancelled = True
                    break
                while waiting and free_ids:
                    index = waiting[0]
                    need = min(len(prompts[index]) + params.max_tokens, self._n_ctx)
                    if active and reserved + need > self._n_ctx:
                        break
                    waiting.popleft()
                    reserved += need
                    active.append(
                        _Sequence(
                            index=index,
                            seq_id=free_ids.pop(0),
                            tokens=prompts[index],
                            sampler=self._make_sampler(params, prompts[index]),
                            assembler=TextAssembler(params.stop),
                            reserve=need,
                            t_start=time.perf_counter(),
                        )
                    )
                # The generating sequences' next tokens first, then prompt tokens.
                row = 0
                for seq in active:
                    if seq.next_token >= 0:
                        put(row, seq.next_token, seq.pos, seq.seq_id, True)
                        seq.logits_row = row
                        seq.pos += 1
                        seq.next_token = -1
                        row += 1
                has_prompt = False
                for seq in active:
                    take = min(len(seq.tokens) - seq.fed, self._n_batch - row)
                    if take <= 0:
                        continue
                    for k in range(take):
                        put(row + k, seq.tokens[seq.fed + k], seq.fed + k, seq.seq_id, False)
                    seq.fed += take
                    seq.pos = seq.fed
                    row += take
                    has_prompt = True
                    if seq.fed == len(seq.tokens):
                        batch.logits[row - 1] = 1
                        seq.logits_row = row - 1
                batch.n_tokens = row
                # Only prompt steps are long enough to need aborting from inside llama.cpp
                # (the callback costs a C→Python call per graph node).
                lib.llama_set_abort_callback(
                    ctx, self._abort_cb if has_prompt else self._no_abort_cb, None
                )
                rc = lib.llama_decode(ctx, batch)
                if rc != 0:
                    if rc == 2 or cancel.is_set():
                        cancelled = True
                        break
                    raise EngineError(
                        f"llama.cpp failed while generating several answers (code {rc}); "
                        "memory may be short."
                    )
                now = time.perf_counter()
                for seq in list(active):
                    if seq.logits_row < 0:
                        continue
                    if not seq.t_prompt:
                        seq.t_prompt = now
                    tok = seq.sampler.sample(ctx, seq.logits_row)
                    seq.logits_row = -1
                    seq.n_gen += 1
                    if seq.n_gen == 1:
                        seq.t_first = time.perf_counter()
                    stop: StopReason | None = None
                    if not params.ignore_eos and lib.llama_vocab_is_eog(self._vocab, tok):
                        stop = "eos"
                    else:
                        piece = seq.assembler.feed(self.token_bytes(tok))
                        if piece:
                            on_text(seq.index, piece)
                        if seq.assembler.stopped:
                            stop = "stop_string"
                        elif seq.n_gen >= params.max_tokens:
                            stop = "length"
                        elif seq.pos >= self._n_ctx:
                            stop = "context"
                    if stop is None:
                        seq.next_token = tok
                    else:
                        finish(seq, stop)
            if cancelled:
                for seq in list(active):
                    finish(seq, "cancelled")
                for index in waiting:
                    raw = RawGeneration("", len(prompts[index]), 0, 0, 0.0, 0.0, 0.0, "cancelled")
                    results[index] = raw
                    on_done(index, raw)
        finally:
            for seq in active:  # an error left these unfinished
                seq.sampler.free()
            lib.llama_memory_clear(mem, True)
            self._cached = []
            lib.llama_set_abort_callback(ctx, self._abort_cb, None)
        return [r for r in results if r is not None]

    def close(self) -> None:
        """Free the context, batch and model; safe to call twice."""
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
        self._vocab = None
        self._cached = []


_NOT_EMBEDDING = (
    "This model writes text; it does not make embeddings. Name an embedding model (a GGUF "
    "whose header declares a pooling, such as all-MiniLM-L6-v2 or nomic-embed-text)."
)
_CANNOT_WRITE = (
    "This is an embedding model: it turns text into vectors and cannot write. Load a chat "
    "or text model to generate, and use this one for embeddings."
)


class _Step:
    """Where one generation's decoding stands: the rows of the last batch and its draft.

    Attributes:
        lookup: the drafter (None without prompt lookup).
        draft: the draft decoded after the last fed token ([] for none).
        row: the batch row whose logits give the next token (-1: the prompt's last).
        accepted: how many of the draft's tokens the model has kept so far.
        kept: the token just sampled is the draft's next one (already decoded).
    """

    def __init__(self, lookup: PromptLookup | None) -> None:
        self.lookup = lookup
        self.draft: list[int] = []
        self.row = -1
        self.accepted = 0
        self.kept = False

    def judge(self) -> bool:
        """Report the last draft's outcome to the drafter, once; whether there was one."""
        if not self.draft:
            return False
        if self.lookup is not None:
            self.lookup.judged(len(self.draft), self.accepted)
        self.draft = []
        return True


def _unit(vector: list[float]) -> list[float]:
    """``vector`` scaled to length 1 (as OpenAI's embeddings are), unchanged if it is 0."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else list(vector)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


_recent_errors: list[str] = []


class _ErrorCollector(logging.Handler):
    """Keeps llama.cpp's last error lines so a failed load can say why."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            _recent_errors.append(record.getMessage())
            del _recent_errors[:-5]


llama_log.addHandler(_ErrorCollector())


def _last_error_line() -> str:
    return _recent_errors[-1] if _recent_errors else ""
