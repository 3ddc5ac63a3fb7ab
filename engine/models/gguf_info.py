"""Hearth's own bounded reader of GGUF headers: metadata, tensor layout and memory estimates."""

from __future__ import annotations

import mmap
import os
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Final

from engine.errors import ModelFileError

__all__ = [
    "FILE_TYPE_NAMES",
    "GGML_TYPES",
    "ArraySummary",
    "GGMLType",
    "GGUFHeaderIncomplete",
    "GGUFInfo",
    "MemoryEstimate",
    "StringSummary",
    "TensorInfo",
    "ggml_nbytes",
    "parse_gguf",
    "read_gguf_info",
]

GGUF_MAGIC: Final = b"GGUF"
SUPPORTED_VERSIONS: Final = (2, 3)
DEFAULT_ALIGNMENT: Final = 32
GGML_MAX_DIMS: Final = 4
#: llama.cpp refuses tensor names of GGML_MAX_NAME (64) bytes or more.
GGML_MAX_NAME: Final = 64
MAX_KEY_LENGTH: Final = 65536
#: Nesting allowed for ARRAY values: an array may hold arrays, which may not hold arrays.
MAX_ARRAY_DEPTH: Final = 2
#: Arrays with at most this many elements are kept in ``GGUFInfo.metadata``.
SMALL_ARRAY_LIMIT: Final = 64
#: Per-layer integer arrays (head counts, ...) are kept up to this many elements.
PER_LAYER_ARRAY_LIMIT: Final = 65536
#: No real vocabulary comes near this; it bounds the work a crafted array can cause.
MAX_ARRAY_LENGTH: Final = 1 << 24
#: Strings longer than this are summarized instead of decoded; a chat template this
#: long is refused.
MAX_STRING_VALUE: Final = 1 << 20
INT64_MAX: Final = (1 << 63) - 1
#: Real models have a few hundred layers at most.
MAX_BLOCK_COUNT: Final = 65536

# Value types of the GGUF key-value section.
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL = range(8)
T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(8, 13)

VALUE_TYPE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        T_UINT8: "UINT8",
        T_INT8: "INT8",
        T_UINT16: "UINT16",
        T_INT16: "INT16",
        T_UINT32: "UINT32",
        T_INT32: "INT32",
        T_FLOAT32: "FLOAT32",
        T_BOOL: "BOOL",
        T_STRING: "STRING",
        T_ARRAY: "ARRAY",
        T_UINT64: "UINT64",
        T_INT64: "INT64",
        T_FLOAT64: "FLOAT64",
    }
)

#: struct format character and size of each fixed-size value type.
_SCALAR_FORMATS: Final[Mapping[int, tuple[str, int]]] = MappingProxyType(
    {
        T_UINT8: ("B", 1),
        T_INT8: ("b", 1),
        T_UINT16: ("H", 2),
        T_INT16: ("h", 2),
        T_UINT32: ("I", 4),
        T_INT32: ("i", 4),
        T_FLOAT32: ("f", 4),
        T_BOOL: ("B", 1),
        T_UINT64: ("Q", 8),
        T_INT64: ("q", 8),
        T_FLOAT64: ("d", 8),
    }
)
_INT_TYPES: Final = frozenset({T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32})
_INT_TYPES_ALL: Final = _INT_TYPES | {T_UINT64, T_INT64}

#: Smallest encoding of each value type (a string is at least its 8-byte length,
#: an array at least its element type and count).
_MIN_VALUE_SIZE: Final[Mapping[int, int]] = MappingProxyType(
    {**{t: size for t, (_, size) in _SCALAR_FORMATS.items()}, T_STRING: 8, T_ARRAY: 12}
)
_MIN_KV_SIZE: Final = 8 + 4 + 1  # key length, value type, smallest value
_MIN_TENSOR_INFO_SIZE: Final = 8 + 4 + 4 + 8  # name length, n_dims, type, offset


@dataclass(frozen=True)
class GGMLType:
    """A ggml tensor type: its id, name and block layout.

    Attributes:
        type_id: the ``ggml_type`` enum value stored in the file.
        name: the ggml name, e.g. ``"Q4_K"``.
        block_size: elements per block.
        type_size: bytes per block.
    """

    type_id: int
    name: str
    block_size: int
    type_size: int


GGML_TYPES: Final[Mapping[int, GGMLType]] = MappingProxyType(
    {
        t[0]: GGMLType(*t)
        for t in (
            (0, "F32", 1, 4),
            (1, "F16", 1, 2),
            (2, "Q4_0", 32, 18),
            (3, "Q4_1", 32, 20),
            (6, "Q5_0", 32, 22),
            (7, "Q5_1", 32, 24),
            (8, "Q8_0", 32, 34),
            (9, "Q8_1", 32, 36),
            (10, "Q2_K", 256, 84),
            (11, "Q3_K", 256, 110),
            (12, "Q4_K", 256, 144),
            (13, "Q5_K", 256, 176),
            (14, "Q6_K", 256, 210),
            (15, "Q8_K", 256, 292),
            (16, "IQ2_XXS", 256, 66),
            (17, "IQ2_XS", 256, 74),
            (18, "IQ3_XXS", 256, 98),
            (19, "IQ1_S", 256, 50),
            (20, "IQ4_NL", 32, 18),
            (21, "IQ3_S", 256, 110),
            (22, "IQ2_S", 256, 82),
            (23, "IQ4_XS", 256, 136),
            (24, "I8", 1, 1),
            (25, "I16", 1, 2),
            (26, "I32", 1, 4),
            (27, "I64", 1, 8),
            (28, "F64", 1, 8),
            (29, "IQ1_M", 256, 56),
            (30, "BF16", 1, 2),
            (34, "TQ1_0", 256, 54),
            (35, "TQ2_0", 256, 66),
            (39, "MXFP4", 32, 17),
        )
    }
)

#: llama.cpp's ``LLAMA_FTYPE_MOSTLY_*`` names, by ``general.file_type`` value.
FILE_TYPE_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "F32",
        1: "F16",
        2: "Q4_0",
        3: "Q4_1",
        7: "Q8_0",
        8: "Q5_0",
        9: "Q5_1",
        10: "Q2_K",
        11: "Q3_K_S",
        12: "Q3_K_M",
        13: "Q3_K_L",
        14: "Q4_K_S",
        15: "Q4_K_M",
        16: "Q5_K_S",
        17: "Q5_K_M",
        18: "Q6_K",
        19: "IQ2_XXS",
        20: "IQ2_XS",
        21: "Q2_K_S",
        22: "IQ3_XS",
        23: "IQ3_XXS",
        24: "IQ1_S",
        25: "IQ4_NL",
        26: "IQ3_S",
        27: "IQ3_M",
        28: "IQ2_S",
        29: "IQ2_M",
        30: "IQ4_XS",
        31: "IQ1_M",
        32: "BF16",
        36: "TQ1_0",
        37: "TQ2_0",
        38: "MXFP4",
    }
)
#: llama.cpp ORs this into ``general.file_type`` when it guessed the type.
_FTYPE_GUESSED: Final = 1024

#: Keys whose value may be a per-layer integer array (kept whole, up to
#: PER_LAYER_ARRAY_LIMIT elements, so the maximum can be taken).
_PER_LAYER_SUFFIXES: Final = (
    ".attention.head_count",
    ".attention.head_count_kv",
    ".feed_forward_length",
)


class GGUFHeaderIncomplete(ModelFileError):
    """The bytes given end inside the GGUF header, but the file is longer.

    Raised by :func:`parse_gguf` on a prefix of a file (for example the first
    megabytes of a download); fetch ``needed`` bytes from the start and try again.

    Attributes:
        needed: a prefix length that will probably suffice. It is never less than
            the bytes the parser knows it needs, never more than the file size, and at
            least twice the bytes given, so a caller that keeps fetching ``needed``
            bytes finishes in a few rounds.
    """

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = needed


@dataclass(frozen=True)
class ArraySummary:
    """Stands in, in ``GGUFInfo.metadata``, for an array too long to keep.

    Attributes:
        element_type: the GGUF value type of the elements.
        element_type_name: its name, e.g. ``"STRING"``.
        length: the number of elements.
    """

    element_type: int
    element_type_name: str
    length: int


@dataclass(frozen=True)
class StringSummary:
    """Stands in, in ``GGUFInfo.metadata``, for a string longer than 1 MiB.

    Attributes:
        length: its length in bytes.
    """

    length: int


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a GGUF file.

    Attributes:
        name: e.g. ``"blk.0.attn_q.weight"``.
        ggml_type: the ``ggml_type`` id.
        type_name: its name, e.g. ``"Q4_K"``.
        shape: dimensions as stored, innermost first (``ne[0]``, ``ne[1]``, ...).
        offset: byte offset of its data from ``GGUFInfo.data_offset``.
        nbytes: bytes of data.
    """

    name: str
    ggml_type: int
    type_name: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int

    @property
    def n_elements(self) -> int:
        """The number of elements (product of the shape)."""
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class MemoryEstimate:
    """How much memory a model needs at a given context size, in bytes.

    Attributes:
        weights_bytes: the tensors' data.
        kv_bytes: the K and V caches (an upper bound, see ``GGUFInfo.kv_cache_bytes``).
        compute_bytes: a rough estimate of llama.cpp's compute buffers and logits.
        total_bytes: the sum of the three.
    """

    weights_bytes: int
    kv_bytes: int
    compute_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class GGUFInfo:
    """What Hearth needs to know about a GGUF model, read from its header alone.

    Attributes:
        path_or_source: the path or source name that was read.
        file_size: size of the whole file in bytes.
        version: GGUF version (2 or 3).
        architecture: ``general.architecture``, e.g. ``"llama"``.
        name: ``general.name``, if present.
        parameter_count: total elements of all tensors.
        file_type: ``general.file_type`` as stored (None when absent).
        quantization: a label such as ``"Q4_K_M"``; from ``general.file_type`` or,
            when that is absent or unknown, the tensor type holding the most bytes.
        context_length: ``{arch}.context_length`` (the training context).
        block_count: ``{arch}.block_count``.
        embedding_length: ``{arch}.embedding_length``.
        head_count: ``{arch}.attention.head_count`` (max over layers if per layer).
        head_count_kv: ``{arch}.attention.head_count_kv`` (max over layers if per
            layer; head_count when absent).
        key_length: per-head K size (``embedding_length // head_count`` when absent).
        value_length: per-head V size (``embedding_length // head_count`` when absent).
        sliding_window: ``{arch}.attention.sliding_window``, if present.
        chat_template: ``tokenizer.chat_template``, if present.
        bos_token_id: ``tokenizer.ggml.bos_token_id``, if present.
        eos_token_id: ``tokenizer.ggml.eos_token_id``, if present.
        add_bos_token: ``tokenizer.ggml.add_bos_token``, if present.
        vocab_size: length of ``tokenizer.ggml.tokens``, if present.
        tensors: every tensor, in file order.
        layer_bytes: bytes of the tensors named ``blk.{i}.*``, for i in
            ``range(block_count)``.
        non_layer_bytes: bytes of every other tensor (embeddings, output, norms).
        metadata: every key: scalars, strings, small arrays as tuples; long arrays
            as :class:`ArraySummary`, strings over 1 MiB as :class:`StringSummary`.
        alignment: ``general.alignment`` (32 when absent).
        data_offset: where the tensor data starts in the file.
        header_size: where the header (key-value pairs and tensor infos) ends.
    """

    path_or_source: str
    file_size: int
    version: int
    architecture: str
    name: str | None
    parameter_count: int
    file_type: int | None
    quantization: str
    context_length: int
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    key_length: int
    value_length: int
    sliding_window: int | None
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    add_bos_token: bool | None
    vocab_size: int | None
    tensors: tuple[TensorInfo, ...] = field(repr=False)
    layer_bytes: tuple[int, ...] = field(repr=False)
    non_layer_bytes: int
    metadata: Mapping[str, object] = field(repr=False, hash=False)
    alignment: int
    data_offset: int
    header_size: int = 0

    @property
    def weights_bytes(self) -> int:
        """Bytes of all tensor data."""
        return sum(self.layer_bytes) + self.non_layer_bytes

    def layer_kv_bytes(self, n_ctx: int, bytes_per_element: float = 2.0) -> int:
        """K and V cache bytes of one layer at a context size.

        Every layer is counted with the full context and the largest KV head count,
        so for sliding-window layers (Gemma 2/3, ...) and models whose layers differ
        this is an upper bound.

        Args:
            n_ctx: context size in tokens.
            bytes_per_element: 2.0 for an F16 cache, about 1.06 for Q8_0.

        Returns:
            bytes for one layer's K and V.
        """
        if n_ctx < 0:
            raise ValueError("n_ctx must not be negative")
        per_token = self.head_count_kv * (self.key_length + self.value_length)
        return int(n_ctx * per_token * bytes_per_element)

    def kv_cache_bytes(self, n_ctx: int, bytes_per_element: float = 2.0) -> int:
        """K and V cache bytes of all layers at a context size (an upper bound).

        ``block_count × n_ctx × head_count_kv × (key_length + value_length) × bytes``;
        see :meth:`layer_kv_bytes` for why it is an upper bound.

        Args:
            n_ctx: context size in tokens.
            bytes_per_element: 2.0 for an F16 cache, about 1.06 for Q8_0.

        Returns:
            bytes for all layers' K and V.
        """
        return self.block_count * self.layer_kv_bytes(n_ctx, bytes_per_element)

    def compute_bytes(self, n_ctx: int, n_batch: int = 512) -> int:
        """A rough estimate of llama.cpp's compute buffer and logits at a context size.

        Not exact, and meant to err high. Per token of a ``n_batch`` micro-batch it
        counts the F32 attention scores against the whole context (``n_ctx ×
        head_count``, what llama.cpp allocates without flash attention) and a few live
        activations (``4 × embedding_length + 3 × feed_forward_length``, the latter
        ``4 × embedding_length`` when unknown); plus F32 logits for the batch
        (``vocab_size × n_batch``).

        Args:
            n_ctx: context size in tokens.
            n_batch: the micro-batch size (llama.cpp's ``n_ubatch``, 512 by default).

        Returns:
            bytes.
        """
        n_ff = self._max_int(f"{self.architecture}.feed_forward_length")
        if n_ff is None or n_ff <= 0:
            n_ff = 4 * self.embedding_length
        n_tokens = max(1, min(n_batch, n_ctx))
        per_token = n_ctx * self.head_count + 4 * self.embedding_length + 3 * n_ff
        logits = (self.vocab_size or 0) * n_tokens
        return 4 * (n_tokens * per_token + logits)

    def memory_estimate(
        self, n_ctx: int, *, n_batch: int = 512, kv_bytes_per_element: float = 2.0
    ) -> MemoryEstimate:
        """Estimate the memory needed to run the model at a context size.

        Args:
            n_ctx: context size in tokens.
            n_batch: the micro-batch size, for the compute buffer.
            kv_bytes_per_element: 2.0 for an F16 KV cache.

        Returns:
            weights, KV cache (an upper bound), compute (rough) and their total.
        """
        weights = self.weights_bytes
        kv = self.kv_cache_bytes(n_ctx, kv_bytes_per_element)
        compute = self.compute_bytes(n_ctx, n_batch)
        return MemoryEstimate(weights, kv, compute, weights + kv + compute)

    def _max_int(self, key: str) -> int | None:
        value = self.metadata.get(key)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, tuple) and value and all(type(v) is int for v in value):
            return max(value)
        return None


def ggml_nbytes(ggml_type: int, shape: tuple[int, ...]) -> int:
    """Bytes of a tensor's data.

    Args:
        ggml_type: a ``ggml_type`` id listed in :data:`GGML_TYPES`.
        shape: its dimensions, innermost first; the first must be a multiple of the
            type's block size.

    Returns:
        the size in bytes.

    Raises:
        ValueError: for an unknown type or a first dimension not a multiple of the
            block size.
    """
    t = GGML_TYPES.get(ggml_type)
    if t is None:
        raise ValueError(f"unknown ggml type {ggml_type}")
    n = 1
    for d in shape:
        n *= d
    if shape and shape[0] % t.block_size:
        raise ValueError(f"first dimension {shape[0]} is not a multiple of {t.block_size}")
    return n // t.block_size * t.type_size


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class _Parser:
    """Reads one GGUF header from a buffer that may hold only a prefix of the file."""

    def __init__(self, buf: bytes | memoryview | mmap.mmap, file_size: int, label: str) -> None:
        self.buf = buf
        self.avail = len(buf)
        self.file_size = file_size
        self.label = label
        self.pos = 0
        # What is known about the rest of the header, for GGUFHeaderIncomplete.needed.
        self.kv_left = 0
        self.tensors_left = 0
        self.array_left = 0
        self.array_start = 0
        self.array_done = 0

    # -- errors ---------------------------------------------------------------

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.label}: {what}")

    def truncated(self, what: str) -> ModelFileError:
        return ModelFileError(
            f"{self.label}: truncated or corrupt — {what}, but the file ends at byte "
            f"{self.file_size}"
        )

    def incomplete(self, end: int) -> GGUFHeaderIncomplete:
        guess = end
        if self.array_left and self.array_done:
            per_elem = (self.pos - self.array_start) / self.array_done
            guess += int(per_elem * self.array_left * 1.5)
        guess += self.kv_left * 256 + self.tensors_left * 128 + 4096
        needed = min(self.file_size, max(end, guess, 2 * self.avail, 65536))
        return GGUFHeaderIncomplete(
            f"{self.label}: the first {self.avail} bytes end inside the GGUF header; "
            f"read at least {needed} bytes",
            needed,
        )

    # -- primitives -------------------------------------------------------------

    def need(self, n: int, what: str) -> None:
        end = self.pos + n
        if end <= self.avail:
            return
        if end > self.file_size:
            raise self.truncated(f"{what} needs bytes {self.pos}..{end}")
        raise self.incomplete(end)

    def u32(self, what: str) -> int:
        self.need(4, what)
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(v)

    def u64(self, what: str) -> int:
        self.need(8, what)
        (v,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(v)

    def remaining(self) -> int:
        return self.file_size - self.pos

    def string_length(self, what: str, limit: int | None = None) -> int:
        n = self.u64(what)
        if n > self.remaining():
            raise self.truncated(f"{what} says it is {n} bytes long")
        if limit is not None and n > limit:
            raise self.fail(f"{what} is {n} bytes long (at most {limit} allowed)")
        return n

    def raw(self, n: int, what: str) -> bytes:
        self.need(n, what)
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        self.need(n, what)
        self.pos += n

    # -- values -----------------------------------------------------------------

    def value(self, vtype: int, key: str, depth: int, keep_limit: int) -> object:
        """Read one value of a type; returns it, or a summary of it.

        ``key`` is only used in messages; ``depth`` counts enclosing arrays.
        """
        fmt = _SCALAR_FORMATS.get(vtype)
        if fmt is not None:
            code, size = fmt
            self.need(size, f"the value of {key!r}")
            (v,) = struct.unpack_from("<" + code, self.buf, self.pos)
            self.pos += size
            return bool(v) if vtype == T_BOOL else v
        if vtype == T_STRING:
            n = self.string_length(f"the string value of {key!r}")
            if n > MAX_STRING_VALUE:
                self.skip(n, f"the string value of {key!r}")
                return StringSummary(n)
            return self.raw(n, f"the string value of {key!r}").decode("utf-8", "replace")
        if vtype == T_ARRAY:
            return self.array(key, depth + 1, keep_limit)
        raise self.fail(f"key {key!r} has unknown value type {vtype}")

    def array(self, key: str, depth: int, keep_limit: int) -> object:
        if depth > MAX_ARRAY_DEPTH:
            raise self.fail(f"key {key!r} nests arrays deeper than {MAX_ARRAY_DEPTH} levels")
        etype = self.u32(f"the array type of {key!r}")
        if etype not in VALUE_TYPE_NAMES:
            raise self.fail(f"key {key!r} is an array of unknown value type {etype}")
        count = self.u64(f"the array length of {key!r}")
        min_size = _MIN_VALUE_SIZE[etype]
        if count * min_size > self.remaining():
            raise self.truncated(f"key {key!r} says it holds {count} {VALUE_TYPE_NAMES[etype]}s")
        if count > MAX_ARRAY_LENGTH:
            raise self.fail(
                f"key {key!r} holds {count} elements (at most {MAX_ARRAY_LENGTH} allowed)"
            )
        fmt = _SCALAR_FORMATS.get(etype)
        # Long per-layer arrays are kept only when they hold numbers.
        keep = count <= (keep_limit if fmt is not None else min(keep_limit, SMALL_ARRAY_LIMIT))
        if fmt is not None:
            code, size = fmt
            self.need(count * size, f"the array {key!r}")
            if keep:
                values = struct.unpack_from(f"<{count}{code}", self.buf, self.pos)
                self.pos += count * size
                return tuple(bool(v) for v in values) if etype == T_BOOL else values
            self.pos += count * size
            return ArraySummary(etype, VALUE_TYPE_NAMES[etype], count)
        if keep:
            return tuple(self.value(etype, key, depth, SMALL_ARRAY_LIMIT) for _ in range(count))
        if etype == T_STRING:
            self.skip_strings(key, count)
        else:
            for _ in range(count):
                self.value(etype, key, depth, 0)
        return ArraySummary(etype, VALUE_TYPE_NAMES[etype], count)

    def skip_strings(self, key: str, count: int) -> None:
        """Skip ``count`` strings without decoding them (the fast path for vocabularies)."""
        self.array_left, self.array_start, self.array_done = count, self.pos, 0
        buf, avail, unpack = self.buf, self.avail, _U64.unpack_from
        pos = self.pos
        for i in range(count):
            if pos + 8 > avail:
                self.pos, self.array_done, self.array_left = pos, i, count - i
                self.need(8, f"a string of the array {key!r}")
            (n,) = unpack(buf, pos)
            pos += 8
            if pos + n > avail:
                self.pos, self.array_done, self.array_left = pos - 8, i, count - i
                if pos + n > self.file_size:
                    raise self.truncated(
                        f"string {i} of the array {key!r} says it is {n} bytes long"
                    )
                raise self.incomplete(pos + n)
            pos += n
        self.pos = pos
        self.array_left = 0

    # -- the header ---------------------------------------------------------------

    def header(self) -> tuple[int, dict[str, object], list[tuple[str, int, tuple[int, ...], int]]]:
        if self.file_size < 4:
            raise self.fail(f"is not a GGUF file (only {self.file_size} bytes)")
        magic = self.raw(4, "the magic number")
        if magic != GGUF_MAGIC:
            raise self.fail(f"is not a GGUF file (bad magic {magic!r})")
        version = self.u32("the version")
        if version not in SUPPORTED_VERSIONS:
            hint = ""
            if version in (0x02000000, 0x03000000):
                hint = " — it looks like a big-endian GGUF file, which Hearth cannot read"
            raise self.fail(
                f"GGUF version {version} is not supported (Hearth reads versions 2 and 3){hint}"
            )
        tensor_count = self.u64("the tensor count")
        kv_count = self.u64("the metadata count")
        if tensor_count * _MIN_TENSOR_INFO_SIZE > self.remaining():
            raise self.truncated(f"header says {tensor_count} tensors")
        if kv_count * _MIN_KV_SIZE + tensor_count * _MIN_TENSOR_INFO_SIZE > self.remaining():
            raise self.truncated(f"header says {kv_count} metadata keys")
        self.kv_left, self.tensors_left = kv_count, tensor_count

        metadata: dict[str, object] = {}
        for _ in range(kv_count):
            n = self.string_length("a metadata key", MAX_KEY_LENGTH)
            raw_key = self.raw(n, "a metadata key")
            try:
                key = raw_key.decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail(f"metadata key {raw_key[:64]!r} is not valid UTF-8") from None
            shown = _shorten(key)
            if key in metadata:
                raise self.fail(f"metadata key {shown!r} appears twice")
            vtype = self.u32(f"the value type of {shown!r}")
            if vtype not in VALUE_TYPE_NAMES:
                raise self.fail(f"key {shown!r} has unknown value type {vtype}")
            keep_limit = (
                PER_LAYER_ARRAY_LIMIT if key.endswith(_PER_LAYER_SUFFIXES) else SMALL_ARRAY_LIMIT
            )
            metadata[key] = self.value(vtype, shown, 0, keep_limit)
            self.kv_left -= 1

        tensors: list[tuple[str, int, tuple[int, ...], int]] = []
        names: set[str] = set()
        for i in range(tensor_count):
            n = self.string_length(f"the name of tensor {i}")
            if n >= GGML_MAX_NAME:
                raise self.fail(f"the name of tensor {i} is {n} bytes long (at most 63)")
            name = self.raw(n, f"the name of tensor {i}").decode("utf-8", "replace")
            if name in names:
                raise self.fail(f"tensor {name!r} appears twice")
            names.add(name)
            n_dims = self.u32(f"the dimension count of tensor {name!r}")
            if n_dims > GGML_MAX_DIMS:
                raise self.fail(
                    f"tensor {name!r} has {n_dims} dimensions (at most {GGML_MAX_DIMS})"
                )
            self.need(8 * n_dims, f"the shape of tensor {name!r}")
            shape = struct.unpack_from(f"<{n_dims}Q", self.buf, self.pos)
            self.pos += 8 * n_dims
            product = 1
            for d in shape:
                if d == 0:
                    raise self.fail(f"tensor {name!r} has a zero dimension {shape}")
                product *= d
                if product > INT64_MAX:
                    raise self.fail(f"tensor {name!r} is impossibly large {shape}")
            ggml_type = self.u32(f"the type of tensor {name!r}")
            offset = self.u64(f"the offset of tensor {name!r}")
            tensors.append((name, ggml_type, tuple(int(d) for d in shape), offset))
            self.tensors_left -= 1
        return version, metadata, tensors


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _parse(
    buf: bytes | memoryview | mmap.mmap, file_size: int, source: str, label: str
) -> GGUFInfo:
    p = _Parser(buf, file_size, label)
    version, metadata, raw_tensors = p.header()
    header_end = p.pos

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if (
        type(alignment) is not int
        or alignment <= 0
        or alignment & (alignment - 1)
        or alignment > 1 << 30
    ):
        raise p.fail(f"general.alignment {alignment!r} is not a power of two")
    data_offset = _align(header_end, alignment)
    if raw_tensors and data_offset > file_size:
        raise p.truncated(f"tensor data should start at byte {data_offset}")

    tensors: list[TensorInfo] = []
    for name, ggml_type, shape, offset in raw_tensors:
        t = GGML_TYPES.get(ggml_type)
        if t is None:
            raise p.fail(f"tensor {name!r} has unknown ggml type {ggml_type}")
        if shape and shape[0] % t.block_size:
            raise p.fail(
                f"tensor {name!r} of type {t.name} has a first dimension of {shape[0]}, "
                f"not a multiple of {t.block_size}"
            )
        nbytes = ggml_nbytes(ggml_type, shape)
        if offset % alignment:
            raise p.fail(f"tensor {name!r} has offset {offset}, not a multiple of {alignment}")
        end = data_offset + offset + nbytes
        if end > file_size:
            raise p.truncated(f"tensor {name!r} should lie at bytes {data_offset + offset}..{end}")
        tensors.append(TensorInfo(name, ggml_type, t.name, shape, offset, nbytes))

    info = _build_info(p, source, file_size, version, metadata, tensors, alignment, data_offset)
    return replace(info, header_size=header_end)


def _build_info(
    p: _Parser,
    source: str,
    file_size: int,
    version: int,
    metadata: dict[str, object],
    tensors: list[TensorInfo],
    alignment: int,
    data_offset: int,
) -> GGUFInfo:
    def get_str(key: str) -> str | None:
        v = metadata.get(key)
        if v is None:
            return None
        if isinstance(v, StringSummary):
            raise p.fail(f"{_shorten(key)} is {v.length} bytes long (at most {MAX_STRING_VALUE})")
        if not isinstance(v, str):
            raise p.fail(f"{_shorten(key)} should be a string, not {type(v).__name__}")
        return v

    def get_int(key: str, per_layer: bool = False) -> int | None:
        v = metadata.get(key)
        if v is None:
            return None
        if type(v) is int:
            return v
        if per_layer and isinstance(v, tuple) and v and all(type(x) is int for x in v):
            return max(v)
        raise p.fail(f"{_shorten(key)} should be an integer, not {_shorten(repr(v))}")

    def get_bool(key: str) -> bool | None:
        v = metadata.get(key)
        if v is None or isinstance(v, bool):
            return v
        raise p.fail(f"{_shorten(key)} should be a boolean, not {_shorten(repr(v))}")

    arch = get_str("general.architecture")
    if not arch:
        raise p.fail("general.architecture is missing — this is not a usable model file")

    def size(key: str, default: int, per_layer: bool = False) -> int:
        """A size that must not be negative; absent or 0 means the default."""
        v = get_int(key, per_layer)
        if v is not None and not 0 <= v <= 1 << 32:
            raise p.fail(f"{_shorten(key)} is {v}, which is not a valid size")
        return v or default

    required: dict[str, int] = {}
    for short in ("block_count", "embedding_length", "attention.head_count"):
        key = f"{arch}.{short}"
        value = size(key, 0, per_layer=short == "attention.head_count")
        if not value:
            raise p.fail(
                f"unknown or incomplete architecture {_shorten(arch)!r} — Hearth cannot "
                "estimate its "
                f"memory ({_shorten(key)} is missing)"
            )
        required[short] = value
    block_count = required["block_count"]
    embedding_length = required["embedding_length"]
    head_count = required["attention.head_count"]
    if block_count > MAX_BLOCK_COUNT:
        raise p.fail(f"{arch}.block_count {block_count} is impossibly large")

    head_count_kv = size(f"{arch}.attention.head_count_kv", head_count, per_layer=True)
    default_head_dim = embedding_length // head_count
    key_length = size(f"{arch}.attention.key_length", default_head_dim)
    value_length = size(f"{arch}.attention.value_length", default_head_dim)
    context_length = size(f"{arch}.context_length", 0)
    sliding_window = get_int(f"{arch}.attention.sliding_window")
    if sliding_window is not None and sliding_window < 0:
        raise p.fail(f"{arch}.attention.sliding_window is {sliding_window}")

    template = get_str("tokenizer.chat_template")

    tokens = metadata.get("tokenizer.ggml.tokens")
    vocab_size: int | None = None
    if isinstance(tokens, ArraySummary):
        vocab_size = tokens.length
    elif isinstance(tokens, tuple):
        vocab_size = len(tokens)

    layer_bytes = [0] * block_count
    non_layer = 0
    parameter_count = 0
    bytes_by_type: dict[str, int] = {}
    for t in tensors:
        parameter_count += t.n_elements
        bytes_by_type[t.type_name] = bytes_by_type.get(t.type_name, 0) + t.nbytes
        layer = _layer_index(t.name)
        if layer is not None and layer < block_count:
            layer_bytes[layer] += t.nbytes
        else:
            non_layer += t.nbytes

    file_type = get_int("general.file_type")
    quantization = None
    if file_type is not None:
        quantization = FILE_TYPE_NAMES.get(file_type & ~_FTYPE_GUESSED)
    if quantization is None:
        if bytes_by_type:
            quantization = max(bytes_by_type.items(), key=lambda kv: kv[1])[0]
        else:
            quantization = "unknown"

    return GGUFInfo(
        path_or_source=source,
        file_size=file_size,
        version=version,
        architecture=arch,
        name=get_str("general.name"),
        parameter_count=parameter_count,
        file_type=file_type,
        quantization=quantization,
        context_length=context_length,
        block_count=block_count,
        embedding_length=embedding_length,
        head_count=head_count,
        head_count_kv=head_count_kv,
        key_length=key_length,
        value_length=value_length,
        sliding_window=sliding_window,
        chat_template=template,
        bos_token_id=get_int("tokenizer.ggml.bos_token_id"),
        eos_token_id=get_int("tokenizer.ggml.eos_token_id"),
        add_bos_token=get_bool("tokenizer.ggml.add_bos_token"),
        vocab_size=vocab_size,
        tensors=tuple(tensors),
        layer_bytes=tuple(layer_bytes),
        non_layer_bytes=non_layer,
        metadata=MappingProxyType(metadata),
        alignment=alignment,
        data_offset=data_offset,
    )


def _layer_index(name: str) -> int | None:
    if not name.startswith("blk."):
        return None
    digits, dot, _ = name[4:].partition(".")
    if not dot or not digits.isdigit() or not digits.isascii():
        return None
    return int(digits)


def parse_gguf(data: bytes | memoryview, file_size: int, source: str) -> GGUFInfo:
    """Parse a GGUF header from the file's bytes, or from a prefix of them.

    Args:
        data: the file's bytes from its start; may be shorter than the file, e.g. the
            first megabytes fetched with an HTTP Range request.
        file_size: size of the whole file in bytes.
        source: a name for the file (URL or path), used in messages and kept in
            ``GGUFInfo.path_or_source``.

    Returns:
        the parsed header.

    Raises:
        GGUFHeaderIncomplete: ``data`` ends inside the header; fetch ``needed`` bytes
            and call again.
        ModelFileError: the file is not a valid GGUF file or lacks what Hearth needs.
        ValueError: ``data`` is longer than ``file_size``.
    """
    if len(data) > file_size:
        raise ValueError(f"{len(data)} bytes given for a file of {file_size} bytes")
    return _parse(data, file_size, source, source)


def read_gguf_info(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read the header of a local GGUF file (memory-mapped, read-only).

    Args:
        path: the file.

    Returns:
        the parsed header.

    Raises:
        ModelFileError: the file is missing, unreadable, not a regular file, empty,
            truncated, corrupt, not GGUF, or lacks what Hearth needs.
    """
    p = Path(path)
    label = p.name or str(p)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ModelFileError(f"{label}: no such file ({p})") from None
    except PermissionError:
        raise ModelFileError(f"{label}: permission denied ({p})") from None
    except (OSError, ValueError) as e:
        raise ModelFileError(
            f"{label}: cannot be read ({getattr(e, 'strerror', None) or e})"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"{label}: is a folder, not a GGUF model file ({p})")
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{label}: is not a regular file ({p})")
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise ModelFileError(f"{label}: is empty (0 bytes), not a GGUF model file")
            try:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as e:
                raise ModelFileError(f"{label}: cannot be memory-mapped ({e})") from None
            try:
                return _parse(mm, len(mm), str(path), label)
            finally:
                mm.close()
    except PermissionError:
        raise ModelFileError(f"{label}: permission denied ({p})") from None
    except IsADirectoryError:
        raise ModelFileError(f"{label}: is a folder, not a GGUF model file ({p})") from None
    except FileNotFoundError:
        raise ModelFileError(f"{label}: no such file ({p})") from None
    except OSError as e:
        raise ModelFileError(f"{label}: cannot be read ({e.strerror or e})") from None
