"""Tests of engine.models.gguf_info: real model headers, a crafted corpus of broken files, fuzz."""

from __future__ import annotations

import os
import random
import struct
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from engine.errors import ModelFileError
from engine.models.gguf_info import (
    ArraySummary,
    GGUFHeaderIncomplete,
    GGUFInfo,
    StringSummary,
    parse_gguf,
    read_gguf_info,
)
from tests.engine import gguf_factory as gf

# --------------------------------------------------------------------------------------
# Real files
# --------------------------------------------------------------------------------------


@pytest.fixture
def gemma3(gemma: Path) -> Path:
    return gemma


# A header is read in milliseconds; a reader that loops over a crafted count takes
# hours or forever. This generous timeout fails the second on a loaded machine too.
never_hangs = pytest.mark.timeout(120)


def _check_layout(info: GGUFInfo) -> None:
    """Invariants every parsed file must satisfy."""
    assert sum(info.layer_bytes) + info.non_layer_bytes == sum(t.nbytes for t in info.tensors)
    assert len(info.layer_bytes) == info.block_count
    assert all(b > 0 for b in info.layer_bytes)
    assert info.data_offset % info.alignment == 0
    for t in info.tensors:
        assert t.offset % info.alignment == 0
        assert info.data_offset + t.offset + t.nbytes <= info.file_size
    assert info.parameter_count == sum(t.n_elements for t in info.tensors)


@never_hangs
def test_smollm2_header(smollm2: Path) -> None:
    info = read_gguf_info(smollm2)
    assert info.path_or_source == str(smollm2)
    assert info.file_size == smollm2.stat().st_size
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.block_count == 30
    assert info.quantization == "Q4_1"
    assert info.file_type == 3
    assert info.context_length == 8192
    assert info.embedding_length == 576
    assert (info.head_count, info.head_count_kv) == (9, 3)
    assert (info.key_length, info.value_length) == (64, 64)
    assert info.sliding_window is None
    assert info.chat_template is not None and "im_start" in info.chat_template
    assert 134_000_000 <= info.parameter_count <= 135_000_000
    assert info.vocab_size == 49152
    assert (info.bos_token_id, info.eos_token_id, info.add_bos_token) == (1, 2, False)
    assert len(info.tensors) == 272
    _check_layout(info)
    # The last tensor ends exactly at the end of the file.
    assert max(info.data_offset + t.offset + t.nbytes for t in info.tensors) == info.file_size
    embd = next(t for t in info.tensors if t.name == "token_embd.weight")
    assert (embd.type_name, embd.shape) == ("Q8_0", (576, 49152))
    assert info.non_layer_bytes >= embd.nbytes
    # Big arrays are summarized, small values kept.
    assert info.metadata["tokenizer.ggml.tokens"] == ArraySummary(8, "STRING", 49152)
    assert info.metadata["tokenizer.ggml.merges"] == ArraySummary(8, "STRING", 48900)
    assert info.metadata["general.languages"] == ("en",)
    assert info.metadata["llama.rope.freq_base"] == 100000.0


@never_hangs
def test_gemma3_header(gemma3: Path) -> None:
    info = read_gguf_info(gemma3)
    assert info.architecture == "gemma3"
    assert info.chat_template is None
    assert info.quantization == "Q4_K_M"
    assert info.file_type == 15
    assert info.block_count == 18
    assert info.vocab_size == 262144
    assert info.sliding_window == 512
    assert (info.head_count, info.head_count_kv) == (4, 1)
    # Gemma's head size is not embedding_length // head_count: it is stored.
    assert (info.key_length, info.value_length) == (256, 256)
    assert info.context_length == 32768
    assert 260_000_000 <= info.parameter_count <= 275_000_000
    assert (info.bos_token_id, info.eos_token_id, info.add_bos_token) == (2, 1, True)
    _check_layout(info)
    assert max(info.data_offset + t.offset + t.nbytes for t in info.tensors) == info.file_size


def _parse_prefix_until_done(path: Path, first: int) -> tuple[GGUFInfo, int, int]:
    """Parse growing prefixes of a file as a downloader would; returns (info, rounds, bytes)."""
    size = path.stat().st_size
    length = first
    with path.open("rb") as f:
        for rounds in range(1, 6):
            f.seek(0)
            data = f.read(length)
            try:
                return parse_gguf(data, size, str(path)), rounds, length
            except GGUFHeaderIncomplete as e:
                assert e.needed > length
                assert e.needed <= size
                length = e.needed
    raise AssertionError(f"no result after 5 rounds ({length} bytes)")


def test_prefix_of_smollm2(smollm2: Path) -> None:
    size = smollm2.stat().st_size
    with smollm2.open("rb") as f:
        prefix = f.read(64 * 1024)
    with pytest.raises(GGUFHeaderIncomplete) as excinfo:
        parse_gguf(prefix, size, "https://example.invalid/smollm2.gguf")
    assert excinfo.value.needed > 64 * 1024
    assert isinstance(excinfo.value, ModelFileError)

    info, rounds, length = _parse_prefix_until_done(smollm2, 64 * 1024)
    assert rounds <= 4
    assert length < size // 10  # only the header was needed
    assert info == read_gguf_info(smollm2)


def test_prefix_of_gemma3(gemma3: Path) -> None:
    info, rounds, length = _parse_prefix_until_done(gemma3, 64 * 1024)
    assert rounds <= 4
    assert info == read_gguf_info(gemma3)
    assert length < info.file_size // 10


def test_prefix_accepts_memoryview_and_rejects_oversized_data() -> None:
    data = gf.tiny_llama_gguf()
    assert parse_gguf(memoryview(data), len(data), "x") == parse_gguf(data, len(data), "x")
    with pytest.raises(ValueError):
        parse_gguf(data, len(data) - 1, "x")


def test_prefix_shorter_than_the_magic() -> None:
    data = gf.tiny_llama_gguf()
    with pytest.raises(GGUFHeaderIncomplete) as excinfo:
        parse_gguf(data[:2], len(data), "x")
    assert excinfo.value.needed >= 24


def test_smollm2_memory_estimate(smollm2: Path) -> None:
    info = read_gguf_info(smollm2)
    assert info.kv_cache_bytes(2048) == 2 * 30 * 2048 * 3 * 64 * 2 == 47_185_920
    assert info.layer_kv_bytes(2048) * 30 == info.kv_cache_bytes(2048)
    assert info.kv_cache_bytes(2048, bytes_per_element=1.0) == 47_185_920 // 2
    est = info.memory_estimate(2048)
    assert est.kv_bytes == 47_185_920
    assert est.weights_bytes == sum(t.nbytes for t in info.tensors)
    assert est.total_bytes == est.weights_bytes + est.kv_bytes + est.compute_bytes
    assert 10 * 2**20 < est.compute_bytes < 2**30
    bigger = info.memory_estimate(8192)
    assert bigger.kv_bytes == 4 * est.kv_bytes
    assert bigger.compute_bytes > est.compute_bytes
    assert bigger.total_bytes > est.total_bytes
    assert info.memory_estimate(512).total_bytes < est.total_bytes


# --------------------------------------------------------------------------------------
# Synthetic valid files
# --------------------------------------------------------------------------------------


def test_synthetic_file_round_trip(tmp_path: Path) -> None:
    meta = gf.llama_metadata(block_count=3)
    path = gf.write_gguf(tmp_path / "tiny.gguf", meta, gf.llama_tensors(block_count=3))
    info = read_gguf_info(path)
    assert info.architecture == "llama"
    assert info.name == "tiny test model"
    assert info.block_count == 3
    assert info.quantization == "F16"
    assert (info.head_count, info.head_count_kv, info.key_length, info.value_length) == (
        4,
        2,
        16,
        16,
    )
    assert info.vocab_size == 100
    assert info.chat_template == "{{ messages }}"
    assert info.add_bos_token is True
    assert info.metadata["tokenizer.ggml.tokens"] == ArraySummary(8, "STRING", 100)
    _check_layout(info)
    layer = 64 * 4 + 2 * (64 * 64 + 64 * 32 + 64 * 32 + 64 * 64 + 64 * 256)
    assert info.layer_bytes == (layer, layer, layer)
    assert info.non_layer_bytes == 2 * (64 * 100 * 2) + 64 * 4
    assert info.kv_cache_bytes(100) == 2 * 3 * 100 * 2 * 16 * 2
    assert parse_gguf(path.read_bytes(), path.stat().st_size, str(path)) == info
    assert hash(info) == hash(read_gguf_info(path))


def test_version_2_and_custom_alignment() -> None:
    meta = gf.llama_metadata(**{"general.alignment": 64})
    data = gf.build_gguf(meta, gf.llama_tensors(), version=2)
    info = parse_gguf(data, len(data), "v2")
    assert info.version == 2
    assert info.alignment == 64
    assert info.data_offset % 64 == 0
    _check_layout(info)


def test_derived_values_and_defaults() -> None:
    meta = gf.llama_metadata(head_count_kv=2)
    del meta["llama.attention.head_count_kv"]
    del meta["general.file_type"]
    del meta["tokenizer.chat_template"]
    tensors = gf.llama_tensors(ggml_type=gf.Q8_0)
    data = gf.build_gguf(meta, tensors)
    info = parse_gguf(data, len(data), "derived")
    assert info.head_count_kv == info.head_count == 4
    assert info.key_length == info.value_length == 64 // 4
    assert info.file_type is None
    assert info.quantization == "Q8_0"  # the tensor type holding the most bytes
    assert info.chat_template is None


def test_unknown_file_type_falls_back_to_tensor_types() -> None:
    data = gf.tiny_llama_gguf(extra={"general.file_type": 999})
    info = parse_gguf(data, len(data), "x")
    assert info.file_type == 999
    assert info.quantization == "F16"


def test_per_layer_head_counts_take_the_max() -> None:
    kv = [0, 2, 4, 2]
    data = gf.tiny_llama_gguf(
        block_count=4,
        extra={"llama.attention.head_count_kv": gf.Typed(gf.ARRAY, kv, gf.INT32)},
    )
    info = parse_gguf(data, len(data), "x")
    assert info.head_count_kv == 4
    assert info.metadata["llama.attention.head_count_kv"] == (0, 2, 4, 2)


def test_small_arrays_kept_and_large_ones_summarized() -> None:
    data = gf.tiny_llama_gguf(
        extra={
            "test.small": list(range(64)),
            "test.large": gf.Typed(gf.ARRAY, list(range(65)), gf.UINT8),
            "test.nested": gf.Typed(
                gf.ARRAY,
                [gf.Typed(gf.ARRAY, [1, 2], gf.INT16), gf.Typed(gf.ARRAY, ["a"], gf.STRING)],
                gf.ARRAY,
            ),
            "test.bools": [True, False],
            "test.i64": gf.Typed(gf.INT64, -(2**40)),
            "test.f64": gf.Typed(gf.FLOAT64, 0.25),
            "test.long_string": "x" * (2**20 + 1),
        }
    )
    info = parse_gguf(data, len(data), "x")
    assert info.metadata["test.small"] == tuple(range(64))
    assert info.metadata["test.large"] == ArraySummary(0, "UINT8", 65)
    assert info.metadata["test.nested"] == ((1, 2), ("a",))
    assert info.metadata["test.bools"] == (True, False)
    assert info.metadata["test.i64"] == -(2**40)
    assert info.metadata["test.f64"] == 0.25
    assert info.metadata["test.long_string"] == StringSummary(2**20 + 1)


def test_blocks_beyond_block_count_are_not_layers() -> None:
    tensors = [*gf.llama_tensors(block_count=2), ("blk.2.nextn.weight", gf.F32, (64,))]
    data = gf.build_gguf(gf.llama_metadata(block_count=2), tensors)
    info = parse_gguf(data, len(data), "x")
    assert len(info.layer_bytes) == 2
    assert sum(info.layer_bytes) + info.non_layer_bytes == sum(t.nbytes for t in info.tensors)


def test_vocab_only_file_without_tensors() -> None:
    data = gf.build_gguf(gf.llama_metadata(), [])
    info = parse_gguf(data, len(data), "vocab-only")
    assert info.tensors == ()
    assert info.parameter_count == 0
    assert info.layer_bytes == (0, 0)


# --------------------------------------------------------------------------------------
# Broken files: each must raise ModelFileError, quickly
# --------------------------------------------------------------------------------------

_ARCH = gf.pack_kv("general.architecture", "llama")


def _with(kvs: Sequence[bytes], tensor_infos: Sequence[bytes] = (), *, data: int = 0) -> bytes:
    """A file from raw KV and tensor-info records, padded to 32, then ``data`` zero bytes."""
    head = gf.pack_header(len(tensor_infos), len(kvs)) + b"".join(kvs) + b"".join(tensor_infos)
    return head + bytes(gf.align(len(head), 32) - len(head) + data)


def _valid() -> bytes:
    return gf.tiny_llama_gguf()


def _cut_inside(marker: bytes, extra: int = 3, data: bytes | None = None) -> bytes:
    data = _valid() if data is None else data
    return data[: data.index(marker) + extra]


def _depth_bomb() -> bytes:
    body = b"".join(struct.pack("<IQ", gf.ARRAY, 1) for _ in range(10_000))
    kv = gf.pack_string("bomb") + struct.pack("<I", gf.ARRAY) + body + struct.pack("<IQ", 0, 0)
    return _with([_ARCH, kv])


def _key_with_type(vtype: int, payload: bytes) -> bytes:
    return gf.pack_string("test.key") + struct.pack("<I", vtype) + payload


def _array_of(elem_type: int, count: int, payload: bytes = b"") -> bytes:
    return _key_with_type(gf.ARRAY, struct.pack("<IQ", elem_type, count) + payload)


def _one_tensor(ggml_type: int = gf.F32, shape: tuple[int, ...] = (64,), offset: int = 0) -> bytes:
    meta = [gf.pack_kv(k, v) for k, v in gf.llama_metadata().items()]
    info = [gf.pack_tensor_info("t.weight", ggml_type, shape, offset)]
    return _with(meta, info, data=256)


def _raw_tensor_info(n_dims: int, dims: list[int]) -> bytes:
    meta = [gf.pack_kv(k, v) for k, v in gf.llama_metadata().items()]
    info = (
        gf.pack_string("t.weight")
        + struct.pack(f"<I{len(dims)}Q", n_dims, *dims)
        + struct.pack("<IQ", gf.F32, 0)
    )
    return _with(meta, [info], data=256)


def _meta_without(*keys: str, **extra: object) -> bytes:
    meta = gf.llama_metadata()
    for k in keys:
        del meta[k]
    meta.update(extra)
    return gf.build_gguf(meta, gf.llama_tensors())


_CRAFTED: dict[str, tuple[Callable[[], bytes], str]] = {
    "bad magic": (lambda: b"GGML" + _valid()[4:], "bad magic b'GGML'"),
    "version 999": (lambda: gf.pack_header(0, 0, version=999) + bytes(64), "version 999"),
    "version 1": (lambda: gf.pack_header(0, 0, version=1) + bytes(64), "version 1 "),
    "big-endian": (
        lambda: b"GGUF" + struct.pack(">IQQ", 3, 0, 0) + bytes(64),
        "big-endian",
    ),
    "tensor count near 2**63": (lambda: gf.pack_header(2**63 - 1, 0) + bytes(64), "tensors"),
    "tensor count 2**64-1": (lambda: gf.pack_header(2**64 - 1, 1) + _ARCH, "tensors"),
    "kv count near 2**63": (lambda: gf.pack_header(0, 2**63 + 5) + _ARCH, "metadata keys"),
    "string longer than the file": (
        lambda: _with([_key_with_type(gf.STRING, struct.pack("<Q", 10**9) + b"abc")]),
        "1000000000 bytes long",
    ),
    "key longer than the file": (
        lambda: gf.pack_header(0, 1) + struct.pack("<Q", 2**63) + b"x" * 40,
        "truncated",
    ),
    "key over 64 KiB": (
        lambda: _with([gf.pack_kv("k" * 70_000, 1)]),
        "at most 65536",
    ),
    "array count near 2**63": (lambda: _with([_array_of(gf.UINT8, 2**63 - 1)]), "UINT8"),
    "string array count near 2**63": (
        lambda: _with([_array_of(gf.STRING, 2**62 + 1)]),
        "STRING",
    ),
    "nested array depth bomb": (_depth_bomb, "nests arrays deeper"),
    "truncated after the header": (lambda: _valid()[:24], "truncated"),
    "truncated mid-KV": (lambda: _cut_inside(b"llama.block_count"), "truncated"),
    "truncated mid-KV, no tensors": (
        lambda: _cut_inside(b"{{ messages }}", 3, gf.build_gguf(gf.llama_metadata(), [])),
        "the string value of 'tokenizer.chat_template' says it is 14 bytes long",
    ),
    "truncated mid-token-array": (lambda: _cut_inside(b"t57", 1), "truncated"),
    "truncated mid-tensor-info": (lambda: _cut_inside(b"blk.1.attn_q.weight", 25), "truncated"),
    "truncated in the tensor data": (lambda: _valid()[:-100], "truncated"),
    "empty": (lambda: b"", "empty"),
    "three bytes": (lambda: b"GGU", "not a GGUF file"),
    "49-byte crafted file": (
        lambda: gf.pack_header(2000, 0) + b"\x01" * 25,
        "2000 tensors, but the file ends at byte 49",
    ),
    "tensor offset beyond EOF": (lambda: _one_tensor(offset=2**40), "should lie at bytes"),
    "tensor offset near 2**64": (lambda: _one_tensor(offset=2**64 - 32), "should lie at bytes"),
    "tensor offset not aligned": (lambda: _one_tensor(offset=4), "not a multiple of 32"),
    "tensor with n_dims 99": (lambda: _raw_tensor_info(99, [1] * 99), "99 dimensions"),
    "tensor with a zero dimension": (lambda: _raw_tensor_info(2, [64, 0]), "zero dimension"),
    "tensor element count overflows": (
        lambda: _raw_tensor_info(4, [2**32, 2**32, 2**32, 2**32]),
        "impossibly large",
    ),
    "tensor first dim not a block multiple": (
        lambda: _one_tensor(gf.Q4_0, (48,)),
        "not a multiple of 32",
    ),
    "unknown ggml tensor type": (lambda: _one_tensor(4), "unknown ggml type 4"),
    "unknown ggml tensor type 2**32-1": (lambda: _one_tensor(2**32 - 1), "unknown ggml type"),
    "tensor name too long": (
        lambda: _with([_ARCH], [gf.pack_tensor_info("n" * 64, gf.F32, (1,), 0)], data=32),
        "at most 63",
    ),
    "duplicate tensor name": (
        lambda: gf.build_gguf(gf.llama_metadata(), [*gf.llama_tensors(), gf.llama_tensors()[0]]),
        "appears twice",
    ),
    "unknown value type": (lambda: _with([_key_with_type(13, bytes(8))]), "unknown value type 13"),
    "unknown array element type": (lambda: _with([_array_of(99, 1)]), "unknown value type 99"),
    "duplicate key": (lambda: _with([_ARCH, _ARCH]), "appears twice"),
    "key not UTF-8": (lambda: _with([gf.pack_kv(b"\xff\xfe", 1)]), "not valid UTF-8"),
    "missing general.architecture": (
        lambda: _meta_without("general.architecture"),
        "general.architecture is missing",
    ),
    "architecture not a string": (
        lambda: _meta_without("general.architecture", **{"general.architecture": 7}),
        "should be a string",
    ),
    "unknown architecture without block_count": (
        lambda: _with([gf.pack_kv("general.architecture", "xyz")]),
        "unknown or incomplete architecture 'xyz'",
    ),
    "missing head_count": (
        lambda: _meta_without("llama.attention.head_count"),
        "llama.attention.head_count is missing",
    ),
    "negative embedding_length": (
        lambda: _meta_without(**{"llama.embedding_length": gf.Typed(gf.INT32, -64)}),
        "not a valid size",
    ),
    "huge block_count": (
        lambda: _meta_without(**{"llama.block_count": 2**31}),
        "impossibly large",
    ),
    "block_count is a string": (
        lambda: _meta_without(**{"llama.block_count": "30"}),
        "should be an integer",
    ),
    "alignment not a power of two": (
        lambda: _meta_without(**{"general.alignment": 33}),
        "not a power of two",
    ),
    "alignment zero": (lambda: _meta_without(**{"general.alignment": 0}), "not a power of two"),
    "chat template over 1 MiB": (
        lambda: _meta_without(**{"tokenizer.chat_template": "{{ x }}" * 200_000}),
        "tokenizer.chat_template is 1400000 bytes long",
    ),
}


@never_hangs
@pytest.mark.parametrize("case", list(_CRAFTED), ids=list(_CRAFTED))
def test_crafted_file_is_refused_quickly(case: str, tmp_path: Path) -> None:
    make, message = _CRAFTED[case]
    data = make()
    path = tmp_path / "model.gguf"
    path.write_bytes(data)

    with pytest.raises(ModelFileError) as excinfo:
        read_gguf_info(path)
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("model.gguf: ")
    assert not isinstance(excinfo.value, GGUFHeaderIncomplete)

    # The in-memory parser gives the same answer when it has the whole file.
    with pytest.raises(ModelFileError) as excinfo2:
        parse_gguf(data, len(data), "model.gguf")
    assert not isinstance(excinfo2.value, GGUFHeaderIncomplete)
    if data:
        assert str(excinfo2.value) == str(excinfo.value)


def test_49_byte_file_message(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(gf.pack_header(2000, 0) + b"\x01" * 25)
    with pytest.raises(ModelFileError, match="header says 2000 tensors") as excinfo:
        read_gguf_info(path)
    assert len(path.read_bytes()) == 49
    assert "truncated" in str(excinfo.value)


def test_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model.gguf"
    folder.mkdir()
    with pytest.raises(ModelFileError, match="folder"):
        read_gguf_info(folder)


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such file"):
        read_gguf_info(tmp_path / "nothing-here.gguf")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_gguf_info(fifo)


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads files regardless of mode"
)
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(_valid())
    path.chmod(0)
    try:
        with pytest.raises(ModelFileError, match="permission denied"):
            read_gguf_info(path)
    finally:
        path.chmod(0o600)


def test_truncated_message_names_counts(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(_valid()[:24])
    with pytest.raises(ModelFileError) as excinfo:
        read_gguf_info(path)
    assert "model.gguf: truncated or corrupt" in str(excinfo.value)
    assert "ends at byte 24" in str(excinfo.value)


# --------------------------------------------------------------------------------------
# Fuzz: random damage never escapes as anything but ModelFileError, and never hangs
# --------------------------------------------------------------------------------------


def _mutate(rng: random.Random, data: bytes, header_end: int) -> bytes:
    buf = bytearray(data)
    kind = rng.randrange(6)
    pos = rng.randrange(header_end)
    if kind == 0:  # flip one byte
        buf[pos] = rng.randrange(256)
    elif kind == 1:  # flip a few bytes
        for _ in range(rng.randint(2, 8)):
            buf[rng.randrange(header_end)] ^= 1 << rng.randrange(8)
    elif kind == 2:  # truncate
        del buf[rng.randrange(len(buf)) :]
    elif kind == 3:  # a huge or tiny 64-bit number somewhere
        value = rng.choice([2**64 - 1, 2**63, 2**32, 0, 1, rng.randrange(2**64)])
        buf[pos : pos + 8] = struct.pack("<Q", value)
    elif kind == 4:  # a 32-bit number (value types, n_dims, ggml types, version)
        buf[pos : pos + 4] = struct.pack("<I", rng.choice([0, 1, 4, 9, 12, 13, 99, 2**32 - 1]))
    else:  # delete or insert a few bytes
        if rng.random() < 0.5:
            del buf[pos : pos + rng.randint(1, 16)]
        else:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(buf)


@never_hangs
def test_random_mutations_parse_or_raise_model_file_error() -> None:
    data = gf.tiny_llama_gguf()
    header_end = parse_gguf(data, len(data), "seed").data_offset
    rng = random.Random(20240229)
    outcomes = {"parsed": 0, "refused": 0}
    for i in range(300):
        mutated = _mutate(rng, data, header_end)
        try:
            parse_gguf(mutated, len(mutated), f"fuzz-{i}")
            outcomes["parsed"] += 1
        except ModelFileError:
            outcomes["refused"] += 1
        except Exception as e:  # pragma: no cover - the failure being tested for
            pytest.fail(f"mutation {i} raised {type(e).__name__}: {e}")
    assert outcomes["refused"] > 50
    assert outcomes["parsed"] > 10


def test_every_prefix_of_a_small_file_is_incomplete() -> None:
    data = gf.tiny_llama_gguf()
    full = parse_gguf(data, len(data), "x")
    for n in range(0, full.data_offset, 7):
        length = n
        for _ in range(5):
            try:
                info = parse_gguf(data[:length], len(data), "x")
                break
            except GGUFHeaderIncomplete as e:
                assert length < e.needed <= len(data)
                length = e.needed
        else:
            raise AssertionError(f"prefix {n}: no result after 5 rounds")
        assert info == full
    # The header alone is enough; tensor data is never read.
    assert parse_gguf(data[: full.data_offset], len(data), "x") == full
