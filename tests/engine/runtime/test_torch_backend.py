"""The PyTorch backend on the CPU: parity with llama.cpp, the qwen2 forward, the engine path.

References we did not write: llama.cpp's own logits and greedy output for SmolLM2
(llama architecture), read through llama-cpp-python's low-level API in this process.
No small qwen2 GGUF is available offline, so qwen2 (NeoX RoPE, attention biases) is
checked on tiny random-weight files built here: against a straightforward float64
numpy implementation written from the Qwen2 equations, and against llama.cpp running
the same files (they carry a minimal byte-pair vocabulary so llama.cpp loads them).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="pip install torch==2.13.0 (the CPU build)")

from engine.errors import ModelLoadError  # noqa: E402
from engine.models.gguf_info import read_gguf_info  # noqa: E402
from engine.models.hardware import LlamaBuild, probe_hardware  # noqa: E402
from engine.runtime.backends.base import BackendLoadParams  # noqa: E402
from engine.runtime.backends.llamacpp import LlamaCppBackend  # noqa: E402
from engine.runtime.backends.torch_llama import TorchLlamaBackend, load_model  # noqa: E402
from engine.runtime.client import EngineClient  # noqa: E402
from engine.runtime.loading import plan_load, resolve_model  # noqa: E402
from engine.types import ChatMessage, GenerationResult, SamplingParams, TokenEvent  # noqa: E402
from tests.engine import gguf_factory as gf  # noqa: E402

PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "Explain in a few sentences why the sky is blue during the day and red at sunset, "
    "and what Rayleigh scattering has to do with it. Mention the wavelengths of light "
    "involved, the part the atmosphere plays, and why clouds look white or grey."
    "<|im_end|>\n<|im_start|>assistant\n"
    "The sky looks blue because"
)
GREEDY = SamplingParams(temperature=0, repeat_penalty=1.0, max_tokens=32, ignore_eos=True)


def _params(path: Path, n_ctx: int = 512) -> BackendLoadParams:
    return BackendLoadParams(
        path=str(path), n_ctx=n_ctx, n_gpu_layers=0, n_threads=2, n_threads_batch=2
    )


@pytest.fixture(scope="module")
def torch_backend(smollm2: Path) -> TorchLlamaBackend:
    backend = TorchLlamaBackend(device="cpu", weights="fp32")
    backend.load(_params(smollm2))
    return backend


@pytest.fixture(scope="module")
def prompt_tokens(torch_backend: TorchLlamaBackend) -> list[int]:
    tokens = torch_backend.tokenize(PROMPT, add_special=True, parse_special=True)
    assert len(tokens) >= 65
    return tokens[:65]


def _llama_cpp_logits(path: Path, tokens: list[int]) -> np.ndarray:
    """llama.cpp's next-token logits at every position (its own CPU kernels, weights as stored)."""
    import llama_cpp as lib

    lib.llama_backend_init()
    model = lib.llama_model_load_from_file(str(path).encode(), lib.llama_model_default_params())
    assert model
    cparams = lib.llama_context_default_params()
    cparams.n_ctx = cparams.n_batch = cparams.n_ubatch = 128
    cparams.n_threads = cparams.n_threads_batch = 2
    ctx = lib.llama_init_from_model(model, cparams)
    batch = lib.llama_batch_init(len(tokens), 0, 1)
    try:
        batch.n_tokens = len(tokens)
        for i, tok in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = tok, i, 1
            batch.seq_id[i][0], batch.logits[i] = 0, 1
        assert lib.llama_decode(ctx, batch) == 0
        n_vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model))
        rows = []
        for i in range(len(tokens)):
            ptr = lib.llama_get_logits_ith(ctx, i)
            rows.append(
                np.ctypeslib.as_array(
                    ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), (n_vocab,)
                ).copy()
            )
        return np.stack(rows)
    finally:
        lib.llama_batch_free(batch)
        lib.llama_free(ctx)
        lib.llama_model_free(model)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# --------------------------------------------------------------------------- parity


def test_teacher_forced_logits_match_llama_cpp_over_64_positions(
    smollm2: Path, torch_backend: TorchLlamaBackend, prompt_tokens: list[int]
) -> None:
    ours = torch_backend.logits(prompt_tokens[:64]).numpy()
    theirs = _llama_cpp_logits(smollm2, prompt_tokens[:64])
    assert ours.shape == theirs.shape == (64, 49152)
    same_argmax = float((ours.argmax(-1) == theirs.argmax(-1)).mean())
    cosine = float(_cosine(ours, theirs).mean())
    assert same_argmax >= 0.95, f"same argmax at {same_argmax:.1%} of positions"
    assert cosine >= 0.99, f"mean cosine {cosine:.4f}"


def test_greedy_generation_matches_llama_cpp_for_16_tokens_at_least(
    smollm2: Path, torch_backend: TorchLlamaBackend, prompt_tokens: list[int]
) -> None:
    llama = LlamaCppBackend()
    try:
        llama.load(_params(smollm2))
        theirs = llama.generate(prompt_tokens, GREEDY, threading.Event(), lambda _t: None)
    finally:
        llama.close()
    pieces: list[str] = []
    ours = torch_backend.generate(prompt_tokens, GREEDY, threading.Event(), pieces.append)
    assert ours.generated_tokens == theirs.generated_tokens == 32
    assert "".join(pieces) == ours.text
    a = torch_backend.tokenize(ours.text, add_special=False, parse_special=False)
    b = torch_backend.tokenize(theirs.text, add_special=False, parse_special=False)
    agree = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    assert agree >= 16, f"the answers part after {agree} tokens: {ours.text!r} / {theirs.text!r}"


def test_int8_weights_halve_memory_and_keep_the_answer(
    smollm2: Path, torch_backend: TorchLlamaBackend, prompt_tokens: list[int]
) -> None:
    int8 = TorchLlamaBackend(device="cpu", weights="int8")
    int8.load(_params(smollm2, n_ctx=128))
    try:
        assert "int8 weights" in int8.memory_text
        assert torch_backend._model is not None and int8._model is not None
        fp32_bytes, int8_bytes = torch_backend._model.weight_bytes, int8._model.weight_bytes
        assert int8_bytes < 0.3 * fp32_bytes  # int8 is a quarter of fp32, half of bf16
        ours = int8.logits(prompt_tokens[:64]).numpy()
        ref = torch_backend.logits(prompt_tokens[:64]).numpy()
        assert float((ours.argmax(-1) == ref.argmax(-1)).mean()) >= 0.9
        assert float(_cosine(ours, ref).mean()) >= 0.98
    finally:
        int8.close()


def test_kv_cache_decoding_equals_evaluating_everything_at_once(
    torch_backend: TorchLlamaBackend, prompt_tokens: list[int]
) -> None:
    model = torch_backend._model
    assert model is not None
    full = torch_backend.logits(prompt_tokens[:40])
    model.forward(prompt_tokens[:30], 0)  # a prompt, then a second chunk (masked), then steps
    chunk = model.forward(prompt_tokens[30:36], 30, all_logits=True)
    steps = torch.stack([model.forward([t], 36 + i) for i, t in enumerate(prompt_tokens[36:40])])
    torch.testing.assert_close(chunk, full[30:36], rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(steps, full[36:40], rtol=1e-3, atol=1e-3)


def test_unsupported_architecture_is_refused_with_a_clear_message(gemma: Path) -> None:
    backend = TorchLlamaBackend(device="cpu")
    with pytest.raises(ModelLoadError, match=r"gemma3.*llama\.cpp backend"):
        backend.load(_params(gemma))
    backend.close()


def test_a_device_pytorch_cannot_use_is_refused(smollm2: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelLoadError, match="cannot use CUDA"):
        TorchLlamaBackend(device="cuda").load(_params(smollm2))


# --------------------------------------------------------------------------- tiny qwen2 and llama


def _tiny_model(
    path: Path, arch: str, iq4: str = ""
) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """A tiny random-weight GGUF of ``arch`` (F32 weights; qwen2 with attention biases).

    ``iq4`` names a tensor stored as random IQ4_NL blocks instead, a type llama.cpp runs
    and the PyTorch backend does not read.
    """
    n_embd, n_head, n_kv, n_ff, vocab, n_layer = 64, 4, 2, 96, 100, 2
    hd = n_embd // n_head
    rng = np.random.default_rng(7)
    meta = gf.llama_metadata(n_layer, n_embd, n_head, n_kv, arch=arch)
    # A byte-pair vocabulary llama.cpp accepts, so it can run the same file as a reference.
    meta["tokenizer.ggml.model"] = "gpt2"
    meta["tokenizer.ggml.pre"] = "default"
    meta["tokenizer.ggml.tokens"] = [chr(ord("a") + i % 26) * (1 + i // 26) for i in range(vocab)]
    meta["tokenizer.ggml.token_type"] = gf.Typed(gf.ARRAY, [1] * vocab, gf.INT32)
    meta["tokenizer.ggml.merges"] = gf.Typed(gf.ARRAY, ["a a"], gf.STRING)
    meta[f"{arch}.feed_forward_length"] = n_ff
    meta[f"{arch}.rope.freq_base"] = 10000.0
    meta[f"{arch}.attention.layer_norm_rms_epsilon"] = 1e-6

    def w(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    weights: dict[str, np.ndarray] = {"token_embd.weight": w(vocab, n_embd, scale=1.0)}
    for i in range(n_layer):
        p = f"blk.{i}."
        weights |= {
            p + "attn_norm.weight": 1 + w(n_embd, scale=0.1),
            p + "attn_q.weight": w(n_head * hd, n_embd),
            p + "attn_k.weight": w(n_kv * hd, n_embd),
            p + "attn_v.weight": w(n_kv * hd, n_embd),
            p + "attn_output.weight": w(n_embd, n_head * hd),
            p + "ffn_norm.weight": 1 + w(n_embd, scale=0.1),
            p + "ffn_gate.weight": w(n_ff, n_embd),
            p + "ffn_up.weight": w(n_ff, n_embd),
            p + "ffn_down.weight": w(n_embd, n_ff),
        }
        if arch == "qwen2":
            weights |= {
                p + "attn_q.bias": w(n_head * hd),
                p + "attn_k.bias": w(n_kv * hd),
                p + "attn_v.bias": w(n_kv * hd),
            }
    weights |= {"output_norm.weight": 1 + w(n_embd, scale=0.1), "output.weight": w(vocab, n_embd)}
    iq4_nl = 20
    tensors = [
        (name, iq4_nl if name == iq4 else gf.F32, tuple(reversed(a.shape)))
        for name, a in weights.items()
    ]
    header, data_offset, _ = gf.build_header(meta, tensors)
    with path.open("wb") as f:
        f.write(header + bytes(data_offset - len(header)))
        offset = 0
        for name, ggml_type, shape in tensors:
            data = weights[name].tobytes()
            if ggml_type == iq4_nl:  # blocks of 32: a float16 scale, 16 bytes of codes
                n_blocks = weights[name].size // 32
                blocks = rng.integers(0, 256, (n_blocks, 18), dtype=np.uint8)
                blocks[:, 0:2] = np.full((n_blocks, 1), 0.001, "<f2").view(np.uint8)
                data = blocks.tobytes()
            assert len(data) == gf.tensor_nbytes(ggml_type, shape)
            f.seek(data_offset + offset)
            f.write(data)
            offset = gf.align(offset + len(data), 32)
    return weights, meta


def _reference_logits(
    weights: dict[str, np.ndarray], meta: dict[str, object], arch: str, tokens: list[int]
) -> np.ndarray:
    """The decoder written out in float64 numpy, full causal attention, no cache.

    llama.cpp agrees with it on these files (see the test below), so it is checked by a
    reference we did not write as well.
    """
    n_head = int(meta[f"{arch}.attention.head_count"])  # type: ignore[call-overload]
    n_kv = int(meta[f"{arch}.attention.head_count_kv"])  # type: ignore[call-overload]
    n_layer = int(meta[f"{arch}.block_count"])  # type: ignore[call-overload]
    g = {k: v.astype(np.float64) for k, v in weights.items()}
    x = g["token_embd.weight"][tokens]
    n, d = x.shape
    hd = d // n_head
    inv = 10000.0 ** (-np.arange(0, hd, 2) / hd)
    ang = np.arange(n)[:, None] * inv[None, :]  # (n, hd/2)
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

    def rms(v: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return v / np.sqrt((v**2).mean(-1, keepdims=True) + 1e-6) * weight

    def rope(v: np.ndarray) -> np.ndarray:  # (n, heads, hd)
        if arch == "qwen2":  # Hugging Face's rotate_half: dimension i pairs with i + hd/2
            a, b = v[..., : hd // 2], v[..., hd // 2 :]
            return np.concatenate([a * cos - b * sin, b * cos + a * sin], -1)
        a, b = v[..., 0::2], v[..., 1::2]  # GGUF llama: neighbours pair (ggml's NORM rope)
        out = np.empty_like(v)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, b * cos + a * sin
        return out

    def lin(v: np.ndarray, name: str) -> np.ndarray:
        out = v @ g[name + ".weight"].T
        return out + g[name + ".bias"] if name + ".bias" in g else out

    causal = np.tril(np.ones((n, n), dtype=bool))
    for i in range(n_layer):
        p = f"blk.{i}."
        h = rms(x, g[p + "attn_norm.weight"])
        q = rope(lin(h, p + "attn_q").reshape(n, n_head, hd))
        k = rope(lin(h, p + "attn_k").reshape(n, n_kv, hd))
        v = lin(h, p + "attn_v").reshape(n, n_kv, hd)
        heads = []
        for head in range(n_head):
            kv = head // (n_head // n_kv)
            scores = q[:, head] @ k[:, kv].T / np.sqrt(hd)
            scores = np.where(causal, scores, -np.inf)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            heads.append((probs / probs.sum(-1, keepdims=True)) @ v[:, kv])
        x = x + lin(np.concatenate(heads, -1), p + "attn_output")
        h = rms(x, g[p + "ffn_norm.weight"])
        gate = lin(h, p + "ffn_gate")
        x = x + lin(gate / (1 + np.exp(-gate)) * lin(h, p + "ffn_up"), p + "ffn_down")
    return lin(rms(x, g["output_norm.weight"]), "output")


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_forward_matches_a_reference_implementation(tmp_path: Path, arch: str) -> None:
    path = tmp_path / f"tiny-{arch}.gguf"
    weights, meta = _tiny_model(path, arch)
    tokens = [3, 17, 42, 99, 5, 8, 64, 23, 11, 0, 71, 36]
    want = _reference_logits(weights, meta, arch, tokens)
    info = read_gguf_info(path)
    model = load_model(str(path), info, n_ctx=32, device=torch.device("cpu"), weights="fp32")
    assert model.config.rope_neox == (arch == "qwen2")
    assert (model.blocks[0].wq.bias is not None) == (arch == "qwen2")
    got = model.forward(tokens, 0, all_logits=True).double().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # The same through the cache: a prompt, then one token at a time.
    model.forward(tokens[:7], 0)
    steps = np.stack([model.forward([t], 7 + i).double().numpy() for i, t in enumerate(tokens[7:])])
    np.testing.assert_allclose(steps, want[7:], rtol=1e-4, atol=1e-4)
    model._native_gqa = False  # the path MPS takes: key/value heads repeated by hand
    again = model.forward(tokens, 0, all_logits=True).double().numpy()
    np.testing.assert_allclose(again, want, rtol=1e-4, atol=1e-4)
    # int8 weight-only stays close to the exact answer.
    int8 = load_model(str(path), info, n_ctx=32, device=torch.device("cpu"), weights="int8")
    approx = int8.forward(tokens, 0, all_logits=True).double().numpy()
    assert float(_cosine(approx, want).min()) > 0.99
    assert int8.weight_bytes < 0.3 * model.weight_bytes


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_tiny_models_match_llama_cpp_and_the_reference(tmp_path: Path, arch: str) -> None:
    """Three implementations agree: llama.cpp, the numpy reference, and the backend."""
    path = tmp_path / f"tiny-{arch}.gguf"
    weights, meta = _tiny_model(path, arch)
    tokens = [3, 17, 42, 99, 5, 8, 64, 23, 11, 0, 71, 36]
    theirs = _llama_cpp_logits(path, tokens)  # llama.cpp keeps keys and values in f16
    np.testing.assert_allclose(theirs, _reference_logits(weights, meta, arch, tokens), atol=0.05)
    backend = TorchLlamaBackend(device="cpu", weights="fp32")
    facts = backend.load(_params(path, n_ctx=64))
    try:
        assert facts.n_ctx == 64 and facts.n_gpu_layers == 0
        ours = backend.logits(tokens).numpy()
        np.testing.assert_allclose(ours, theirs, atol=0.05)
        assert (ours.argmax(-1) == theirs.argmax(-1)).all()
    finally:
        backend.close()


# --------------------------------------------------------------------------- the plan


def test_plan_sends_supported_models_to_torch_and_others_to_llama_cpp(
    smollm2: Path, gemma: Path
) -> None:
    llama = LlamaBuild(
        available=True, gpu_offload=False, gpu_backend=None, system_info="", version=None
    )
    hw = probe_hardware(llama_probe=lambda: llama)
    request = plan_load(resolve_model(smollm2), hw, backend="torch", torch_weights="int8")
    assert (request.backend, request.device) == ("torch", "cpu")
    assert request.torch_weights == "int8"
    assert str(request.plan_notice).startswith("CPU via PyTorch")
    other = plan_load(resolve_model(gemma), hw, backend="torch")
    assert other.backend == "llamacpp"
    warnings = [str(w) for w in other.warning_notices]
    assert any("does not run gemma3 models" in w for w in warnings)
    auto = plan_load(resolve_model(smollm2), hw)  # no GPU here: llama.cpp on the CPU
    assert (auto.backend, auto.device) == ("llamacpp", "cpu")


# --------------------------------------------------------------------------- through EngineClient


@pytest.fixture
async def client() -> AsyncIterator[EngineClient]:
    engine = EngineClient()
    try:
        yield engine
    finally:
        await engine.aclose()


async def _collect(
    stream: AsyncIterator[TokenEvent | GenerationResult],
) -> tuple[list[object], GenerationResult]:
    events: list[object] = [event async for event in stream]
    result = events[-1]
    assert isinstance(result, GenerationResult)
    assert all(isinstance(e, TokenEvent) for e in events[:-1])
    assert "".join(e.text for e in events[:-1] if isinstance(e, TokenEvent)) == result.text
    return events, result


@pytest.mark.slow
async def test_chat_through_the_engine_behaves_as_with_llama_cpp(client: EngineClient) -> None:
    # A prompt whose greedy answer both backends agree on for more than 24 tokens (on
    # "What is the capital of France?" their first tokens are a near tie that llama.cpp's
    # 8-bit activations tip the other way).
    messages = [ChatMessage("user", "Name three colours.")]
    params = SamplingParams(temperature=0, repeat_penalty=1.0, max_tokens=24)
    llama_info = await client.load(None, n_ctx=1024, backend="llamacpp")
    _, llama = await _collect(client.chat(messages, params))
    info = await client.load(None, n_ctx=1024, backend="torch")
    assert (info.backend, info.device, info.n_gpu_layers) == ("torch", "cpu", 0)
    assert info.chat_template == llama_info.chat_template == "gguf"
    assert "weights" in info.plan_reason and "KV cache" in info.plan_reason
    events, ours = await _collect(client.chat(messages, params))
    assert len(events) >= 2
    s, r = ours.stats, llama.stats
    assert (s.prompt_tokens, s.stop_reason) == (r.prompt_tokens, r.stop_reason)
    assert s.generated_tokens == r.generated_tokens
    assert ours.text[:40] == llama.text[:40]
    assert s.ttft_s > 0 and s.tokens_per_s > 0 and s.total_s >= s.ttft_s
    assert ours.backend == "torch" and llama.backend == "llamacpp"

    # Stop strings, seeded sampling and the prefix cache, as the llama.cpp backend does them.
    stop = SamplingParams(temperature=0, repeat_penalty=1.0, max_tokens=24, stop=("Paris",))
    france = [ChatMessage("user", "What is the capital of France?")]
    _, stopped = await _collect(client.chat(france, stop))
    assert stopped.stats.stop_reason == "stop_string" and "Paris" not in stopped.text
    assert stopped.text.startswith("The capital of France is")
    seeded = SamplingParams(temperature=0.9, seed=1234, max_tokens=12)
    _, first = await _collect(client.chat(messages, seeded))
    _, second = await _collect(client.chat(messages, seeded))
    assert first.text == second.text
    assert second.stats.cached_tokens == first.stats.prompt_tokens - 1


@pytest.mark.slow
async def test_cancel_mid_stream_through_the_engine(client: EngineClient) -> None:
    await client.load(None, n_ctx=1024, backend="torch")
    params = SamplingParams(temperature=0, max_tokens=4000, ignore_eos=True)
    tokens = 0
    result: GenerationResult | None = None
    async for event in client.chat([ChatMessage("user", "Count to a thousand.")], params):
        if isinstance(event, TokenEvent):
            tokens += 1
            if tokens == 3:
                await client.cancel()
        else:
            result = event
    assert result is not None and result.stats.stop_reason == "cancelled"
    # Cancel is checked between tokens: it ends within a few, however busy the machine.
    assert result.stats.generated_tokens < 200
    _, after = await _collect(client.chat([ChatMessage("user", "Hi")], GREEDY))
    assert after.stats.stop_reason == "length"


@pytest.mark.slow
async def test_an_unsupported_model_forced_to_torch_runs_on_llama_cpp(
    client: EngineClient, gemma: Path
) -> None:
    info = await client.load(str(gemma), n_ctx=512, backend="torch")
    assert info.backend == "llamacpp"
    assert any("does not run gemma3" in w for w in info.warnings)
    _, result = await _collect(client.complete("The capital of France is", GREEDY))
    assert result.stats.generated_tokens > 0


@pytest.mark.slow
async def test_a_model_the_torch_backend_cannot_read_falls_back_to_llama_cpp(
    client: EngineClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(gf.GGML_BLOCKS, 20, (32, 18))  # IQ4_NL, for the factory's layout
    path = tmp_path / "tiny-iq4.gguf"
    _tiny_model(path, "qwen2", iq4="blk.1.ffn_down.weight")
    info = await client.load(str(path), n_ctx=64, backend="torch")
    assert info.backend == "llamacpp" and info.device == "cpu"
    assert info.plan_reason.startswith("CPU: the PyTorch backend could not load")
    assert any("IQ4_NL" in w and "llama.cpp" in w for w in info.warnings)
    _, result = await _collect(client.complete("aa", GREEDY))
    assert result.stats.generated_tokens > 0
