"""The protocol every inference backend implements; the worker talks to nothing else."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.runtime.textstream import TextAssembler
from engine.types import SamplingParams, StopReason


@dataclass(frozen=True)
class BackendLoadParams:
    """Concrete settings for one load, decided by the backend plan.

    Attributes:
        path: the GGUF file.
        n_ctx: context size in tokens; 0 for the default
            (:func:`engine.models.plan.requested_context`).
        n_gpu_layers: layers to offload (0 = CPU only).
        n_threads: decode threads.
        n_threads_batch: prompt-processing threads.
        n_batch: logical batch size for prompt processing.
        n_ubatch: physical batch size.
        flash_attn: "auto", "on" or "off".
        n_seq_max: sequences the context can decode at once (``generate_many``). The
            KV cache is unified: every sequence may use the whole ``n_ctx``, and the
            sequences decoded together share its ``n_ctx`` cells.
    """

    path: str
    n_ctx: int
    n_gpu_layers: int
    n_threads: int
    n_threads_batch: int
    n_batch: int = 2048
    n_ubatch: int = 512
    flash_attn: str = "auto"
    n_seq_max: int = 4


@dataclass(frozen=True)
class FimTokens:
    """A model's fill-in-the-middle tokens, read from its loaded vocabulary.

    llama.cpp finds them by their text when the GGUF header names none (Qwen2.5-Coder's
    files have no ``fim_*_token_id`` keys), so the vocabulary, not the header, decides
    whether a model can complete at a cursor.

    Attributes:
        prefix: the token before the text in front of the gap (FIM_PRE).
        suffix: the token before the text after the gap (FIM_SUF).
        middle: the token after which the model writes the gap (FIM_MID).
        head: what the prompt opens with: the BOS where the vocabulary adds one, else
            nothing (Qwen2.5-Coder's vocabulary adds none).
        stops: the model's end, end-of-turn, FIM pad, repository and file-separator
            tokens. Each is one llama.cpp ends a generation at (it adds the FIM pad,
            repository and file-separator tokens to its end-of-generation set), so a
            completion stops at the end of the gap instead of writing the next file.
    """

    prefix: int
    suffix: int
    middle: int
    head: tuple[int, ...] = ()
    stops: tuple[int, ...] = ()


def read_fim_tokens(lib: Any, vocab: Any) -> FimTokens | None:
    """The fill-in-the-middle tokens of a loaded llama.cpp vocabulary; None without them.

    Args:
        lib: the ``llama_cpp`` module.
        vocab: a ``llama_vocab`` pointer (the model's or a vocab-only load's).
    """
    pre, suf, mid = (
        int(f(vocab))
        for f in (lib.llama_vocab_fim_pre, lib.llama_vocab_fim_suf, lib.llama_vocab_fim_mid)
    )
    if min(pre, suf, mid) < 0:
        return None
    bos = int(lib.llama_vocab_bos(vocab))
    head = (bos,) if bos >= 0 and lib.llama_vocab_get_add_bos(vocab) else ()
    ends = (
        lib.llama_vocab_eos,
        lib.llama_vocab_eot,
        lib.llama_vocab_fim_pad,
        lib.llama_vocab_fim_rep,
        lib.llama_vocab_fim_sep,
    )
    stops: list[int] = []
    for end in ends:
        token = int(end(vocab))
        if token >= 0 and token not in stops and lib.llama_vocab_is_eog(vocab, token):
            stops.append(token)
    return FimTokens(pre, suf, mid, head, tuple(stops))


@dataclass(frozen=True)
class LoadedModelFacts:
    """What a backend learned about the model while loading it."""

    n_ctx: int
    n_ctx_train: int
    n_gpu_layers: int
    bos_text: str
    eos_text: str
    add_bos: bool
    chat_template: str | None
    #: The fill-in-the-middle tokens of the loaded vocabulary, None when it has none.
    fim: FimTokens | None = None
    #: An embedding model (its header declares a pooling): it embeds and cannot write.
    embedding: bool = False


@dataclass(frozen=True)
class RawGeneration:
    """The backend's account of one generation (the worker adds timing from its side)."""

    text: str
    prompt_tokens: int
    cached_tokens: int
    generated_tokens: int
    prompt_eval_s: float
    ttft_s: float
    decode_s: float
    stop_reason: StopReason
    #: Prompt lookup's drafted tokens, and how many of them the model kept.
    draft_tokens: int = 0
    accepted_tokens: int = 0


@dataclass(frozen=True)
class DecodeOutcome:
    """What :func:`decode_loop` produced: the text, the tokens, when the first came, why
    it stopped."""

    text: str
    generated_tokens: int
    t_first: float
    stop_reason: StopReason

    def raw(
        self, *, prompt_tokens: int, cached_tokens: int, prompt_eval_s: float, since: float
    ) -> RawGeneration:
        """The generation's account, ended now; ``since``: when the time to the first
        token is counted from."""
        t_end = time.perf_counter()
        t_first = self.t_first or t_end
        return RawGeneration(
            text=self.text,
            prompt_tokens=prompt_tokens,
            cached_tokens=cached_tokens,
            generated_tokens=self.generated_tokens,
            prompt_eval_s=prompt_eval_s,
            ttft_s=t_first - since,
            decode_s=t_end - t_first,
            stop_reason=self.stop_reason,
        )


def decode_loop(
    params: SamplingParams,
    cancel: threading.Event,
    on_text: Callable[[str], None],
    *,
    sample: Callable[[], int],
    is_eog: Callable[[int], bool],
    token_bytes: Callable[[int], bytes],
    advance: Callable[[int], StopReason | None],
) -> DecodeOutcome:
    """One sequence's generation after its prompt, the same for every backend.

    Samples a token, stops at an end-of-generation token (unless ``ignore_eos``), a stop
    string, the token limit or a cancel, streams the text (whole UTF-8 characters, stop
    strings held back) and feeds each kept token back with ``advance``.

    Args:
        params: the sampling settings (``max_tokens``, ``stop``, ``ignore_eos``).
        cancel: set to stop between tokens.
        on_text: receives the text as it is settled.
        sample: the next token, from the logits of the last one fed.
        is_eog: whether a token ends the generation.
        token_bytes: a token's bytes.
        advance: decode one token; returns why to stop (``"context"`` when it is full,
            ``"cancelled"``) or None to go on.
    """
    assembler = TextAssembler(params.stop)
    n_gen = 0
    t_first = 0.0
    stop: StopReason = "length"
    while n_gen < params.max_tokens:
        if cancel.is_set():
            stop = "cancelled"
            break
        tok = sample()
        n_gen += 1
        if n_gen == 1:
            t_first = time.perf_counter()
        if not params.ignore_eos and is_eog(tok):
            stop = "eos"
            break
        piece = assembler.feed(token_bytes(tok))
        if piece:
            on_text(piece)
        if assembler.stopped:
            stop = "stop_string"
            break
        if n_gen >= params.max_tokens:
            break
        halt = advance(tok)
        if halt is not None:
            stop = halt
            break
    tail = assembler.finish()
    if tail:
        on_text(tail)
    return DecodeOutcome(assembler.text, n_gen, t_first, stop)


class Backend(Protocol):
    """An inference backend. All methods run on the worker's model thread."""

    def load(self, params: BackendLoadParams) -> LoadedModelFacts:
        """Load the model; raise ModelLoadError (or ModelFileError) with a clear reason."""
        ...

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        """Text to tokens."""
        ...

    def detokenize(self, tokens: list[int]) -> str:
        """Tokens to text (special tokens left out)."""
        ...

    def generate(
        self,
        tokens: list[int],
        params: SamplingParams,
        cancel: threading.Event,
        on_text: Callable[[str], None],
        *,
        special: bool = False,
    ) -> RawGeneration:
        """Evaluate the prompt (reusing the cached prefix) and sample until a stop.

        ``special`` renders special tokens in the text (a channel model's markers, which
        the worker then takes out); otherwise they render as nothing.
        """
        ...

    @property
    def n_seq_max(self) -> int:
        """How many sequences ``generate_many`` decodes at once."""
        ...

    def generate_many(
        self,
        prompts: list[list[int]],
        params: SamplingParams,
        cancel: threading.Event,
        on_text: Callable[[int, str], None],
        on_done: Callable[[int, RawGeneration], None],
    ) -> list[RawGeneration]:
        """Generate a continuation of every prompt, several sequences decoded at once.

        ``on_text(index, text)`` and ``on_done(index, generation)`` report each
        sequence as it goes; the list returned is in the order of ``prompts``. The
        single-sequence KV cache (``generate``'s prefix reuse) is cleared.
        """
        ...

    def close(self) -> None:
        """Free native resources; idempotent."""
        ...
