"""The protocol every inference backend implements; the worker talks to nothing else."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

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
class LoadedModelFacts:
    """What a backend learned about the model while loading it."""

    n_ctx: int
    n_ctx_train: int
    n_gpu_layers: int
    bos_text: str
    eos_text: str
    add_bos: bool
    chat_template: str | None
    #: Fill-in-the-middle token ids (prefix, suffix, middle), None when the model has none.
    fim: tuple[int, int, int] | None = None


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
    ) -> RawGeneration:
        """Evaluate the prompt (reusing the cached prefix) and sample until a stop."""
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
