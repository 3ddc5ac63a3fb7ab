"""engine.runtime.backends.dequant against a reference we did not write: gguf's ``quants``.

Real tensors come from the two test models (Q8_0, Q4_1 in SmolLM2; Q4_K, Q5_0, Q6_K,
Q8_0 in Gemma 3), located with our own header reader; the other types are made with
the gguf package's quantizer or are random blocks with sane float16 scales (any bit
pattern is a valid K-quant block once its scales are finite).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelFileError
from engine.models.gguf_info import GGML_TYPES, read_gguf_info
from engine.runtime.backends.dequant import SUPPORTED_TYPES, dequantize

gguf_quants = pytest.importorskip("gguf.quants", reason="pip install gguf (the reference)")
from gguf.constants import GGMLQuantizationType  # noqa: E402


def _reference(raw: np.ndarray, ggml_type: int) -> np.ndarray:
    return np.asarray(
        gguf_quants.dequantize(raw, GGMLQuantizationType(ggml_type)), dtype=np.float32
    ).reshape(-1)


def _random_blocks(ggml_type: int, n_blocks: int, scale_offsets: tuple[int, ...]) -> np.ndarray:
    """Random blocks whose float16 scales (at the given byte offsets) are finite and small."""
    t = GGML_TYPES[ggml_type]
    rng = np.random.default_rng(ggml_type)
    blocks = rng.integers(0, 256, size=(n_blocks, t.type_size), dtype=np.uint8)
    for at in scale_offsets:
        scales = (rng.standard_normal(n_blocks) * 0.01).astype("<f2")
        blocks[:, at : at + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(-1)


def _tensor_bytes(path: Path, type_name: str, limit: int = 1 << 20) -> tuple[np.ndarray, int, int]:
    """The first tensor of a type in a real model file: (bytes, ggml type, elements)."""
    info = read_gguf_info(path)
    tensor = next(t for t in info.tensors if t.type_name == type_name)
    t = GGML_TYPES[tensor.ggml_type]
    n_blocks = min(tensor.nbytes, limit) // t.type_size
    with path.open("rb") as f:
        data = os.pread(f.fileno(), n_blocks * t.type_size, info.data_offset + tensor.offset)
    return np.frombuffer(data, dtype=np.uint8), tensor.ggml_type, n_blocks * t.block_size


@pytest.mark.parametrize("type_name", ["Q8_0", "Q4_1"])
def test_real_smollm2_tensors_match_the_reference(smollm2: Path, type_name: str) -> None:
    raw, ggml_type, n = _tensor_bytes(smollm2, type_name)
    ours = dequantize(raw, ggml_type, n)
    assert ours.dtype == np.float32 and ours.shape == (n,)
    np.testing.assert_array_equal(ours, _reference(raw, ggml_type))
    assert np.abs(ours).max() > 0  # real weights, not a block of zeros


@pytest.mark.parametrize("type_name", ["Q4_K", "Q5_0", "Q6_K", "Q8_0"])
def test_real_gemma_tensors_match_the_reference(gemma: Path, type_name: str) -> None:
    raw, ggml_type, n = _tensor_bytes(gemma, type_name)
    np.testing.assert_allclose(
        dequantize(raw, ggml_type, n), _reference(raw, ggml_type), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize(
    ("type_name", "scales"),
    [
        ("Q4_0", (0,)),
        ("Q4_1", (0, 2)),
        ("Q5_0", (0,)),
        ("Q5_1", (0, 2)),
        ("Q8_0", (0,)),
        ("Q4_K", (0, 2)),
        ("Q5_K", (0, 2)),
        ("Q6_K", (208,)),
    ],
)
def test_random_blocks_match_the_reference(type_name: str, scales: tuple[int, ...]) -> None:
    ggml_type = next(i for i, t in GGML_TYPES.items() if t.name == type_name)
    raw = _random_blocks(ggml_type, 64, scales)
    n = 64 * GGML_TYPES[ggml_type].block_size
    np.testing.assert_allclose(
        dequantize(raw, ggml_type, n), _reference(raw, ggml_type), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("type_name", ["Q4_0", "Q8_0", "Q5_0"])
def test_quantized_weights_round_trip_close_to_the_original(type_name: str) -> None:
    ggml_type = next(i for i, t in GGML_TYPES.items() if t.name == type_name)
    weights = np.random.default_rng(1).standard_normal((16, 256)).astype(np.float32)
    raw = np.asarray(gguf_quants.quantize(weights, GGMLQuantizationType(ggml_type))).reshape(-1)
    ours = dequantize(raw, ggml_type, weights.size)
    np.testing.assert_array_equal(ours, _reference(raw, ggml_type))
    # 4-bit codes are coarse; what matters is that the values are the weights' own.
    assert np.corrcoef(ours, weights.reshape(-1))[0, 1] > 0.95


def test_float_types_match_the_reference() -> None:
    values = np.random.default_rng(2).standard_normal(1024).astype(np.float32)
    np.testing.assert_array_equal(dequantize(values.view(np.uint8), 0, 1024), values)
    half = values.astype(np.float16)
    np.testing.assert_array_equal(dequantize(half.view(np.uint8), 1, 1024), half.astype(np.float32))
    bf16 = np.asarray(gguf_quants.quantize(values, GGMLQuantizationType.BF16)).view(np.uint8)
    np.testing.assert_array_equal(dequantize(bf16, 30, 1024), _reference(bf16, 30))
    np.testing.assert_allclose(dequantize(bf16, 30, 1024), values, rtol=1e-2)


def test_every_type_the_torch_backend_promises_is_supported() -> None:
    names = {GGML_TYPES[t].name for t in SUPPORTED_TYPES}
    assert {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"} <= names


def test_unsupported_types_and_wrong_sizes_are_refused_with_a_reason() -> None:
    iq2 = next(i for i, t in GGML_TYPES.items() if t.name == "IQ2_XXS")
    with pytest.raises(ModelFileError, match=r"IQ2_XXS.*llama\.cpp"):
        dequantize(bytes(66), iq2, 256)
    with pytest.raises(ModelFileError, match="damaged"):
        dequantize(bytes(33), 8, 32)  # one byte short of a Q8_0 block
