"""Value objects shared by the engine, its worker protocol, the CLI and the GUI."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
StopReason = Literal["eos", "length", "stop_string", "cancelled", "context"]
ContextPolicy = Literal["truncate", "stop"]


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation."""

    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        """The message as the chat-template convention expects it."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens and when to stop.

    Attributes:
        temperature: 0 means greedy decoding.
        top_p: nucleus sampling threshold (1.0 disables).
        top_k: keep the k most likely tokens (0 disables).
        min_p: drop tokens below min_p × the best token's probability (0 disables).
        repeat_penalty: penalty for tokens seen in the last ``repeat_last_n`` (1.0 disables).
        repeat_last_n: how many recent tokens the penalty looks at.
        seed: -1 for a random seed, otherwise reproducible sampling.
        max_tokens: the most tokens to generate.
        stop: strings that end the answer (not included in it).
        ignore_eos: keep generating past end-of-generation tokens (benchmarks only).
    """

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    seed: int = -1
    max_tokens: int = 1024
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingParams:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        values = dict(data)
        values["stop"] = tuple(values.get("stop", ()))
        return cls(**values)


@dataclass(frozen=True)
class LoadOptions:
    """What the user asked for when loading a model; the plan fills in the rest.

    Attributes:
        n_ctx: context size in tokens; 0 lets Hearth choose.
        gpu_offload: "auto", "off", or a number of layers.
        threads: decode threads; 0 lets the plan choose.
        backend: "auto", "llamacpp" or "torch".
    """

    n_ctx: int = 0
    gpu_offload: str = "auto"
    threads: int = 0
    backend: str = "auto"


@dataclass(frozen=True)
class ModelInfo:
    """A model as loaded in the engine.

    Attributes:
        model_id: the store's id, or the file path for files outside the store.
        path: the GGUF file.
        architecture: from the GGUF header.
        n_ctx: the context actually allocated.
        n_ctx_train: the context the model was trained for.
        backend: "llamacpp" or "torch".
        device: "cpu", "cuda", "metal" or "mps".
        n_gpu_layers: layers on the GPU.
        n_threads: decode threads.
        plan_reason: the one-line explanation of the backend choice.
        chat_template: "gguf" when the model's own template is used, else "fallback".
        fim: the model has fill-in-the-middle tokens (EngineClient.infill works).
        warnings: things the user should know (template refused, GPU fallback, memory).
        load_s: seconds the load took.
    """

    model_id: str
    path: str
    architecture: str
    n_ctx: int
    n_ctx_train: int
    backend: str
    device: str
    n_gpu_layers: int
    n_threads: int
    plan_reason: str
    chat_template: str
    warnings: tuple[str, ...] = ()
    load_s: float = 0.0
    fim: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["warnings"] = tuple(values.get("warnings", ()))
        return cls(**values)


@dataclass(frozen=True)
class TokenEvent:
    """A piece of generated text, in order."""

    text: str


@dataclass(frozen=True)
class GenerationStats:
    """Figures about one generation.

    Attributes:
        prompt_tokens: tokens in the prompt that was sent (after fitting).
        cached_tokens: prompt tokens reused from the previous turn's KV cache.
        generated_tokens: tokens sampled.
        ttft_s: seconds from the request to the first token.
        tokens_per_s: decode speed after the first token.
        prompt_tokens_per_s: prompt evaluation speed (tokens actually evaluated).
        total_s: seconds from the request to the end.
        stop_reason: why generation stopped.
        dropped_messages: oldest messages left out to fit the context.
        truncated: whether a message had to be shortened to fit.
    """

    prompt_tokens: int
    cached_tokens: int
    generated_tokens: int
    ttft_s: float
    tokens_per_s: float
    prompt_tokens_per_s: float
    total_s: float
    stop_reason: StopReason
    dropped_messages: int = 0
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationStats:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class GenerationResult:
    """The last event of a generation: the whole text and its figures."""

    text: str
    stats: GenerationStats
    model_id: str = ""
    backend: str = ""
