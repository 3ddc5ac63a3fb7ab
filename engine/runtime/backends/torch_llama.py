"""The PyTorch backend: Llama-family decoders (llama, qwen2) read from GGUF, on CUDA, MPS or CPU.

Why it exists: a pip-installed llama-cpp-python is a CPU-only build unless it was
compiled with CUDA or Metal, while PyTorch ships GPU builds; this backend lets such a
machine use its GPU.

What it owns:

* the forward pass — token embedding, RMSNorm, rotary position embedding with the
  GGUF's parameters (llama.cpp's "normal" pairing for ``llama``, NeoX halves for
  ``qwen2``), grouped-query attention over a preallocated KV cache, SwiGLU
  feed-forward, output head (tied to the embedding when the file has none);
* weights: tensors located by our bounded header reader, read with ``os.pread`` and
  dequantized by :mod:`engine.runtime.backends.dequant`, then kept on the device in
  bf16/fp16/fp32 or as int8 weight-only (one scale per output channel);
* tokenizer, chat template and sampling from llama.cpp itself: a vocabulary-only
  load of the same file (``vocab_only=True``) tokenizes, and llama.cpp's native
  sampler chain picks tokens from this backend's logits, so both backends tokenize
  and sample identically.

Only the worker process imports this module (import-linter keeps ``desktop`` away
from torch, and :mod:`engine.runtime.loading` only plans for it). Every method runs on the
worker's model thread.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import Cancelled, EngineError, ModelFileError, ModelLoadError, UsageError
from engine.models.gguf_info import GGUFInfo, TensorInfo, read_gguf_info
from engine.models.hardware import format_bytes
from engine.models.plan import TORCH_ARCHITECTURES, TORCH_WEIGHT_FORMATS, requested_context
from engine.notices import Notice, NoticeCode
from engine.runtime.backends.base import (
    BackendLoadParams,
    LoadedModelFacts,
    RawGeneration,
    decode_loop,
    read_fim_tokens,
)
from engine.runtime.backends.dequant import dequantize
from engine.runtime.backends.llama_sampling import native_chain
from engine.types import SamplingParams, StopReason

log = logging.getLogger("engine.torch")

#: Weight formats (see engine.models.plan): "auto" is bf16 on CUDA (fp16 where bf16 is missing),
#: fp16 on MPS, fp32 on the CPU (measured in benchmarks/torch.md).
WEIGHT_FORMATS = TORCH_WEIGHT_FORMATS
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
#: Architectures whose rotary embedding pairs dimension i with i + n_rot/2 (ggml's NEOX
#: mode); the others pair neighbours (ggml's NORM mode, what llama's converter expects).
_NEOX_ROPE = frozenset({"qwen2"})


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ModelConfig:
    """The shape and constants of a Llama-family model, from its GGUF header.

    Attributes:
        architecture: "llama" or "qwen2".
        n_layer: transformer blocks.
        n_embd: hidden size.
        n_head: query heads.
        n_head_kv: key/value heads (grouped-query attention).
        head_dim: size of one head.
        n_ctx_train: context the model was trained for.
        rms_eps: RMSNorm epsilon.
        rope_base: RoPE frequency base.
        rope_dims: dimensions of each head that are rotated.
        rope_neox: NeoX pairing (i, i + rope_dims/2) instead of neighbours.
        rope_freq_scale: positions are multiplied by this (linear RoPE scaling).
    """

    architecture: str
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ctx_train: int
    rms_eps: float
    rope_base: float
    rope_dims: int
    rope_neox: bool
    rope_freq_scale: float


def model_config(info: GGUFInfo) -> ModelConfig:
    """Read a supported model's configuration from its header.

    Raises:
        ModelLoadError: the architecture or one of its settings is not supported.
    """
    arch = info.architecture
    if arch not in TORCH_ARCHITECTURES:
        raise ModelLoadError(
            f"The PyTorch backend does not support the {arch!r} architecture (it runs "
            f"{', '.join(TORCH_ARCHITECTURES)}); use the llama.cpp backend for this model."
        )
    meta = info.metadata

    def number(key: str, default: float) -> float:
        value = meta.get(f"{arch}.{key}", default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelLoadError(f"{arch}.{key} is {value!r}, not a number; the file is damaged.")
        return float(value)

    scaling = str(meta.get(f"{arch}.rope.scaling.type", "none"))
    factor = number("rope.scaling.factor", 1.0)
    if scaling not in ("none", "linear") and factor != 1.0:
        raise ModelLoadError(
            f"The PyTorch backend does not support {scaling} RoPE scaling; "
            "use the llama.cpp backend for this model."
        )
    head_dim = info.key_length
    if info.value_length != head_dim:
        raise ModelLoadError(
            f"Keys of {head_dim} and values of {info.value_length} dimensions are not "
            "supported by the PyTorch backend; use the llama.cpp backend for this model."
        )
    if info.head_count % info.head_count_kv:
        raise ModelLoadError(
            f"{info.head_count} query heads cannot share {info.head_count_kv} key/value heads."
        )
    rope_dims = int(number("rope.dimension_count", head_dim))
    if rope_dims <= 0 or rope_dims > head_dim or rope_dims % 2:
        raise ModelLoadError(f"{arch}.rope.dimension_count {rope_dims} does not fit the heads.")
    return ModelConfig(
        architecture=arch,
        n_layer=info.block_count,
        n_embd=info.embedding_length,
        n_head=info.head_count,
        n_head_kv=info.head_count_kv,
        head_dim=head_dim,
        n_ctx_train=info.context_length,
        rms_eps=number("attention.layer_norm_rms_epsilon", 1e-5),
        rope_base=number("rope.freq_base", 10000.0),
        rope_dims=rope_dims,
        rope_neox=arch in _NEOX_ROPE,
        rope_freq_scale=1.0 / factor if scaling == "linear" and factor > 0 else 1.0,
    )


# --------------------------------------------------------------------------- weights


#: Rows up to which the fused int8 matmul is used; a prompt's many rows go faster through
#: a dense matmul of the weight converted for the call (measured: 30x at 60 rows on a CPU).
_PACKED_MAX_ROWS = 8


@dataclass(eq=False)
class Linear:
    """A weight matrix ``[out, in]`` on the device, dense or int8 weight-only.

    Attributes:
        weight: the dense matrix in the compute dtype, or int8 codes.
        scale: for int8, one float scale per output channel (row); else None.
        bias: an optional bias (qwen2's attention), in float32.
        packed: use torch's fused int8 weight-only matmul (``_weight_int8pack_mm``).
    """

    weight: torch.Tensor
    scale: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    packed: bool = False

    def __call__(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``x @ weight.T (+ bias)`` computed in ``dtype``, returned in float32."""
        h = x.to(dtype)
        if self.scale is None:
            out = F.linear(h, self.weight)
        elif self.packed and h.numel() <= _PACKED_MAX_ROWS * h.shape[-1]:
            out = torch._weight_int8pack_mm(h.reshape(-1, h.shape[-1]), self.weight, self.scale)
            out = out.reshape(*h.shape[:-1], -1)
        else:
            out = F.linear(h, self.weight.to(dtype)) * self.scale
        out = out.float()
        return out + self.bias if self.bias is not None else out

    def rows(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows ``ids`` of the matrix in float32 (the token embedding lookup)."""
        rows = self.weight[ids].float()
        return rows * self.scale[ids, None].float() if self.scale is not None else rows

    @property
    def nbytes(self) -> int:
        """Bytes the weight, scale and bias take on the device."""
        return sum(
            t.numel() * t.element_size()
            for t in (self.weight, self.scale, self.bias)
            if t is not None
        )


@dataclass(eq=False)
class Block:
    """One transformer block's weights."""

    attn_norm: torch.Tensor
    wq: Linear
    wk: Linear
    wv: Linear
    wo: Linear
    ffn_norm: torch.Tensor
    gate: Linear
    up: Linear
    down: Linear


class _TensorReader:
    """Reads and dequantizes the tensors of one GGUF file, by name (loading thread)."""

    def __init__(self, path: str, info: GGUFInfo) -> None:
        self._info = info
        self._by_name = {t.name: t for t in info.tensors}
        self._fd = os.open(path, os.O_RDONLY)

    def close(self) -> None:
        os.close(self._fd)

    def has(self, name: str) -> bool:
        return name in self._by_name

    def tensor(self, name: str) -> TensorInfo:
        found = self._by_name.get(name)
        if found is None:
            raise ModelLoadError(
                f"The model file has no tensor {name!r}; it is not a complete "
                f"{self._info.architecture} model."
            )
        return found

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The tensor as float32, shaped ``shape`` (outermost first: ``[out, in]``)."""
        t = self.tensor(name)
        if tuple(reversed(t.shape)) != shape:
            raise ModelLoadError(
                f"Tensor {name!r} has shape {t.shape}, expected {tuple(reversed(shape))}; "
                "the file does not match its own header."
            )
        # The header reader checked that these bytes lie inside the file.
        data = os.pread(self._fd, t.nbytes, self._info.data_offset + t.offset)
        if len(data) != t.nbytes:
            raise ModelFileError(f"Tensor {name!r} is cut short; the file is damaged.")
        return dequantize(data, t.ggml_type, t.n_elements).reshape(shape)


def _int8_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 codes with one scale per row: ``w ≈ codes * scale[:, None]``."""
    scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
    codes = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return codes, scale


def _packed_int8_works(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether torch's fused int8 weight-only matmul runs, and agrees, on this device."""
    try:
        gen = torch.Generator().manual_seed(0)
        w = torch.randn(64, 128, generator=gen)
        x = torch.randn(3, 128, generator=gen)
        codes, scale = _int8_rows(w)
        got = torch._weight_int8pack_mm(
            x.to(device, dtype), codes.to(device), scale.to(device, dtype)
        ).float()
        want = F.linear(x, codes.float()) * scale
        return bool(torch.allclose(got.cpu(), want, rtol=5e-2, atol=5e-2))
    except (RuntimeError, NotImplementedError, AttributeError) as exc:
        log.info("int8 weight-only matmul is not available on %s: %s", device, exc)
        return False


# --------------------------------------------------------------------------- the model


class LlamaModel:
    """The Llama-family forward pass with a KV cache for one sequence.

    Thread: the worker's model thread (torch ops run in inference mode).
    """

    def __init__(
        self,
        config: ModelConfig,
        blocks: list[Block],
        embed: Linear,
        output_norm: torch.Tensor,
        output: Linear,
        *,
        n_ctx: int,
        dtype: torch.dtype,
        device: torch.device,
        rope_freq_factors: torch.Tensor | None = None,
    ) -> None:
        self.config = config
        self.blocks = blocks
        self.embed = embed
        self.output_norm = output_norm
        self.output = output
        self.n_ctx = n_ctx
        self.dtype = dtype
        self.device = device
        # Not every MPS attention kernel takes enable_gqa; repeating the key/value heads is
        # always correct, and costs little next to a GPU's matrix products.
        self._native_gqa = device.type != "mps"
        kv_shape = (config.n_layer, config.n_head_kv, n_ctx, config.head_dim)
        self.k_cache = torch.zeros(kv_shape, dtype=dtype, device=device)
        self.v_cache = torch.zeros(kv_shape, dtype=dtype, device=device)
        # RoPE angles, as ggml computes them: pos * freq_scale * base^(-2i/n_rot) / factor_i.
        half = torch.arange(0, config.rope_dims, 2, dtype=torch.float64) / config.rope_dims
        inv_freq = config.rope_base**-half
        if rope_freq_factors is not None:
            inv_freq = inv_freq / rope_freq_factors.double().cpu()
        pos = torch.arange(n_ctx, dtype=torch.float64) * config.rope_freq_scale
        angles = torch.outer(pos, inv_freq)
        self.cos = angles.cos().float().to(device)
        self.sin = angles.sin().float().to(device)

    @property
    def weight_bytes(self) -> int:
        """Bytes of every weight on the device (a tied output head counted once)."""
        linears = {id(self.embed): self.embed, id(self.output): self.output}
        norms = [self.output_norm]
        for b in self.blocks:
            for lin in (b.wq, b.wk, b.wv, b.wo, b.gate, b.up, b.down):
                linears[id(lin)] = lin
            norms += [b.attn_norm, b.ffn_norm]
        return sum(lin.nbytes for lin in linears.values()) + sum(
            n.numel() * n.element_size() for n in norms
        )

    @property
    def kv_bytes(self) -> int:
        """Bytes of the KV cache."""
        return 2 * self.k_cache.numel() * self.k_cache.element_size()

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.config.rms_eps) * weight

    def _rope(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Rotate the first ``rope_dims`` dimensions of each head; x is [T, heads, dim]."""
        r = self.config.rope_dims
        rot, rest = x[..., :r], x[..., r:]
        c, s = cos[:, None, :], sin[:, None, :]
        if self.config.rope_neox:
            x0, x1 = rot[..., : r // 2], rot[..., r // 2 :]
            out = torch.cat([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1)
        else:
            x0, x1 = rot[..., 0::2], rot[..., 1::2]
            out = torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1).flatten(-2)
        return torch.cat([out, rest], dim=-1) if rest.shape[-1] else out

    @torch.inference_mode()
    def forward(self, tokens: list[int], start: int, *, all_logits: bool = False) -> torch.Tensor:
        """Evaluate ``tokens`` at positions ``start..``, writing their keys and values.

        Args:
            tokens: token ids; ``start + len(tokens)`` must not exceed ``n_ctx``.
            start: position of the first token (the cache holds positions before it).
            all_logits: return every position's logits instead of the last one's.

        Returns:
            float32 logits, ``[len(tokens), vocab]`` or ``[vocab]``.
        """
        cfg, dtype = self.config, self.dtype
        n = len(tokens)
        end = start + n
        ids = torch.tensor(tokens, dtype=torch.long, device=self.device)
        x = self.embed.rows(ids)
        cos, sin = self.cos[start:end], self.sin[start:end]
        mask: torch.Tensor | None = None
        if n > 1 and start > 0:
            key_pos = torch.arange(end, device=self.device)
            mask = key_pos[None, :] <= (start + torch.arange(n, device=self.device))[:, None]
        causal = n > 1 and start == 0
        scale = 1.0 / math.sqrt(cfg.head_dim)
        repeat = cfg.n_head // cfg.n_head_kv
        for i, b in enumerate(self.blocks):
            h = self._norm(x, b.attn_norm)
            q = self._rope(b.wq(h, dtype).view(n, cfg.n_head, cfg.head_dim), cos, sin)
            k = self._rope(b.wk(h, dtype).view(n, cfg.n_head_kv, cfg.head_dim), cos, sin)
            v = b.wv(h, dtype).view(n, cfg.n_head_kv, cfg.head_dim)
            self.k_cache[i, :, start:end] = k.transpose(0, 1).to(dtype)
            self.v_cache[i, :, start:end] = v.transpose(0, 1).to(dtype)
            keys, values = self.k_cache[i, :, :end], self.v_cache[i, :, :end]
            if repeat > 1 and not self._native_gqa:
                keys = keys.repeat_interleave(repeat, dim=0)
                values = values.repeat_interleave(repeat, dim=0)
            attn = F.scaled_dot_product_attention(
                q.transpose(0, 1).to(dtype),
                keys,
                values,
                attn_mask=mask,
                is_causal=causal,
                scale=scale,
                enable_gqa=repeat > 1 and self._native_gqa,
            )
            x = x + b.wo(attn.transpose(0, 1).reshape(n, cfg.n_head * cfg.head_dim), dtype)
            h = self._norm(x, b.ffn_norm)
            x = x + b.down(F.silu(b.gate(h, dtype)) * b.up(h, dtype), dtype)
        if not all_logits:
            x = x[-1:]
        logits = self.output(self._norm(x, self.output_norm), dtype)
        return logits if all_logits else logits[0]


def load_model(
    path: str,
    info: GGUFInfo,
    *,
    n_ctx: int,
    device: torch.device,
    weights: str,
    cancel: threading.Event | None = None,
) -> LlamaModel:
    """Read a supported GGUF model's weights onto ``device``.

    Args:
        path: the GGUF file.
        info: its header, from :func:`engine.models.gguf_info.read_gguf_info`.
        n_ctx: KV cache size in tokens.
        device: where the weights and cache live.
        weights: one of :data:`WEIGHT_FORMATS`.
        cancel: checked between tensors.

    Raises:
        ModelLoadError: unsupported architecture or settings, missing tensors.
        ModelFileError: a tensor type the backend cannot read, or a damaged file.
        Cancelled: ``cancel`` was set.
    """
    if weights not in WEIGHT_FORMATS:
        raise ModelLoadError(
            f"Weight format {weights!r} is not one of {', '.join(WEIGHT_FORMATS)}."
        )
    cfg = model_config(info)
    dtype = compute_dtype(device, weights)
    int8 = weights == "int8"
    packed = int8 and _packed_int8_works(device, dtype)
    reader = _TensorReader(path, info)
    n_q, n_kv = cfg.n_head * cfg.head_dim, cfg.n_head_kv * cfg.head_dim

    def vector(name: str, size: int) -> torch.Tensor:
        return torch.from_numpy(reader.array(name, (size,))).to(device)

    def linear(name: str, out: int, inp: int) -> Linear:
        if cancel is not None and cancel.is_set():
            raise Cancelled("Loading was cancelled.")
        w = torch.from_numpy(reader.array(f"{name}.weight", (out, inp)))
        bias = vector(f"{name}.bias", out) if reader.has(f"{name}.bias") else None
        if not int8:
            return Linear(w.to(device=device, dtype=dtype), bias=bias)
        codes, scale = _int8_rows(w)
        return Linear(codes.to(device), scale.to(device, dtype), bias, packed)

    try:
        vocab_rows = reader.tensor("token_embd.weight").shape[1]
        n_ff = reader.tensor("blk.0.ffn_up.weight").shape[1]
        embed = linear("token_embd", vocab_rows, cfg.n_embd)
        blocks = [
            Block(
                attn_norm=vector(f"blk.{i}.attn_norm.weight", cfg.n_embd),
                wq=linear(f"blk.{i}.attn_q", n_q, cfg.n_embd),
                wk=linear(f"blk.{i}.attn_k", n_kv, cfg.n_embd),
                wv=linear(f"blk.{i}.attn_v", n_kv, cfg.n_embd),
                wo=linear(f"blk.{i}.attn_output", cfg.n_embd, n_q),
                ffn_norm=vector(f"blk.{i}.ffn_norm.weight", cfg.n_embd),
                gate=linear(f"blk.{i}.ffn_gate", n_ff, cfg.n_embd),
                up=linear(f"blk.{i}.ffn_up", n_ff, cfg.n_embd),
                down=linear(f"blk.{i}.ffn_down", cfg.n_embd, n_ff),
            )
            for i in range(cfg.n_layer)
        ]
        output_norm = vector("output_norm.weight", cfg.n_embd)
        if reader.has("output.weight"):
            output = linear("output", reader.tensor("output.weight").shape[1], cfg.n_embd)
        else:
            output = embed  # tied embeddings (SmolLM2, Qwen2.5 0.5B...)
        factors = None
        if reader.has("rope_freqs.weight"):  # Llama 3.1+ long-context frequency factors
            factors = vector("rope_freqs.weight", cfg.rope_dims // 2)
    finally:
        reader.close()
    return LlamaModel(
        cfg,
        blocks,
        embed,
        output_norm,
        output,
        n_ctx=n_ctx,
        dtype=dtype,
        device=device,
        rope_freq_factors=factors,
    )


def compute_dtype(device: torch.device, weights: str) -> torch.dtype:
    """The dtype matrix products run in for a weight format on a device.

    "auto" and "int8" mean bf16 on CUDA (fp16 where the GPU lacks bf16), fp16 on MPS and
    fp32 on the CPU, where bf16 matrix products are slower than fp32 ones on most
    processors (benchmarks/torch.md).
    """
    if weights in _DTYPES:
        return _DTYPES[weights]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def resolve_device(name: str) -> torch.device:
    """The torch device for a plan's device name, checked to work.

    Raises:
        ModelLoadError: this PyTorch build cannot use that device here.
    """
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError(
                "PyTorch cannot use CUDA here (no NVIDIA GPU or driver visible to this "
                f"PyTorch {torch.__version__} build)."
            )
        return torch.device("cuda")
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ModelLoadError("PyTorch cannot use the Apple GPU (MPS) here.")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise ModelLoadError(f"The PyTorch backend cannot run on {name!r}.")


# --------------------------------------------------------------------------- vocabulary


class LlamaVocab:
    """llama.cpp's tokenizer, special tokens, chat template and sampler chain for one file.

    The file is loaded with ``vocab_only=True``: no tensor is read, so this costs the
    tokenizer's memory only, and both backends tokenize and sample the same way.
    """

    def __init__(self, path: str) -> None:
        import llama_cpp

        from engine.runtime.backends.llamacpp import route_native_log

        route_native_log()
        self._lib: Any = llama_cpp
        llama_cpp.llama_backend_init()
        mparams = llama_cpp.llama_model_default_params()
        mparams.vocab_only = True
        self._model: Any = llama_cpp.llama_model_load_from_file(path.encode(), mparams)
        if not self._model:
            raise ModelLoadError(
                f"llama.cpp could not read the vocabulary of {os.path.basename(path)}; "
                "the file is damaged or its tokenizer is not supported."
            )
        self._vocab: Any = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._piece_buf = ctypes.create_string_buffer(256)
        # One candidates array, refilled for every token (llama_token_data: id, logit, p).
        self._candidates = np.zeros(
            self.n_vocab, dtype=np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
        )
        self._ids = np.arange(self.n_vocab, dtype=np.int32)
        self._data = ctypes.cast(
            self._candidates.ctypes.data, ctypes.POINTER(llama_cpp.llama_token_data)
        )
        self._array: Any = llama_cpp.llama_token_data_array(self._data, self.n_vocab, -1, False)

    def facts(self, n_ctx: int, n_ctx_train: int, n_gpu_layers: int) -> LoadedModelFacts:
        """What the worker needs to know about the tokenizer and template."""
        lib, vocab = self._lib, self._vocab
        template = lib.llama_model_chat_template(self._model, None)
        return LoadedModelFacts(
            n_ctx=n_ctx,
            n_ctx_train=n_ctx_train,
            n_gpu_layers=n_gpu_layers,
            bos_text=self._token_text(lib.llama_vocab_bos(vocab)),
            eos_text=self._token_text(lib.llama_vocab_eos(vocab)),
            add_bos=bool(lib.llama_vocab_get_add_bos(vocab)),
            chat_template=template.decode("utf-8", errors="replace") if template else None,
            fim=read_fim_tokens(lib, vocab),
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        text = self._lib.llama_vocab_get_text(self._vocab, token)
        return text.decode("utf-8", errors="replace") if text else ""

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        """Text to tokens, exactly as the llama.cpp backend does."""
        lib = self._lib
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (lib.llama_token * capacity)()
        n = lib.llama_tokenize(
            self._vocab, data, len(data), buf, capacity, add_special, parse_special
        )
        if n < 0:
            capacity = -n
            buf = (lib.llama_token * capacity)()
            n = lib.llama_tokenize(
                self._vocab, data, len(data), buf, capacity, add_special, parse_special
            )
        return list(buf[:n])

    def token_bytes(self, token: int, special: bool = False) -> bytes:
        """The bytes one token stands for (special tokens render as nothing unless
        ``special``)."""
        lib = self._lib
        n = lib.llama_token_to_piece(self._vocab, token, self._piece_buf, 256, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = lib.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
            return buf.raw[:n]
        return self._piece_buf.raw[:n]

    def is_eog(self, token: int) -> bool:
        """End of generation (EOS, EOT, ...)."""
        return bool(self._lib.llama_vocab_is_eog(self._vocab, token))

    def make_sampler(self, params: SamplingParams, history: list[int]) -> Any:
        """llama.cpp's native sampler chain, the one the llama.cpp backend uses."""
        return native_chain(self._lib, self.n_vocab, params, history)

    def sample(self, chain: Any, logits: torch.Tensor) -> int:
        """Pick a token from one position's logits with the chain, and accept it.

        This is what ``llama_sampler_sample`` does with a context's logits: apply the
        chain to every token's candidate, take the selected one, accept it.
        """
        lib = self._lib
        cand = self._candidates
        cand["id"] = self._ids
        cand["logit"] = logits[: self.n_vocab].cpu().numpy()
        cand["p"] = 0.0
        arr = self._array
        arr.data = self._data
        arr.size = self.n_vocab
        arr.selected = -1
        arr.sorted = False
        lib.llama_sampler_apply(chain, ctypes.byref(arr))
        if not 0 <= arr.selected < arr.size:
            raise EngineError("llama.cpp's sampler selected no token.")
        token = int(arr.data[arr.selected].id)
        lib.llama_sampler_accept(chain, token)
        return token

    def free_sampler(self, chain: Any) -> None:
        """Free a chain from :meth:`make_sampler`."""
        self._lib.llama_sampler_free(chain)

    def close(self) -> None:
        """Free the vocabulary-only model; idempotent."""
        if self._model:
            self._lib.llama_model_free(self._model)
        self._model = None
        self._vocab = None


# --------------------------------------------------------------------------- the backend


class TorchLlamaBackend:
    """The Backend protocol over :class:`LlamaModel` and :class:`LlamaVocab`.

    Decodes one sequence at a time: ``generate_many`` runs its prompts one after the
    other (``n_seq_max`` is 1). The KV cache is kept between requests, so a chat's next
    turn evaluates only its new tokens, as with llama.cpp.

    Thread: every method runs on the worker's model thread.
    """

    def __init__(self, device: str = "cpu", weights: str = "auto") -> None:
        """Prepare a backend.

        Args:
            device: "cuda", "mps" or "cpu" (the plan's device).
            weights: one of :data:`WEIGHT_FORMATS`; "int8" halves the memory of bf16.
        """
        self._device_name = device
        self._weights = weights
        self._model: LlamaModel | None = None
        self._vocab: LlamaVocab | None = None
        self._cached: list[int] = []
        self._n_batch = 512
        #: What the loaded weights and KV cache take, for the plan's reason.
        self.memory_notice: Notice | None = None

    # -- loading -----------------------------------------------------------------

    def load(self, params: BackendLoadParams) -> LoadedModelFacts:
        """Read the header, the vocabulary and the weights; allocate the KV cache.

        Raises:
            ModelLoadError: unsupported architecture, device or setting; not enough memory.
            ModelFileError: the file is damaged or holds a tensor type this backend
                cannot read.
        """
        self.close()
        device = resolve_device(self._device_name)
        info = read_gguf_info(params.path)
        config = model_config(info)
        n_ctx_train = config.n_ctx_train
        n_ctx = requested_context(n_ctx_train, requested=params.n_ctx)
        if device.type == "cpu" and params.n_threads > 0:
            torch.set_num_threads(params.n_threads)
        t0 = time.perf_counter()
        vocab = LlamaVocab(params.path)
        try:
            model = load_model(params.path, info, n_ctx=n_ctx, device=device, weights=self._weights)
        except (torch.cuda.OutOfMemoryError, MemoryError) as exc:
            vocab.close()
            raise ModelLoadError(
                f"Not enough {'GPU ' if device.type != 'cpu' else ''}memory for "
                f"{os.path.basename(params.path)} with a {n_ctx:,}-token context "
                f"({exc.__class__.__name__}); try int8 weights or a smaller context."
            ) from None
        except BaseException:
            vocab.close()
            raise
        if model.output.weight.shape[0] < vocab.n_vocab:
            vocab.close()
            raise ModelLoadError(
                f"The output layer has {model.output.weight.shape[0]} rows for "
                f"{vocab.n_vocab} tokens; the file is damaged."
            )
        self._model, self._vocab = model, vocab
        self._n_batch = max(1, min(params.n_batch, n_ctx))
        self._cached = []
        fmt = "int8" if self._weights == "int8" else str(model.dtype).removeprefix("torch.")
        self.memory_notice = Notice(
            NoticeCode.TORCH_MEMORY,
            {
                "weights": format_bytes(model.weight_bytes),
                "format": fmt,
                "kv": format_bytes(model.kv_bytes),
                "device": device.type,
            },
        )
        log.info(
            "Loaded %s with PyTorch in %.1f s: %s",
            os.path.basename(params.path),
            time.perf_counter() - t0,
            self.memory_text,
        )
        on_gpu = device.type != "cpu"
        return vocab.facts(n_ctx, n_ctx_train, config.n_layer + 1 if on_gpu else 0)

    @property
    def memory_text(self) -> str:
        """What the loaded weights and KV cache take, in English ("" before a load)."""
        return str(self.memory_notice) if self.memory_notice is not None else ""

    @property
    def memory_bytes(self) -> int:
        """Bytes of weights and KV cache on the device (0 before a load)."""
        if self._model is None:
            return 0
        return self._model.weight_bytes + self._model.kv_bytes

    def _require(self) -> tuple[LlamaModel, LlamaVocab]:
        if self._model is None or self._vocab is None:
            raise EngineError("No model is loaded.")
        return self._model, self._vocab

    # -- tokens ------------------------------------------------------------------

    def tokenize(
        self, text: str, *, add_special: bool = False, parse_special: bool = True
    ) -> list[int]:
        """Text to tokens with llama.cpp's tokenizer for this file."""
        return self._require()[1].tokenize(
            text, add_special=add_special, parse_special=parse_special
        )

    def detokenize(self, tokens: list[int]) -> str:
        """Tokens to text."""
        vocab = self._require()[1]
        return b"".join(vocab.token_bytes(t) for t in tokens).decode("utf-8", errors="replace")

    # -- generation --------------------------------------------------------------

    def logits(self, tokens: list[int]) -> torch.Tensor:
        """Teacher-forced next-token logits at every position of ``tokens`` (float32, CPU).

        Evaluates from an empty cache (the prefix cache is reset); for tests and checks.
        """
        model, _ = self._require()
        self._cached = []
        out = [
            model.forward(tokens[i : i + self._n_batch], i, all_logits=True).cpu()
            for i in range(0, len(tokens), self._n_batch)
        ]
        return torch.cat(out)

    def _evaluate(self, tokens: list[int], start: int, cancel: threading.Event) -> torch.Tensor:
        """Evaluate the prompt in batches, cancel checked between them; last logits."""
        model, _ = self._require()
        logits: torch.Tensor | None = None
        for offset in range(0, len(tokens), self._n_batch):
            if cancel.is_set():
                raise Cancelled("Generation was cancelled.")
            chunk = tokens[offset : offset + self._n_batch]
            logits = model.forward(chunk, start + offset)
            self._cached.extend(chunk)
        assert logits is not None
        return logits

    def _check_prompt(self, tokens: list[int]) -> None:
        model, _ = self._require()
        if not tokens:
            raise EngineError("The prompt is empty.")
        if len(tokens) >= model.n_ctx:
            raise EngineError(
                f"The prompt has {len(tokens):,} tokens; the context holds {model.n_ctx:,}."
            )

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
            UsageError: ``params`` carries a grammar (JSON mode), which this backend
                cannot follow.
            EngineError: the prompt is empty or does not fit the context.
        """
        _refuse_grammar(params)
        self._check_prompt(tokens)
        return self._run(tokens, params, cancel, on_text, time.perf_counter(), special=special)

    def _run(
        self,
        tokens: list[int],
        params: SamplingParams,
        cancel: threading.Event,
        on_text: Callable[[str], None],
        t_call: float,
        *,
        special: bool = False,
    ) -> RawGeneration:
        model, vocab = self._require()
        t0 = time.perf_counter()
        reused = _common_prefix(self._cached, tokens)
        if reused == len(tokens):
            reused -= 1  # the last prompt token must be evaluated again for its logits
        self._cached = self._cached[:reused]
        try:
            logits = self._evaluate(tokens[reused:], reused, cancel)
        except BaseException:
            self._cached = []  # a half-written cache is not trusted
            raise
        t_prompt = time.perf_counter()
        sampler = vocab.make_sampler(params, tokens)
        current = logits

        def advance(tok: int) -> StopReason | None:
            nonlocal current
            pos = len(self._cached)
            if pos >= model.n_ctx:
                return "context"
            current = model.forward([tok], pos)
            self._cached.append(tok)
            return None

        try:
            outcome = decode_loop(
                params,
                cancel,
                on_text,
                sample=lambda: vocab.sample(sampler, current),
                is_eog=vocab.is_eog,
                token_bytes=functools.partial(vocab.token_bytes, special=special),
                advance=advance,
            )
        finally:
            vocab.free_sampler(sampler)
        return outcome.raw(
            prompt_tokens=len(tokens),
            cached_tokens=reused,
            prompt_eval_s=t_prompt - t0,
            since=t_call,
        )

    @property
    def n_seq_max(self) -> int:
        """One: this backend decodes one sequence at a time."""
        return 1

    def generate_many(
        self,
        prompts: list[list[int]],
        params: SamplingParams,
        cancel: threading.Event,
        on_text: Callable[[int, str], None],
        on_done: Callable[[int, RawGeneration], None],
    ) -> list[RawGeneration]:
        """Continue every prompt, one after the other, each from an empty cache.

        Reports like the llama.cpp backend: ``ttft_s`` from the call, ``cached_tokens``
        0; after a cancel the running one ends "cancelled" with its text and the ones
        never started with "".

        Raises:
            UsageError: ``params`` carries a grammar (JSON mode).
            EngineError: a prompt is empty or longer than the context.
        """
        _refuse_grammar(params)
        for tokens in prompts:
            self._check_prompt(tokens)
        t_call = time.perf_counter()
        results: list[RawGeneration] = []
        for index, tokens in enumerate(prompts):
            raw: RawGeneration
            if cancel.is_set():
                raw = RawGeneration("", len(tokens), 0, 0, 0.0, 0.0, 0.0, "cancelled")
            else:
                self._cached = []
                t_start = time.perf_counter()
                try:
                    raw = self._run(
                        tokens, params, cancel, functools.partial(on_text, index), t_call
                    )
                except Cancelled:
                    waited = time.perf_counter() - t_start
                    raw = RawGeneration("", len(tokens), 0, 0, waited, 0.0, 0.0, "cancelled")
            results.append(raw)
            on_done(index, raw)
        self._cached = []
        return results

    def close(self) -> None:
        """Free the weights, cache and vocabulary; safe to call twice."""
        if self._vocab is not None:
            self._vocab.close()
        on_gpu = self._model is not None and self._model.device.type == "cuda"
        self._model = None
        self._vocab = None
        self._cached = []
        if on_gpu:
            torch.cuda.empty_cache()


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _refuse_grammar(params: SamplingParams) -> None:
    """Refuse a grammar: this backend samples in torch and has no grammar sampler."""
    if params.grammar:
        raise UsageError(
            "The PyTorch backend cannot hold an answer to a grammar (JSON mode). Load the "
            "model with the llama.cpp backend (--backend llamacpp) to use it."
        )
