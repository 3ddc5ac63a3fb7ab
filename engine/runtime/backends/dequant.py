"""Vectorized dequantization of GGUF tensor data (ggml block formats) into float32 arrays.

Each function takes the raw bytes of one tensor, as located by our bounded header
reader (:mod:`engine.models.gguf_info`), and returns a flat ``float32`` array in ggml's
element order. The block layouts follow ggml's reference ``dequantize_row_*``
functions (ggml-quants.c); ``tests/engine/runtime/test_dequant.py`` checks each one against
the ``gguf`` package's own implementation. numpy only: no torch import here, so the
module is cheap to import and test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from engine.errors import ModelFileError
from engine.models.gguf_info import GGML_TYPES

__all__ = ["SUPPORTED_TYPES", "dequantize", "tensor_type_name"]

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

#: Elements per super-block of the K-quants.
QK_K = 256


def _f16(blocks: U8, start: int) -> F32:
    """The little-endian float16 at byte ``start`` of every block, as float32 (n, 1)."""
    return blocks[:, start : start + 2].copy().view("<f2").astype(np.float32)


def _float32(data: U8) -> F32:
    return data.view("<f4").astype(np.float32, copy=True)


def _float16(data: U8) -> F32:
    return data.view("<f2").astype(np.float32)


def _bfloat16(data: U8) -> F32:
    # bf16 is the upper half of a float32: shift it back into place.
    return (data.view("<u2").astype(np.uint32) << 16).view(np.float32)


def _q8_0(blocks: U8) -> F32:
    d = _f16(blocks, 0)
    q = blocks[:, 2:34].view(np.int8).astype(np.float32)
    return (d * q).reshape(-1)


def _nibbles(qs: U8) -> U8:
    """16 bytes per block -> 32 values: the low nibbles first, then the high ones."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1)


def _q4_0(blocks: U8) -> F32:
    d = _f16(blocks, 0)
    q = _nibbles(blocks[:, 2:18]).astype(np.float32) - 8.0
    return (d * q).reshape(-1)


def _q4_1(blocks: U8) -> F32:
    d = _f16(blocks, 0)
    m = _f16(blocks, 2)
    q = _nibbles(blocks[:, 4:20]).astype(np.float32)
    return (d * q + m).reshape(-1)


def _fifth_bits(qh_bytes: U8) -> U8:
    """The 32 high bits of a Q5_0/Q5_1 block (bit j belongs to element j), as 0 or 16."""
    qh = qh_bytes.copy().view("<u4")  # (n, 1)
    bits = (qh >> np.arange(32, dtype=np.uint32)) & 1
    return (bits.astype(np.uint8) << 4).astype(np.uint8)


def _q5_0(blocks: U8) -> F32:
    d = _f16(blocks, 0)
    q = (_nibbles(blocks[:, 6:22]) | _fifth_bits(blocks[:, 2:6])).astype(np.float32) - 16.0
    return (d * q).reshape(-1)


def _q5_1(blocks: U8) -> F32:
    d = _f16(blocks, 0)
    m = _f16(blocks, 2)
    q = (_nibbles(blocks[:, 8:24]) | _fifth_bits(blocks[:, 4:8])).astype(np.float32)
    return (d * q + m).reshape(-1)


def _k_scales(scales: U8) -> tuple[F32, F32]:
    """The eight 6-bit scales and mins of a Q4_K/Q5_K block (ggml's get_scale_min_k4)."""
    s = scales.astype(np.uint8)
    sc = np.empty((s.shape[0], 8), dtype=np.uint8)
    mn = np.empty((s.shape[0], 8), dtype=np.uint8)
    sc[:, :4] = s[:, 0:4] & 63
    mn[:, :4] = s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 0x0F) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc.astype(np.float32), mn.astype(np.float32)


def _q4_k(blocks: U8) -> F32:
    n = blocks.shape[0]
    d = _f16(blocks, 0)
    dmin = _f16(blocks, 2)
    sc, mn = _k_scales(blocks[:, 4:16])
    qs = blocks[:, 16:144].reshape(n, 4, 32)
    # Each 64-element chunk j: the low nibbles of its 32 bytes, then the high nibbles.
    q = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(n, 8, 32).astype(np.float32)
    y = (d * sc)[:, :, None] * q - (dmin * mn)[:, :, None]
    return y.reshape(-1)


def _q5_k(blocks: U8) -> F32:
    n = blocks.shape[0]
    d = _f16(blocks, 0)
    dmin = _f16(blocks, 2)
    sc, mn = _k_scales(blocks[:, 4:16])
    qh = blocks[:, 16:48]  # (n, 32): bit 2j of byte l -> chunk j's low half, 2j+1 -> high
    qs = blocks[:, 48:176].reshape(n, 4, 32)
    low = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(n, 8, 32)
    high = (qh[:, None, :] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1
    q = (low | (high << 4)).astype(np.float32)
    y = (d * sc)[:, :, None] * q - (dmin * mn)[:, :, None]
    return y.reshape(-1)


def _q6_k(blocks: U8) -> F32:
    n = blocks.shape[0]
    ql = blocks[:, 0:128].reshape(n, 2, 64)  # two halves of 128 elements
    qh = blocks[:, 128:192].reshape(n, 2, 32)
    sc = blocks[:, 192:208].view(np.int8).astype(np.float32).reshape(n, 2, 8)
    d = _f16(blocks, 208)
    lo, hi = ql[:, :, :32], ql[:, :, 32:]
    q = np.stack(
        [
            (lo & 0x0F) | (((qh >> 0) & 3) << 4),
            (hi & 0x0F) | (((qh >> 2) & 3) << 4),
            (lo >> 4) | (((qh >> 4) & 3) << 4),
            (hi >> 4) | (((qh >> 6) & 3) << 4),
        ],
        axis=2,
    )  # (n, 2 halves, 4 quarters, 32)
    q = q.astype(np.float32) - 32.0
    # 16 scales per block, one per 16 elements: half h, quarter k, element l -> 8h + 2k + l//16.
    scales = sc.reshape(n, 2, 4, 2)[:, :, :, :, None]
    y = d[:, :, None, None, None] * scales * q.reshape(n, 2, 4, 2, 16)
    return y.reshape(-1)


_PLAIN: dict[int, Callable[[U8], F32]] = {0: _float32, 1: _float16, 30: _bfloat16}
_BLOCKED: dict[int, Callable[[U8], F32]] = {
    2: _q4_0,
    3: _q4_1,
    6: _q5_0,
    7: _q5_1,
    8: _q8_0,
    12: _q4_k,
    13: _q5_k,
    14: _q6_k,
}

#: ggml type ids this module can dequantize.
SUPPORTED_TYPES: frozenset[int] = frozenset(_PLAIN) | frozenset(_BLOCKED)


def tensor_type_name(ggml_type: int) -> str:
    """The ggml name of a type id ("Q4_K"), or "type N" for an unknown one."""
    t = GGML_TYPES.get(ggml_type)
    return t.name if t is not None else f"type {ggml_type}"


def dequantize(data: bytes | bytearray | memoryview | U8, ggml_type: int, n_elements: int) -> F32:
    """Dequantize one tensor's data to a flat float32 array.

    Args:
        data: exactly the tensor's bytes (``TensorInfo.nbytes`` of them).
        ggml_type: its ``ggml_type`` id; see :data:`SUPPORTED_TYPES`.
        n_elements: the number of elements (product of its shape).

    Returns:
        ``n_elements`` float32 values in ggml's order (innermost dimension first).

    Raises:
        ModelFileError: the type is not supported, or the byte count does not match.
    """
    raw = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    t = GGML_TYPES.get(ggml_type)
    convert_plain = _PLAIN.get(ggml_type)
    convert_blocks = _BLOCKED.get(ggml_type)
    if t is None or (convert_plain is None and convert_blocks is None):
        raise ModelFileError(
            f"Tensors of type {tensor_type_name(ggml_type)} cannot be read by the PyTorch "
            "backend; use llama.cpp for this model."
        )
    if n_elements % t.block_size or raw.size != n_elements // t.block_size * t.type_size:
        raise ModelFileError(
            f"A {t.name} tensor of {n_elements} elements cannot be {raw.size} bytes long; "
            "the file is damaged."
        )
    if convert_plain is not None:
        return convert_plain(raw)
    assert convert_blocks is not None
    return convert_blocks(raw.reshape(-1, t.type_size))
