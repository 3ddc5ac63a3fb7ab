"""Value objects shared by the engine, its worker protocol, the CLI and the GUI."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Literal

from engine.errors import UsageError
from engine.notices import Notice, render_notice, render_notices

Role = Literal["system", "user", "assistant"]
StopReason = Literal["eos", "length", "stop_string", "cancelled", "context"]
ContextPolicy = Literal["truncate", "stop"]

#: The largest context, in tokens, any setting or flag takes: above the longest context
#: a GGUF model declares today (Llama 4 Scout, 10M tokens). Each load lowers it further
#: to the model's trained length and the memory that is free (engine.models.plan).
MAX_CONTEXT_TOKENS = 16_777_216

# Sampling ranges: wide enough for every value that means something, narrow enough that
# none can hang, crash or exhaust the worker.
#: Above 2 the output is already noise; 5 leaves room to experiment, with finite logits.
MAX_TEMPERATURE = 5.0
#: More than any vocabulary (Gemma 3 has 262,144 tokens): larger values change nothing.
MAX_TOP_K = 1_000_000
#: A penalty divides the logits of repeated tokens; past 10 it only garbles the text.
MAX_REPEAT_PENALTY = 10.0
#: llama.cpp allocates a ring buffer of this many tokens for the penalty: no reason to
#: look further back than the largest context.
MAX_REPEAT_LAST_N = MAX_CONTEXT_TOKENS
#: llama.cpp's seed is a 32-bit unsigned integer; larger values would be cut silently.
MAX_SEED = 2**32 - 1
#: No answer can be longer than the largest context.
MAX_ANSWER_TOKENS = MAX_CONTEXT_TOKENS
#: Stop strings are searched for after every token; a few dozen cover every real use
#: (and leave room for the ones the engine adds for models without a template).
MAX_STOP_STRINGS = 32
#: Most results one hub search asks for (``models search --limit``, the model manager):
#: a person reads a page of results, not thousands.
MAX_SEARCH_RESULTS = 100
#: A stop string is a marker ("\nUser:", "```"); text held back to match one is this long.
MAX_STOP_CHARS = 256
#: The longest grammar (GBNF text) a generation is constrained by. A JSON schema of a
#: few hundred properties converts to tens of kilobytes; more only costs the worker time.
MAX_GRAMMAR_CHARS = 1_000_000


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation."""

    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        """The message as the chat-template convention expects it."""
        return {"role": self.role, "content": self.content}


def _is_int(value: object) -> bool:
    # JSON true/false load as bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """A finite int or float: NaN and infinity are never a setting, whatever the bounds."""
    if isinstance(value, bool):
        return False
    # An int is always finite; math.isfinite() would overflow on one of 400 digits.
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _stop_ok(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) <= MAX_STOP_STRINGS
        and all(isinstance(s, str) and 0 < len(s) <= MAX_STOP_CHARS for s in value)
    )


#: For each sampling field: is the value valid, and what it must be when it is not.
_SAMPLING_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "temperature": (
        lambda v: _is_number(v) and 0 <= v <= MAX_TEMPERATURE,
        f"must be a number from 0 to {MAX_TEMPERATURE:g}",
    ),
    "top_p": (
        lambda v: _is_number(v) and 0 < v <= 1,
        "must be a number above 0, at most 1",
    ),
    "top_k": (
        lambda v: _is_int(v) and 0 <= v <= MAX_TOP_K,
        f"must be a whole number from 0 to {MAX_TOP_K:,}",
    ),
    "min_p": (lambda v: _is_number(v) and 0 <= v <= 1, "must be a number from 0 to 1"),
    "repeat_penalty": (
        lambda v: _is_number(v) and 0 < v <= MAX_REPEAT_PENALTY,
        f"must be a number above 0, at most {MAX_REPEAT_PENALTY:g}",
    ),
    "repeat_last_n": (
        lambda v: _is_int(v) and -1 <= v <= MAX_REPEAT_LAST_N,
        f"must be a whole number from -1 to {MAX_REPEAT_LAST_N:,}",
    ),
    "seed": (
        lambda v: _is_int(v) and -1 <= v <= MAX_SEED,
        f"must be -1 (random) or a whole number from 0 to {MAX_SEED:,}",
    ),
    "max_tokens": (
        lambda v: _is_int(v) and 1 <= v <= MAX_ANSWER_TOKENS,
        f"must be a whole number from 1 to {MAX_ANSWER_TOKENS:,}",
    ),
    "stop": (
        _stop_ok,
        f"must be at most {MAX_STOP_STRINGS} strings of 1 to {MAX_STOP_CHARS} characters",
    ),
    "ignore_eos": (lambda v: isinstance(v, bool), "must be true or false"),
    "lookup": (lambda v: isinstance(v, bool), "must be true or false"),
    "grammar": (
        lambda v: isinstance(v, str) and len(v) <= MAX_GRAMMAR_CHARS,
        f"must be GBNF text of at most {MAX_GRAMMAR_CHARS:,} characters",
    ),
}

#: Fields held as floats: a whole number given for one (temperature 0) is converted.
_FLOAT_FIELDS = ("temperature", "top_p", "min_p", "repeat_penalty")


def sampling_problem(name: str, value: object) -> str | None:
    """What is wrong with ``value`` for the sampling field ``name``, or None if it is valid.

    The one place sampling values are checked: :class:`SamplingParams` itself, the
    command line's flags and the stored chat options all ask it.

    Args:
        name: a field of :class:`SamplingParams`.
        value: the value to check (NaN and infinity are never valid).

    Returns:
        What the value must be ("must be a number from 0 to 5"), or None.
    """
    valid, requirement = _SAMPLING_RULES[name]
    return None if valid(value) else requirement


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens and when to stop.

    Every value is checked when the object is made (see :func:`sampling_problem`), so
    no NaN, negative or absurd value reaches the sampler from the command line, the GUI,
    the stored chat options or the worker protocol.

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
        grammar: a GBNF grammar (llama.cpp's format) every answer must match, "" for
            none: JSON mode (EngineClient.json_grammar makes one from a JSON schema).
            Only the llama.cpp backend can follow one; the others refuse it.
        lookup: prompt lookup decoding: draft the next tokens from where the text's last
            few tokens appeared before and check the draft in one batched decode
            (engine.runtime.backends.lookup). The answer is the same; it comes faster
            when it copies its input (fixes, rewrites, quotes). The llama.cpp backend
            does it; the others decode as usual.
    """

    #: Low, so small models answer facts right (benchmarks/sampling.md: the starter
    #: model's factual answers, 75 of 100 at 0.2 and 57 at 0.7).
    temperature: float = 0.2
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    seed: int = -1
    max_tokens: int = 1024
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    grammar: str = ""
    lookup: bool = False

    def __post_init__(self) -> None:
        """Check every value; whole numbers given for float fields become floats.

        Raises:
            UsageError: a value is out of range, NaN, infinite or of the wrong type.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            problem = sampling_problem(f.name, value)
            if problem is not None:
                raise UsageError(
                    f"The sampling setting {f.name} = {reprlib.repr(value)} {problem}."
                )
        for name in _FLOAT_FIELDS:
            # The dataclass is frozen; this is still construction, so setting is sound.
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "stop", tuple(self.stop))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingParams:
        """Inverse of :meth:`to_dict`.

        Raises:
            UsageError: a key is unknown or a value is invalid.
        """
        unknown = sorted(set(data) - set(_SAMPLING_RULES))
        if unknown:
            raise UsageError(f"Unknown sampling settings: {', '.join(map(str, unknown))}.")
        return cls(**data)


#: llama.cpp's LLAMA_MAX_SEQ: the most sequences one context decodes at once.
MAX_PARALLEL = 256
#: The longest chat template a load request carries (engine.runtime.chat_templates
#: refuses longer ones too).
MAX_TEMPLATE_OVERRIDE_CHARS = 256 * 1024

#: For each load request field: is the value valid, and what it must be when it is not.
_LOAD_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "path": (lambda v: isinstance(v, str) and v != "", "must be the path of a GGUF file"),
    "model_id": (lambda v: isinstance(v, str), "must be text"),
    "architecture": (lambda v: isinstance(v, str), "must be text"),
    "backend": (lambda v: v in ("llamacpp", "torch"), 'must be "llamacpp" or "torch"'),
    "device": (lambda v: isinstance(v, str) and v != "", "must name a device"),
    "n_ctx": (
        lambda v: _is_int(v) and 1 <= v <= MAX_CONTEXT_TOKENS,
        f"must be a whole number from 1 to {MAX_CONTEXT_TOKENS:,}",
    ),
    "n_gpu_layers": (
        # llama.cpp's -1: every layer.
        lambda v: _is_int(v) and v >= -1,
        "must be -1 (every layer) or a whole number of layers",
    ),
    "n_threads": (lambda v: _is_int(v) and v >= 1, "must be a whole number from 1"),
    "n_threads_batch": (lambda v: _is_int(v) and v >= 1, "must be a whole number from 1"),
    "flash_attn": (lambda v: v in ("auto", "on", "off"), 'must be "auto", "on" or "off"'),
    "torch_weights": (lambda v: isinstance(v, str), "must be text"),
    "plan_notice": (lambda v: isinstance(v, Notice), "must be a notice"),
    "warning_notices": (
        lambda v: isinstance(v, list | tuple) and all(isinstance(w, Notice) for w in v),
        "must be a list of notices",
    ),
    "n_parallel": (
        lambda v: _is_int(v) and 1 <= v <= MAX_PARALLEL,
        f"must be a whole number from 1 to {MAX_PARALLEL}",
    ),
    "fallback_template": (lambda v: isinstance(v, bool), "must be true or false"),
    "chat_template_override": (
        lambda v: isinstance(v, str) and len(v) <= MAX_TEMPLATE_OVERRIDE_CHARS,
        f"must be template text of at most {MAX_TEMPLATE_OVERRIDE_CHARS:,} characters",
    ),
    "parameters": (lambda v: _is_int(v) and v >= 0, "must be a whole number, 0 or more"),
}


@dataclass(frozen=True)
class LoadRequest:
    """What the worker is asked to load, and how: the plan's decisions for one model.

    Made by ``engine.runtime.loading.plan_load``; it crosses the worker pipe as the
    ``load`` request. Every value is checked when the object is made, so the worker
    never hands llama.cpp a context, thread count or layer count that makes no sense.

    Attributes:
        path: the GGUF file.
        n_ctx: context size in tokens, already within the trained length and memory.
        n_gpu_layers: layers to offload: 0 keeps the model on the CPU, -1 offloads all.
        n_threads: decode threads.
        n_threads_batch: prompt-processing threads.
        model_id: the store's id; "" for the file path.
        architecture: from the GGUF header.
        backend: the backend the plan chose: "llamacpp" or "torch".
        device: "cpu", "cuda", "metal", "mps", ... (the plan's device).
        plan_notice: the one-line explanation of the backend choice.
        warning_notices: what the plan had to change (context cut, threads lowered, ...).
        flash_attn: llama.cpp's flash attention: "auto", "on" or "off".
        torch_weights: how the PyTorch backend keeps weights ("auto", "bf16", "int8", ...).
        n_parallel: sequences ``complete_many`` decodes at once.
        parameters: the model's size, from its GGUF header (0: unknown).
        fallback_template: use Hearth's plain chat format instead of the model's
            template (set once the template was refused, so it never runs again).
        chat_template_override: a template the user chose for this model, used instead
            of the GGUF's (engine.runtime.chat_formats); "" for the GGUF's own.
    """

    path: str
    n_ctx: int
    n_gpu_layers: int
    n_threads: int
    n_threads_batch: int
    plan_notice: Notice
    model_id: str = ""
    architecture: str = ""
    backend: str = "llamacpp"
    device: str = "cpu"
    warning_notices: tuple[Notice, ...] = ()
    flash_attn: str = "auto"
    torch_weights: str = "auto"
    n_parallel: int = 4
    fallback_template: bool = False
    parameters: int = 0
    chat_template_override: str = ""

    def __post_init__(self) -> None:
        """Check every value.

        Raises:
            UsageError: a value is out of range or of the wrong type.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            valid, requirement = _LOAD_RULES[f.name]
            if not valid(value):
                raise UsageError(
                    f"The load setting {f.name} = {reprlib.repr(value)} {requirement}."
                )
        # The dataclass is frozen; this is still construction, so setting is sound.
        object.__setattr__(self, "warning_notices", tuple(self.warning_notices))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; notices as ``{"code": ..., "params": ...}``."""
        data = asdict(self)
        data["plan_notice"] = self.plan_notice.to_dict()
        data["warning_notices"] = [n.to_dict() for n in self.warning_notices]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadRequest:
        """Inverse of :meth:`to_dict`.

        Raises:
            UsageError: a key is unknown or missing, or a value is invalid.
        """
        unknown = sorted(set(data) - set(_LOAD_RULES))
        if unknown:
            raise UsageError(f"Unknown load settings: {', '.join(map(str, unknown))}.")
        required = {f.name for f in fields(cls) if f.default is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise UsageError(f"Missing load settings: {', '.join(missing)}.")
        values = dict(data)
        for name, many in (("plan_notice", False), ("warning_notices", True)):
            if name not in values:
                continue
            raw = values[name]
            try:
                if many:
                    if not isinstance(raw, list | tuple):
                        raise TypeError("not a list")
                    values[name] = tuple(Notice.from_dict(n) for n in raw)
                else:
                    values[name] = Notice.from_dict(raw)
            except (AttributeError, TypeError, ValueError, KeyError) as exc:
                requirement = _LOAD_RULES[name][1]
                raise UsageError(
                    f"The load setting {name} = {reprlib.repr(raw)} {requirement}."
                ) from exc
        return cls(**values)


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
        plan_notice: the one-line explanation of the backend choice.
        chat_template: "gguf" when the model's own template is used, "override" when the
            one the user chose for the model is, else "fallback".
        fim: the model has fill-in-the-middle tokens (EngineClient.infill works).
        template_refused: the model's chat template was refused (it tried something a
            template may not do, or never finished); the fallback format runs instead.
        thinks: the chat template is a reasoning model's: answers may begin with thinking,
            which arrives apart from the answer (TokenEvent.reasoning).
        thinking_switch: the template turns the thinking on and off (``enable_thinking``;
            EngineClient.chat's ``thinking``).
        warning_notices: things the user should know (template refused, GPU fallback,
            memory).
        load_s: seconds the load took.
        parameters: the model's size, from its GGUF header (0: unknown).
        embedding: an embedding model: EngineClient.embed works, chat and completion
            do not.
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
    plan_notice: Notice
    chat_template: str
    warning_notices: tuple[Notice, ...] = ()
    load_s: float = 0.0
    fim: bool = False
    template_refused: bool = False
    thinks: bool = False
    thinking_switch: bool = False
    parameters: int = 0
    embedding: bool = False

    @property
    def plan_reason(self) -> str:
        """The backend choice explained in English (the command line, the logs)."""
        return render_notice(self.plan_notice)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The warnings in English (the command line, the logs)."""
        return render_notices(self.warning_notices)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the notices as ``{"code": ..., "params": ...}``."""
        data = asdict(self)
        data["plan_notice"] = self.plan_notice.to_dict()
        data["warning_notices"] = [n.to_dict() for n in self.warning_notices]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: a notice has an unknown code (a worker of another Hearth).
        """
        values = dict(data)
        values["plan_notice"] = Notice.from_dict(values["plan_notice"])
        values["warning_notices"] = tuple(
            Notice.from_dict(n) for n in values.get("warning_notices", ())
        )
        return cls(**values)


@dataclass(frozen=True)
class Embeddings:
    """Vectors for texts, in the order the texts were given (EngineClient.embed).

    Attributes:
        vectors: one unit-length vector per text: their dot product is their cosine
            similarity.
        prompt_tokens: the tokens the model read, every text together (its own markers
            included).
        model_id: the embedding model that made them.
    """

    vectors: tuple[tuple[float, ...], ...]
    prompt_tokens: int
    model_id: str


@dataclass(frozen=True)
class TokenEvent:
    """A piece of generated text, in order.

    ``reasoning`` marks a reasoning model's thinking: shown apart, never the answer.
    """

    text: str
    reasoning: bool = False


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
        reasoning_tokens: of the generated tokens, those a reasoning model spent thinking.
        draft_tokens: tokens prompt lookup drafted (SamplingParams.lookup).
        accepted_tokens: of those, the ones the model kept: each saved a decoding step.
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
    reasoning_tokens: int = 0
    draft_tokens: int = 0
    accepted_tokens: int = 0

    @property
    def acceptance(self) -> float | None:
        """The share of drafted tokens the model kept; None when nothing was drafted."""
        return self.accepted_tokens / self.draft_tokens if self.draft_tokens else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationStats:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class GenerationResult:
    """The last event of a generation: the whole answer, its figures, and the thinking a
    reasoning model did before it ("" if none; never part of ``text``)."""

    text: str
    stats: GenerationStats
    model_id: str = ""
    backend: str = ""
    reasoning: str = ""
