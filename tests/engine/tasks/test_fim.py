"""Completion at the cursor: FIM tokens from the loaded vocabulary, the prompt's BOS and stop
tokens, where a completion leaves the gap, and a real coder model completing a function."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from engine.errors import EngineError, UsageError
from engine.models.gguf_info import read_gguf_info
from engine.runtime.backends.base import FimTokens, read_fim_tokens
from engine.runtime.backends.llamacpp import route_native_log
from engine.runtime.client import EngineClient
from engine.tasks.code_fim import (
    FimReason,
    GapGuard,
    complete_at_cursor,
    fill_in_the_middle,
    fim_support,
    fit_completion,
    split_at,
)
from engine.types import ModelInfo
from tests.engine import gguf_factory as gf


@pytest.fixture(scope="module")
def coder(small_coder: Path) -> Path:
    """Qwen2.5-Coder-0.5B-Instruct: a code model with FIM tokens."""
    return small_coder


# -- FIM tokens from the vocabulary ----------------------------------------------------


@contextmanager
def vocabulary(path: Path) -> Iterator[Any]:
    """The llama.cpp vocabulary of a GGUF file, loaded as the backends load it."""
    route_native_log()
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    assert model, f"llama.cpp could not read the vocabulary of {path}"
    try:
        yield llama_cpp.llama_model_get_vocab(model)
    finally:
        llama_cpp.llama_model_free(model)


def token_text(vocab: Any, token: int) -> str:
    return bytes(llama_cpp.llama_vocab_get_text(vocab, token)).decode()


def test_the_coder_models_fim_tokens_come_from_its_vocabulary_not_its_header(
    coder: Path,
) -> None:
    header = read_gguf_info(coder).metadata
    assert not any("fim" in key or "prefix_token" in key for key in header)
    with vocabulary(coder) as vocab:
        fim = read_fim_tokens(llama_cpp, vocab)
        assert fim is not None
        texts = [token_text(vocab, t) for t in (fim.prefix, fim.suffix, fim.middle)]
        stops = {token_text(vocab, t) for t in fim.stops}
    assert texts == ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]
    assert fim.head == ()  # Qwen2.5-Coder adds no BOS
    # The end of a turn, the FIM pad, the repository and the file separator all end it.
    assert stops >= {"<|im_end|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"}


def test_the_starter_model_has_no_fim_tokens(smollm2: Path) -> None:
    with vocabulary(smollm2) as vocab:
        assert read_fim_tokens(llama_cpp, vocab) is None


def tiny_vocabulary(
    path: Path, specials: list[str], *, add_bos: bool, **header: object
) -> FimTokens | None:
    """The FIM tokens of a tiny byte-pair vocabulary holding ``specials`` at ids 10, 11, …"""
    tokens = [chr(ord("a") + i % 26) * (1 + i // 26) for i in range(60)]
    types = [1] * len(tokens)
    for i, text in [(1, "<s>"), (2, "</s>"), *enumerate(specials, start=10)]:
        tokens[i], types[i] = text, 3  # control tokens
    meta = gf.llama_metadata(**header)
    meta["tokenizer.ggml.model"] = "gpt2"
    meta["tokenizer.ggml.pre"] = "default"
    meta["tokenizer.ggml.tokens"] = tokens
    meta["tokenizer.ggml.token_type"] = gf.Typed(gf.ARRAY, types, gf.INT32)
    meta["tokenizer.ggml.merges"] = gf.Typed(gf.ARRAY, ["a a"], gf.STRING)
    meta["tokenizer.ggml.add_bos_token"] = add_bos
    with vocabulary(gf.write_gguf(path, meta)) as vocab:
        return read_fim_tokens(llama_cpp, vocab)


def test_the_prompt_opens_with_a_bos_only_where_the_vocabulary_adds_one(tmp_path: Path) -> None:
    qwen_like = [
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<|fim_pad|>",
        "<|file_sep|>",
    ]
    with_bos = tiny_vocabulary(tmp_path / "bos.gguf", qwen_like, add_bos=True)
    assert with_bos == FimTokens(10, 11, 12, head=(1,), stops=(2, 13, 14))
    without = tiny_vocabulary(tmp_path / "nobos.gguf", qwen_like[:3], add_bos=False)
    assert without == FimTokens(10, 11, 12, head=(), stops=(2,))


def test_header_keys_name_fim_tokens_of_any_spelling_and_none_means_none(tmp_path: Path) -> None:
    keys = {
        "tokenizer.ggml.fim_pre_token_id": 10,
        "tokenizer.ggml.fim_suf_token_id": 11,
        "tokenizer.ggml.fim_mid_token_id": 12,
    }
    named = tiny_vocabulary(
        tmp_path / "keys.gguf", ["<before>", "<after>", "<gap>"], add_bos=False, **keys
    )
    assert named is not None and (named.prefix, named.suffix, named.middle) == (10, 11, 12)
    assert tiny_vocabulary(tmp_path / "none.gguf", [], add_bos=True) is None


def model_info(*, fim: bool) -> ModelInfo:
    return ModelInfo(
        "m", "/m/m.gguf", "qwen2", 2048, 32768, "llamacpp", "cpu", 0, 2, "", "gguf", fim=fim
    )


def test_fim_support_is_a_typed_reason() -> None:
    assert fim_support(model_info(fim=True)).available
    assert fim_support(model_info(fim=True)).message == ""
    no_tokens = fim_support(model_info(fim=False))
    assert not no_tokens.available and no_tokens.reason is FimReason.NO_FIM_TOKENS
    assert "Qwen2.5-Coder" in no_tokens.message
    nothing = fim_support(None)
    assert not nothing.available and nothing.reason is FimReason.NO_MODEL
    assert "load" in nothing.message


# -- where the gap ends ----------------------------------------------------------------

IS_PRIME = "def is_prime(n: int) -> bool:\n"
IS_PRIME_BODY = (
    "    if n < 2:\n        return False\n    for i in range(2, int(n ** 0.5) + 1):\n"
    "        if n % i == 0:\n            return False\n    return True\n"
)


def test_a_completion_is_cut_where_it_leaves_the_block() -> None:
    after = "\n\ndef primes_below(limit: int) -> list[int]:\n    return []\n"
    raw = IS_PRIME_BODY + "\ndef main():\n    print(is_prime(7))\n"
    assert fit_completion(raw, IS_PRIME, after) == IS_PRIME_BODY.rstrip("\n")
    # At the end of the file too, where it would go on with an example forever.
    assert fit_completion(IS_PRIME_BODY + "\n# Example usage\n", IS_PRIME, "") == IS_PRIME_BODY
    # At the end of a function's first line the body is the block, not the line's.
    before, after = "def double(x):", "\n\nprint(double(2))\n"
    raw = "\n    return x * 2\n\nprint(double(3))\n"
    assert fit_completion(raw, before, after) == "\n    return x * 2"


def test_a_completion_is_cut_where_it_repeats_the_line_after_the_cursor() -> None:
    before = "def mean(values):\n    total = 0\n    for v in values:\n        "
    after = "\n    return total / len(values)\n"
    raw = "total += v\n    return total / len(values)\n\n"
    assert fit_completion(raw, before, after) == "total += v"
    # Brace languages: the suffix closes the function, the model closes it again.
    before, after = "int add(int a, int b) {\n    ", "\n}\n\nint main(void) { return add(1, 2); }\n"
    assert fit_completion("return a + b;\n}  // adds them\n", before, after) == "return a + b;"
    # The same line written once more with another value is the suffix again too.
    before, after = "import math\n\ndef area(r):\n    return ", "\n\nprint(area(2))\n"
    assert fit_completion("math.pi * r ** 2\n\nprint(area(3))\n", before, after) == (
        "math.pi * r ** 2"
    )


def test_a_closing_line_stays_when_the_text_after_the_cursor_does_not_close_the_block() -> None:
    before = "int add(int a, int b) {\n"
    raw = "    return a + b;\n}\n\nint main(void) {\n"
    assert fit_completion(raw, before, "") == "    return a + b;\n}\n"
    go = "func add(a, b int) int {\n"
    assert fit_completion("\treturn a + b\n}\n", go, "\n}\n") == "\treturn a + b"


def test_a_completion_inside_the_gap_is_kept_whole() -> None:
    before, after = "def double(x):\n", "\n\nprint(double(2))\n"
    assert fit_completion("    y = x * 2\n    return y\n", before, after) == (
        "    y = x * 2\n    return y"
    )
    # Inside a line: the model's text stays as written, less the text after the cursor.
    before, after = "result = compute(", ", verbose=True)\n"
    assert fit_completion("data, verbose=True)", before, after) == "data"
    assert fit_completion("data,\n", before, after) == "data,\n"


def test_the_guard_stops_the_stream_at_the_first_line_out_of_the_gap() -> None:
    after = "\n\ndef primes_below(limit: int) -> list[int]:\n    return []\n"
    raw = IS_PRIME_BODY + "\ndef main():\n    print(is_prime(7))\n"
    guard = GapGuard(IS_PRIME, after)
    fed = ""
    for char in raw:
        fed += char
        if guard.feed(char):
            break
    assert fed == IS_PRIME_BODY + "\ndef main():\n"
    assert not guard.feed("more") and guard.left
    assert fit_completion(fed, IS_PRIME, after) == fit_completion(raw, IS_PRIME, after)


def test_a_position_splits_the_text_or_is_refused_clearly() -> None:
    text = "def f():\n    pass\n"
    assert split_at(text, 2, 5) == ("def f():\n    ", "pass\n")
    assert split_at(text, 2, 9) == ("def f():\n    pass", "\n")  # the end of the line
    assert split_at(text, 3, 1) == (text, "")  # after the final line break
    with pytest.raises(UsageError, match="Line 4 is past the end of the file, which has 3"):
        split_at(text, 4, 1)
    with pytest.raises(UsageError, match="Column 10 is past the end of line 2"):
        split_at(text, 2, 10)
    with pytest.raises(UsageError, match="count from 1"):
        split_at(text, 0, 1)


# -- on the real coder model -----------------------------------------------------------

BEFORE = 'def factorial(n: int) -> int:\n    """Return n! for a non-negative integer n."""\n'
AFTER = '\n\n\nif __name__ == "__main__":\n    print(factorial(5))\n'


@pytest.mark.slow
async def test_the_coder_model_completes_a_function_body_that_compiles(coder: Path) -> None:
    async with EngineClient() as engine:
        await engine.load(coder, n_ctx=2048)
        assert fim_support(engine.model).available
        completion = await fill_in_the_middle(engine, BEFORE, AFTER)
    assert completion.text.strip(), completion.answer
    assert completion.stop_reason in ("eos", "end_of_gap"), completion
    source = BEFORE + completion.text + AFTER
    compile(source, "factorial.py", "exec")
    # One function, whose body is the completion, and the suffix's code once.
    tree = ast.parse(source)
    assert [type(node).__name__ for node in tree.body] == ["FunctionDef", "If"]
    assert any(isinstance(node, ast.Return) for node in ast.walk(tree.body[0]))
    assert source.count("__main__") == 1


@pytest.mark.slow
async def test_a_model_without_fim_tokens_is_refused_clearly(smollm2: Path) -> None:
    async with EngineClient() as engine:
        await engine.load(smollm2, n_ctx=1024)
        assert fim_support(engine.model).reason is FimReason.NO_FIM_TOKENS
        with pytest.raises(EngineError, match="no fill-in-the-middle tokens"):
            await complete_at_cursor(engine, "def f():\n", "\n")


@pytest.mark.slow
def test_the_torch_backend_reads_the_same_fim_tokens(coder: Path) -> None:
    pytest.importorskip("torch", reason="pip install torch==2.13.0 (the CPU build)")
    from engine.runtime.backends.torch_llama import LlamaVocab

    facts = LlamaVocab(str(coder)).facts(2048, 32768, 0)
    with vocabulary(coder) as vocab:
        assert facts.fim == read_fim_tokens(llama_cpp, vocab)
    assert facts.fim is not None and facts.fim.head == ()


# -- the command line ------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", "code", "--task", "complete", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "factorial.py"
    path.write_text(BEFORE + AFTER, encoding="utf-8")
    return path


@pytest.mark.slow
def test_the_command_line_prints_the_text_to_insert(source: Path, coder: Path) -> None:
    at = "3:1"  # the empty line after the docstring
    plain = cli("--file", str(source), "--at", at, "--model", str(coder), "--ctx", "2048")
    assert plain.returncode == 0, plain.stderr
    done = cli("--file", str(source), "--at", at, "--model", str(coder), "--ctx", "2048", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["task"] == "complete" and data["language"] == "python"
    assert (data["line"], data["column"]) == (3, 1)
    assert data["code"] == plain.stdout and data["code"].strip()
    compile(BEFORE + data["code"] + AFTER, "factorial.py", "exec")


def test_the_command_line_refuses_a_bad_position_before_loading_a_model(source: Path) -> None:
    past = cli("--file", str(source), "--at", "40:1")
    assert past.returncode == 2 and "Line 40 is past the end of the file" in past.stderr
    wide = cli("--file", str(source), "--at", "1:200")
    assert wide.returncode == 2 and "Column 200 is past the end of line 1" in wide.stderr
    odd = cli("--file", str(source), "--at", "three")
    assert odd.returncode == 2 and "LINE:COL" in odd.stderr
    missing = cli("--file", str(source))
    assert missing.returncode == 2 and "--at LINE:COL" in missing.stderr
    assert "Traceback" not in past.stderr + wide.stderr + odd.stderr + missing.stderr


@pytest.mark.slow
def test_the_command_line_says_when_the_model_has_no_fim_tokens(
    source: Path, smollm2: Path
) -> None:
    done = cli("--file", str(source), "--at", "3:1", "--model", str(smollm2), "--ctx", "1024")
    assert done.returncode == 1 and "no fill-in-the-middle tokens" in done.stderr
    assert "Traceback" not in done.stderr
