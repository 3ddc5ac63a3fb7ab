"""Writes synthetic GGUF files for tests: valid ones, and the building blocks of broken ones.

Independent of ``engine.models.gguf_info`` on purpose (its own tables), so the reader is tested
against a second implementation of the format.

Typical use::

    write_gguf(path, {"general.architecture": "llama", "llama.block_count": 2, ...},
               [("token_embd.weight", F32, (64, 100))])

Metadata values are typed from the Python value (``bool`` → BOOL, ``int`` → UINT32 or
INT32, or UINT64/INT64 when too big, ``float`` → FLOAT32, ``str`` → STRING, ``list`` or
``tuple`` → ARRAY typed from its first element); wrap a value in :class:`Typed` to choose
the type. The ``pack_*`` functions build the pieces of a file for crafting broken ones.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# GGUF value types.
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL = range(8)
STRING, ARRAY, UINT64, INT64, FLOAT64 = range(8, 13)

_SCALAR = {
    UINT8: "B",
    INT8: "b",
    UINT16: "H",
    INT16: "h",
    UINT32: "I",
    INT32: "i",
    FLOAT32: "f",
    BOOL: "?",
    UINT64: "Q",
    INT64: "q",
    FLOAT64: "d",
}

# ggml tensor types used by tests, with (block size, bytes per block).
F32, F16, Q4_0, Q4_1, Q8_0, Q4_K, Q6_K, BF16 = 0, 1, 2, 3, 8, 12, 14, 30
GGML_BLOCKS = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    30: (1, 2),
}

Tensor = tuple[str, int, Sequence[int]]


@dataclass(frozen=True)
class Typed:
    """A metadata value with an explicit GGUF value type.

    For ARRAY, ``value`` is a sequence and ``element_type`` the elements' type (for
    nested arrays, the elements are themselves ``Typed`` ARRAY values).
    """

    value_type: int
    value: object
    element_type: int | None = None


def pack_string(s: str | bytes) -> bytes:
    """A GGUF string: uint64 length, then the UTF-8 bytes."""
    data = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(data)) + data


def pack_header(
    tensor_count: int, kv_count: int, version: int = 3, magic: bytes = b"GGUF"
) -> bytes:
    """The fixed 24-byte header."""
    return magic + struct.pack("<IQQ", version, tensor_count, kv_count)


def infer_type(value: object) -> Typed:
    """The Typed form of a plain Python value (see the module docstring)."""
    if isinstance(value, Typed):
        return value
    if isinstance(value, bool):
        return Typed(BOOL, value)
    if isinstance(value, int):
        if 0 <= value < 2**32:
            return Typed(UINT32, value)
        if -(2**31) <= value < 0:
            return Typed(INT32, value)
        return Typed(UINT64 if value > 0 else INT64, value)
    if isinstance(value, float):
        return Typed(FLOAT32, value)
    if isinstance(value, (str, bytes)):
        return Typed(STRING, value)
    if isinstance(value, (list, tuple)):
        if not value:
            return Typed(ARRAY, value, INT32)
        first = infer_type(value[0])
        return Typed(ARRAY, value, first.value_type)
    raise TypeError(f"cannot store {value!r} in GGUF metadata")


def pack_value(value_type: int, value: object, element_type: int | None = None) -> bytes:
    """A value without its type tag (the tag is written by :func:`pack_kv`)."""
    if value_type in _SCALAR:
        return struct.pack("<" + _SCALAR[value_type], value)
    if value_type == STRING:
        assert isinstance(value, (str, bytes))
        return pack_string(value)
    if value_type == ARRAY:
        assert isinstance(value, (list, tuple))
        if element_type is None:
            element_type = infer_type(value).element_type
        assert element_type is not None
        parts = [struct.pack("<IQ", element_type, len(value))]
        for item in value:
            if isinstance(item, Typed):
                parts.append(pack_value(item.value_type, item.value, item.element_type))
            else:
                parts.append(pack_value(element_type, item))
        return b"".join(parts)
    raise ValueError(f"unknown value type {value_type}")


def pack_kv(key: str | bytes, value: object) -> bytes:
    """One key-value pair: key, uint32 value type, value."""
    typed = infer_type(value)
    return (
        pack_string(key)
        + struct.pack("<I", typed.value_type)
        + pack_value(typed.value_type, typed.value, typed.element_type)
    )


def pack_tensor_info(name: str | bytes, ggml_type: int, shape: Sequence[int], offset: int) -> bytes:
    """One tensor info: name, uint32 n_dims, uint64 dims, uint32 type, uint64 offset."""
    return (
        pack_string(name)
        + struct.pack(f"<I{len(shape)}Q", len(shape), *shape)
        + struct.pack("<IQ", ggml_type, offset)
    )


def tensor_nbytes(ggml_type: int, shape: Sequence[int]) -> int:
    """Bytes of a tensor of one of the types in GGML_BLOCKS."""
    block, size = GGML_BLOCKS[ggml_type]
    n = 1
    for d in shape:
        n *= d
    return n // block * size


def align(n: int, alignment: int) -> int:
    """n rounded up to a multiple of alignment."""
    return (n + alignment - 1) // alignment * alignment


def build_header(
    metadata: Mapping[str, object],
    tensors: Iterable[Tensor],
    version: int = 3,
) -> tuple[bytes, int, int]:
    """Header, KV pairs and tensor infos, unpadded.

    Returns:
        (bytes, data_offset, data_size): where the tensor data must start and how
        long it is (tensors laid out in order, each at an aligned offset).
    """
    alignment = metadata.get("general.alignment", 32)
    if isinstance(alignment, Typed):
        alignment = alignment.value
    if not isinstance(alignment, int) or alignment <= 0:
        alignment = 32  # a bogus value being tested: lay out as the default would
    tensor_list = list(tensors)
    parts = [pack_header(len(tensor_list), len(metadata), version)]
    parts += [pack_kv(k, v) for k, v in metadata.items()]
    offset = 0
    for name, ggml_type, shape in tensor_list:
        parts.append(pack_tensor_info(name, ggml_type, shape, offset))
        offset = align(offset + tensor_nbytes(ggml_type, shape), alignment)
    header = b"".join(parts)
    return header, align(len(header), alignment), offset


def build_gguf(
    metadata: Mapping[str, object], tensors: Iterable[Tensor] = (), version: int = 3
) -> bytes:
    """A whole valid GGUF file in memory, with zero-filled tensor data."""
    header, data_offset, data_size = build_header(metadata, tensors, version)
    return header + bytes(data_offset - len(header) + data_size)


def write_gguf(
    path: str | Path,
    metadata: Mapping[str, object],
    tensors: Iterable[Tensor] = (),
    version: int = 3,
) -> Path:
    """Write a valid GGUF file with zero-filled (sparse where possible) tensor data.

    Args:
        path: where to write it.
        metadata: key → value, typed as the module docstring says.
        tensors: (name, ggml type, shape) in file order; shape innermost first.
        version: the GGUF version to write.

    Returns:
        the path.
    """
    header, data_offset, data_size = build_header(metadata, tensors, version)
    path = Path(path)
    with path.open("wb") as f:
        f.write(header)
        f.truncate(data_offset + data_size)
    return path


def llama_metadata(
    block_count: int = 2,
    embedding_length: int = 64,
    head_count: int = 4,
    head_count_kv: int = 2,
    arch: str = "llama",
    **extra: object,
) -> dict[str, object]:
    """Metadata of a tiny llama-like model (extra keys are added as given)."""
    meta: dict[str, object] = {
        "general.architecture": arch,
        "general.name": "tiny test model",
        f"{arch}.block_count": block_count,
        f"{arch}.context_length": 256,
        f"{arch}.embedding_length": embedding_length,
        f"{arch}.feed_forward_length": 4 * embedding_length,
        f"{arch}.attention.head_count": head_count,
        f"{arch}.attention.head_count_kv": head_count_kv,
        "general.file_type": 1,
        "tokenizer.ggml.tokens": [f"t{i}" for i in range(100)],
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.chat_template": "{{ messages }}",
    }
    meta.update(extra)
    return meta


def llama_tensors(
    block_count: int = 2, embedding_length: int = 64, vocab: int = 100, ggml_type: int = F16
) -> list[Tensor]:
    """Tensors of a tiny llama-like model: embeddings, per-layer weights, output."""
    e = embedding_length
    tensors: list[Tensor] = [("token_embd.weight", ggml_type, (e, vocab))]
    for i in range(block_count):
        tensors += [
            (f"blk.{i}.attn_norm.weight", F32, (e,)),
            (f"blk.{i}.attn_q.weight", ggml_type, (e, e)),
            (f"blk.{i}.attn_k.weight", ggml_type, (e, e // 2)),
            (f"blk.{i}.attn_v.weight", ggml_type, (e, e // 2)),
            (f"blk.{i}.attn_output.weight", ggml_type, (e, e)),
            (f"blk.{i}.ffn_up.weight", ggml_type, (e, 4 * e)),
        ]
    tensors += [("output_norm.weight", F32, (e,)), ("output.weight", ggml_type, (e, vocab))]
    return tensors


def tiny_llama_gguf(
    block_count: int = 2, embedding_length: int = 64, extra: Mapping[str, object] | None = None
) -> bytes:
    """A small, valid llama-like GGUF file (a few tens of KiB) in memory.

    ``extra`` keys are added to (or replace) :func:`llama_metadata`'s.
    """
    meta = llama_metadata(block_count, embedding_length)
    meta.update(extra or {})
    return build_gguf(meta, llama_tensors(block_count, embedding_length))


def with_string_metadata(source: Path, target: Path, key: str, value: str) -> Path:
    """Copy a real GGUF file with one existing string value replaced (e.g. its chat template).

    Tensor offsets are relative to the data section, so only the header is rewritten
    and the data is copied after it, re-aligned.
    """
    import engine.models.gguf_info as gi

    data = source.read_bytes()
    info = gi.read_gguf_info(source)
    needle = pack_string(key) + struct.pack("<I", STRING)
    at = data.index(needle) + len(needle)
    (old_len,) = struct.unpack_from("<Q", data, at)
    header = data[:at] + pack_string(value) + data[at + 8 + old_len : info.header_size]
    padded = header + b"\0" * (align(len(header), info.alignment) - len(header))
    target.write_bytes(padded + data[info.data_offset :])
    return target


#: A reasoning model's chat template, like Qwen3's: it opens the thinking block itself
#: unless ``enable_thinking`` is false, and then writes an empty block.
THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)


def thinking_model(source: Path, target: Path) -> Path:
    """A copy of a real chat model with :data:`THINKING_TEMPLATE` as its chat template.

    The 135M test model never closes the block the template opens, so with thinking on
    everything it writes is thinking.
    """
    return with_string_metadata(source, target, "tokenizer.chat_template", THINKING_TEMPLATE)
